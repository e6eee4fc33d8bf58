"""The node lifecycle controller: notices nodes that stopped heartbeating and
says so, so their pods can be replaced elsewhere.

A kubelet heartbeats by renewing its Lease in `kube-node-lease` (and posting
its node status). When neither moved for longer than the node monitor grace
period, as measured on this process's own clock (so clock skew between
machines does not matter), the node's conditions become Unknown with
upstream's "Kubelet stopped posting node status.", its pods are marked not
ready (Services stop sending them traffic) and it gets the
`node.kubernetes.io/unreachable` taints; a node whose kubelet reports
Ready=False gets `node.kubernetes.io/not-ready` instead, and a cordoned node
`node.kubernetes.io/unschedulable:NoSchedule`. The NoExecute taint is
what the taint eviction controller acts on. When heartbeats resume and the
kubelet reports Ready, the taints go.

Each node is one key, looked at again every node monitor period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apimachinery import errors
from apimachinery.taints import NOT_READY, UNREACHABLE
from controller_manager import kube
from controller_manager.base import JSON, Context, Controller

LEASE_NAMESPACE = "kube-node-lease"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
MANAGED_TAINT_KEYS = (UNREACHABLE, NOT_READY, UNSCHEDULABLE)
CONDITION_TYPES = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


@dataclass
class NodeHealth:
    """What was last seen of a node's heartbeats, and when (local clock)."""

    probe_time: float
    lease_renew: str
    ready_heartbeat: str
    ready_status: str


def desired_taints(ready_status: str | None, unschedulable: bool = False) -> list[tuple[str, str]]:
    """(key, effect) of the taints a node's Ready status (and cordon) call for."""
    wanted = [(UNSCHEDULABLE, "NoSchedule")] if unschedulable else []
    if ready_status == "True":
        return wanted
    key = NOT_READY if ready_status == "False" else UNREACHABLE
    return [*wanted, (key, "NoSchedule"), (key, "NoExecute")]


def reconcile_taints(
    taints: list[JSON], ready_status: str | None, now: float, *, unschedulable: bool = False
) -> list[JSON] | None:
    """The node's taints with the managed ones as they should be; None when unchanged."""
    wanted = desired_taints(ready_status, unschedulable)
    kept = [t for t in taints if t.get("key") not in MANAGED_TAINT_KEYS]
    current = {
        (t.get("key"), t.get("effect")) for t in taints if t.get("key") in MANAGED_TAINT_KEYS
    }
    if current == set(wanted):
        return None
    new = list(kept)
    for key, effect in wanted:
        existing = next(
            (t for t in taints if t.get("key") == key and t.get("effect") == effect), None
        )
        if existing is not None:
            new.append(existing)
            continue
        taint: JSON = {"key": key, "effect": effect}
        if effect == "NoExecute":
            taint["timeAdded"] = kube.rfc3339(now)
        new.append(taint)
    return new


def _taint_list(taints: list[JSON]) -> str:
    return ", ".join(f"{t.get('key')}:{t.get('effect')}" for t in taints) or "none"


def conditions_unknown(node: JSON, now: float) -> JSON | None:
    """The node with its conditions set Unknown, as upstream does when the
    kubelet stops posting; None when they already are."""
    status = node.get("status") or {}
    conditions: list[JSON] = [dict(c) for c in status.get("conditions") or []]
    t = kube.rfc3339(now)
    changed = False
    for type_ in CONDITION_TYPES:
        cond = kube.condition_in(conditions, type_)
        if cond is None:
            if type_ != "Ready":
                continue
            conditions.append(
                {
                    "type": "Ready",
                    "status": "Unknown",
                    "reason": "NodeStatusNeverUpdated",
                    "message": "Kubelet never posted node status.",
                    "lastHeartbeatTime": kube.meta(node).get("creationTimestamp") or t,
                    "lastTransitionTime": t,
                }
            )
            changed = True
        elif cond.get("status") != "Unknown":
            cond.update(
                status="Unknown",
                reason="NodeStatusUnknown",
                message="Kubelet stopped posting node status.",
                lastTransitionTime=t,
            )
            changed = True
    if not changed:
        return None
    new = kube.deepcopy(node)
    new.setdefault("status", {})["conditions"] = conditions
    return new


def ready_status(node: JSON) -> str | None:
    cond = kube.get_condition(node, "Ready")
    return str(cond.get("status")) if cond is not None else None


