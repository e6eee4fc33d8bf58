"""The ReplicaSet controller: keeps exactly `spec.replicas` pods matching a
ReplicaSet's selector, and reports what it sees in its status.

It owns the pods it creates (an ownerReference with controller=true), adopts
orphan pods its selector matches and releases owned pods whose labels no
longer match, as upstream. Expectations stop it from creating or deleting
twice while its own changes have not reached the pod cache yet. When it must
scale down it deletes the pods that matter least first: unscheduled, then
pending, then not ready, then the youngest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from apimachinery import errors
from controller_manager import kube
from controller_manager.base import JSON, Context, Controller, Expectations, key_of, split_key

# Creations go out in batches of 1, 2, 4... so a broken template fails once
# rather than 500 times (upstream's slowStartBatch).
SLOW_START_INITIAL_BATCH = 1
BURST_REPLICAS = 500


class ReplicaSetController(Controller):
    name = "replicaset"
    component = "replicaset-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.replicasets = ctx.informers.informer(kube.REPLICASETS)
        self.pods = ctx.informers.informer(kube.PODS)
        self.expectations = Expectations()
        self.replicasets.add_handlers(
            on_add=self.enqueue,
            on_update=lambda old, new: self.enqueue(new),
            on_delete=self._rs_deleted,
        )
        self.pods.add_handlers(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )

    def synced(self) -> bool:
        return self.replicasets.has_synced() and self.pods.has_synced()

    # --- handlers -------------------------------------------------------------

    def _rs_deleted(self, rs: JSON) -> None:
        self.expectations.forget(key_of(rs))

    def _owner_key(self, pod: Mapping[str, Any]) -> str | None:
        ref = kube.controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return None
        rs = self.replicasets.get(kube.namespace(pod), str(ref.get("name", "")))
        if rs is None or kube.uid(rs) != ref.get("uid"):
            return None
        return key_of(rs)

    def _matching_rs_keys(self, pod: Mapping[str, Any]) -> list[str]:
        """ReplicaSets that may adopt this orphan pod."""
        return [
            key_of(rs)
            for rs in self.replicasets.list(namespace=kube.namespace(pod))
            if kube.selects(kube.label_selector((rs.get("spec") or {}).get("selector")), pod)
        ]

    def _pod_added(self, pod: JSON) -> None:
        owner = self._owner_key(pod)
        if owner is not None:
            self.expectations.creation_observed(owner)
            self.queue.add(owner)
        elif kube.controller_ref(pod) is None:
            self.enqueue_keys(self._matching_rs_keys(pod))

    def _pod_updated(self, old: JSON, new: JSON) -> None:
        for pod in (old, new):
            owner = self._owner_key(pod)
            if owner is not None:
                if kube.deleting(new) and not kube.deleting(old):
                    self.expectations.deletion_observed(owner, kube.uid(new))
                self.queue.add(owner)
            elif kube.controller_ref(pod) is None:
                self.enqueue_keys(self._matching_rs_keys(pod))

    def _pod_deleted(self, pod: JSON) -> None:
        owner = self._owner_key(pod)
        if owner is not None:
            self.expectations.deletion_observed(owner, kube.uid(pod))
            self.queue.add(owner)

    # --- sync -----------------------------------------------------------------

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        rs = self.replicasets.get(ns, name)
        if rs is None:
            self.expectations.forget(key)
            return
        spec = rs.get("spec") or {}
        selector = kube.label_selector(spec.get("selector"))
        pods = await self.claim_pods(rs, selector)
        active = [p for p in pods if kube.pod_is_active(p)]
        failure: str | None = None
        if self.expectations.satisfied(key) and not kube.deleting(rs):
            failure = await self.manage_replicas(key, rs, active)
        await self.update_status(rs, pods, active, failure)

    async def claim_pods(self, rs: JSON, selector: Any) -> list[JSON]:
        """The pods this ReplicaSet owns after adopting matching orphans and
        releasing owned pods that no longer match."""
        owned: list[JSON] = []
        for pod in self.pods.list(namespace=kube.namespace(rs)):
            ref = kube.controller_ref(pod)
            matches = kube.selects(selector, pod)
            if ref is not None:
                if ref.get("uid") != kube.uid(rs):
                    continue
                if matches:
                    owned.append(pod)
                elif not kube.deleting(pod) and not kube.deleting(rs):
                    await self._release(rs, pod)
                continue
            if not matches or kube.deleting(pod) or kube.deleting(rs):
                continue
            adopted = await self._adopt(rs, pod)
            if adopted is not None:
                owned.append(adopted)
        return owned

    async def _adopt(self, rs: JSON, pod: JSON) -> JSON | None:
        refs = [*kube.owner_references(pod), kube.owner_reference(rs)]
        patch = {"metadata": {"uid": kube.uid(pod), "ownerReferences": refs}}
        try:
            return await self.api.patch(
                kube.PODS, kube.name(pod), patch, namespace=kube.namespace(pod)
            )
        except errors.NotFound:
            return None

    async def _release(self, rs: JSON, pod: JSON) -> None:
        refs = [r for r in kube.owner_references(pod) if r.get("uid") != kube.uid(rs)]
        patch = {"metadata": {"uid": kube.uid(pod), "ownerReferences": refs or None}}
        with contextlib.suppress(errors.NotFound):
            await self.api.patch(kube.PODS, kube.name(pod), patch, namespace=kube.namespace(pod))

    async def manage_replicas(self, key: str, rs: JSON, active: list[JSON]) -> str | None:
        """Create or delete pods towards spec.replicas; the failure message, if any."""
        want = int((rs.get("spec") or {}).get("replicas", 1))
        diff = len(active) - want
        if diff < 0:
            return await self._create_pods(key, rs, min(-diff, BURST_REPLICAS))
        if diff > 0:
            victims = pods_to_delete(active, min(diff, BURST_REPLICAS))
            self.expectations.expect_deletions(key, [kube.uid(p) for p in victims])
            await asyncio.gather(*(self._delete_pod(key, rs, p) for p in victims))
        return None

    async def _create_pods(self, key: str, rs: JSON, count: int) -> str | None:
        self.expectations.expect_creations(key, count)
        remaining, batch = count, SLOW_START_INITIAL_BATCH
        while remaining > 0:
            size = min(batch, remaining)
            results = await asyncio.gather(
                *(self._create_pod(rs) for _ in range(size)), return_exceptions=True
            )
            failed = [r for r in results if isinstance(r, BaseException)]
            remaining -= size
            if failed:
                # The pods we will not create are not expected either.
                for _ in range(len(failed) + remaining):
                    self.expectations.creation_observed(key)
                err = failed[0]
                message = f"Error creating: {err}"
                self.event(rs, "Warning", "FailedCreate", message)
                if isinstance(err, errors.APIError) and err.is_retryable:
                    raise err
                return message
            batch *= 2
        return None

    async def _create_pod(self, rs: JSON) -> None:
        pod = pod_from_template(rs)
        created = await self.api.create(kube.PODS, pod, namespace=kube.namespace(rs))
        self.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {kube.name(created)}")

    async def _delete_pod(self, key: str, rs: JSON, pod: JSON) -> None:
        try:
            await self.api.delete(kube.PODS, kube.name(pod), namespace=kube.namespace(pod))
        except errors.NotFound:
            self.expectations.deletion_observed(key, kube.uid(pod))
            return
        except errors.APIError as e:
            self.expectations.deletion_observed(key, kube.uid(pod))
            self.event(rs, "Warning", "FailedDelete", f"Error deleting: {e}")
            raise
        self.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {kube.name(pod)}")

    async def update_status(
        self, rs: JSON, pods: list[JSON], active: list[JSON], failure: str | None
    ) -> None:
        spec = rs.get("spec") or {}
        status = calculate_status(rs, active, now=self.ctx.clock(), failure=failure)
        if status != (rs.get("status") or {}):
            new = kube.deepcopy(rs)
            new["status"] = status
            await self.api.update_status(kube.REPLICASETS, new)
        # Pods becoming available after minReadySeconds change nothing in the
        # cache: look again then.
        min_ready = int(spec.get("minReadySeconds") or 0)
        if min_ready > 0 and status.get("readyReplicas", 0) != status.get("availableReplicas", 0):
            self.queue.add_after(key_of(rs), min_ready + 0.5)


def pod_from_template(rs: Mapping[str, Any]) -> JSON:
    template = (rs.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    metadata: JSON = {
        "generateName": f"{kube.name(rs)}-",
        "namespace": kube.namespace(rs),
        "labels": dict(tmeta.get("labels") or {}),
        "ownerReferences": [kube.owner_reference(rs)],
    }
    if tmeta.get("annotations"):
        metadata["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        metadata["finalizers"] = list(tmeta["finalizers"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": kube.deepcopy(template.get("spec") or {}),
    }


_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_rank(pod: Mapping[str, Any]) -> tuple[int, int, int, float, int, float]:
    """Sort key: the pods to delete first come first (upstream's ActivePods order)."""
    ready_since = kube.pod_ready_since(pod)
    return (
        1 if kube.node_name(pod) else 0,
        _PHASE_RANK.get(kube.pod_phase(pod), 0),
        1 if kube.pod_is_ready(pod) else 0,
        -(ready_since or 0.0),  # ready more recently goes first
        -kube.restart_count(pod),
        -(kube.parse_time(kube.meta(pod).get("creationTimestamp")) or 0.0),
    )


def pods_to_delete(active: list[JSON], count: int) -> list[JSON]:
    return sorted(active, key=deletion_rank)[:count]


def calculate_status(
    rs: Mapping[str, Any], active: list[JSON], *, now: float, failure: str | None = None
) -> JSON:
    spec = rs.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    fully_labeled = sum(
        1 for p in active if all(kube.labels(p).get(k) == v for k, v in template_labels.items())
    )
    ready = sum(1 for p in active if kube.pod_is_ready(p))
    available = sum(1 for p in active if kube.pod_is_available(p, min_ready, now))
    old = rs.get("status") or {}
    conditions = list(old.get("conditions") or [])
    if failure is not None:
        reason = "FailedCreate"
        cond = kube.condition_in(conditions, "ReplicaFailure")
        conditions = kube.set_condition_in(
            conditions,
            {
                "type": "ReplicaFailure",
                "status": "True",
                "reason": reason,
                "message": failure,
                "lastTransitionTime": (cond or {}).get("lastTransitionTime") or kube.rfc3339(now),
            },
        )
    elif kube.condition_in(conditions, "ReplicaFailure") is not None:
        conditions = kube.remove_condition_in(conditions, "ReplicaFailure")
    status: JSON = {"replicas": len(active)}
    if fully_labeled:
        status["fullyLabeledReplicas"] = fully_labeled
    if ready:
        status["readyReplicas"] = ready
    if available:
        status["availableReplicas"] = available
    status["observedGeneration"] = int(kube.meta(rs).get("generation") or 0)
    if conditions:
        status["conditions"] = conditions
    return status
