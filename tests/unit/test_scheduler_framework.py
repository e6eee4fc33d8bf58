"""The scheduler's filters, scores, message and preemption, on plain objects."""

from __future__ import annotations

from typing import Any

from apimachinery.taints import tolerates
from scheduler import framework as fw

JSON = dict[str, Any]


def node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    labels: dict[str, str] | None = None,
    taints: list[JSON] | None = None,
    ready: bool = True,
    unschedulable: bool = False,
) -> JSON:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or [], "unschedulable": unschedulable},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pod(
    name: str,
    *,
    cpu: str | None = None,
    memory: str | None = None,
    node_name: str = "",
    labels: dict[str, str] | None = None,
    priority: int = 0,
    owner: str = "",
    **spec: Any,
) -> JSON:
    requests = {}
    if cpu:
        requests["cpu"] = cpu
    if memory:
        requests["memory"] = memory
    meta: JSON = {
        "name": name,
        "namespace": "default",
        "uid": f"uid-{name}",
        "labels": labels or {},
    }
    if owner:
        meta["ownerReferences"] = [{"uid": owner, "controller": True, "kind": "ReplicaSet"}]
    return {
        "metadata": meta,
        "spec": {
            "containers": [{"name": "c", "image": "x", "resources": {"requests": requests}}],
            "nodeName": node_name,
            "priority": priority,
            **spec,
        },
    }


CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def test_upstream_message_for_taint_and_cpu() -> None:
    snap = fw.Snapshot.build(
        [node("cp", taints=[CP_TAINT]), node("w1", cpu="1"), node("w2", cpu="1")], []
    )
    decision = fw.schedule(pod("big", cpu="2"), snap)
    assert decision.node is None
    assert decision.message(3) == (
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu."
    )


def test_requests_add_up_on_a_node() -> None:
    existing = [pod("a", cpu="3", node_name="w1")]
    snap = fw.Snapshot.build([node("w1"), node("w2", cpu="1")], existing)
    assert fw.schedule(pod("b", cpu="2"), snap).node is None
    assert fw.schedule(pod("c", cpu="1"), snap).node in ("w1", "w2")
    snap2 = fw.Snapshot.build([node("w1", pods="1")], existing)
    assert fw.schedule(pod("d"), snap2).message(1) == "0/1 nodes are available: 1 Too many pods."


def test_toleration_lets_pod_on_tainted_node() -> None:
    snap = fw.Snapshot.build([node("cp", taints=[CP_TAINT])], [])
    tol = [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}]
    assert fw.schedule(pod("p", tolerations=tol), snap).node == "cp"
    assert tolerates({"operator": "Exists"}, CP_TAINT)
    assert not tolerates({"key": "other", "operator": "Exists"}, CP_TAINT)
    assert tolerates(
        {"key": "k", "value": "v", "effect": "NoSchedule"},
        {"key": "k", "value": "v", "effect": "NoSchedule"},
    )


def test_unschedulable_and_not_ready_nodes_are_skipped() -> None:
    snap = fw.Snapshot.build([node("a", unschedulable=True), node("b", ready=False)], [])
    assert fw.schedule(pod("p"), snap).message(2) == (
        "0/2 nodes are available: 1 node(s) were not ready, 1 node(s) were unschedulable."
    )


def test_node_selector_and_required_affinity() -> None:
    snap = fw.Snapshot.build([node("a", labels={"disk": "ssd"}), node("b")], [])
    assert fw.schedule(pod("p", nodeSelector={"disk": "ssd"}), snap).node == "a"
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["ssd"]}]}
                ]
            }
        }
    }
    assert fw.schedule(pod("q", affinity=affinity), snap).node == "b"
    none = fw.schedule(pod("r", nodeSelector={"disk": "nvme"}), snap)
    assert none.message(2) == (
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
    )


def test_preferred_node_affinity_wins() -> None:
    snap = fw.Snapshot.build([node("a"), node("b", labels={"zone": "z1"})], [])
    affinity = {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 50,
                    "preference": {
                        "matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]
                    },
                }
            ]
        }
    }
    assert fw.schedule(pod("p", affinity=affinity), snap).node == "b"