class NodeLifecycleController(Controller):
    name = "nodelifecycle"
    component = "node-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.nodes = ctx.informers.informer(kube.NODES)
        self.leases = ctx.informers.informer(kube.LEASES)
        self.pods = ctx.informers.informer(kube.PODS)
        self.pods.add_index("nodeName", lambda p: [kube.node_name(p)] if kube.node_name(p) else [])
        self.health: dict[str, NodeHealth] = {}
        self.nodes.add_handlers(
            on_add=self.enqueue,
            on_update=lambda old, new: self.enqueue(new),
            on_delete=self._node_deleted,
        )
        self.leases.add_handlers(
            on_add=self._lease_changed, on_update=lambda old, new: self._lease_changed(new)
        )

    def synced(self) -> bool:
        return all(i.has_synced() for i in (self.nodes, self.leases, self.pods))

    def _node_deleted(self, node: JSON) -> None:
        self.health.pop(kube.name(node), None)

    def _lease_changed(self, lease: JSON) -> None:
        if kube.namespace(lease) == LEASE_NAMESPACE:
            self.queue.add(kube.name(lease))

    def observe(self, node: JSON, now: float) -> NodeHealth:
        """Update what is known of the node's heartbeats; a change resets the clock."""
        name = kube.name(node)
        lease = self.leases.get(LEASE_NAMESPACE, name)
        renew = str(((lease or {}).get("spec") or {}).get("renewTime") or "")
        ready = kube.get_condition(node, "Ready") or {}
        heartbeat = str(ready.get("lastHeartbeatTime") or "")
        status = str(ready.get("status") or "")
        seen = self.health.get(name)
        if seen is None:
            self.event(
                node,
                "Normal",
                "RegisteredNode",
                f"Node {name} event: Registered Node {name} in Controller",
            )
        if (
            seen is None
            or seen.lease_renew != renew
            or seen.ready_heartbeat != heartbeat
            or (status not in (seen.ready_status, "Unknown"))
        ):
            seen = NodeHealth(now, renew, heartbeat, status)
            self.health[name] = seen
        return seen

    async def sync(self, key: str) -> None:
        node = self.nodes.get("", key)
        if node is None:
            self.health.pop(key, None)
            return
        now = self.ctx.clock()
        health = self.observe(node, now)
        if now - health.probe_time > self.options.node_monitor_grace_period:
            unknown = conditions_unknown(node, now)
            if unknown is not None:
                self.log.info(
                    "node %s stopped posting its status for %.0fs: NotReady (Unknown)",
                    key,
                    now - health.probe_time,
                )
                node = await self.api.update_status(kube.NODES, unknown)
                self.event(
                    node, "Normal", "NodeNotReady", f"Node {key} status is now: NodeNotReady"
                )
        status = ready_status(node)
        if status is None:
            # A node whose kubelet has not posted yet: wait for the grace period.
            self.queue.add_after(key, self.options.node_monitor_period)
            return
        if status != "True":
            await self.mark_pods_not_ready(key)
        spec = node.get("spec") or {}
        taints = reconcile_taints(
            list(spec.get("taints") or []),
            status,
            now,
            unschedulable=bool(spec.get("unschedulable")),
        )
        if taints is not None:
            new = kube.deepcopy(node)
            spec = new.setdefault("spec", {})
            if taints:
                spec["taints"] = taints
            else:
                spec.pop("taints", None)
            await self.api.update(kube.NODES, new)
            if status == "True":
                self.log.info("node %s: taints now %s", key, _taint_list(taints))
            else:
                self.log.info(
                    "node %s tainted %s:NoExecute",
                    key,
                    NOT_READY if status == "False" else UNREACHABLE,
                )
        self.queue.add_after(key, self.options.node_monitor_period)

    async def mark_pods_not_ready(self, node_name: str) -> None:
        """Set Ready=False on the node's pods so Services stop sending them traffic."""
        for pod in self.pods.by_index("nodeName", node_name):
            if not kube.pod_is_ready(pod) or kube.pod_is_terminated(pod):
                continue
            new = kube.deepcopy(pod)
            conditions: list[Any] = new["status"]["conditions"]
            for c in conditions:
                if c.get("type") == "Ready":
                    c["status"] = "False"
                    c["lastTransitionTime"] = kube.rfc3339(self.ctx.clock())
            try:
                await self.api.update_status(kube.PODS, new)
            except errors.NotFound:
                continue
            self.event(pod, "Warning", "NodeNotReady", "Node is not ready")
