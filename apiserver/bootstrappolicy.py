"""The default RBAC policy every cluster starts with, and its reconciliation.

As upstream's bootstrappolicy and its post-start hook, the apiserver makes sure
at every start that these ClusterRoles and ClusterRoleBindings exist:

- `cluster-admin` (everything), bound to the group `system:masters`;
- `admin`, `edit` and `view`, the user-facing roles one binds in a namespace,
  aggregated as upstream from `system:aggregate-to-admin|edit|view` (view is
  part of edit, edit of admin); their rules are filled in here too, so they
  work before the controller-manager's aggregation controller has run;
- `system:basic-user` (self reviews), `system:discovery` (discovery, OpenAPI,
  version, health) for every authenticated user, and
  `system:public-info-viewer` (version, health) for everyone, anonymous too.

A missing object is created. An existing one is reconciled additively, as
upstream does while its `rbac.authorization.kubernetes.io/autoupdate`
annotation is not "false": rules, aggregation selectors and subjects it lacks
are added back, nothing of the user's is removed; a binding whose roleRef was
changed is recreated. Several apiservers starting together converge (a
conflict is retried on the object as it then is).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from apimachinery import errors, rbac, scheme
from apimachinery.scheme import ResourceType
from apiserver import rbac as authz
from apiserver.registry import Registry

log = logging.getLogger("apiserver")

JSON = dict[str, Any]

_READ = ["get", "list", "watch"]
_WRITE = ["create", "delete", "deletecollection", "patch", "update"]
_ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"


def _rule(verbs: list[str], groups: list[str], resources: list[str]) -> JSON:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _urls(verbs: list[str], urls: list[str]) -> JSON:
    return {"nonResourceURLs": urls, "verbs": verbs}


def _meta(name: str, labels: dict[str, str] | None = None) -> JSON:
    return {
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})},
        "annotations": {rbac.AUTOUPDATE_ANNOTATION: "true"},
    }


def _cluster_role(
    name: str,
    rules: list[JSON],
    *,
    labels: dict[str, str] | None = None,
    aggregate_from: str = "",
) -> JSON:
    role: JSON = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": _meta(name, labels),
        "rules": rules,
    }
    if aggregate_from:
        role["aggregationRule"] = {
            "clusterRoleSelectors": [{"matchLabels": {_AGGREGATE_TO + aggregate_from: "true"}}]
        }
    return role


def _aggregate_to(target: str) -> dict[str, str]:
    return {_AGGREGATE_TO + target: "true"}


_VIEW_RULES = [
    _rule(
        _READ,
        [""],
        [
            "configmaps",
            "endpoints",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "pods",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/status",
        ],
    ),
    _rule(
        _READ,
        [""],
        [
            "bindings",
            "events",
            "limitranges",
            "namespaces/status",
            "pods/log",
            "pods/status",
            "replicationcontrollers/status",
            "resourcequotas",
            "resourcequotas/status",
        ],
    ),
    _rule(_READ, [""], ["namespaces"]),
    _rule(_READ, ["discovery.k8s.io"], ["endpointslices"]),
    _rule(
        _READ,
        ["apps"],
        [
            "controllerrevisions",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "statefulsets",
            "statefulsets/scale",
            "statefulsets/status",
        ],
    ),
    _rule(_READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    _rule(_READ, ["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
    _rule(
        _READ,
        ["extensions"],
        [
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "ingresses",
            "ingresses/status",
            "networkpolicies",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "replicationcontrollers/scale",
        ],
    ),
    _rule(_READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    _rule(_READ, ["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
]

_EDIT_RULES = [
    _rule(
        _READ,
        [""],
        [
            "pods/attach",
            "pods/exec",
            "pods/portforward",
            "pods/proxy",
            "secrets",
            "services/proxy",
        ],
    ),
    _rule(["impersonate"], [""], ["serviceaccounts"]),
    _rule(_WRITE, [""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]),
    _rule(["create"], [""], ["pods/eviction"]),
    _rule(
        _WRITE,
        [""],
        [
            "configmaps",
            "events",
            "persistentvolumeclaims",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "secrets",
            "serviceaccounts",
            "services",
            "services/proxy",
        ],
    ),
    _rule(["create"], [""], ["serviceaccounts/token"]),
    _rule(
        _WRITE,
        ["apps"],
        [
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "replicasets",
            "replicasets/scale",
            "statefulsets",
            "statefulsets/scale",
        ],
    ),
    _rule(_WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
    _rule(_WRITE, ["batch"], ["cronjobs", "jobs"]),
    _rule(
        _WRITE,
        ["extensions"],
        [
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "ingresses",
            "networkpolicies",
            "replicasets",
            "replicasets/scale",
            "replicationcontrollers/scale",
        ],
    ),
    _rule(_WRITE, ["policy"], ["poddisruptionbudgets"]),
    _rule(_WRITE, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
    _rule(_ALL, ["coordination.k8s.io"], ["leases"]),
]

_ADMIN_RULES = [
    _rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
    _rule(_ALL, ["rbac.authorization.k8s.io"], ["rolebindings", "roles"]),
]


def cluster_roles() -> list[JSON]:
    """The bootstrap ClusterRoles, admin/edit/view with their aggregated rules."""
    roles = [
        _cluster_role("cluster-admin", [_rule(["*"], ["*"], ["*"]), _urls(["*"], ["*"])]),
        _cluster_role("system:aggregate-to-admin", _ADMIN_RULES, labels=_aggregate_to("admin")),
        _cluster_role("system:aggregate-to-edit", _EDIT_RULES, labels=_aggregate_to("edit")),
        _cluster_role("system:aggregate-to-view", _VIEW_RULES, labels=_aggregate_to("view")),
        _cluster_role("view", [], labels=_aggregate_to("edit"), aggregate_from="view"),
        _cluster_role("edit", [], labels=_aggregate_to("admin"), aggregate_from="edit"),
        _cluster_role("admin", [], aggregate_from="admin"),
        _cluster_role(
            "system:basic-user",
            [
                _rule(
                    ["create"],
                    ["authorization.k8s.io"],
                    ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                _rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
            ],
        ),
        _cluster_role(
            "system:discovery",
            [
                _urls(
                    ["get"],
                    [
                        "/api",
                        "/api/*",
                        "/apis",
                        "/apis/*",
                        "/healthz",
                        "/livez",
                        "/openapi",
                        "/openapi/*",
                        "/readyz",
                        "/version",
                        "/version/",
                    ],
                )
            ],
        ),
        _cluster_role(
            "system:public-info-viewer",
            [_urls(["get"], ["/healthz", "/livez", "/readyz", "/version", "/version/"])],
        ),
    ]
    # view, then edit (which includes view), then admin (which includes edit).
    by_name = {r["metadata"]["name"]: r for r in roles}
    for name in ("view", "edit", "admin"):
        by_name[name]["rules"] = copy.deepcopy(rbac.aggregated_rules(by_name[name], roles) or [])
    return roles


def _group(name: str) -> JSON:
    return {"apiGroup": rbac.GROUP, "kind": "Group", "name": name}


def _binding(name: str, role: str, subjects: list[JSON]) -> JSON:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": _meta(name),
        "roleRef": {"apiGroup": rbac.GROUP, "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    }


def cluster_role_bindings() -> list[JSON]:
    return [
        _binding("cluster-admin", "cluster-admin", [_group("system:masters")]),
        _binding("system:basic-user", "system:basic-user", [_group("system:authenticated")]),
        _binding("system:discovery", "system:discovery", [_group("system:authenticated")]),
        _binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            [_group("system:authenticated"), _group("system:unauthenticated")],
        ),
    ]


# --- reconciliation (pure) -------------------------------------------------------


def _protected(existing: JSON) -> bool:
    annotations = (existing.get("metadata") or {}).get("annotations") or {}
    return annotations.get(rbac.AUTOUPDATE_ANNOTATION) == "false"


def _merged_metadata(existing: JSON, expected: JSON) -> JSON:
    """Expected labels and annotations added to the existing ones (existing values win)."""
    meta = copy.deepcopy(existing.get("metadata") or {})
    for key in ("labels", "annotations"):
        wanted = (expected.get("metadata") or {}).get(key) or {}
        merged = {**wanted, **(meta.get(key) or {})}
        if merged:
            meta[key] = merged
    return meta


def reconciled_role(existing: JSON, expected: JSON) -> JSON | None:
    """The existing ClusterRole with what it lacks of `expected` added, or None
    when nothing is to change (up to date, or protected by autoupdate=false)."""
    if _protected(existing):
        return None
    role = copy.deepcopy(existing)
    role["metadata"] = _merged_metadata(existing, expected)
    rules = list(role.get("rules") or [])
    missing = authz.uncovered(rules, expected.get("rules") or [])
    if missing:
        role["rules"] = rules + copy.deepcopy(missing)
    wanted_selectors = (expected.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    if wanted_selectors:
        aggregation = role.setdefault("aggregationRule", {})
        selectors = aggregation.setdefault("clusterRoleSelectors", [])
        selectors.extend(copy.deepcopy(s) for s in wanted_selectors if s not in selectors)
    return None if role == existing else role


def _subject_key(subject: JSON) -> tuple[str, str, str]:
    return (
        str(subject.get("kind", "")),
        str(subject.get("name", "")),
        str(subject.get("namespace", "")),
    )


def reconciled_binding(existing: JSON, expected: JSON) -> JSON | None:
    """The existing ClusterRoleBinding with the expected subjects it lacks (and
    the expected roleRef), or None when nothing is to change."""
    if _protected(existing):
        return None
    binding = copy.deepcopy(existing)
    binding["metadata"] = _merged_metadata(existing, expected)
    binding["roleRef"] = copy.deepcopy(expected["roleRef"])
    subjects = list(binding.get("subjects") or [])
    have = {_subject_key(s) for s in subjects}
    for subject in expected.get("subjects") or []:
        if _subject_key(subject) not in have:
            subjects.append(copy.deepcopy(subject))
    binding["subjects"] = subjects
    return None if binding == existing else binding


# --- against the registry ------------------------------------------------------------


async def _ensure(registry: Registry, rt: ResourceType, expected: JSON) -> None:
    name = expected["metadata"]["name"]
    for _ in range(8):
        try:
            existing = await registry.get(rt, "", name)
        except errors.NotFound:
            try:
                await registry.create(rt, "", copy.deepcopy(expected))
                log.info("created %s %s", rt.kind, name)
                return
            except errors.AlreadyExists:
                continue  # another apiserver was faster: reconcile theirs
        if rt.kind == "ClusterRole":
            desired = reconciled_role(existing, expected)
        else:
            desired = reconciled_binding(existing, expected)
        if desired is None:
            return
        try:
            if desired.get("roleRef") != existing.get("roleRef"):
                # roleRef is immutable: upstream recreates the binding.
                await registry.delete(rt, "", name, None)
                desired["metadata"] = {
                    k: v
                    for k, v in desired["metadata"].items()
                    if k in ("name", "labels", "annotations")
                }
                await registry.create(rt, "", desired)
            else:
                await registry.update(rt, "", name, desired)
            log.info("reconciled %s %s with the bootstrap policy", rt.kind, name)
            return
        except (errors.Conflict, errors.NotFound, errors.AlreadyExists):
            continue
    raise errors.Conflict(message=f"could not reconcile {rt.kind} {name}: too many conflicts")


async def ensure_policy(registry: Registry) -> None:
    """Create or reconcile the bootstrap ClusterRoles, then their bindings."""
    roles = scheme.lookup(rbac.GROUP, "v1", "clusterroles")
    for role in cluster_roles():
        await _ensure(registry, roles, role)
    bindings = scheme.lookup(rbac.GROUP, "v1", "clusterrolebindings")
    for binding in cluster_role_bindings():
        await _ensure(registry, bindings, binding)
