"""The scheduler process against a real apiserver: Node objects without kubelets.

What a user sees: where pods land (`kubectl get pod -o wide`), the Pending
pod's PodScheduled condition with upstream's message, the FailedScheduling and
Scheduled events, and preemption by a higher-priority pod.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from apimachinery import errors
from apimachinery.scheme import lookup
from client.api import APIClient
from tests.polling import eventually
from tests.processes import ROOT, ApiserverProcess, free_port, http_ok, wait_until

pytestmark = pytest.mark.etcd

PODS = lookup("", "v1", "pods")
NODES = lookup("", "v1", "nodes")
EVENTS = lookup("", "v1", "events")
PRIORITY_CLASSES = lookup("scheduling.k8s.io", "v1", "priorityclasses")
JSON = dict[str, Any]


class SchedulerProcess:
    def __init__(self, apiserver: ApiserverProcess, work_dir: Path) -> None:
        self.apiserver = apiserver
        self.health_port = free_port()
        self.log = work_dir / f"scheduler-{self.health_port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scheduler",
                "--apiserver",
                self.apiserver.address,
                "--health-address",
                f"127.0.0.1:{self.health_port}",
                "--no-leader-elect",
            ],
            cwd=ROOT,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"scheduler exited: {self.log.read_text()[-3000:]}")
            return http_ok(f"http://127.0.0.1:{self.health_port}/healthz")

        wait_until(ready, 30, "scheduler did not become healthy")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def scheduler(apiserver: ApiserverProcess, tmp_path: Path) -> Iterator[SchedulerProcess]:
    proc = SchedulerProcess(apiserver, tmp_path)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
async def cluster(api: APIClient, scheduler: SchedulerProcess) -> AsyncIterator[APIClient]:
    yield api


async def add_node(
    api: APIClient, name: str, *, cpu: str = "4", taints: list[JSON] | None = None, **labels: str
) -> None:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
        "spec": {"taints": taints or []},
    }
    created = await api.create(NODES, node)
    created["status"] = {
        "capacity": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
        "allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
    }
    await api.update_status(NODES, created)


def make_pod(
    name: str, *, cpu: str = "", labels: dict[str, str] | None = None, **spec: Any
) -> JSON:
    resources = {"requests": {"cpu": cpu}} if cpu else {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "spec": {
            "containers": [{"name": "c", "image": "busybox", "resources": resources}],
            **spec,
        },
    }


async def node_of(api: APIClient, name: str) -> str:
    async def bound() -> str | None:
        pod = await api.get(PODS, name, namespace="default")
        return (pod.get("spec") or {}).get("nodeName") or None

    return await eventually(bound, what=f"pod {name} bound")


async def events_for(api: APIClient, name: str, reason: str) -> list[JSON]:
    items = (await api.list(EVENTS, namespace="default"))["items"]
    return [
        e
        for e in items
        if e.get("involvedObject", {}).get("name") == name and e.get("reason") == reason
    ]


CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


async def test_unschedulable_pod_gets_upstream_message_then_schedules_on_new_node(
    cluster: APIClient,
) -> None:
    api = cluster
    await add_node(api, "cp", taints=[CP_TAINT])
    await add_node(api, "w1", cpu="1")
    await add_node(api, "w2", cpu="1")
    await api.create(PODS, make_pod("big", cpu="2"))
    expected = (
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu."
    )

    async def unschedulable() -> JSON | None:
        pod = await api.get(PODS, "big", namespace="default")
        for cond in (pod.get("status") or {}).get("conditions") or []:
            if cond["type"] == "PodScheduled" and cond["status"] == "False":
                return dict(cond)
        return None

    cond = await eventually(unschedulable, what="PodScheduled=False")
    assert cond["reason"] == "Unschedulable"
    assert cond["message"] == expected

    async def failed_event() -> list[JSON]:
        return await events_for(api, "big", "FailedScheduling")

    event = (await eventually(failed_event, what="FailedScheduling event"))[0]
    assert event["message"] == expected and event["type"] == "Warning"

    await add_node(api, "w3", cpu="4")
    assert await node_of(api, "big") == "w3"

    async def scheduled_event() -> list[JSON]:
        return await events_for(api, "big", "Scheduled")

    event = (await eventually(scheduled_event, what="Scheduled event"))[0]
    assert event["message"] == "Successfully assigned default/big to w3"


async def test_placement_respects_taints_selectors_and_anti_affinity(cluster: APIClient) -> None:
    api = cluster
    await add_node(api, "cp", taints=[CP_TAINT])
    await add_node(api, "w1", disk="ssd")
    await add_node(api, "w2")
    for i in range(4):
        await api.create(PODS, make_pod(f"free-{i}"))
    await api.create(PODS, make_pod("fast", nodeSelector={"disk": "ssd"}))
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"app": "db"}},
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    }
    for i in range(2):
        await api.create(PODS, make_pod(f"db-{i}", labels={"app": "db"}, affinity=anti))

    for i in range(4):
        assert await node_of(api, f"free-{i}") in ("w1", "w2")
    assert await node_of(api, "fast") == "w1"
    assert {await node_of(api, "db-0"), await node_of(api, "db-1")} == {"w1", "w2"}


async def test_topology_spread_across_zones_then_unschedulable(cluster: APIClient) -> None:
    """topologySpreadConstraints (maxSkew 1 over zones, DoNotSchedule): 4 pods
    go 2 and 2 over zones a (two nodes) and b (one node, 2 cpu); a fifth goes
    to zone a (skew 1); with zone b full, a sixth stays Pending with upstream's
    message."""
    api = cluster
    await add_node(api, "a1", cpu="4", zone="a")
    await add_node(api, "a2", cpu="4", zone="a")
    await add_node(api, "b1", cpu="2", zone="b")
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": "zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}},
        }
    ]
    for i in range(4):
        pod = make_pod(f"web-{i}", cpu="1", labels={"app": "web"})
        pod["spec"]["topologySpreadConstraints"] = spread
        await api.create(PODS, pod)
        await node_of(api, f"web-{i}")  # one at a time: each sees the ones before
    zones = [("b" if await node_of(api, f"web-{i}") == "b1" else "a") for i in range(4)]
    assert sorted(zones) == ["a", "a", "b", "b"]
    pod = make_pod("web-4", cpu="1", labels={"app": "web"})
    pod["spec"]["topologySpreadConstraints"] = spread
    await api.create(PODS, pod)

    # zone b is full (2 cpu); a third pod in zone a would make the skew 3 - 2 = 1:
    # allowed. So web-4 lands in zone a; a sixth must then wait for zone b.
    assert await node_of(api, "web-4") in ("a1", "a2")
    pod = make_pod("web-5", cpu="1", labels={"app": "web"})
    pod["spec"]["topologySpreadConstraints"] = spread
    await api.create(PODS, pod)

    async def web5_pending() -> str | None:
        got = await api.get(PODS, "web-5", namespace="default")
        for cond in (got.get("status") or {}).get("conditions") or []:
            if cond["type"] == "PodScheduled" and cond["status"] == "False":
                return str(cond.get("message"))
        return None

    message = await eventually(web5_pending, what="web-5 unschedulable")
    assert message == (
        "0/3 nodes are available: 1 Insufficient cpu, "
        "2 node(s) didn't match pod topology spread constraints."
    )


async def test_high_priority_pod_preempts_lower_priority(cluster: APIClient) -> None:
    api = cluster
    await add_node(api, "w1", cpu="2")
    await api.create(
        PRIORITY_CLASSES,
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "urgent"},
            "value": 1000,
        },
    )
    await api.create(PODS, make_pod("low", cpu="1500m"))
    assert await node_of(api, "low") == "w1"
    await api.create(PODS, make_pod("high", cpu="1500m", priorityClassName="urgent"))

    async def low_deleting() -> bool:
        try:
            pod = await api.get(PODS, "low", namespace="default")
        except errors.NotFound:
            return True
        return bool(pod["metadata"].get("deletionTimestamp"))

    await eventually(low_deleting, what="the low-priority pod preempted")
    # No kubelet here: finish the graceful deletion as a kubelet would.
    with contextlib.suppress(errors.NotFound):
        await api.delete(PODS, "low", namespace="default", options={"gracePeriodSeconds": 0})
    assert await node_of(api, "high") == "w1"
