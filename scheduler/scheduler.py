"""The scheduler's loop: pending pods in, bindings out.

Informers keep a cache of nodes and of the pods placed on them (the
`Snapshot` the framework reads); pods waiting for a node go through one
work queue. Each pod is decided on its own (`schedule_one`), then *assumed* on
its node in the cache at once and bound in the background, so the next pod
is decided without waiting for the apiserver (upstream's assume-then-bind).
A pod that fits nowhere gets condition PodScheduled=False with upstream's
message and a FailedScheduling event, and waits until the cluster changes (a
node appears or changes, a pod goes away) or its back-off expires.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from typing import Any

import prometheus_client

from apimachinery import errors, meta
from apimachinery.scheme import lookup
from client.api import APIClient
from client.events import NORMAL, WARNING, EventRecorder
from client.informer import Informer
from client.workqueue import WorkQueue
from scheduler import framework as fw

JSON = dict[str, Any]
PODS = lookup("", "v1", "pods")
NODES = lookup("", "v1", "nodes")

DEFAULT_SCHEDULER = "default-scheduler"
# Back-off of a pod that fits nowhere, when no cluster change wakes it first.
UNSCHEDULABLE_BACKOFF_S = (1.0, 10.0)

log = logging.getLogger("scheduler")

# Upstream's scheduler metric names (served on /metrics by the component frame).
SCHEDULE_ATTEMPTS = prometheus_client.Counter(
    "scheduler_schedule_attempts_total",
    "Scheduling attempts by result (scheduled, unschedulable, error).",
    ["result"],
)
PREEMPTION_VICTIMS = prometheus_client.Counter(
    "scheduler_preemption_victims_total", "Pods evicted to make room for higher-priority pods."
)


def wants_scheduling(pod: JSON, scheduler_name: str) -> bool:
    spec = pod.get("spec") or {}
    return (
        not spec.get("nodeName")
        and (spec.get("schedulerName") or DEFAULT_SCHEDULER) == scheduler_name
        and not (pod.get("metadata") or {}).get("deletionTimestamp")
        and not fw.is_terminal(pod)
    )


def _scheduling_view(node: JSON) -> tuple[str, ...]:
    """What of a node the filters read (labels, taints, allocatable, Ready...), so a
    status heartbeat does not wake every unschedulable pod."""
    status = node.get("status") or {}
    ready = [c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    spec = node.get("spec") or {}
    return (
        json.dumps((node.get("metadata") or {}).get("labels") or {}, sort_keys=True),
        json.dumps(spec.get("taints") or [], sort_keys=True),
        str(bool(spec.get("unschedulable"))),
        json.dumps(status.get("allocatable") or {}, sort_keys=True),
        str(ready),
    )


class Scheduler:
    def __init__(
        self,
        api: APIClient,
        *,
        pods: Informer,
        nodes: Informer,
        recorder: EventRecorder,
        priority_classes: Informer | None = None,
        scheduler_name: str = DEFAULT_SCHEDULER,
    ) -> None:
        self.api = api
        self.pods = pods
        self.nodes = nodes
        self.priority_classes = priority_classes
        self.recorder = recorder
        self.scheduler_name = scheduler_name
        self.queue: WorkQueue[str] = WorkQueue("scheduler", base_delay=0.05, max_delay=10.0)
        self.snapshot = fw.Snapshot()
        self._bound: dict[str, JSON] = {}  # uid -> pod placed on a node (or assumed)
        self._unschedulable: set[str] = set()
        # uid -> (node, pod) of pods waiting for the room their preemption makes
        self._nominated: dict[str, tuple[str, JSON]] = {}
        self._failures: dict[str, int] = {}
        self._tie = 0
        self._binds: set[asyncio.Task[None]] = set()
        self.bound_total = 0

        pods.add_handlers(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )
        nodes.add_handlers(
            on_add=self._node_changed,
            on_update=self._node_updated,
            on_delete=self._node_deleted,
        )

    # --- event handlers: keep the cache, enqueue keys -----------------------------------

    def _pod_added(self, pod: JSON) -> None:
        self._pod_updated(None, pod)

    def _pod_updated(self, old: JSON | None, pod: JSON) -> None:
        uid = fw.pod_uid(pod)
        node_name = (pod.get("spec") or {}).get("nodeName")
        if node_name:
            self._nominated.pop(uid, None)
            if fw.is_terminal(pod):
                self._forget(uid)
                self._wake_unschedulable()
            else:
                self._place(pod)
            return
        if wants_scheduling(pod, self.scheduler_name):
            self.queue.add(meta.key(pod))

    def _pod_deleted(self, pod: JSON) -> None:
        self._forget(fw.pod_uid(pod))
        self._nominated.pop(fw.pod_uid(pod), None)
        self._unschedulable.discard(meta.key(pod))
        self._failures.pop(meta.key(pod), None)
        self._wake_unschedulable()

    def _node_changed(self, node: JSON) -> None:
        name = meta.name_of(node)
        info = self.snapshot.nodes.get(name)
        if info is None:
            info = fw.NodeInfo(node=node)
            for pod in self._bound.values():
                if (pod.get("spec") or {}).get("nodeName") == name:
                    info.add_pod(pod)
            self.snapshot.nodes[name] = info
        else:
            info.node = node
        self._wake_unschedulable()

    def _node_updated(self, old: JSON, new: JSON) -> None:
        if _scheduling_view(old) == _scheduling_view(new):
            # A heartbeat: keep the newest object, but nothing a pod could now fit on.
            info = self.snapshot.nodes.get(meta.name_of(new))
            if info is not None:
                info.node = new
                return
        self._node_changed(new)

    def _node_deleted(self, node: JSON) -> None:
        self.snapshot.nodes.pop(meta.name_of(node), None)

    def _place(self, pod: JSON) -> None:
        uid = fw.pod_uid(pod)
        node_name = str((pod.get("spec") or {}).get("nodeName"))
        prior = self._bound.get(uid)
        if prior is not None:
            prior_node = (prior.get("spec") or {}).get("nodeName")
            if prior_node != node_name and prior_node in self.snapshot.nodes:
                self.snapshot.nodes[str(prior_node)].remove_pod(uid)
        self._bound[uid] = pod
        info = self.snapshot.nodes.get(node_name)
        if info is not None:
            info.add_pod(pod)

    def _forget(self, uid: str) -> None:
        pod = self._bound.pop(uid, None)
        if pod is None:
            return
        info = self.snapshot.nodes.get(str((pod.get("spec") or {}).get("nodeName")))
        if info is not None:
            info.remove_pod(uid)

    def _wake_unschedulable(self) -> None:
        """The cluster changed: pods that fit nowhere get another chance now."""
        for key in list(self._unschedulable):
            self.queue.add(key)
        self._unschedulable.clear()

    # --- the loop -------------------------------------------------------------------------

    async def run(self) -> None:
        for pod in self.pods.list():
            self._pod_added(pod)
        try:
            while True:
                key = await self.queue.get()
                if key is None:
                    return
                try:
                    await self.schedule_one(key)
                except Exception as e:
                    SCHEDULE_ATTEMPTS.labels("error").inc()
                    log.warning("scheduling %s failed: %s; will retry", key, e)
                    self.queue.add_rate_limited(key)
                finally:
                    self.queue.done(key)
        finally:
            for task in list(self._binds):
                task.cancel()

    def _with_priority(self, pod: JSON) -> JSON:
        spec = pod.get("spec") or {}
        if spec.get("priority") is not None or self.priority_classes is None:
            return pod
        name = spec.get("priorityClassName")
        value = 0
        for pc in self.priority_classes.list():
            if (name and meta.name_of(pc) == name) or (not name and pc.get("globalDefault")):
                value = int(pc.get("value") or 0)
                break
        out = dict(pod)
        out["spec"] = {**spec, "priority": value}
        return out

    async def schedule_one(self, key: str) -> None:
        """Decide one pod's node and start binding it (or record why it cannot run)."""
        pod = self.pods.get_by_key(key)
        if pod is None or not wants_scheduling(pod, self.scheduler_name):
            return
        if fw.pod_uid(pod) in self._bound:  # assumed, binding in flight
            return
        pod = self._with_priority(pod)
        self._tie += 1
        uid = fw.pod_uid(pod)
        # Room made by preemption is held for the pod it was made for: pods nominated
        # to a node with at least this pod's priority count as placed there.
        held = [
            (node, other)
            for other_uid, (node, other) in self._nominated.items()
            if other_uid != uid
            and fw.pod_priority(other) >= fw.pod_priority(pod)
            and node in self.snapshot.nodes
        ]
        for node, other in held:
            self.snapshot.nodes[node].add_pod(other)
        try:
            decision = fw.schedule(pod, self.snapshot, tie_break=self._tie)
        finally:
            for node, other in held:
                self.snapshot.nodes[node].remove_pod(fw.pod_uid(other))
        if decision.node is not None:
            self._failures.pop(key, None)
            self._nominated.pop(uid, None)
            assumed = copy.deepcopy(pod)
            assumed["spec"]["nodeName"] = decision.node
            self._place(assumed)
            task = asyncio.create_task(self._bind(key, pod, decision.node))
            self._binds.add(task)
            task.add_done_callback(self._binds.discard)
            return
        SCHEDULE_ATTEMPTS.labels("unschedulable").inc()
        message = decision.message(len(self.snapshot.nodes))
        preemption = fw.find_preemption(pod, self.snapshot)
        if preemption is not None:
            await self._preempt(pod, preemption)
        await self._record_unschedulable(pod, message)
        self._unschedulable.add(key)
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        lo, hi = UNSCHEDULABLE_BACKOFF_S
        self.queue.add_after(key, min(lo * 2**n, hi))

    async def _bind(self, key: str, pod: JSON, node: str) -> None:
        ns, name = meta.namespace_of(pod), meta.name_of(pod)
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": ns, "uid": meta.uid_of(pod)},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        try:
            await self.api.create(PODS, binding, namespace=ns, name=name, subresource="binding")
        except errors.APIError as e:
            self._forget(fw.pod_uid(pod))
            if isinstance(e, errors.NotFound):
                return
            if isinstance(e, errors.Conflict) and "already assigned" in e.message:
                return
            log.warning("could not bind pod %s to %s: %s; will retry", key, node, e)
            self.queue.add_rate_limited(key)
            return
        self.bound_total += 1
        SCHEDULE_ATTEMPTS.labels("scheduled").inc()
        self.queue.forget(key)
        log.info("pod %s bound to %s", key, node)
        self.recorder.event(
            pod, NORMAL, "Scheduled", f"Successfully assigned {ns}/{name} to {node}"
        )

    async def _record_unschedulable(self, pod: JSON, message: str) -> None:
        key = meta.key(pod)
        current = meta.get_condition(pod, "PodScheduled") or {}
        if current.get("status") != "False" or current.get("message") != message:
            updated = copy.deepcopy(pod)
            meta.set_condition(
                updated, "PodScheduled", "False", reason="Unschedulable", message=message
            )
            for cond in updated["status"]["conditions"]:
                cond.setdefault("lastProbeTime", None)
            try:
                await self.api.update_status(PODS, updated)
            except errors.APIError as e:
                log.debug("could not write the unschedulable status of %s: %s", key, e)
            log.info("pod %s is unschedulable: %s", key, message)
        self.recorder.event(pod, WARNING, "FailedScheduling", message)

    async def _preempt(self, pod: JSON, preemption: fw.Preemption) -> None:
        """Evict lower-priority victims so the pod fits on `preemption.node` next time."""
        key = meta.key(pod)
        self._nominated[fw.pod_uid(pod)] = (preemption.node, pod)
        for victim in preemption.victims:
            vns, vname = meta.namespace_of(victim), meta.name_of(victim)
            if (victim.get("metadata") or {}).get("deletionTimestamp"):
                continue
            log.info("preempting pod %s/%s on %s for %s", vns, vname, preemption.node, key)
            PREEMPTION_VICTIMS.inc()
            self.recorder.event(
                victim,
                NORMAL,
                "Preempted",
                f"Preempted by pod {meta.uid_of(pod)} on node {preemption.node}",
            )
            try:
                await self.api.delete(PODS, vname, namespace=vns)
            except errors.NotFound:
                pass
            except errors.APIError as e:
                log.warning("could not preempt %s/%s: %s", vns, vname, e)
        status = (pod.get("status") or {}).get("nominatedNodeName")
        if status != preemption.node:
            updated = copy.deepcopy(pod)
            updated.setdefault("status", {})["nominatedNodeName"] = preemption.node
            try:
                await self.api.update_status(PODS, updated)
            except errors.APIError as e:
                log.debug("could not nominate %s on %s: %s", key, preemption.node, e)
