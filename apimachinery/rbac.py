"""RBAC helpers shared by the apiserver (its bootstrap policy) and the
controller-manager (ClusterRole aggregation): how an aggregated ClusterRole's
rules follow from the ClusterRoles its `aggregationRule` selects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from apimachinery import errors
from apimachinery.selectors import label_selector_from_dict

JSON = dict[str, Any]

GROUP = "rbac.authorization.k8s.io"
# Bootstrap roles and bindings carrying this annotation set to "true" are
# reconciled by the apiserver at start (missing rules and subjects are added
# back); set it to "false" to keep your own version untouched.
AUTOUPDATE_ANNOTATION = "rbac.authorization.kubernetes.io/autoupdate"


def aggregated_rules(role: JSON, cluster_roles: Iterable[JSON]) -> list[JSON] | None:
    """The rules of an aggregated ClusterRole: for each of its selectors in turn,
    the rules of the ClusterRoles it selects (by name, itself excluded), each
    rule once, as upstream's clusterrole-aggregation controller computes them.
    None for a ClusterRole without an aggregationRule (its rules are its own)."""
    rule = role.get("aggregationRule")
    if not isinstance(rule, dict):
        return None
    own_name = (role.get("metadata") or {}).get("name")
    candidates = sorted(
        (r for r in cluster_roles if (r.get("metadata") or {}).get("name") != own_name),
        key=lambda r: str((r.get("metadata") or {}).get("name", "")),
    )
    out: list[JSON] = []
    for selector in rule.get("clusterRoleSelectors") or []:
        try:
            matcher = label_selector_from_dict(selector if isinstance(selector, dict) else {})
        except errors.APIError:
            continue  # refused by validation; nothing to select
        for candidate in candidates:
            labels = (candidate.get("metadata") or {}).get("labels") or {}
            if not matcher.matches(labels):
                continue
            for r in candidate.get("rules") or []:
                if r not in out:
                    out.append(r)
    return out
