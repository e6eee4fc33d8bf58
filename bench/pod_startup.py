"""Pod start-up latency: from `create pod` to Running, beside a bare `docker run`.

Starts a real etcd, apiserver, scheduler and one kubelet process on the host's
Docker, on a bench network (10.200.62.0/24, removed afterwards). With the image
already present, it measures:

- one pod at a time (N samples): create -> the pod's status is Running with
  every container ready, seen through a watch (so scheduling, the sandbox
  container, the app container and the status write are all inside);
- K pods created at once: the same per pod, plus the time until the last one
  runs (pods/s to Running);
- and in the same run, a bare `docker run -d` of the same image on the same
  network (the CLI returns once the container is started).

A pod is two containers (sandbox + app), so the honest floor is about two
`docker run`s. Writes bench/results/pod_startup.json and .md. Targets (issue 4):
p50 <= 1.5 s, p99 <= 3 s, control-plane overhead <= 0.5 s over bare docker run.
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
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402

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
NAMESPACES = lookup("", "v1", "namespaces")
RESULTS = ROOT / "bench" / "results"
SUBNET = "10.200.62.0/24"
GATEWAY = "10.200.62.1"
NETWORK = "kubelab-bench-pod-startup"
IMAGE = "kubelab/busybox:1.36"
PAUSE = "kubelab/pause:3.9"
LABEL = "io.kubelab.test"
DOCKER_RUN = ["docker", "run", "-d", "--network", NETWORK, "--label", f"{LABEL}=1", IMAGE]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def pod(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}],
        },
    }


def is_running(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return all(c.get("ready") for c in status.get("containerStatuses") or [{}])


async def start_pods(api: APIClient, namespace: str, count: int) -> list[float]:
    """Create `count` pods at once; seconds from each create to Running."""
    created_at: dict[str, float] = {}
    running_at: dict[str, float] = {}
    done = asyncio.Event()

    async def watch() -> None:
        async for event in api.watch(PODS, namespace=namespace):
            name = event.object["metadata"]["name"]
            if name not in running_at and is_running(event.object):
                running_at[name] = time.perf_counter()
                if len(running_at) >= count:
                    done.set()
                    return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    names = [f"p-{uuid.uuid4().hex[:6]}" for _ in range(count)]

    async def create(name: str) -> None:
        created_at[name] = time.perf_counter()
        await api.create(PODS, pod(name, namespace))

    await asyncio.gather(*(create(n) for n in names))
    await asyncio.wait_for(done.wait(), 180)
    watcher.cancel()
    return [running_at[n] - created_at[n] for n in names]


async def measure(address: str, args: argparse.Namespace) -> dict[str, Any]:
    async with APIClient(address) as api:
        await api.wait_ready()
        singles: list[float] = []
        for i in range(args.samples):
            ns = f"single-{i}"
            await api.create(
                NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            )
            singles += await start_pods(api, ns, 1)
        bursts: dict[int, dict[str, float]] = {}
        for count in args.burst:
            ns = f"burst-{count}"
            await api.create(
                NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            )
            t0 = time.perf_counter()
            lat = await start_pods(api, ns, count)
            total = time.perf_counter() - t0
            bursts[count] = {
                "p50_s": round(statistics.median(lat), 3),
                "p99_s": round(percentile(lat, 99), 3),
                "last_running_s": round(total, 3),
                "pods_per_s": round(count / total, 1),
            }
    return {"singles": singles, "bursts": bursts}


def bare_docker_runs(samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        t0 = time.perf_counter()
        cid = subprocess.run(
            [*DOCKER_RUN, "sleep", "3600"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        out.append(time.perf_counter() - t0)
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True, check=False)
    return out


def bare_docker_burst(count: int) -> float:
    """Seconds for `count` concurrent `docker run -d` (the daemon's own floor for a burst)."""
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen([*DOCKER_RUN, "sleep", "3600"], stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    ids = [p.communicate()[0].strip() for p in procs]
    elapsed = time.perf_counter() - t0
    subprocess.run(["docker", "rm", "-f", *[i for i in ids if i]], capture_output=True, check=False)
    return elapsed


def run(args: argparse.Namespace) -> dict[str, Any]:
    client = docker.from_env()
    node = f"bench-{uuid.uuid4().hex[:6]}"
    ipam = docker.types.IPAMConfig(
        pool_configs=[docker.types.IPAMPool(subnet=SUBNET, gateway=GATEWAY)]
    )
    for old in client.networks.list(names=[NETWORK]):
        old.remove()
    net = client.networks.create(NETWORK, driver="bridge", ipam=ipam, labels={LABEL: "1"})
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="kubelab-bench-") as tmp:
            work = Path(tmp)
            etcd = EtcdProcess(work / "etcd")
            etcd.start()
            apiserver = ApiserverProcess(etcd, work)
            apiserver.start()
            try:
                health = {"scheduler": free_port(), "kubelet": free_port()}
                common = ["--apiserver", apiserver.address]
                procs.append(
                    subprocess.Popen(
                        [
                            *(sys.executable, "-m", "scheduler", *common, "--no-leader-elect"),
                            *("--health-address", f"127.0.0.1:{health['scheduler']}"),
                        ],
                        cwd=ROOT,
                        stdout=(work / "scheduler.log").open("ab"),
                        stderr=subprocess.STDOUT,
                    )
                )
                procs.append(
                    subprocess.Popen(
                        [
                            *(sys.executable, "-m", "kubelet", *common),
                            *("--health-address", f"127.0.0.1:{health['kubelet']}"),
                            *("--node-name", node, "--node-ip", GATEWAY),
                            *("--pod-network", NETWORK, "--port", f"127.0.0.1:{free_port()}"),
                            *("--pod-infra-container-image", PAUSE),
                            *("--container-labels", f"{LABEL}=1"),
                        ],
                        cwd=ROOT,
                        stdout=(work / "kubelet.log").open("ab"),
                        stderr=subprocess.STDOUT,
                        env={**os.environ, "KUBELAB_IMAGE_PULLS": "disabled"},
                    )
                )
                for name, port in health.items():
                    wait_until(lambda p=port: http_ok(f"http://127.0.0.1:{p}/healthz"), 30, name)
                bare = bare_docker_runs(args.samples)
                # A burst of K pods is 2K containers (sandbox + app).
                bare_bursts = {n: bare_docker_burst(2 * n) for n in args.burst}
                measured = asyncio.run(measure(apiserver.address, args))
            finally:
                for p in procs:
                    p.terminate()
                for p in procs:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        p.wait(15)
                apiserver.stop()
                etcd.stop()
    finally:
        for c in client.containers.list(all=True, filters={"label": f"io.kubelab.node={node}"}):
            c.remove(force=True)
        for v in client.volumes.list(filters={"label": f"io.kubelab.node={node}"}):
            with contextlib.suppress(docker.errors.APIError):
                v.remove(force=True)
        net.remove()
        client.close()
    singles = measured["singles"]
    p50, p99 = statistics.median(singles), percentile(singles, 99)
    bare_p50 = statistics.median(bare)
    return {
        "benchmark": "pod_startup",
        "image": IMAGE,
        "samples": args.samples,
        "single_pod": {
            "p50_s": round(p50, 3),
            "p99_s": round(p99, 3),
            "min_s": round(min(singles), 3),
        },
        "bare_docker_run": {
            "p50_s": round(bare_p50, 3),
            "p99_s": round(percentile(bare, 99), 3),
        },
        "ratio_p50_vs_docker_run": round(p50 / bare_p50, 2),
        "overhead_over_two_docker_runs_p50_s": round(p50 - 2 * bare_p50, 3),
        "overhead_over_one_docker_run_p50_s": round(p50 - bare_p50, 3),
        "bursts": measured["bursts"],
        "bare_docker_run_bursts_s": {
            f"{2 * n} containers at once": round(v, 3) for n, v in bare_bursts.items()
        },
        "targets": {"p50_s": 1.5, "p99_s": 3.0, "overhead_s": 0.5},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write(result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pod_startup.json").write_text(json.dumps(result, indent=2) + "\n")
    s, b = result["single_pod"], result["bare_docker_run"]
    rows = "\n".join(
        f"| {n} pods at once | {v['p50_s']} s | {v['p99_s']} s | {v['last_running_s']} s "
        f"| {v['pods_per_s']} |"
        for n, v in result["bursts"].items()
    )
    md = f"""# Pod start-up

Real etcd, apiserver, scheduler and one kubelet on the host's Docker (bench network
{SUBNET}); image `{result["image"]}` already present; pod = sandbox + one app container.
Time from the pod's create call until a watch sees it Running with its container ready
(scheduling, both containers and the status write included). Measured
{result["measured_at"]} on {result["machine"]["cpus"]} CPUs.

| figure | p50 | p99 | all running | pods/s |
|---|---|---|---|---|
| one pod at a time ({result["samples"]} samples) | **{s["p50_s"]} s** | **{s["p99_s"]} s** | | |
| bare `docker run -d` (same image, network) | {b["p50_s"]} s | {b["p99_s"]} s | | |
{rows}

- ratio pod / bare docker run (p50): **{result["ratio_p50_vs_docker_run"]}**
  (a pod is two containers: the floor is about 2)
- overhead over one docker run (p50): {result["overhead_over_one_docker_run_p50_s"]} s;
  over two: {result["overhead_over_two_docker_runs_p50_s"]} s
- bare `docker run -d` bursts (2 containers per pod), all started after:
  {", ".join(f"{k}: {v} s" for k, v in result["bare_docker_run_bursts_s"].items())}
- targets: p50 <= 1.5 s, p99 <= 3 s, overhead <= 0.5 s over bare docker run
"""
    (RESULTS / "pod_startup.md").write_text(md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--burst", type=int, nargs="*", default=[10, 30])
    args = parser.parse_args()
    result = run(args)
    write(result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
