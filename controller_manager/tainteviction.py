"""The taint eviction controller (upstream's taint manager): deletes pods from
nodes with NoExecute taints they do not tolerate, once their tolerationSeconds
have passed since the taint was added.

Upstream's DefaultTolerationSeconds admission gives every pod tolerations for
`node.kubernetes.io/not-ready` and `node.kubernetes.io/unreachable` (NoExecute,
300 s). Pods that lack them are treated here as if they had them, with the
controller-manager's `--default-not-ready-toleration-seconds` and
`--default-unreachable-toleration-seconds` (3 s in the lab), which is what
makes a dead node's pods move within seconds.

Each pod is a key; a pod not yet due is looked at again when it will be.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from typing import Any

from apimachinery import errors
from apimachinery.taints import tolerates, with_default_tolerations
from controller_manager import kube
from controller_manager.base import JSON, Context, Controller, key_of, split_key


def effective_tolerations(
    pod: Mapping[str, Any], not_ready_s: int, unreachable_s: int
) -> list[JSON]:
    """The pod's tolerations, with the defaults it would have had from admission."""
    spec = pod.get("spec") or {}
    return with_default_tolerations(spec.get("tolerations") or [], not_ready_s, unreachable_s)


def eviction_delay(taints: list[JSON], tolerations: list[JSON]) -> float:
    """Seconds the pod may stay after the taints were added: 0 = now, inf = never."""
    delay = math.inf
    for taint in taints:
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return 0.0
        for t in matching:
            seconds = t.get("tolerationSeconds")
            if seconds is not None:
                delay = min(delay, max(float(seconds), 0.0))
    return delay


class TaintEvictionController(Controller):
    name = "tainteviction"
    component = "taint-eviction-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.nodes = ctx.informers.informer(kube.NODES)
        self.pods = ctx.informers.informer(kube.PODS)
        self.pods.add_index("nodeName", lambda p: [kube.node_name(p)] if kube.node_name(p) else [])
        self.pods.add_handlers(
            on_add=self._pod_changed, on_update=lambda old, new: self._pod_changed(new)
        )
        self.nodes.add_handlers(on_add=self._node_changed, on_update=self._node_updated)

    def synced(self) -> bool:
        return self.nodes.has_synced() and self.pods.has_synced()

    def _pod_changed(self, pod: JSON) -> None:
        if kube.node_name(pod) and not kube.deleting(pod):
            self.enqueue(pod)

    def _node_changed(self, node: JSON) -> None:
        if no_execute_taints(node):
            self.enqueue_keys(key_of(p) for p in self.pods.by_index("nodeName", kube.name(node)))

    def _node_updated(self, old: JSON, new: JSON) -> None:
        if no_execute_taints(old) != no_execute_taints(new):
            self._node_changed(new)

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        pod = self.pods.get(ns, name)
        if pod is None or kube.deleting(pod) or not kube.node_name(pod):
            return
        node = self.nodes.get("", kube.node_name(pod))
        if node is None:
            return
        taints = no_execute_taints(node)
        if not taints:
            return
        tolerations = effective_tolerations(
            pod,
            self.options.default_not_ready_toleration_seconds,
            self.options.default_unreachable_toleration_seconds,
        )
        delay = eviction_delay(taints, tolerations)
        if delay == math.inf:
            return
        now = self.ctx.clock()
        added = max((kube.parse_time(t.get("timeAdded")) or now for t in taints), default=now)
        due = added + delay
        if now < due:
            self.queue.add_after(key, due - now + 0.05)
            return
        await self.evict(pod)

    async def evict(self, pod: JSON) -> None:
        self.event(
            pod,
            "Normal",
            "TaintManagerEviction",
            f"Marking for deletion Pod {kube.namespace(pod)}/{kube.name(pod)}",
        )
        new = kube.deepcopy(pod)
        status = new.setdefault("status", {})
        status["conditions"] = kube.set_condition_in(
            list(status.get("conditions") or []),
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "DeletionByTaintManager",
                "message": "Taint manager: deleting due to NoExecute taint",
                "lastTransitionTime": kube.rfc3339(self.ctx.clock()),
            },
        )
        try:
            await self.api.update_status(kube.PODS, new)
        except errors.Conflict:
            pass  # the condition is informative; the deletion is what matters
        except errors.NotFound:
            return
        self.log.info(
            "evicting pod %s/%s from node %s (NoExecute taint)",
            kube.namespace(pod),
            kube.name(pod),
            kube.node_name(pod),
        )
        with contextlib.suppress(errors.NotFound):
            await self.api.delete(kube.PODS, kube.name(pod), namespace=kube.namespace(pod))


def no_execute_taints(node: Mapping[str, Any]) -> list[JSON]:
    return [
        t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"
    ]
