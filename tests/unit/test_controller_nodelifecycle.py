"""Node lifecycle, taint eviction and pod GC: sync against fakes, on a fake clock."""

from __future__ import annotations

import math
from typing import Any

from controller_manager import kube
from controller_manager.nodelifecycle import NodeLifecycleController
from controller_manager.podgc import PodGCController
from controller_manager.tainteviction import (
    TaintEvictionController,
    effective_tolerations,
    eviction_delay,
)
from tests.unit.cm_fakes import FakeCluster

UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}


def node(name: str = "n1", ready: str = "True", taints: list[Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"taints": taints} if taints else {},
        "status": {
            "conditions": [
                {"type": "Ready", "status": ready, "lastHeartbeatTime": "2027-01-15T07:59:00Z"},
                {"type": "MemoryPressure", "status": "False"},
            ]
        },
    }


def pod(name: str, node_name: str = "n1", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node_name, "containers": [], **spec},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


async def test_node_without_heartbeat_goes_unknown_tainted_and_pods_not_ready() -> None:
    c = FakeCluster()
    c.add(kube.NODES, node())
    c.add(kube.PODS, pod("p"))
    ctl = NodeLifecycleController(c.context(node_monitor_grace_period=6))
    await ctl.sync("n1")
    assert c.writes() == []
    c.now += 5
    await ctl.sync("n1")
    assert c.writes() == []
    c.now += 2
    await ctl.sync("n1")
    n = c.get_obj(kube.NODES, "n1")
    assert n is not None
    ready = kube.get_condition(n, "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "Unknown",
        "NodeStatusUnknown",
        "Kubelet stopped posting node status.",
    )
    memory = kube.get_condition(n, "MemoryPressure")
    assert memory is not None and memory["status"] == "Unknown"
    assert {(t["key"], t["effect"]) for t in n["spec"]["taints"]} == {
        ("node.kubernetes.io/unreachable", "NoSchedule"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
    }
    p = c.get_obj(kube.PODS, "p")
    assert p is not None and not kube.pod_is_ready(p)
    assert "NodeNotReady" in c.recorder.reasons()
    assert [a[0] for a in c.writes()] == ["update_status", "update_status", "update"]


async def test_lease_renewals_keep_a_node_ready_and_recovery_removes_taints() -> None:
    c = FakeCluster()
    c.add(kube.NODES, node())
    lease = c.add(
        kube.LEASES,
        {"metadata": {"name": "n1", "namespace": "kube-node-lease"}, "spec": {"renewTime": "a"}},
    )
    ctl = NodeLifecycleController(c.context(node_monitor_grace_period=6))
    for i in range(5):
        await ctl.sync("n1")
        c.now += 4
        lease["spec"]["renewTime"] = f"t{i}"
    assert c.writes() == []

    tainted = node(ready="True", taints=[{**UNREACHABLE, "timeAdded": "2027-01-15T08:00:00Z"}])
    c.add(kube.NODES, tainted)
    await ctl.sync("n1")
    n = c.get_obj(kube.NODES, "n1")
    assert n is not None and "taints" not in n["spec"]


async def test_kubelet_reporting_not_ready_gets_the_not_ready_taint() -> None:
    c = FakeCluster()
    c.add(kube.NODES, node(ready="False"))
    ctl = NodeLifecycleController(c.context())
    await ctl.sync("n1")
    n = c.get_obj(kube.NODES, "n1")
    assert n is not None
    assert {t["key"] for t in n["spec"]["taints"]} == {"node.kubernetes.io/not-ready"}


def test_default_tolerations_and_delay() -> None:
    plain = pod("p")
    tolerations = effective_tolerations(plain, 3, 5)
    assert eviction_delay([UNREACHABLE], tolerations) == 5
    forever = pod("q", tolerations=[{"operator": "Exists"}])
    assert eviction_delay([UNREACHABLE], effective_tolerations(forever, 3, 3)) == math.inf
    custom = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoExecute"}]
    assert eviction_delay([{"key": "other", "effect": "NoExecute"}], custom) == 0


async def test_taint_eviction_waits_toleration_seconds_then_deletes() -> None:
    c = FakeCluster()
    c.add(kube.NODES, node(taints=[{**UNREACHABLE, "timeAdded": kube.rfc3339(c.now)}]))
    c.add(kube.PODS, pod("p"))
    ctl = TaintEvictionController(c.context(default_unreachable_toleration_seconds=3))
    await ctl.sync("default/p")
    assert c.writes() == []
    [(key, delay)] = c.queues["tainteviction"].after
    assert key == "default/p" and 2.9 < delay < 3.2
    c.now += 3
    await ctl.sync("default/p")
    assert c.writes()[-1] == ("delete", "pods", "default", "p", "")
    assert "TaintManagerEviction" in c.recorder.reasons()


async def test_pod_gc_force_deletes_orphans_and_stuck_terminating_pods() -> None:
    c = FakeCluster()
    c.add(kube.NODES, node(taints=[UNREACHABLE]))
    c.add(kube.PODS, pod("orphan", node_name="gone"))
    stuck = pod("stuck")
    stuck["metadata"]["deletionTimestamp"] = kube.rfc3339(c.now - 1)
    c.add(kube.PODS, stuck)
    unscheduled = pod("unscheduled", node_name="")
    unscheduled["metadata"]["deletionTimestamp"] = kube.rfc3339(c.now + 30)
    c.add(kube.PODS, unscheduled)
    c.add(kube.PODS, pod("fine"))
    ctl = PodGCController(c.context())
    await ctl.sync("podgc")
    deleted = {a[3] for a in c.writes("delete")}
    assert deleted == {"stuck", "unscheduled"}
    # an orphan only on the second pass that still finds its node missing
    await ctl.sync("podgc")
    assert {a[3] for a in c.writes("delete")} == {"stuck", "unscheduled", "orphan"}


async def test_cordoned_node_gets_the_unschedulable_taint() -> None:
    c = FakeCluster()
    cordoned = node()
    cordoned["spec"]["unschedulable"] = True
    c.add(kube.NODES, cordoned)
    ctl = NodeLifecycleController(c.context())
    await ctl.sync("n1")
    n = c.get_obj(kube.NODES, "n1")
    assert n is not None
    assert n["spec"]["taints"] == [
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    ]
    n["spec"]["unschedulable"] = False
    await ctl.sync("n1")
    n = c.get_obj(kube.NODES, "n1")
    assert n is not None and "taints" not in n["spec"]
