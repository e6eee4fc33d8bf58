"""Small helpers over object metadata that every component needs.

Keys (`"namespace/name"`, the workqueue's currency), owner references (how a
ReplicaSet claims its pods), RFC 3339 timestamps as the API writes them, and
conditions (`Ready`, `Available`...) read and written the way upstream's
helpers do: a condition's lastTransitionTime only moves when its status
changes. Objects are plain Kubernetes JSON dicts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

JSON = dict[str, Any]


def key(obj: Mapping[str, Any]) -> str:
    """`"ns/name"` for a namespaced object, `"name"` for a cluster-scoped one."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or ""
    name = meta.get("name") or ""
    return f"{ns}/{name}" if ns else str(name)


def split_key(k: str) -> tuple[str, str]:
    """`("ns", "name")` from `"ns/name"`; `("", "name")` for a cluster-scoped key."""
    ns, sep, name = k.partition("/")
    if not sep:
        return "", ns
    if "/" in name:
        raise ValueError(f"unexpected key format: {k!r}")
    return ns, name


def name_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def uid_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def owner_reference(
    obj: Mapping[str, Any], *, controller: bool = True, block_owner_deletion: bool = True
) -> JSON:
    """An ownerReference pointing at `obj` (which must carry apiVersion/kind/uid)."""
    ref: JSON = {
        "apiVersion": obj.get("apiVersion", ""),
        "kind": obj.get("kind", ""),
        "name": name_of(obj),
        "uid": uid_of(obj),
    }
    if controller:
        ref["controller"] = True
    if block_owner_deletion:
        ref["blockOwnerDeletion"] = True
    return ref


def controller_of(obj: Mapping[str, Any]) -> JSON | None:
    """The ownerReference with `controller: true`, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def is_controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    """Whether `owner` is the controller of `obj` (compared by uid)."""
    ref = controller_of(obj)
    return ref is not None and bool(ref.get("uid")) and ref.get("uid") == uid_of(owner)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rfc3339(when: dt.datetime) -> str:
    """`2026-12-04T15:41:07Z`: seconds precision, UTC, as metav1.Time serializes."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339() -> str:
    return rfc3339(now())


def now_rfc3339_micro() -> str:
    """`2026-12-04T15:41:07.123456Z`, as metav1.MicroTime (Lease, Event.eventTime)."""
    return now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> dt.datetime:
    """A datetime from an RFC 3339 timestamp (`Z` or offset, optional fraction)."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return dt.datetime.fromisoformat(text)


def get_condition(obj_or_status: Mapping[str, Any], type_: str) -> JSON | None:
    """The condition of `type_` in `status.conditions` (accepts the object or its status)."""
    status = obj_or_status.get("status") if "status" in obj_or_status else obj_or_status
    if not isinstance(status, Mapping):
        return None
    for cond in status.get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def set_condition(
    obj_or_status: dict[str, Any],
    type_: str,
    status: str,
    *,
    reason: str = "",
    message: str = "",
    timestamp: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> bool:
    """Set a condition in place; return whether anything changed.

    lastTransitionTime changes only when the status does, as upstream helpers do.
    Accepts the object (its `status` is used, created when missing) or a status dict.
    """
    target: dict[str, Any]
    if "metadata" in obj_or_status or "kind" in obj_or_status:
        target = obj_or_status.setdefault("status", {})
    else:
        target = obj_or_status
    conditions: list[dict[str, Any]] = target.setdefault("conditions", [])
    ts = timestamp or now_rfc3339()
    for cond in conditions:
        if cond.get("type") != type_:
            continue
        changed = False
        if cond.get("status") != status:
            cond["status"] = status
            cond["lastTransitionTime"] = ts
            changed = True
        for field, value in (("reason", reason), ("message", message)):
            if value and cond.get(field) != value:
                cond[field] = value
                changed = True
            elif not value and field in cond:
                del cond[field]
                changed = True
        for field, value in (extra or {}).items():
            if cond.get(field) != value:
                cond[field] = value
                changed = True
        return changed
    new: dict[str, Any] = {"type": type_, "status": status, "lastTransitionTime": ts}
    if reason:
        new["reason"] = reason
    if message:
        new["message"] = message
    new.update(extra or {})
    conditions.append(new)
    return True


def remove_condition(obj_or_status: dict[str, Any], type_: str) -> bool:
    target = obj_or_status.get("status", obj_or_status)
    conds = target.get("conditions") or []
    kept = [c for c in conds if c.get("type") != type_]
    if len(kept) == len(conds):
        return False
    target["conditions"] = kept
    return True
