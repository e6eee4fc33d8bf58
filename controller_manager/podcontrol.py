"""Pod creation and ownership shared by the workload controllers (Job,
DaemonSet, StatefulSet): pods from a template with a controller reference,
and claiming (adopting matching orphans, releasing owned pods that no longer
match), as upstream's PodControl and ControllerRefManager do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apimachinery import errors, selectors
from controller_manager import kube
from controller_manager.base import API, JSON


def pod_from_template(
    owner: Mapping[str, Any],
    template: Mapping[str, Any],
    *,
    name: str = "",
    extra_labels: Mapping[str, str] | None = None,
) -> JSON:
    """A pod for `owner` from its template; named `name`, else `<owner>-` + random."""
    tmeta = template.get("metadata") or {}
    metadata: JSON = {
        "namespace": kube.namespace(owner),
        "labels": {**(tmeta.get("labels") or {}), **(extra_labels or {})},
        "ownerReferences": [kube.owner_reference(owner)],
    }
    if name:
        metadata["name"] = name
    else:
        metadata["generateName"] = f"{kube.name(owner)}-"
    if tmeta.get("annotations"):
        metadata["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        metadata["finalizers"] = list(tmeta["finalizers"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": kube.deepcopy(dict(template.get("spec") or {})),
    }


async def claim_pods(
    api: API, owner: JSON, pods: list[JSON], selector: selectors.LabelSelector
) -> list[JSON]:
    """The pods `owner` controls after adoption and release."""
    owned: list[JSON] = []
    for pod in pods:
        ref = kube.controller_ref(pod)
        matches = kube.selects(selector, pod)
        if ref is not None:
            if ref.get("uid") != kube.uid(owner):
                continue
            if matches:
                owned.append(pod)
            elif not kube.deleting(pod) and not kube.deleting(owner):
                refs = [r for r in kube.owner_references(pod) if r.get("uid") != kube.uid(owner)]
                await _patch(api, pod, {"ownerReferences": refs or None})
            continue
        if not matches or kube.deleting(pod) or kube.deleting(owner):
            continue
        adopted = await _patch(
            api,
            pod,
            {"ownerReferences": [*kube.owner_references(pod), kube.owner_reference(owner)]},
        )
        if adopted is not None:
            owned.append(adopted)
    return owned


async def _patch(api: API, pod: JSON, metadata: JSON) -> JSON | None:
    patch = {"metadata": {"uid": kube.uid(pod), **metadata}}
    try:
        return await api.patch(kube.PODS, kube.name(pod), patch, namespace=kube.namespace(pod))
    except errors.NotFound:
        return None


async def delete_pod(api: API, pod: JSON) -> bool:
    """Delete a pod; False when it was already gone."""
    try:
        await api.delete(
            kube.PODS,
            kube.name(pod),
            namespace=kube.namespace(pod),
            options={"preconditions": {"uid": kube.uid(pod)}},
        )
    except (errors.NotFound, errors.Conflict):
        return False
    return True
