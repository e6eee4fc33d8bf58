"""Small helpers on Kubernetes objects that several controllers need: owner
references, conditions, pod readiness and availability, times, selectors.

Kept apart from the controllers because they are pure: a dict in, a value out.
"""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Mapping
from typing import Any

from apimachinery import scheme, selectors
from apimachinery.scheme import ResourceType

JSON = dict[str, Any]


def rt(group: str, resource: str) -> ResourceType:
    """The resource type of `resource` in `group`, at the version kubelab serves."""
    for r in scheme.all_resources():
        if r.group == group and r.resource == resource:
            return r
    raise KeyError(f"{resource}.{group} is not served")


def has_resource(group: str, resource: str) -> bool:
    return any(r.group == group and r.resource == resource for r in scheme.all_resources())


PODS = rt("", "pods")
NODES = rt("", "nodes")
NAMESPACES = rt("", "namespaces")
SERVICES = rt("", "services")
ENDPOINTS = rt("", "endpoints")
CONFIGMAPS = rt("", "configmaps")
LEASES = rt("coordination.k8s.io", "leases")
DEPLOYMENTS = rt("apps", "deployments")
REPLICASETS = rt("apps", "replicasets")


def meta(obj: Mapping[str, Any]) -> JSON:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def name(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("name") or "")


def namespace(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("namespace") or "")


def uid(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("uid") or "")


def labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(meta(obj).get("labels") or {})


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(meta(obj).get("annotations") or {})


def deleting(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def deepcopy(obj: JSON) -> JSON:
    return copy.deepcopy(obj)


# --- time -------------------------------------------------------------------


def rfc3339(t: float) -> str:
    return datetime.datetime.fromtimestamp(int(t), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> float | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str) -> float:
    """`6s`, `1m30s`, `300ms`, or a plain number of seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    total, pos = 0.0, 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        value, unit = float(m.group(1)), m.group(2)
        total += value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid duration {text!r} (use e.g. 6s, 1m30s, 300ms)")
    return total


# --- owner references -------------------------------------------------------


def owner_reference(owner: Mapping[str, Any], *, controller: bool = True) -> JSON:
    ref: JSON = {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": name(owner),
        "uid": uid(owner),
    }
    if controller:
        ref["controller"] = True
        ref["blockOwnerDeletion"] = True
    return ref


def owner_references(obj: Mapping[str, Any]) -> list[JSON]:
    return list(meta(obj).get("ownerReferences") or [])


def controller_ref(obj: Mapping[str, Any]) -> JSON | None:
    for ref in owner_references(obj):
        if ref.get("controller"):
            return ref
    return None


def is_controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == uid(owner)


# --- conditions -------------------------------------------------------------


def get_condition(obj: Mapping[str, Any], type_: str) -> JSON | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return None


def condition_in(conditions: list[JSON], type_: str) -> JSON | None:
    for c in conditions:
        if c.get("type") == type_:
            return c
    return None


def set_condition_in(conditions: list[JSON], cond: JSON) -> list[JSON]:
    """`conditions` with `cond` set; lastTransitionTime kept when the status did not change."""
    out: list[JSON] = []
    replaced = False
    for c in conditions:
        if c.get("type") == cond.get("type"):
            new = dict(cond)
            if c.get("status") == cond.get("status") and c.get("lastTransitionTime"):
                new["lastTransitionTime"] = c["lastTransitionTime"]
            out.append(new)
            replaced = True
        else:
            out.append(c)
    if not replaced:
        out.append(dict(cond))
    return out


def remove_condition_in(conditions: list[JSON], type_: str) -> list[JSON]:
    return [c for c in conditions if c.get("type") != type_]


# --- pods -------------------------------------------------------------------


def pod_phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def pod_is_terminated(pod: Mapping[str, Any]) -> bool:
    return pod_phase(pod) in ("Succeeded", "Failed")


def pod_is_active(pod: Mapping[str, Any]) -> bool:
    """Counts towards a controller's replicas: not finished, not being deleted."""
    return not pod_is_terminated(pod) and not deleting(pod)


def pod_is_ready(pod: Mapping[str, Any]) -> bool:
    cond = get_condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def pod_ready_since(pod: Mapping[str, Any]) -> float | None:
    cond = get_condition(pod, "Ready")
    if cond is None or cond.get("status") != "True":
        return None
    return parse_time(cond.get("lastTransitionTime")) or 0.0


def pod_is_available(pod: Mapping[str, Any], min_ready_seconds: int, now: float) -> bool:
    """Ready for at least minReadySeconds (upstream's IsPodAvailable)."""
    since = pod_ready_since(pod)
    if since is None:
        return False
    return min_ready_seconds == 0 or since + min_ready_seconds <= now


def restart_count(pod: Mapping[str, Any]) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return sum(int(s.get("restartCount") or 0) for s in statuses)


def node_name(pod: Mapping[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


# --- selectors --------------------------------------------------------------


def label_selector(selector: Mapping[str, Any] | None) -> selectors.LabelSelector:
    """A LabelSelector object as a matcher; a malformed one selects nothing."""
    try:
        return selectors.label_selector_from_dict(selector)
    except Exception:
        return selectors.NOTHING


def selects(selector: selectors.LabelSelector, obj: Mapping[str, Any]) -> bool:
    return selector.matches(labels(obj))
