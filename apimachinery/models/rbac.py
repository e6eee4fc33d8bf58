"""RBAC API models (rbac.authorization.k8s.io/v1): Role, ClusterRole,
RoleBinding, ClusterRoleBinding and their lists.

Field names, descriptions and optionality are upstream's (k8s.io/api/rbac/v1),
so RBAC manifests from the Kubernetes docs decode strictly and `kubectl
explain role.rules` reads the same text as on a real cluster.
"""

from __future__ import annotations

from apimachinery.models.base import APIObject, KModel, LabelSelector, ListMeta, TypeMeta, field


class PolicyRule(KModel):
    """PolicyRule holds information that describes a policy rule, but does not contain
    information about who the rule applies to or which namespace the rule applies to."""

    verbs: list[str] | None = field(
        "Verbs is a list of Verbs that apply to ALL the ResourceKinds contained in this rule. "
        "'*' represents all verbs."
    )
    apiGroups: list[str] | None = field(
        "APIGroups is the name of the APIGroup that contains the resources. If multiple API "
        "groups are specified, any action requested against one of the enumerated resources "
        'in any API group will be allowed. "" represents the core API group and "*" '
        "represents all API groups."
    )
    resources: list[str] | None = field(
        "Resources is a list of resources this rule applies to. '*' represents all resources."
    )
    resourceNames: list[str] | None = field(
        "ResourceNames is an optional white list of names that the rule applies to. An empty "
        "set means that everything is allowed."
    )
    nonResourceURLs: list[str] | None = field(
        "NonResourceURLs is a set of partial urls that a user should have access to. *s are "
        "allowed, but only as the full, final step in the path. Since non-resource URLs are "
        "not namespaced, this field is only applicable for ClusterRoles referenced from a "
        'ClusterRoleBinding. Rules can either apply to API resources (such as "pods" or '
        '"secrets") or non-resource URL paths (such as "/api"), but not both.'
    )


class AggregationRule(KModel):
    """AggregationRule describes how to locate ClusterRoles to aggregate into the
    ClusterRole."""

    clusterRoleSelectors: list[LabelSelector] | None = field(
        "ClusterRoleSelectors holds a list of selectors which will be used to find "
        "ClusterRoles and create the rules. If any of the selectors match, then the "
        "ClusterRole's permissions will be added."
    )


class Role(APIObject):
    """Role is a namespaced, logical grouping of PolicyRules that can be referenced as a
    unit by a RoleBinding."""

    rules: list[PolicyRule] | None = field("Rules holds all the PolicyRules for this Role")


class ClusterRole(APIObject):
    """ClusterRole is a cluster level, logical grouping of PolicyRules that can be
    referenced as a unit by a RoleBinding or ClusterRoleBinding."""

    rules: list[PolicyRule] | None = field("Rules holds all the PolicyRules for this ClusterRole")
    aggregationRule: AggregationRule | None = field(
        "AggregationRule is an optional field that describes how to build the Rules for this "
        "ClusterRole. If AggregationRule is set, then the Rules are controller managed and "
        "direct changes to Rules will be stomped by the controller."
    )


class Subject(KModel):
    """Subject contains a reference to the object or user identities a role binding
    applies to. This can either hold a direct API object reference, or a value for
    non-objects such as user and group names."""

    kind: str | None = field(
        'Kind of object being referenced. Values defined by this API group are "User", '
        '"Group", and "ServiceAccount". If the Authorizer does not recognized the kind value, '
        "the Authorizer should report an error."
    )
    apiGroup: str | None = field(
        'APIGroup holds the API group of the referenced subject. Defaults to "" for '
        'ServiceAccount subjects. Defaults to "rbac.authorization.k8s.io" for User and Group '
        "subjects."
    )
    name: str | None = field("Name of the object being referenced.")
    namespace: str | None = field(
        'Namespace of the referenced object. If the object kind is non-namespace, such as "User" '
        'or "Group", and this value is not empty the Authorizer should report an error.'
    )


class RoleRef(KModel):
    """RoleRef contains information that points to the role being used."""

    apiGroup: str | None = field("APIGroup is the group for the resource being referenced")
    kind: str | None = field("Kind is the type of resource being referenced")
    name: str | None = field("Name is the name of resource being referenced")


class RoleBinding(APIObject):
    """RoleBinding references a role, but does not contain it. It can reference a Role in
    the same namespace or a ClusterRole in the global namespace. It adds who information
    via Subjects and namespace information by which namespace it exists in. RoleBindings
    in a given namespace only have effect in that namespace."""

    subjects: list[Subject] | None = field(
        "Subjects holds references to the objects the role applies to."
    )
    roleRef: RoleRef | None = field(
        "RoleRef can reference a Role in the current namespace or a ClusterRole in the global "
        "namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. "
        "This field is immutable."
    )


class ClusterRoleBinding(APIObject):
    """ClusterRoleBinding references a ClusterRole, but not contain it. It can reference a
    ClusterRole in the global namespace, and adds who information via Subject."""

    subjects: list[Subject] | None = field(
        "Subjects holds references to the objects the role applies to."
    )
    roleRef: RoleRef | None = field(
        "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef "
        "cannot be resolved, the Authorizer must return an error. This field is immutable."
    )


# --- lists (what list calls answer; published in OpenAPI as upstream does) --------


class RoleList(TypeMeta):
    """RoleList is a collection of Roles."""

    metadata: ListMeta | None = field("Standard object's metadata.")
    items: list[Role] | None = field("Items is a list of Roles")


class ClusterRoleList(TypeMeta):
    """ClusterRoleList is a collection of ClusterRoles."""

    metadata: ListMeta | None = field("Standard object's metadata.")
    items: list[ClusterRole] | None = field("Items is a list of ClusterRoles")


class RoleBindingList(TypeMeta):
    """RoleBindingList is a collection of RoleBindings."""

    metadata: ListMeta | None = field("Standard object's metadata.")
    items: list[RoleBinding] | None = field("Items is a list of RoleBindings")


class ClusterRoleBindingList(TypeMeta):
    """ClusterRoleBindingList is a collection of ClusterRoleBindings."""

    metadata: ListMeta | None = field("Standard object's metadata.")
    items: list[ClusterRoleBinding] | None = field("Items is a list of ClusterRoleBindings")
