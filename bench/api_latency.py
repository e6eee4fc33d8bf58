"""API latency benchmark: create, get, list, update and watch delivery.

Starts a real etcd and a real apiserver on loopback (or uses `--apiserver
HOST:PORT`), then measures, through the same gRPC client the components use:

- create, get, update of single ConfigMaps (sequential calls, p50/p99),
- list of a namespace holding 1000 ConfigMaps,
- watch delivery: 100 watchers spread over worker processes while one writer
  updates objects at a steady 20 writes/s; delivery time is from the moment
  the write is sent to the moment each watcher holds the event (an upper bound
  of etcd-commit-to-watcher, since it includes the write's own request time),
- and, side by side in the same run, the same single-key operations straight
  on etcd (a put and a get through aetcd), so the apiserver's own overhead
  is visible.

Writes bench/results/api_latency.json and bench/results/api_latency.md.
Targets on a 2-core machine: create p99 <= 50 ms, get p99 <= 20 ms, watch
delivery p99 <= 100 ms (upstream's SLO for API calls is 1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402

from apimachinery import errors, scheme  # noqa: E402
from client.api import APIClient  # noqa: E402

CONFIGMAPS = scheme.lookup("", "v1", "configmaps")
NAMESPACES = scheme.lookup("", "v1", "namespaces")
RESULTS = ROOT / "bench" / "results"
TARGETS_MS = {"create": 50.0, "get": 20.0, "watch_delivery": 100.0}
console = Console()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(samples_s: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3) if ms else float("nan"),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
    }


def configmap(name: str, namespace: str, value: str = "0") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {"bench": "api"}},
        "data": {"value": value},
    }


async def timed(samples: list[float], call: Awaitable[Any]) -> Any:
    """Await `call` (a coroutine not yet started) and record how long it took."""
    start = time.perf_counter()
    result = await call
    samples.append(time.perf_counter() - start)
    return result


async def ensure_namespace(api: APIClient, name: str) -> None:
    with contextlib.suppress(errors.AlreadyExists):
        await api.create(
            NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        )


async def bench_crud(api: APIClient, ns: str, n: int, progress: Progress) -> dict[str, Any]:
    creates: list[float] = []
    gets: list[float] = []
    updates: list[float] = []
    task = progress.add_task("create, get, update", total=3 * n)
    stored: list[dict[str, Any]] = []
    for i in range(n):
        stored.append(await timed(creates, api.create(CONFIGMAPS, configmap(f"cm-{i}", ns))))
        progress.advance(task)
    for i in range(n):
        await timed(gets, api.get(CONFIGMAPS, f"cm-{i}", namespace=ns))
        progress.advance(task)
    for obj in stored:
        obj["data"]["value"] = "1"
        await timed(updates, api.update(CONFIGMAPS, obj))
        progress.advance(task)
    return {"create": summary(creates), "get": summary(gets), "update": summary(updates)}


async def bench_list(
    api: APIClient, ns: str, objects: int, rounds: int, progress: Progress
) -> dict[str, Any]:
    task = progress.add_task(f"fill a namespace with {objects} objects", total=objects)
    sem = asyncio.Semaphore(16)

    async def create(i: int) -> None:
        async with sem:
            await api.create(CONFIGMAPS, configmap(f"item-{i}", ns))
        progress.advance(task)

    await asyncio.gather(*(create(i) for i in range(objects)))
    lists: list[float] = []
    task = progress.add_task(f"list {objects} objects", total=rounds)
    for _ in range(rounds):
        result = await timed(lists, api.list(CONFIGMAPS, namespace=ns))
        if len(result["items"]) != objects:
            raise RuntimeError(f"list returned {len(result['items'])} items, expected {objects}")
        progress.advance(task)
    return {"list_1000": summary(lists)}


def watcher_process(spec: tuple[str, str, int, int], ready: Any, out: Any) -> None:
    """Runs `watchers` watch streams and reports delivery latencies (seconds)."""
    address, ns, watchers, expected = spec

    async def main() -> list[float]:
        api = APIClient(address, timeout=60)
        await api.wait_ready()
        latencies: list[float] = []
        start_rv = (await api.list(CONFIGMAPS, namespace=ns, limit=1))["metadata"][
            "resourceVersion"
        ]

        async def watch_one(counter: list[int]) -> None:
            async for event in api.watch(CONFIGMAPS, namespace=ns, resource_version=start_rv):
                now = time.time()
                sent = float(event.object["data"]["sent"])
                latencies.append(now - sent)
                counter[0] += 1
                if counter[0] >= expected:
                    return

        counters = [[0] for _ in range(watchers)]
        tasks = [asyncio.create_task(watch_one(c)) for c in counters]
        await asyncio.sleep(0.5)  # streams open before the writer starts
        ready.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=expected / 10 + 60)
        await api.close()
        return latencies

    out.put(asyncio.run(main()))


async def bench_watch(
    api: APIClient,
    address: str,
    ns: str,
    *,
    watchers: int,
    rate: float,
    seconds: float,
    procs: int,
    progress: Progress,
) -> dict[str, Any]:
    writes = int(rate * seconds)
    await api.create(CONFIGMAPS, configmap("watched", ns))
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    events = [ctx.Event() for _ in range(procs)]
    per_proc = [watchers // procs + (1 if i < watchers % procs else 0) for i in range(procs)]
    workers = [
        ctx.Process(target=watcher_process, args=((address, ns, n, writes), ev, out))
        for n, ev in zip(per_proc, events, strict=True)
    ]
    for w in workers:
        w.start()
    for ev in events:
        await asyncio.to_thread(ev.wait, 60)
    task = progress.add_task(f"{writes} writes at {rate:g}/s to {watchers} watchers", total=writes)
    obj = await api.get(CONFIGMAPS, "watched", namespace=ns)
    write_latencies: list[float] = []
    next_at = time.perf_counter()
    for _ in range(writes):
        next_at += 1 / rate
        obj["data"] = {"sent": repr(time.time())}
        obj = await timed(write_latencies, api.update(CONFIGMAPS, obj))
        progress.advance(task)
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    latencies: list[float] = []
    for _ in workers:
        latencies.extend(await asyncio.to_thread(out.get, True, 120))
    for w in workers:
        w.join(30)
    expected = writes * watchers
    if len(latencies) != expected:
        raise RuntimeError(f"watchers received {len(latencies)} events, expected {expected}")
    return {
        "watch_delivery": summary(latencies),
        "update_under_watch": summary(write_latencies),
        "watch_setup": {
            "watchers": watchers,
            "writes": writes,
            "rate_per_s": rate,
            "processes": procs,
        },
    }


async def bench_etcd(endpoint: str, n: int, progress: Progress) -> dict[str, Any]:
    """The same single-key operations straight on etcd: the floor under the apiserver."""
    import aetcd

    host, port = endpoint.removeprefix("http://").split(":")
    puts: list[float] = []
    gets: list[float] = []
    task = progress.add_task("etcd baseline (put, get)", total=2 * n)
    async with aetcd.Client(host=host, port=int(port)) as etcd:
        value = json.dumps(configmap("x", "bench")).encode()
        for i in range(n):
            await timed(puts, etcd.put(f"/bench/{i}".encode(), value))
            progress.advance(task)
        for i in range(n):
            await timed(gets, etcd.get(f"/bench/{i}".encode()))
            progress.advance(task)
        await etcd.delete_prefix(b"/bench/")
    return {"etcd_put": summary(puts), "etcd_get": summary(gets)}


async def run(args: argparse.Namespace, address: str, etcd_endpoint: str | None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with APIClient(address, timeout=60) as api:
        await api.wait_ready()
        suffix = str(int(time.time()))
        crud_ns, list_ns, watch_ns = (
            f"bench-crud-{suffix}",
            f"bench-list-{suffix}",
            f"bench-watch-{suffix}",
        )
        for ns in (crud_ns, list_ns, watch_ns):
            await ensure_namespace(api, ns)
        with Progress(console=console, transient=True) as progress:
            if etcd_endpoint:
                results.update(await bench_etcd(etcd_endpoint, args.n, progress))
            results.update(await bench_crud(api, crud_ns, args.n, progress))
            results.update(
                await bench_list(api, list_ns, args.list_objects, args.list_rounds, progress)
            )
            results.update(
                await bench_watch(
                    api,
                    address,
                    watch_ns,
                    watchers=args.watchers,
                    rate=args.rate,
                    seconds=args.seconds,
                    procs=args.watch_processes,
                    progress=progress,
                )
            )
    return results


def write_results(results: dict[str, Any], meta: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "api_latency.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2) + "\n"
    )
    rows = [
        ("create", "create"),
        ("get", "get"),
        ("update", "update"),
        ("list 1000 objects", "list_1000"),
        ("watch delivery (100 watchers, 20 writes/s)", "watch_delivery"),
        ("update while 100 watch", "update_under_watch"),
        ("etcd put (baseline)", "etcd_put"),
        ("etcd get (baseline)", "etcd_get"),
    ]
    lines = [
        "# API latency",
        "",
        f"{meta['date']}, {meta['cpus']} CPUs, Python {meta['python']}; "
        "watch delivery is measured from the write request to the watcher "
        "(an upper bound of commit-to-delivery).",
        "",
        "| operation | n | p50 ms | p99 ms | target p99 |",
        "|---|---|---|---|---|",
    ]
    table = Table(title="kubelab API latency")
    for col in ("operation", "n", "p50 ms", "p99 ms", "target p99"):
        table.add_column(col)
    for label, key in rows:
        if key not in results:
            continue
        r = results[key]
        target = TARGETS_MS.get(key)
        target_text = (
            f"<= {target:g} ms ({'met' if r['p99_ms'] <= target else 'MISSED'})" if target else ""
        )
        lines.append(
            f"| {label} | {r['count']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {target_text} |"
        )
        table.add_row(
            label, str(r["count"]), f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}", target_text
        )
    (RESULTS / "api_latency.md").write_text("\n".join(lines) + "\n")
    console.print(table)
    console.print(f"wrote {RESULTS / 'api_latency.json'} and {RESULTS / 'api_latency.md'}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--apiserver", help="HOST:PORT of a running apiserver (default: start etcd + apiserver)"
    )
    parser.add_argument("-n", type=int, default=300, help="samples for create/get/update")
    parser.add_argument("--list-objects", type=int, default=1000)
    parser.add_argument("--list-rounds", type=int, default=30)
    parser.add_argument("--watchers", type=int, default=100)
    parser.add_argument(
        "--rate", type=float, default=20.0, help="writes per second during the watch test"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of the watch test")
    parser.add_argument(
        "--watch-processes", type=int, default=2, help="processes holding the watchers"
    )
    args = parser.parse_args()

    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "args": vars(args),
    }
    if args.apiserver:
        results = asyncio.run(run(args, args.apiserver, None))
    else:
        from tests.processes import ApiserverProcess, EtcdProcess

        with tempfile.TemporaryDirectory(prefix="kubelab-bench-") as tmp:
            etcd = EtcdProcess(Path(tmp) / "etcd")
            console.print("starting etcd and the apiserver on loopback")
            etcd.start()
            apiserver = ApiserverProcess(etcd, Path(tmp))
            try:
                apiserver.start()
                results = asyncio.run(run(args, apiserver.address, etcd.endpoint))
            finally:
                apiserver.stop()
                etcd.stop()
    write_results(results, meta)


if __name__ == "__main__":
    main()
