"""The StatefulSet controller: pods with stable names, network identities and
storage, created, replaced and removed in order.

Pod i is `<set>-<i>`, with hostname `<set>-<i>` and subdomain `serviceName`
(so the cluster DNS answers `<set>-<i>.<service>`), and one
PersistentVolumeClaim `<template>-<set>-<i>` per volumeClaimTemplate, kept
when the pod goes. With the default OrderedReady policy pod i+1 is created only
once pods 0..i are Running and Ready, and scaling down removes the highest
ordinal first, one at a time; Parallel does both at once. A template change
rolls out from the highest ordinal down to `partition`, one pod at a time
(RollingUpdate), or waits for pods to be deleted (OnDelete). Revisions are
ControllerRevisions named `<set>-<hash>`, as `currentRevision`/`updateRevision`
and the pods' `controller-revision-hash` label show.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from apimachinery import errors
from controller_manager import kube, podcontrol, revisions
from controller_manager.base import JSON, Context, Controller, key_of, split_key

STATEFULSETS = kube.rt("apps", "statefulsets")
PVCS = kube.rt("", "persistentvolumeclaims")
REVISION_HASH = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def ordinal(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> int | None:
    m = re.fullmatch(re.escape(kube.name(sts)) + r"-(\d+)", kube.name(pod))
    return int(m.group(1)) if m else None


def running_and_ready(pod: Mapping[str, Any]) -> bool:
    return kube.pod_phase(pod) == "Running" and kube.pod_is_ready(pod) and not kube.deleting(pod)


def claim_name(template: Mapping[str, Any], pod_name: str) -> str:
    return f"{kube.name(template)}-{pod_name}"


def new_pod(sts: JSON, index: int, revision: str) -> JSON:
    spec = sts.get("spec") or {}
    pod_name = f"{kube.name(sts)}-{index}"
    pod = podcontrol.pod_from_template(
        sts,
        spec.get("template") or {},
        name=pod_name,
        extra_labels={
            REVISION_HASH: revision,
            POD_NAME_LABEL: pod_name,
            POD_INDEX_LABEL: str(index),
        },
    )
    pod_spec = pod["spec"]
    pod_spec["hostname"] = pod_name
    if spec.get("serviceName"):
        pod_spec["subdomain"] = spec["serviceName"]
    claims = spec.get("volumeClaimTemplates") or []
    if claims:
        names = {kube.name(c) for c in claims}
        volumes = [v for v in pod_spec.get("volumes") or [] if v.get("name") not in names]
        for c in claims:
            volumes.append(
                {
                    "name": kube.name(c),
                    "persistentVolumeClaim": {"claimName": claim_name(c, pod_name)},
                }
            )
        pod_spec["volumes"] = volumes
    return pod


class StatefulSetController(Controller):
    name = "statefulset"
    component = "statefulset-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.statefulsets = ctx.informers.informer(STATEFULSETS)
        self.pods = ctx.informers.informer(kube.PODS)
        self.revisions = revisions.Revisions(ctx)
        self.statefulsets.add_handlers(on_add=self.enqueue, on_update=self._sts_updated)
        self.pods.add_handlers(
            on_add=self._pod_changed, on_update=self._pod_updated, on_delete=self._pod_changed
        )

    def synced(self) -> bool:
        return self.statefulsets.has_synced() and self.pods.has_synced()

    def _sts_updated(self, old: JSON, new: JSON) -> None:
        self.enqueue(new)

    def _pod_changed(self, pod: JSON) -> None:
        ref = kube.controller_ref(pod)
        if ref is not None and ref.get("kind") == "StatefulSet":
            self.queue.add(f"{kube.namespace(pod)}/{ref.get('name')}")

    def _pod_updated(self, old: JSON, new: JSON) -> None:
        self._pod_changed(new)

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        sts = self.statefulsets.get(ns, name)
        if sts is None:
            return
        spec = sts.get("spec") or {}
        selector = kube.label_selector(spec.get("selector"))
        claimed = await podcontrol.claim_pods(self.api, sts, self.pods.list(namespace=ns), selector)
        pods: dict[int, JSON] = {}
        for p in claimed:
            i = ordinal(sts, p)
            if i is not None:
                pods[i] = p
        update_hash = await self.revisions.sync(sts, spec.get("template") or {})
        update_revision = f"{name}-{update_hash}"
        old_status = sts.get("status") or {}
        current_revision = str(old_status.get("currentRevision") or update_revision)
        if not kube.deleting(sts):
            await self.manage(sts, pods, update_revision)
        await self.update_status(sts, pods, current_revision, update_revision)

    async def manage(self, sts: JSON, pods: dict[int, JSON], update_revision: str) -> None:
        spec = sts.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        # Create, replace failed pods, and wait for each in order.
        for i in range(replicas):
            pod = pods.get(i)
            if pod is not None and kube.pod_is_terminated(pod) and not kube.deleting(pod):
                if await podcontrol.delete_pod(self.api, pod):
                    self.event(
                        sts,
                        "Normal",
                        "RecreatingFailedPod",
                        f"StatefulSet {kube.namespace(sts)}/{kube.name(sts)} is recreating "
                        f"failed Pod {kube.name(pod)}",
                    )
                    self.event(
                        sts,
                        "Normal",
                        "SuccessfulDelete",
                        f"delete Pod {kube.name(pod)} in StatefulSet {kube.name(sts)} successful",
                    )
                if ordered:
                    return
                continue
            if pod is None:
                await self.create_pod(sts, i, update_revision)
                if ordered:
                    return
                continue
            if ordered and not running_and_ready(pod):
                return
        # Scale down, highest ordinal first.
        condemned = sorted((i for i in pods if i >= replicas), reverse=True)
        for i in condemned:
            pod = pods[i]
            if kube.deleting(pod):
                if ordered:
                    return
                continue
            if await podcontrol.delete_pod(self.api, pod):
                self.event(
                    sts,
                    "Normal",
                    "SuccessfulDelete",
                    f"delete Pod {kube.name(pod)} in StatefulSet {kube.name(sts)} successful",
                )
            if ordered:
                return
        if condemned:
            return
        # Rolling update, from the highest ordinal down to the partition.
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        if not all(running_and_ready(pods[i]) for i in range(replicas) if i in pods):
            return
        for i in range(replicas - 1, partition - 1, -1):
            pod = pods.get(i)
            if pod is None or kube.labels(pod).get(REVISION_HASH) == update_revision:
                continue
            if await podcontrol.delete_pod(self.api, pod):
                self.log.info(
                    "statefulset %s: replacing pod %s with revision %s",
                    key_of(sts),
                    kube.name(pod),
                    update_revision,
                )
            return

    async def create_pod(self, sts: JSON, index: int, revision: str) -> None:
        spec = sts.get("spec") or {}
        pod_name = f"{kube.name(sts)}-{index}"
        for template in spec.get("volumeClaimTemplates") or []:
            await self.create_claim(sts, template, pod_name)
        try:
            await self.api.create(
                kube.PODS, new_pod(sts, index, revision), namespace=kube.namespace(sts)
            )
        except errors.AlreadyExists:
            return  # the cache is behind
        except errors.APIError as e:
            self.event(
                sts,
                "Warning",
                "FailedCreate",
                f"create Pod {pod_name} in StatefulSet {kube.name(sts)} failed error: {e}",
            )
            raise
        self.event(
            sts,
            "Normal",
            "SuccessfulCreate",
            f"create Pod {pod_name} in StatefulSet {kube.name(sts)} successful",
        )

    async def create_claim(self, sts: JSON, template: Mapping[str, Any], pod_name: str) -> None:
        if not kube.has_resource("", "persistentvolumeclaims"):
            return
        name = claim_name(template, pod_name)
        selector_labels = ((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        body: JSON = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": name,
                "namespace": kube.namespace(sts),
                "labels": {**kube.labels(template), **selector_labels},
            },
            "spec": kube.deepcopy(dict(template.get("spec") or {})),
        }
        if kube.annotations_of(template):
            body["metadata"]["annotations"] = kube.annotations_of(template)
        try:
            await self.api.create(PVCS, body, namespace=kube.namespace(sts))
        except errors.AlreadyExists:
            return
        self.event(
            sts,
            "Normal",
            "SuccessfulCreate",
            f"create Claim {name} Pod {pod_name} in StatefulSet {kube.name(sts)} success",
        )

    async def update_status(
        self, sts: JSON, pods: dict[int, JSON], current_revision: str, update_revision: str
    ) -> None:
        spec = sts.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = self.ctx.clock()
        live = [p for p in pods.values() if not kube.deleting(p)]
        ready = sum(1 for p in live if running_and_ready(p))
        available = sum(
            1 for p in live if running_and_ready(p) and kube.pod_is_available(p, min_ready, now)
        )
        current = sum(1 for p in live if kube.labels(p).get(REVISION_HASH) == current_revision)
        updated = sum(1 for p in live if kube.labels(p).get(REVISION_HASH) == update_revision)
        if updated == replicas and ready == replicas and len(live) == replicas:
            current_revision, current = update_revision, updated
        old = sts.get("status") or {}
        status: JSON = {
            "observedGeneration": int(kube.meta(sts).get("generation") or 0),
            "replicas": len(live),
            "readyReplicas": ready,
            "currentReplicas": current,
            "updatedReplicas": updated,
            "currentRevision": current_revision,
            "updateRevision": update_revision,
            "collisionCount": int(old.get("collisionCount") or 0),
            "availableReplicas": available,
        }
        status = {k: v for k, v in status.items() if v or k in ("replicas", "availableReplicas")}
        if status != old:
            new = kube.deepcopy(sts)
            new["status"] = status
            await self.api.update_status(STATEFULSETS, new)
        if min_ready and ready != available:
            self.queue.add_after(key_of(sts), min_ready + 0.5)
