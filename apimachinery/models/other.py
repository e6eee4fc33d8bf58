"""API models outside core, workloads and RBAC: Ingress and IngressClass
(networking.k8s.io), EndpointSlice (discovery.k8s.io), Lease
(coordination.k8s.io), PriorityClass (scheduling.k8s.io), the self reviews
SelfSubjectAccessReview and SelfSubjectRulesReview (authorization.k8s.io) and
SelfSubjectReview (authentication.k8s.io)."""

from __future__ import annotations

from apimachinery.models.base import (
    APIObject,
    KModel,
    ObjectReference,
    TypedLocalObjectReference,
    field,
)
from apimachinery.models.core import LoadBalancerStatus

# --- networking.k8s.io ----------------------------------------------------------


class ServiceBackendPort(KModel):
    name: str | None = field("The name of the port on the Service.")
    number: int | None = field("The numerical port number on the Service.")


class IngressServiceBackend(KModel):
    name: str | None = field("The referenced service.")
    port: ServiceBackendPort | None = field("Port of the referenced service.")


class IngressBackend(KModel):
    service: IngressServiceBackend | None = field("A referenced Service as a Backend.")
    resource: TypedLocalObjectReference | None = None


class HTTPIngressPath(KModel):
    path: str | None = field("Matched against the path of an incoming request.")
    pathType: str | None = field("Exact, Prefix or ImplementationSpecific.")
    backend: IngressBackend | None = field("Where matching traffic will be sent.")


class HTTPIngressRuleValue(KModel):
    paths: list[HTTPIngressPath] | None = None


class IngressRule(KModel):
    host: str | None = field("The fully qualified domain name of a network host.")
    http: HTTPIngressRuleValue | None = None


class IngressTLS(KModel):
    hosts: list[str] | None = None
    secretName: str | None = None


class IngressSpec(KModel):
    ingressClassName: str | None = field("The name of an IngressClass cluster resource.")
    defaultBackend: IngressBackend | None = field("The backend for requests that match no rule.")
    tls: list[IngressTLS] | None = None
    rules: list[IngressRule] | None = field("A list of host rules used to configure the Ingress.")


class IngressStatus(KModel):
    loadBalancer: LoadBalancerStatus | None = None


class Ingress(APIObject):
    """Rules that allow inbound connections to reach the endpoints defined by a backend."""

    spec: IngressSpec | None = None
    status: IngressStatus | None = None


class IngressClassParametersReference(KModel):
    apiGroup: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    scope: str | None = None


class IngressClassSpec(KModel):
    controller: str | None = field("The name of the controller that should handle this class.")
    parameters: IngressClassParametersReference | None = None


class IngressClass(APIObject):
    """The class of an Ingress, referenced by the Ingress spec."""

    spec: IngressClassSpec | None = None


# --- discovery.k8s.io -----------------------------------------------------------


class EndpointConditions(KModel):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class ForZone(KModel):
    name: str | None = None


class EndpointHints(KModel):
    forZones: list[ForZone] | None = None
    forNodes: list[ForZone] | None = None


class Endpoint(KModel):
    addresses: list[str] | None = field("Addresses of this endpoint.")
    conditions: EndpointConditions | None = None
    hostname: str | None = None
    targetRef: ObjectReference | None = None
    deprecatedTopology: dict[str, str] | None = None
    nodeName: str | None = None
    zone: str | None = None
    hints: EndpointHints | None = None


class EndpointSlicePort(KModel):
    name: str | None = None
    protocol: str | None = None
    port: int | None = None
    appProtocol: str | None = None


class EndpointSlice(APIObject):
    """A subset of the endpoints that implement a service."""

    addressType: str | None = field("IPv4, IPv6 or FQDN.")
    endpoints: list[Endpoint] | None = field("A list of unique endpoints in this slice.")
    ports: list[EndpointSlicePort] | None = None


# --- coordination.k8s.io --------------------------------------------------------


class LeaseSpec(KModel):
    holderIdentity: str | None = field("The identity of the holder of a current lease.")
    leaseDurationSeconds: int | None = field(
        "Duration that candidates for a lease need to wait to force acquire it."
    )
    acquireTime: str | None = None
    renewTime: str | None = None
    leaseTransitions: int | None = None
    strategy: str | None = None
    preferredHolder: str | None = None


class Lease(APIObject):
    """A lease concept (leader election, node heartbeats)."""

    spec: LeaseSpec | None = None


# --- scheduling.k8s.io ----------------------------------------------------------


