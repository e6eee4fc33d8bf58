"""The pod garbage collector: removes pods nobody else will.

- terminated pods (Succeeded/Failed) beyond `--terminated-pod-gc-threshold`,
  oldest first;
- pods bound to a node that no longer exists (confirmed by a live read on two
  passes in a row), force-deleted;
- pods being deleted that no kubelet will finish: unscheduled ones, and those
  on a node tainted unreachable whose grace period has run out, force-deleted,
  so `kubectl get pods` stops showing them Terminating while their node is
  down (its kubelet removes their containers when it comes back).

One key, `podgc`, looked at every `pod_gc_period` seconds.
"""

from __future__ import annotations

import contextlib

from apimachinery import errors
from apimachinery.taints import UNREACHABLE
from controller_manager import kube
from controller_manager.base import JSON, Context, Controller

KEY = "podgc"


class PodGCController(Controller):
    name = "podgc"
    component = "pod-garbage-collector"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.pods = ctx.informers.informer(kube.PODS)
        self.nodes = ctx.informers.informer(kube.NODES)
        # Nodes seen missing on the previous pass.
        self.missing_nodes: set[str] = set()

    def synced(self) -> bool:
        return self.pods.has_synced() and self.nodes.has_synced()

    async def start(self) -> None:
        self.queue.add(KEY)

    async def sync(self, key: str) -> None:
        try:
            await self.gc_terminated()
            await self.gc_orphaned()
            await self.gc_unfinishable_terminating()
        finally:
            self.queue.add_after(KEY, self.options.pod_gc_period)

    async def gc_terminated(self) -> None:
        threshold = self.options.terminated_pod_gc_threshold
        if threshold <= 0:
            return
        terminated = [
            p for p in self.pods.list() if kube.pod_is_terminated(p) and not kube.deleting(p)
        ]
        excess = len(terminated) - threshold
        if excess <= 0:
            return
        terminated.sort(key=lambda p: kube.parse_time(kube.meta(p).get("creationTimestamp")) or 0.0)
        for pod in terminated[:excess]:
            await self._delete(pod, force=False, why="terminated pods over the threshold")

    async def gc_orphaned(self) -> None:
        missing: set[str] = set()
        for pod in self.pods.list():
            node = kube.node_name(pod)
            if not node or self.nodes.get("", node) is not None:
                continue
            if node not in missing and node not in self.missing_nodes:
                try:
                    await self.api.get(kube.NODES, node)
                    continue
                except errors.NotFound:
                    missing.add(node)
                    continue
            missing.add(node)
            if node in self.missing_nodes:
                await self._delete(pod, force=True, why=f"its node {node} no longer exists")
        self.missing_nodes = missing

    async def gc_unfinishable_terminating(self) -> None:
        now = self.ctx.clock()
        for pod in self.pods.list():
            if not kube.deleting(pod):
                continue
            node_name = kube.node_name(pod)
            if not node_name:
                await self._delete(pod, force=True, why="it is terminating and was never scheduled")
                continue
            node = self.nodes.get("", node_name)
            if node is None:
                continue
            unreachable = any(
                t.get("key") == UNREACHABLE and t.get("effect") == "NoExecute"
                for t in (node.get("spec") or {}).get("taints") or []
            )
            deadline = kube.parse_time(kube.meta(pod).get("deletionTimestamp")) or now
            if unreachable and now >= deadline:
                await self._delete(
                    pod, force=True, why=f"it is terminating on unreachable node {node_name}"
                )

    async def _delete(self, pod: JSON, *, force: bool, why: str) -> None:
        self.log.info("deleting pod %s/%s: %s", kube.namespace(pod), kube.name(pod), why)
        options: JSON = {"preconditions": {"uid": kube.uid(pod)}}
        if force:
            options["gracePeriodSeconds"] = 0
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.api.delete(
                kube.PODS, kube.name(pod), namespace=kube.namespace(pod), options=options
            )