def test_anti_affinity_spreads_and_refuses() -> None:
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"app": "web"}},
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    }
    existing = [pod("w0", node_name="a", labels={"app": "web"}, affinity=anti)]
    snap = fw.Snapshot.build([node("a"), node("b")], existing)
    assert fw.schedule(pod("w1", labels={"app": "web"}, affinity=anti), snap).node == "b"
    snap.nodes["b"].add_pod(pod("w1", labels={"app": "web"}, affinity=anti, node_name="b"))
    decision = fw.schedule(pod("w2", labels={"app": "web"}, affinity=anti), snap)
    assert decision.node is None
    assert "2 node(s) didn't satisfy existing pods anti-affinity rules" in decision.message(2)


def test_pod_affinity_follows_its_peer() -> None:
    aff = {
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"app": "db"}},
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    }
    snap = fw.Snapshot.build(
        [node("a"), node("b")], [pod("db", node_name="b", labels={"app": "db"})]
    )
    assert fw.schedule(pod("cache", affinity=aff), snap).node == "b"


def test_host_port_conflict() -> None:
    def with_port(name: str, node_name: str = "") -> JSON:
        p = pod(name, node_name=node_name)
        p["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
        return p

    snap = fw.Snapshot.build([node("a"), node("b")], [with_port("x", "a")])
    assert fw.schedule(with_port("y"), snap).node == "b"


def test_least_allocated_prefers_the_emptier_node() -> None:
    snap = fw.Snapshot.build([node("a"), node("b")], [pod("x", cpu="3", node_name="a")])
    assert fw.schedule(pod("p", cpu="100m"), snap).node == "b"


def test_spread_of_replicas_across_nodes() -> None:
    snap = fw.Snapshot.build([node("a"), node("b"), node("c")], [])
    placed = []
    for i in range(6):
        p = pod(f"r{i}", owner="rs-1")
        d = fw.schedule(p, snap)
        assert d.node is not None
        p["spec"]["nodeName"] = d.node
        snap.nodes[d.node].add_pod(p)
        placed.append(d.node)
    assert sorted(placed) == ["a", "a", "b", "b", "c", "c"]


def test_preemption_picks_lowest_priority_victims() -> None:
    existing = [
        pod("low", cpu="2", node_name="a", priority=1),
        pod("mid", cpu="2", node_name="a", priority=5),
        pod("high", cpu="4", node_name="b", priority=100),
    ]
    snap = fw.Snapshot.build([node("a"), node("b")], existing)
    urgent = pod("urgent", cpu="2", priority=10)
    assert fw.schedule(urgent, snap).node is None
    pre = fw.find_preemption(urgent, snap)
    assert pre is not None
    assert pre.node == "a"
    assert [v["metadata"]["name"] for v in pre.victims] == ["low"]
    assert fw.find_preemption(pod("meek", cpu="2", priority=0), snap) is None


def test_init_containers_count_their_largest_request() -> None:
    p = pod("p", cpu="500m", memory="64Mi")
    p["spec"]["initContainers"] = [
        {"name": "i", "image": "x", "resources": {"requests": {"cpu": "2"}}}
    ]
    req = fw.pod_requests(p)
    assert req.milli_cpu == 2000
    assert req.memory == 64 * 1024 * 1024
    assert fw.pod_requests(pod("e"), non_zero=True).milli_cpu == fw.DEFAULT_MILLI_CPU


def _spread(when: str = "DoNotSchedule", key: str = "zone", **extra: Any) -> JSON:
    return {
        "maxSkew": 1,
        "topologyKey": key,
        "whenUnsatisfiable": when,
        "labelSelector": {"matchLabels": {"app": "web"}},
        **extra,
    }


ZONES = [
    node("a1", labels={"zone": "a"}),
    node("a2", labels={"zone": "a"}),
    node("b1", labels={"zone": "b"}),
]


def test_topology_spread_do_not_schedule_keeps_the_skew() -> None:
    placed = [
        pod("w1", node_name="a1", labels={"app": "web"}),
        pod("w2", node_name="a2", labels={"app": "web"}),
        pod("w3", node_name="b1", labels={"app": "web"}),
        pod("other", node_name="b1", labels={"app": "db"}),  # not selected: not counted
    ]
    newcomer = pod("w4", cpu="100m", labels={"app": "web"}, topologySpreadConstraints=[_spread()])
    # zone a has 2, zone b 1: a third in zone a would make the skew 3 - 1 = 2 > 1
    decision = fw.schedule(newcomer, fw.Snapshot.build(ZONES, placed))
    assert decision.node == "b1"
    assert decision.rejected == {
        "a1": [fw.REASON_TOPOLOGY_SPREAD],
        "a2": [fw.REASON_TOPOLOGY_SPREAD],
    }
    # zone b full: nothing fits, with upstream's message
    full = fw.Snapshot.build([*ZONES[:2], node("b1", cpu="0", labels={"zone": "b"})], placed)
    decision = fw.schedule(newcomer, full)
    assert decision.node is None
    assert decision.message(3) == (
        "0/3 nodes are available: 1 Insufficient cpu, "
        "2 node(s) didn't match pod topology spread constraints."
    )


def test_topology_spread_needs_the_key_and_honours_min_domains() -> None:
    nodes = [*ZONES, node("nolabel")]
    newcomer = pod("w1", labels={"app": "web"}, topologySpreadConstraints=[_spread()])
    decision = fw.schedule(newcomer, fw.Snapshot.build(nodes, []))
    assert decision.rejected == {"nolabel": [fw.REASON_TOPOLOGY_LABEL]}
    assert decision.node in ("a1", "a2", "b1")
    assert fw.fit_error_message(4, decision.rejected) == (
        "0/4 nodes are available: "
        "1 node(s) didn't match pod topology spread constraints (missing required label)."
    )
    # minDomains 3 with only 2 zones: the global minimum counts as 0, so each zone
    # takes at most maxSkew (1) matching pod
    placed = [pod("w0", node_name="a1", labels={"app": "web"})]
    strict = pod("w1", labels={"app": "web"}, topologySpreadConstraints=[_spread(minDomains=3)])
    assert fw.schedule(strict, fw.Snapshot.build(ZONES, placed)).node == "b1"
    placed.append(pod("w2", node_name="b1", labels={"app": "web"}))
    decision = fw.schedule(strict, fw.Snapshot.build(ZONES, placed))
    assert decision.node is None


def test_topology_spread_match_label_keys_counts_one_revision() -> None:
    placed = [
        pod("old1", node_name="a1", labels={"app": "web", "pod-template-hash": "old"}),
        pod("old2", node_name="a2", labels={"app": "web", "pod-template-hash": "old"}),
    ]
    constraint = _spread(matchLabelKeys=["pod-template-hash"])
    newcomer = pod(
        "new1",
        labels={"app": "web", "pod-template-hash": "new"},
        topologySpreadConstraints=[constraint],
    )
    # the old revision's pods do not count: zone a is as good as zone b
    decision = fw.schedule(newcomer, fw.Snapshot.build(ZONES, placed))
    assert decision.rejected == {}


def test_topology_spread_schedule_anyway_prefers_the_emptier_domain() -> None:
    placed = [
        pod("w1", node_name="a1", labels={"app": "web"}),
        pod("w2", node_name="a2", labels={"app": "web"}),
    ]
    newcomer = pod(
        "w3", labels={"app": "web"}, topologySpreadConstraints=[_spread("ScheduleAnyway")]
    )
    snap = fw.Snapshot.build(ZONES, placed)
    scores = fw.score_topology_spread(newcomer, list(snap.nodes.values()), snap)
    # raw: zone a 2 matching pods, zone b none; the emptiest scores 100, the fullest 0
    assert scores == {"a1": 0.0, "a2": 0.0, "b1": 100.0}
    assert fw.schedule(newcomer, snap).node == "b1"
    # without a constraint the plugin is neutral
    plain = pod("w4", labels={"app": "web"})
    assert set(fw.score_topology_spread(plain, list(snap.nodes.values()), snap).values()) == {0.0}
