"""Node failover: from a node losing power to all its replicas Running elsewhere.

Starts a real etcd, apiserver, scheduler, controller-manager (lab defaults:
node-monitor-grace-period 6 s, default not-ready/unreachable tolerations 3 s)
and two kubelet processes on the host's Docker, on a bench network
(10.200.77.0/24, removed afterwards). A Deployment of REPLICAS busybox pods
runs on both nodes; then the node with the most pods "loses power": its
kubelet is killed and its pod containers removed, as `kubelab node stop` does.
Measured from that instant, through a watch:

- NotReady: the node's Ready condition is no longer True;
- first eviction: the first of its pods is deleted (or marked for deletion);
- recovered: REPLICAS pods Running and Ready on the surviving node.

Upstream's defaults (40 s grace + 300 s tolerations) take about 5 min 50 s for
the same thing; the target here is <= 15 s. Writes bench/results/failover.json
and .md. Run: `.venv/bin/python bench/failover.py [--samples N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402

from apimachinery import errors  # noqa: E402
from apimachinery.scheme import lookup  # noqa: E402
from client.api import APIClient  # noqa: E402
from tests.processes import (  # noqa: E402
    ApiserverProcess,
    EtcdProcess,
    free_port,
    http_ok,
    wait_until,
)

PODS = lookup("", "v1", "pods")
NODES = lookup("", "v1", "nodes")
DEPLOYMENTS = lookup("apps", "v1", "deployments")
RESULTS = ROOT / "bench" / "results"
SUBNET = "10.200.77.0/24"
GATEWAY = "10.200.77.1"
NETWORK = "kubelab-bench-failover"
IMAGE = "kubelab/busybox:1.36"
PAUSE = "kubelab/pause:3.9"
LABEL = "io.kubelab.test"
NODES_NAMES = ("failover-a", "failover-b")
REPLICAS = 4
TARGET_S = 15.0
UPSTREAM_S = 350.0  # 40 s grace + 300 s toleration + a few s of work


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "failover", "namespace": "default"},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": {"app": "failover"}},
            "template": {
                "metadata": {"labels": {"app": "failover"}},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}],
                },
            },
        },
    }


def ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


class Node:
    """A kubelet process for one node; `power_off` kills it and its containers."""

    def __init__(self, name: str, apiserver: str, work: Path) -> None:
        self.name = name
        self.apiserver = apiserver
        self.work = work
        self.health = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "kubelet", "--apiserver", self.apiserver),
                *("--health-address", f"127.0.0.1:{self.health}"),
                *("--node-name", self.name, "--node-ip", GATEWAY),
                *("--pod-network", NETWORK, "--port", f"127.0.0.1:{free_port()}"),
                *("--pod-infra-container-image", PAUSE),
                *("--container-labels", f"{LABEL}=1"),
            ],
            cwd=ROOT,
            stdout=(self.work / f"kubelet-{self.name}.log").open("ab"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "KUBELAB_IMAGE_PULLS": "disabled"},
        )
        wait_until(lambda: http_ok(f"http://127.0.0.1:{self.health}/healthz"), 30, self.name)

    def power_off(self, client: docker.DockerClient) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for c in client.containers.list(
            all=True, filters={"label": f"io.kubelab.node={self.name}"}
        ):
            with contextlib.suppress(docker.errors.APIError):
                c.remove(force=True)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(15)
        if self.proc and self.proc.poll() is None:
            self.proc.kill()


async def wait_for(predicate: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {within}s")
        await asyncio.sleep(0.2)


async def one_failover(api: APIClient, nodes: dict[str, Node], client: Any) -> dict[str, float]:
    async def all_nodes_ready() -> bool:
        items = (await api.list(NODES))["items"]
        return sum(
            1
            for n in items
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (n.get("status") or {}).get("conditions") or []
            )
            and not (n.get("spec") or {}).get("taints")
        ) == len(nodes)

    await wait_for(all_nodes_ready, 60, "both nodes Ready and untainted")
    await api.create(DEPLOYMENTS, deployment(), namespace="default")

    async def running() -> list[dict[str, Any]] | None:
        pods = (await api.list(PODS, namespace="default", label_selector="app=failover"))["items"]
        live = [p for p in pods if ready(p) and not p["metadata"].get("deletionTimestamp")]
        return live if len(live) == REPLICAS else None

    await wait_for(running, 120, f"{REPLICAS} pods Running")
    pods = await running() or []
    per_node: dict[str, int] = {}
    for p in pods:
        per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
    victim = max(per_node, key=lambda n: per_node[n])
    marks: dict[str, float] = {}

    async def observe(t0: float) -> None:
        while "recovered" not in marks:
            node = await api.get(NODES, victim)
            if "not_ready" not in marks and not any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (node.get("status") or {}).get("conditions") or []
            ):
                marks["not_ready"] = time.perf_counter() - t0
            pods = (await api.list(PODS, namespace="default", label_selector="app=failover"))[
                "items"
            ]
            on_victim = [
                p
                for p in pods
                if p["spec"].get("nodeName") == victim
                and not p["metadata"].get("deletionTimestamp")
            ]
            if "first_eviction" not in marks and len(on_victim) < per_node[victim]:
                marks["first_eviction"] = time.perf_counter() - t0
            elsewhere = [
                p
                for p in pods
                if ready(p)
                and p["spec"].get("nodeName") != victim
                and not p["metadata"].get("deletionTimestamp")
            ]
            if len(elsewhere) >= REPLICAS:
                marks["recovered"] = time.perf_counter() - t0
            await asyncio.sleep(0.1)

    t0 = time.perf_counter()
    nodes[victim].power_off(client)
    await asyncio.wait_for(observe(t0), 180)
    # Bring the node back and clean up for the next sample.
    nodes[victim].start()
    with contextlib.suppress(errors.NotFound):
        await api.delete(
            DEPLOYMENTS,
            "failover",
            namespace="default",
            options={"propagationPolicy": "Foreground"},
        )

    async def deployment_gone() -> bool:
        try:
            await api.get(DEPLOYMENTS, "failover", namespace="default")
        except errors.NotFound:
            pods = await api.list(PODS, namespace="default", label_selector="app=failover")
            return not pods["items"]
        return False

    await wait_for(deployment_gone, 120, "the deployment and its pods gone")
    return {k: round(v, 2) for k, v in marks.items()} | {"pods_on_victim": per_node[victim]}


async def measure(address: str, nodes: dict[str, Node], samples: int) -> list[dict[str, float]]:
    client = docker.from_env()
    try:
        async with APIClient(address) as api:
            await api.wait_ready()
            return [await one_failover(api, nodes, client) for _ in range(samples)]
    finally:
        client.close()


def run(samples: int, keep_logs: Path | None = None) -> dict[str, Any]:
    client = docker.from_env()
    ipam = docker.types.IPAMConfig(
        pool_configs=[docker.types.IPAMPool(subnet=SUBNET, gateway=GATEWAY)]
    )
    for old in client.networks.list(names=[NETWORK]):
        old.remove()
    net = client.networks.create(NETWORK, driver="bridge", ipam=ipam, labels={LABEL: "1"})
    procs: list[subprocess.Popen[bytes]] = []
    nodes: dict[str, Node] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="kubelab-bench-failover-") as tmp:
            work = Path(tmp)
            etcd = EtcdProcess(work / "etcd")
            etcd.start()
            apiserver = ApiserverProcess(etcd, work)
            apiserver.start()
            try:
                common = ["--apiserver", apiserver.address, "--no-leader-elect"]
                for module, extra in (
                    ("scheduler", []),
                    (
                        "controller_manager",
                        [
                            *("--node-monitor-grace-period", "6s"),
                            *("--default-not-ready-toleration-seconds", "3"),
                            *("--default-unreachable-toleration-seconds", "3"),
                        ],
                    ),
                ):
                    port = free_port()
                    procs.append(
                        subprocess.Popen(
                            [
                                *(sys.executable, "-m", module, *common, *extra),
                                *("--health-address", f"127.0.0.1:{port}"),
                            ],
                            cwd=ROOT,
                            stdout=(work / f"{module}.log").open("ab"),
                            stderr=subprocess.STDOUT,
                        )
                    )
                    wait_until(lambda p=port: http_ok(f"http://127.0.0.1:{p}/healthz"), 30, module)
                for name in NODES_NAMES:
                    nodes[name] = Node(name, apiserver.address, work)
                    nodes[name].start()
                results = asyncio.run(measure(apiserver.address, nodes, samples))
            finally:
                if keep_logs is not None:
                    keep_logs.mkdir(parents=True, exist_ok=True)
                    for log in work.glob("*.log"):
                        (keep_logs / log.name).write_bytes(log.read_bytes())
                for node in nodes.values():
                    node.stop()
                for p in procs:
                    p.terminate()
                for p in procs:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        p.wait(15)
                apiserver.stop()
                etcd.stop()
    finally:
        for name in NODES_NAMES:
            for c in client.containers.list(all=True, filters={"label": f"io.kubelab.node={name}"}):
                c.remove(force=True)
            for v in client.volumes.list(filters={"label": f"io.kubelab.node={name}"}):
                with contextlib.suppress(docker.errors.APIError):
                    v.remove(force=True)
        net.remove()
        client.close()
    recovered = [r["recovered"] for r in results]
    return {
        "benchmark": "failover",
        "replicas": REPLICAS,
        "node_monitor_grace_period_s": 6,
        "default_toleration_s": 3,
        "samples": results,
        "recovered_p50_s": round(statistics.median(recovered), 2),
        "recovered_max_s": round(max(recovered), 2),
        "target_s": TARGET_S,
        "upstream_defaults_estimate_s": UPSTREAM_S,
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
    }


def markdown(r: dict[str, Any]) -> str:
    lines = [
        "# Node failover",
        "",
        f"A node running part of a Deployment of {r['replicas']} pods loses power "
        "(kubelet killed, pod containers removed). Seconds from that instant:",
        "",
        "| sample | pods on the node | NotReady | first eviction | all Running elsewhere |",
        "|---|---|---|---|---|",
    ]
    for i, s in enumerate(r["samples"], 1):
        lines.append(
            f"| {i} | {s['pods_on_victim']:.0f} | {s.get('not_ready', '-')} | "
            f"{s.get('first_eviction', '-')} | {s['recovered']} |"
        )
    lines += [
        "",
        f"Recovered p50 {r['recovered_p50_s']} s, max {r['recovered_max_s']} s "
        f"(target <= {r['target_s']:.0f} s; upstream defaults about "
        f"{r['upstream_defaults_estimate_s']:.0f} s).",
        f"Lab defaults: node-monitor-grace-period {r['node_monitor_grace_period_s']} s, "
        f"not-ready/unreachable tolerations {r['default_toleration_s']} s. {r['machine']}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--keep-logs", type=Path, help="copy the components' logs there")
    args = parser.parse_args()
    result = run(args.samples, args.keep_logs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "failover.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "failover.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
