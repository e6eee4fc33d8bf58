"""The resource types kubelab serves, and how they are named.

One table answers every naming question the API has: which group/version/
resource a kind lives in, whether it is namespaced, its short names (`po`,
`deploy`), and where its objects sit in etcd. The apiserver, the REST layer's
discovery documents and the clients all read it, so a new built-in resource is
one row here (plus its model and validation).
"""

from __future__ import annotations

from dataclasses import dataclass

from apimachinery import errors


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    resource: str  # plural, lowercase: "pods"
    kind: str  # "Pod"
    namespaced: bool
    short_names: tuple[str, ...] = ()
    singular: str = ""
    # Subresources served besides the main resource ("status", "scale"...).
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified_resource(self) -> str:
        """`pods`, `deployments.apps`: how kubectl names the resource in messages."""
        return errors.qualified(self.resource, self.group)

    def etcd_prefix(self, namespace: str = "") -> str:
        """`/registry/pods/` or `/registry/pods/<ns>/`; objects are `<prefix><name>`."""
        base = f"/registry/{self.resource}/"
        return f"{base}{namespace}/" if self.namespaced and namespace else base

    def etcd_key(self, namespace: str, name: str) -> str:
        if self.namespaced:
            return f"/registry/{self.resource}/{namespace}/{name}"
        return f"/registry/{self.resource}/{name}"


_ALL = ("all",)
_STATUS = ("status",)
_SCALABLE = ("status", "scale")

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(
        "", "v1", "namespaces", "Namespace", False, ("ns",), "namespace", ("status", "finalize")
    ),
    ResourceType("", "v1", "nodes", "Node", False, ("no",), "node", ("status", "proxy")),
    ResourceType(
        "",
        "v1",
        "pods",
        "Pod",
        True,
        ("po",),
        "pod",
        (
            "status",
            "binding",
            "eviction",
            "log",
            "exec",
            "portforward",
            "attach",
            "proxy",
            "ephemeralcontainers",
        ),
        categories=_ALL,
    ),
    ResourceType(
        "",
        "v1",
        "services",
        "Service",
        True,
        ("svc",),
        "service",
        ("status", "proxy"),
        categories=_ALL,
    ),
    ResourceType("", "v1", "endpoints", "Endpoints", True, ("ep",), "endpoints"),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, ("cm",), "configmap"),
    ResourceType("", "v1", "secrets", "Secret", True, (), "secret"),
    ResourceType("", "v1", "events", "Event", True, ("ev",), "event"),
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",), "serviceaccount"),
    ResourceType(
        "", "v1", "resourcequotas", "ResourceQuota", True, ("quota",), "resourcequota", _STATUS
    ),
    ResourceType("", "v1", "limitranges", "LimitRange", True, ("limits",), "limitrange"),
    ResourceType(
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        True,
        ("pvc",),
        "persistentvolumeclaim",
        _STATUS,
    ),
    ResourceType(
        "",
        "v1",
        "persistentvolumes",
        "PersistentVolume",
        False,
        ("pv",),
        "persistentvolume",
        _STATUS,
    ),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True, (), "lease"),
    ResourceType(
        "discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, (), "endpointslice"
    ),
    ResourceType(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        True,
        ("deploy",),
        "deployment",
        _SCALABLE,
        categories=_ALL,
    ),
    ResourceType(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        True,
        ("rs",),
        "replicaset",
        _SCALABLE,
        categories=_ALL,
    ),
    ResourceType(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        True,
        ("sts",),
        "statefulset",
        _SCALABLE,
        categories=_ALL,
    ),
    ResourceType(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        True,
        ("ds",),
        "daemonset",
        _STATUS,
        categories=_ALL,
    ),
    ResourceType(
        "apps", "v1", "controllerrevisions", "ControllerRevision", True, (), "controllerrevision"
    ),
    ResourceType("batch", "v1", "jobs", "Job", True, (), "job", _STATUS, categories=_ALL),
    ResourceType(
        "batch", "v1", "cronjobs", "CronJob", True, ("cj",), "cronjob", _STATUS, categories=_ALL
    ),
    ResourceType(
        "networking.k8s.io", "v1", "ingresses", "Ingress", True, ("ing",), "ingress", _STATUS
    ),
    ResourceType(
        "networking.k8s.io", "v1", "ingressclasses", "IngressClass", False, (), "ingressclass"
    ),
    ResourceType(
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        "PriorityClass",
        False,
        ("pc",),
        "priorityclass",
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        (),
        "selfsubjectaccessreview",
        verbs=("create",),
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        False,
        (),
        "selfsubjectrulesreview",
        verbs=("create",),
    ),
    ResourceType(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "SelfSubjectReview",
        False,
        (),
        "selfsubjectreview",
        verbs=("create",),
    ),
    # RBAC: no short names, as upstream's discovery (kubectl knows them by name).
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        False,
        (),
        "clusterrolebinding",
    ),
    ResourceType(
        "rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, (), "clusterrole"
    ),
    ResourceType(
        "rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, (), "rolebinding"
    ),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True, (), "role"),
)

_BY_GVR = {(r.group, r.version, r.resource): r for r in RESOURCES}
_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}


def lookup(group: str, version: str, resource: str) -> ResourceType:
    """The resource type at a group/version/resource, or 404 as upstream answers
    for a path it does not serve."""
    try:
        return _BY_GVR[(group, version, resource)]
    except KeyError:
        raise errors.NotFound(
            message="the server could not find the requested resource",
            group=group,
            kind=resource,
        ) from None


def for_kind(api_version: str, kind: str) -> ResourceType:
    """The resource type of an object's apiVersion and kind (400 when unknown,
    with kubectl's wording)."""
    try:
        return _BY_KIND[(api_version, kind)]
    except KeyError:
        raise errors.BadRequest(
            message=f'no kind "{kind}" is registered for version "{api_version}"',
        ) from None


def all_resources() -> tuple[ResourceType, ...]:
    return RESOURCES


def resolve(name: str) -> ResourceType:
    """The resource a user means by `name`: plural, singular, short name or kind,
    optionally qualified by group (`deploy`, `deployments.apps`, `Pod`); 404 if none."""
    base, _, group = name.partition(".")
    lowered = base.lower()
    for r in RESOURCES:
        if group and r.group != group:
            continue
        if lowered in (r.resource, r.singular, r.kind.lower()) or lowered in r.short_names:
            return r
    raise errors.NotFound(message=f'the server doesn\'t have a resource type "{name}"', kind=name)


def in_category(category: str) -> tuple[ResourceType, ...]:
    """The resources `kubectl get <category>` lists (`all`)."""
    return tuple(r for r in RESOURCES if category in r.categories)
