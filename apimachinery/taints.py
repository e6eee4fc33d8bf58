"""Taints and tolerations, as upstream's `Toleration.ToleratesTaint`.

The scheduler (which nodes a pod may land on), the taint eviction controller
(when a pod must leave a NoExecute-tainted node) and the apiserver's
DefaultTolerationSeconds admission all ask the same question; one answer lives
here so they can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# The taints the node lifecycle controller puts on a node that stops reporting.
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Whether `toleration` tolerates `taint` (an empty effect or key matches all)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    op = toleration.get("operator") or "Equal"
    if key and key != taint.get("key"):
        return False
    if op == "Exists":
        return True
    if not key and op == "Equal":
        return False
    return str(toleration.get("value") or "") == str(taint.get("value") or "")


def with_default_tolerations(
    tolerations: Iterable[Mapping[str, Any]], not_ready_s: int, unreachable_s: int
) -> list[dict[str, Any]]:
    """`tolerations` plus upstream's DefaultTolerationSeconds: a NoExecute
    toleration of the not-ready and unreachable taints for `not_ready_s` and
    `unreachable_s` seconds, each added only when none already tolerates it."""
    result = [dict(t) for t in tolerations]
    for key, seconds in ((NOT_READY, not_ready_s), (UNREACHABLE, unreachable_s)):
        probe = {"key": key, "effect": "NoExecute"}
        if not any(tolerates(t, probe) for t in result):
            result.append(
                {
                    "key": key,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": seconds,
                }
            )
    return result
