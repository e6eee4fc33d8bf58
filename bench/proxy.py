"""kube-proxy benchmark: through a ClusterIP vs directly to the endpoint, one run.

Starts a real etcd, an apiserver whose service CIDR is a loopback range
(127.96.0.0/16, so ClusterIPs are local on lo as 10.96.0.0/12 is on a node),
`python -m kube_proxy`, and two backend processes on 127.0.0.1. A selector-less
Service with hand-written Endpoints routes to them. Then, with blocking
sockets from this process, for both paths (ClusterIP, direct):

- request latency on one kept-alive connection (100-byte ping-pong), p50/p99;
- new-connection latency (connect + one exchange + close) p50/p99 and rate;
- bulk throughput (one connection receiving 256 MiB), MB/s, in paired rounds:
  each round measures both paths back to back (alternating which goes first),
  and the figure is the median over rounds of each path and of the per-round
  ratio, so a burst of load from the machine's other tenants lands on both
  paths instead of on one;

the endpoint-change propagation time (Endpoints updated -> new
connections reach the new backend), p50/p99; and the time from a kube-proxy
restart (killed, started again) to a new connection served.

Everything stays on loopback. Figures go to bench/results/proxy.{json,md}.

    .venv/bin/python bench/proxy.py [--requests 5000] [--connections 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import struct
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
from tests.processes import ApiserverProcess, EtcdProcess, free_port, http_ok, wait_until  # noqa: E402

SERVICES = lookup("", "v1", "services")
ENDPOINTS = lookup("", "v1", "endpoints")
SERVICE_CIDR = "127.96.0.0/16"
MSG = 100
CHUNK = 256 * 1024


# ---- backend process ----------------------------------------------------------


async def _serve(port: int, ident: bytes) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            cmd = await reader.readexactly(1)
            if cmd == b"E":  # echo fixed-size messages until EOF
                while True:
                    try:
                        data = await reader.readexactly(MSG)
                    except asyncio.IncompleteReadError:
                        break
                    writer.write(data)
            elif cmd == b"S":  # send n bytes
                (n,) = struct.unpack("!Q", await reader.readexactly(8))
                block = b"x" * CHUNK
                while n > 0:
                    writer.write(block[: min(n, CHUNK)])
                    n -= CHUNK
                    await writer.drain()
            elif cmd == b"I":  # who are you
                writer.write(ident)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


# ---- measurements -------------------------------------------------------------


def _connect(addr: tuple[str, int]) -> socket.socket:
    s = socket.create_connection(addr, timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed early")
        buf += chunk
    return bytes(buf)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def request_latency(addr: tuple[str, int], n: int) -> dict[str, float]:
    s = _connect(addr)
    s.sendall(b"E")
    msg = b"p" * MSG
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        s.sendall(msg)
        _recv_exact(s, MSG)
        times.append(time.perf_counter() - t0)
    s.close()
    return {"p50_ms": _pct(times, 0.5) * 1e3, "p99_ms": _pct(times, 0.99) * 1e3}


def connection_latency(addr: tuple[str, int], n: int) -> dict[str, float]:
    times = []
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        s = _connect(addr)
        s.sendall(b"E" + b"p" * MSG)
        _recv_exact(s, MSG)
        s.close()
        times.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    return {
        "p50_ms": _pct(times, 0.5) * 1e3,
        "p99_ms": _pct(times, 0.99) * 1e3,
        "per_s": n / elapsed,
    }


def throughput(addr: tuple[str, int], total: int) -> float:
    s = _connect(addr)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    t0 = time.perf_counter()
    s.sendall(b"S" + struct.pack("!Q", total))
    got = 0
    buf = bytearray(1024 * 1024)
    while got < total:
        n = s.recv_into(buf)
        if not n:
            break
        got += n
    elapsed = time.perf_counter() - t0
    s.close()
    return got / elapsed / 1e6


def paired_throughput(
    direct: tuple[str, int], via: tuple[str, int], total: int, rounds: int
) -> dict[str, Any]:
    """Both paths back to back in each round; medians over the rounds."""
    runs: dict[str, list[float]] = {"direct": [], "cluster_ip": []}
    ratios = []
    for i in range(rounds):
        order = [("direct", direct), ("cluster_ip", via)]
        if i % 2:
            order.reverse()
        got = {name: throughput(addr, total) for name, addr in order}
        for name, value in got.items():
            runs[name].append(value)
        ratios.append(got["cluster_ip"] / got["direct"])
    return {
        **{
            name: {"median": statistics.median(v), "min": min(v), "max": max(v)}
            for name, v in runs.items()
        },
        "ratio_median": statistics.median(ratios),
        "ratios": ratios,
        "rounds": rounds,
    }


def ident(addr: tuple[str, int]) -> bytes:
    s = _connect(addr)
    try:
        s.sendall(b"I")
        return s.recv(64)
    finally:
        s.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- the run ------------------------------------------------------------------


def _endpoints(port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "bench", "namespace": "default"},
        "subsets": [
            {
                "addresses": [{"ip": "127.0.0.1"}],
                "ports": [{"name": "tcp", "port": port, "protocol": "TCP"}],
            }
        ],
    }


async def _setup(api: APIClient, port: int) -> str:
    svc = await api.create(
        SERVICES,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "bench", "namespace": "default"},
            "spec": {"ports": [{"name": "tcp", "port": 7000, "protocol": "TCP"}]},
        },
        namespace="default",
    )
    await api.create(ENDPOINTS, _endpoints(port), namespace="default")
    return str(svc["spec"]["clusterIP"])


async def _switch(api: APIClient, port: int) -> None:
    current = await api.get(ENDPOINTS, "bench", namespace="default")
    current["subsets"] = _endpoints(port)["subsets"]
    await api.update(ENDPOINTS, current)


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="kubelab-bench-proxy-"))
    etcd = EtcdProcess(work / "etcd")
    etcd.start()
    apiserver = ApiserverProcess(etcd, work, "--service-cluster-ip-range", SERVICE_CIDR)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        apiserver.start()
        ports = [free_port(), free_port()]
        for port, name in zip(ports, (b"A", b"B"), strict=True):
            procs.append(
                subprocess.Popen(
                    [sys.executable, __file__, "--backend", str(port), "--ident", name.decode()]
                )
            )
        health = free_port()
        kube_proxy_argv = [
            sys.executable,
            "-m",
            "kube_proxy",
            "--apiserver",
            apiserver.address,
            "--node-name",
            "bench",
            "--node-ip",
            "127.0.0.1",
            "--health-address",
            f"127.0.0.1:{health}",
        ]

        def start_kube_proxy() -> subprocess.Popen[bytes]:
            log = (work / "kube-proxy.log").open("ab")
            return subprocess.Popen(kube_proxy_argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

        procs.append(start_kube_proxy())
        wait_until(lambda: http_ok(f"http://127.0.0.1:{health}/healthz"), 30, "kube-proxy")

        async def setup() -> str:
            async with APIClient(apiserver.address) as api:
                return await _setup(api, ports[0])

        cluster_ip = asyncio.run(setup())
        via = (cluster_ip, 7000)
        direct = ("127.0.0.1", ports[0])

        def reachable() -> bool:
            try:
                return ident(via) == b"A"
            except OSError:
                return False

        wait_until(reachable, 30, "the ClusterIP did not answer")
        results: dict[str, Any] = {"service_ip": cluster_ip, "load_average": os.getloadavg()}
        for path_name, addr in (("direct", direct), ("cluster_ip", via)):
            request_latency(addr, 200)  # warm-up
            results[path_name] = {
                "request": request_latency(addr, args.requests),
                "new_connection": connection_latency(addr, args.connections),
            }
        results["throughput"] = paired_throughput(direct, via, args.bytes, args.rounds)
        for path_name in ("direct", "cluster_ip"):
            results[path_name]["throughput_MBps"] = results["throughput"][path_name]["median"]
        # CPU the kube-proxy process spends per GB and per connection: what the
        # figures above would be on an idle machine depends on it, not on load.
        proxy_pid = procs[-1].pid
        before = _cpu_seconds(proxy_pid)
        throughput(via, args.bytes)
        per_gb = (_cpu_seconds(proxy_pid) - before) / (args.bytes / 2**30)
        before = _cpu_seconds(proxy_pid)
        connection_latency(via, args.connections)
        per_conn = (_cpu_seconds(proxy_pid) - before) / args.connections
        results["kube_proxy_cpu"] = {"s_per_GiB": per_gb, "ms_per_connection": per_conn * 1e3}
        results["propagation_ms"] = asyncio.run(_propagation(apiserver.address, via, ports))
        # kube-proxy killed and started again: time until a new connection is served.
        restarts = []
        for _ in range(5):
            procs[-1].kill()
            procs[-1].wait()
            t0 = time.perf_counter()
            procs[-1] = start_kube_proxy()
            wait_until(reachable, 30, "the ClusterIP did not answer after a restart")
            restarts.append(time.perf_counter() - t0)
        results["restart_s"] = {"p50": statistics.median(restarts), "max": max(restarts)}
        return results
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
        apiserver.stop()
        etcd.stop()


async def _propagation(address: str, via: tuple[str, int], ports: list[int]) -> dict[str, float]:
    times = []
    async with APIClient(address) as api:
        for i in range(20):
            target = i % 2 == 0  # switch to B, then back to A...
            port, want = (ports[1], b"B") if target else (ports[0], b"A")
            t0 = time.perf_counter()
            await _switch(api, port)
            for _ in range(20000):  # bounded: 20 000 connections at most
                got = await asyncio.to_thread(ident, via)
                if got == want:
                    break
            times.append(time.perf_counter() - t0)
    return {"p50": _pct(times, 0.5) * 1e3, "p99": _pct(times, 0.99) * 1e3}


def _markdown(r: dict[str, Any], args: argparse.Namespace) -> str:
    d, c = r["direct"], r["cluster_ip"]
    t = r["throughput"]
    ratio = t["ratio_median"] * 100
    added_req = c["request"]["p50_ms"] - d["request"]["p50_ms"]
    added_conn = c["new_connection"]["p50_ms"] - d["new_connection"]["p50_ms"]
    return "\n".join(
        [
            "# kube-proxy benchmark (bench/proxy.py)",
            "",
            f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, load average at start "
            f"{r['load_average'][0]:.1f} (shared machine: figures vary run to run). "
            f"Loopback only; {args.requests} requests, {args.connections} connections, "
            f"{args.bytes // (1024 * 1024)} MiB per bulk transfer.",
            "",
            "| metric | direct to endpoint | through ClusterIP | difference |",
            "|---|---|---|---|",
            f"| request latency p50 (ms) | {d['request']['p50_ms']:.3f} | "
            f"{c['request']['p50_ms']:.3f} | +{added_req:.3f} |",
            f"| request latency p99 (ms) | {d['request']['p99_ms']:.3f} | "
            f"{c['request']['p99_ms']:.3f} | |",
            f"| new connection p50 (ms) | {d['new_connection']['p50_ms']:.3f} | "
            f"{c['new_connection']['p50_ms']:.3f} | +{added_conn:.3f} |",
            f"| new connection p99 (ms) | {d['new_connection']['p99_ms']:.3f} | "
            f"{c['new_connection']['p99_ms']:.3f} | |",
            f"| connections/s | {d['new_connection']['per_s']:.0f} | "
            f"{c['new_connection']['per_s']:.0f} | |",
            f"| throughput (MB/s, median of {t['rounds']} paired rounds) | "
            f"{d['throughput_MBps']:.0f} | {c['throughput_MBps']:.0f} | "
            f"{ratio:.0f} % of direct (median per-round ratio) |",
            f"| throughput range (MB/s) | {t['direct']['min']:.0f}-{t['direct']['max']:.0f} | "
            f"{t['cluster_ip']['min']:.0f}-{t['cluster_ip']['max']:.0f} | "
            f"ratios {min(t['ratios']) * 100:.0f}-{max(t['ratios']) * 100:.0f} % |",
            "",
            f"kube-proxy CPU: {r['kube_proxy_cpu']['s_per_GiB']:.2f} s per GiB spliced, "
            f"{r['kube_proxy_cpu']['ms_per_connection']:.2f} ms per connection (on an idle "
            "machine with a core to spare, throughput is bounded by these, not by load).",
            "",
            f"Endpoint change propagation (Endpoints update -> new backend answers): "
            f"p50 {r['propagation_ms']['p50']:.0f} ms, p99 {r['propagation_ms']['p99']:.0f} ms.",
            "",
            f"kube-proxy killed and started again -> a new connection served: "
            f"p50 {r['restart_s']['p50']:.2f} s, max {r['restart_s']['max']:.2f} s "
            "(5 restarts; includes the Python interpreter starting).",
            "",
            "Targets (issue 6): >= 50 % of direct throughput, <= 0.2 ms added p50 per "
            "request, <= 2 ms per new connection, changes applied <= 1 s p99, new "
            "connections served again within 2 s of a restart.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ident", default="A", help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--bytes", type=int, default=256 * 1024 * 1024)
    parser.add_argument("--rounds", type=int, default=15, help="paired throughput rounds")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    if args.backend:
        asyncio.run(_serve(args.backend, args.ident.encode()))
        return
    results = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "proxy.json").write_text(json.dumps(results, indent=2) + "\n")
    md = _markdown(results, args)
    (out / "proxy.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
