"""`python -m kubelab.node`: one node of the cluster, kubelet + kube-proxy.

A node container (or, in local mode, a process) runs this tiny supervisor. It
makes the service CIDR local to the node (`ip route replace local CIDR dev lo`,
so kube-proxy can bind every ClusterIP), then runs the kubelet and kube-proxy
as child processes and restarts either one when it dies: 0.1 s later, growing
to at most 5 s while it keeps dying within seconds of starting. SIGTERM stops
both and then the supervisor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

log = logging.getLogger("node")

RESTART_DELAY_S = 0.1
MAX_RESTART_DELAY_S = 5.0
STABLE_AFTER_S = 10.0
STOP_GRACE_S = 10.0
CONTROL_PLANE_ROLE = "node-role.kubernetes.io/control-plane"


def restart_delay(previous: float, ran_for: float) -> float:
    """Back-off before the next start: short after a good run, doubling in a crash loop."""
    if ran_for >= STABLE_AFTER_S:
        return RESTART_DELAY_S
    return min(max(previous * 2, RESTART_DELAY_S), MAX_RESTART_DELAY_S)


def node_ip() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def make_service_cidr_local(cidr: str) -> None:
    """`ip route replace local CIDR dev lo` in this network namespace (needs NET_ADMIN)."""
    cmd = ["ip", "route", "replace", "local", cidr, "dev", "lo"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode == 0:
        log.info("service range %s is local to this node", cidr)
    else:
        log.warning(
            "could not make %s local (%s): ClusterIPs will not be served here",
            cidr,
            result.stderr.strip(),
        )


@dataclass
class Child:
    """One supervised process: its command line and restart bookkeeping."""

    name: str
    argv: list[str]
    proc: asyncio.subprocess.Process | None = None
    started: float = 0.0
    delay: float = 0.0
    restarts: int = 0


def kubelet_argv(args: argparse.Namespace, ip: str) -> list[str]:
    flags = [
        f"--node-name={args.node_name}",
        f"--apiserver={args.apiserver}",
        f"--health-address={args.bind_address}:{args.kubelet_health_port}",
        f"--node-ip={ip}",
    ]
    if args.control_plane:
        flags += [
            f"--register-with-taints={CONTROL_PLANE_ROLE}=:NoSchedule",
            f"--node-labels={CONTROL_PLANE_ROLE}=",
        ]
    return [sys.executable, "-m", "kubelab.launch", "kubelet", *flags, *args.kubelet_arg]


def proxy_argv(args: argparse.Namespace, ip: str) -> list[str]:
    flags = [
        f"--node-name={args.node_name}",
        f"--apiserver={args.apiserver}",
        f"--health-address={args.bind_address}:{args.proxy_health_port}",
        f"--node-ip={ip}",
    ]
    return [sys.executable, "-m", "kubelab.launch", "kube_proxy", *flags, *args.proxy_arg]


class Supervisor:
    """Keeps every child running until stop() is called."""

    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self.stopping = asyncio.Event()

    async def _keep(self, child: Child) -> None:
        while not self.stopping.is_set():
            child.started = time.monotonic()
            child.proc = await asyncio.create_subprocess_exec(*child.argv)
            code = await child.proc.wait()
            if self.stopping.is_set():
                return
            child.delay = restart_delay(child.delay, time.monotonic() - child.started)
            child.restarts += 1
            log.warning(
                "%s exited with code %s; restarting in %.1f s (restart %d)",
                child.name,
                code,
                child.delay,
                child.restarts,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), child.delay)

    async def run(self) -> None:
        await asyncio.gather(*(self._keep(child) for child in self.children))

    async def stop(self) -> None:
        self.stopping.set()
        running = [c.proc for c in self.children if c.proc and c.proc.returncode is None]
        for proc in running:
            proc.terminate()
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in running)), STOP_GRACE_S)
        except TimeoutError:
            for proc in running:
                if proc.returncode is None:
                    proc.kill()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m kubelab.node", description=__doc__)
    parser.add_argument("--node-name", default=socket.gethostname())
    parser.add_argument("--apiserver", default="127.0.0.1:6444")
    parser.add_argument(
        "--control-plane",
        action="store_true",
        help="label and taint this node as the control plane (NoSchedule)",
    )
    parser.add_argument(
        "--service-cidr", default=os.environ.get("KUBELAB_SERVICE_CIDR", "10.96.0.0/12")
    )
    parser.add_argument(
        "--bind-address",
        default="0.0.0.0",
        help="address of the kubelet's and kube-proxy's health endpoints",
    )
    parser.add_argument("--kubelet-health-port", type=int, default=10248)
    parser.add_argument("--proxy-health-port", type=int, default=10256)
    parser.add_argument("--node-ip", default="", help="the node's address (default: hostname's)")
    parser.add_argument("--no-proxy", action="store_true", help="run the kubelet only")
    parser.add_argument(
        "--kubelet-arg", action="append", default=[], help="extra kubelet flag (repeatable)"
    )
    parser.add_argument(
        "--proxy-arg", action="append", default=[], help="extra kube-proxy flag (repeatable)"
    )
    return parser.parse_args(argv)


async def amain(args: argparse.Namespace) -> None:
    ip = args.node_ip or node_ip()
    children = [Child("kubelet", kubelet_argv(args, ip))]
    if not args.no_proxy:
        make_service_cidr_local(args.service_cidr)
        children.append(Child("kube-proxy", proxy_argv(args, ip)))
    supervisor = Supervisor(children)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(supervisor.stop()))
    log.info(
        "node %s (%s): starting %s", args.node_name, ip, " and ".join(c.name for c in children)
    )
    await supervisor.run()
    log.info("node %s stopped", args.node_name)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s node  %(message)s", datefmt="%H:%M:%S"
    )
    asyncio.run(amain(parse_args(argv)))


if __name__ == "__main__":
    main()
