"""Scheduler throughput: binds per second, pods pending on fake Node objects.

Starts a real etcd, a real apiserver and a real scheduler process on loopback
(no kubelets: the nodes are Node objects with capacity and a Ready condition),
creates N nodes, then creates P pods at once and measures from the first
create until the last pod has spec.nodeName (seen through a watch). Also
reports the scheduler's decision time alone (the framework over the same
cluster, in-process), so the API's share is visible.

Writes bench/results/scheduler_throughput.json and .md. Target (issue 4):
>= 100 binds/s with 50 pending pods on 10 nodes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apimachinery.scheme import lookup  # noqa: E402
from client.api import APIClient  # noqa: E402
from scheduler import framework as fw  # noqa: E402
from tests.processes import (  # noqa: E402
    ApiserverProcess,
    EtcdProcess,
    free_port,
    http_ok,
    wait_until,
)

PODS = lookup("", "v1", "pods")
NODES = lookup("", "v1", "nodes")
NAMESPACES = lookup("", "v1", "namespaces")
RESULTS = ROOT / "bench" / "results"
TARGET_BINDS_PER_S = 100.0


def node(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
    }


def pod(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "bench"}},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }
            ]
        },
    }


async def create_nodes(api: APIClient, count: int) -> None:
    for i in range(count):
        created = await api.create(NODES, node(f"bench-node-{i}"))
        created["status"] = {
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
        }
        await api.update_status(NODES, created)


async def one_round(api: APIClient, pods: int, namespace: str) -> float:
    """Seconds from the first create until every pod is bound."""
    bound: set[str] = set()
    done = asyncio.Event()

    async def watch() -> None:
        async for event in api.watch(PODS, namespace=namespace):
            if (event.object.get("spec") or {}).get("nodeName"):
                bound.add(event.object["metadata"]["name"])
                if len(bound) >= pods:
                    done.set()
                    return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    start = time.perf_counter()
    await asyncio.gather(*(api.create(PODS, pod(f"p-{i}", namespace)) for i in range(pods)))
    await asyncio.wait_for(done.wait(), 120)
    elapsed = time.perf_counter() - start
    watcher.cancel()
    return elapsed


def decision_rate(nodes: int, pods: int) -> float:
    """Pure framework decisions per second over the same cluster shape."""
    snap = fw.Snapshot.build(
        [
            {
                "metadata": {"name": f"n{i}", "labels": {}},
                "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}},
            }
            for i in range(nodes)
        ],
        [],
    )
    start = time.perf_counter()
    for i in range(pods):
        p = pod(f"p{i}", "default")
        p["metadata"]["uid"] = str(i)
        d = fw.schedule(p, snap, tie_break=i)
        assert d.node is not None
        p["spec"]["nodeName"] = d.node
        snap.nodes[d.node].add_pod(p)
    return pods / (time.perf_counter() - start)


async def measure(address: str, args: argparse.Namespace) -> list[float]:
    """Seconds per round; each round creates its pods in a fresh namespace."""
    rounds = []
    async with APIClient(address) as api:
        await api.wait_ready()
        await create_nodes(api, args.nodes)
        for r in range(args.rounds):
            ns = f"bench-{r}"
            await api.create(
                NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            )
            rounds.append(await one_round(api, args.pods, ns))
    return rounds


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kubelab-bench-") as tmp:
        work = Path(tmp)
        etcd = EtcdProcess(work / "etcd")
        etcd.start()
        apiserver = ApiserverProcess(etcd, work)
        apiserver.start()
        health = free_port()
        sched = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scheduler",
                "--apiserver",
                apiserver.address,
                "--health-address",
                f"127.0.0.1:{health}",
                "--no-leader-elect",
            ],
            cwd=ROOT,
            stdout=(work / "scheduler.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: http_ok(f"http://127.0.0.1:{health}/healthz"), 30, "scheduler up")
            rounds = asyncio.run(measure(apiserver.address, args))
        finally:
            sched.terminate()
            sched.wait(10)
            apiserver.stop()
            etcd.stop()
    rates = [args.pods / s for s in rounds]
    best = max(rates)
    median = sorted(rates)[len(rates) // 2]
    return {
        "benchmark": "scheduler_throughput",
        "nodes": args.nodes,
        "pods_per_round": args.pods,
        "rounds": args.rounds,
        "seconds_per_round": [round(s, 3) for s in rounds],
        "binds_per_s": [round(r, 1) for r in rates],
        "binds_per_s_median": round(median, 1),
        "binds_per_s_best": round(best, 1),
        "decisions_per_s_framework_only": round(decision_rate(args.nodes, args.pods), 1),
        "target_binds_per_s": TARGET_BINDS_PER_S,
        "meets_target": median >= TARGET_BINDS_PER_S,
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def write(result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scheduler_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    verdict = "meets" if result["meets_target"] else "MISSES"
    md = f"""# Scheduler throughput

Real etcd + apiserver + scheduler process on loopback; {result["nodes"]} Node objects
(8 cpu, 32Gi, Ready), {result["pods_per_round"]} pods created at once per round, timed from
the first create until a watch has seen every pod bound. Measured {result["measured_at"]}
on {result["machine"]["cpus"]} CPUs, Python {result["machine"]["python"]}.

| figure | value |
|---|---|
| binds/s, median of {result["rounds"]} rounds | **{result["binds_per_s_median"]}** |
| binds/s, best round | {result["binds_per_s_best"]} |
| binds/s per round | {", ".join(str(r) for r in result["binds_per_s"])} |
| decisions/s, framework alone (no API) | {result["decisions_per_s_framework_only"]} |
| target | >= {result["target_binds_per_s"]:.0f} binds/s ({verdict} it) |

The pods' creates are part of the measured time (they run concurrently with the
scheduling), so this is end-to-end "pending to bound" throughput.
"""
    (RESULTS / "scheduler_throughput.md").write_text(md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    result = run(args)
    write(result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