class PriorityClass(APIObject):
    """A mapping from a priority class name to the priority integer value."""

    value: int | None = field("The actual priority that pods receive.")
    globalDefault: bool | None = None
    description: str | None = None
    preemptionPolicy: str | None = None


# --- authorization.k8s.io -------------------------------------------------------


class ResourceAttributes(KModel):
    namespace: str | None = None
    verb: str | None = None
    group: str | None = None
    version: str | None = None
    resource: str | None = None
    subresource: str | None = None
    name: str | None = None
    fieldSelector: dict[str, object] | None = None
    labelSelector: dict[str, object] | None = None


class NonResourceAttributes(KModel):
    path: str | None = None
    verb: str | None = None


class SelfSubjectAccessReviewSpec(KModel):
    resourceAttributes: ResourceAttributes | None = None
    nonResourceAttributes: NonResourceAttributes | None = None


class SubjectAccessReviewStatus(KModel):
    allowed: bool | None = None
    denied: bool | None = None
    reason: str | None = None
    evaluationError: str | None = None


class SelfSubjectAccessReview(APIObject):
    """Checks whether the current user can perform an action."""

    spec: SelfSubjectAccessReviewSpec | None = None
    status: SubjectAccessReviewStatus | None = None


class SelfSubjectRulesReviewSpec(KModel):
    namespace: str | None = field("Namespace to evaluate rules for. Required.")


class ResourceRule(KModel):
    """The list of actions the subject is allowed to perform on resources."""

    verbs: list[str] | None = field(
        "Verb is a list of kubernetes resource API verbs, like: get, list, watch, create, "
        'update, delete, proxy. "*" means all.'
    )
    apiGroups: list[str] | None = field(
        'APIGroups is the name of the APIGroup that contains the resources. "*" means all.'
    )
    resources: list[str] | None = field(
        'Resources is a list of resources this rule applies to. "*" means all in the specified '
        "apiGroups. \"*/foo\" represents the subresource 'foo' for all resources in the "
        "specified apiGroups."
    )
    resourceNames: list[str] | None = field(
        "ResourceNames is an optional white list of names that the rule applies to. An empty "
        'set means that everything is allowed. "*" means all.'
    )


class NonResourceRule(KModel):
    """What the subject may do on non-resource URLs."""

    verbs: list[str] | None = field(
        "Verb is a list of kubernetes non-resource API verbs, like: get, post, put, delete, "
        'patch, head, options. "*" means all.'
    )
    nonResourceURLs: list[str] | None = field(
        "NonResourceURLs is a set of partial urls that a user should have access to. *s are "
        'allowed, but only as the full, final step in the path. "*" means all.'
    )


class SubjectRulesReviewStatus(KModel):
    resourceRules: list[ResourceRule] | None = field(
        "ResourceRules is the list of actions the subject is allowed to perform on resources."
    )
    nonResourceRules: list[NonResourceRule] | None = field(
        "NonResourceRules is the list of actions the subject is allowed to perform on "
        "non-resources."
    )
    incomplete: bool | None = field(
        "Incomplete is true when the rules returned by this call are incomplete."
    )
    evaluationError: str | None = field(
        "EvaluationError can appear in combination with Rules. It indicates an error occurred "
        "during rule evaluation."
    )


class SelfSubjectRulesReview(APIObject):
    """SelfSubjectRulesReview enumerates the set of actions the current user can perform
    within a namespace."""

    spec: SelfSubjectRulesReviewSpec | None = field("Spec holds information about the request.")
    status: SubjectRulesReviewStatus | None = field(
        "Status is filled in by the server and indicates the set of actions a user can perform."
    )


# --- authentication.k8s.io ------------------------------------------------------


class UserInfo(KModel):
    """The information about the user needed to implement the user.Info interface."""

    username: str | None = field("The name that uniquely identifies this user among all users.")
    uid: str | None = field("A unique value that identifies this user across time.")
    groups: list[str] | None = field("The names of groups this user is a part of.")
    extra: dict[str, list[str]] | None = field(
        "Any additional information provided by the authenticator."
    )


class SelfSubjectReviewStatus(KModel):
    userInfo: UserInfo | None = field("User attributes of the user making this request.")


class SelfSubjectReview(APIObject):
    """SelfSubjectReview contains the user information that the kube-apiserver has about
    the user making this request."""

    status: SelfSubjectReviewStatus | None = field(
        "Status is filled in by the server with the user attributes."
    )
