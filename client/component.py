"""The common `main` of every component process (scheduler, controller-manager,
kubelet, kube-proxy, cluster DNS, ingress).

Each component's `__main__` is one call:

    main("scheduler", build, description="...", extra_args=add_flags)

where `build(api, args)` is an async function that runs the component until
it is cancelled. `main` does the rest the same way for everyone: the common
flags (`--apiserver`, `--health-address`, `--leader-elect/--no-leader-elect`
and upstream's `--leader-elect-*` tuning, `-v`), logging, the health and
metrics endpoints, waiting for the apiserver, leader election on the Lease
named after the component in kube-system (identity `hostname_uuid`), and a
clean stop on SIGTERM or SIGINT (build is cancelled, the lease released).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable

from apimachinery import errors, logs
from apimachinery.serving import HealthCheck, start_health_server
from client import metrics
from client.api import APIClient
from client.events import EventRecorder
from client.leaderelection import LeaderElector

Build = Callable[[APIClient, argparse.Namespace], Awaitable[None]]
ExtraArgs = Callable[[argparse.ArgumentParser], None]

DEFAULT_APISERVER = "127.0.0.1:6444"
# Upstream's health ports where there is one.
DEFAULT_HEALTH_PORTS = {
    "apiserver": 6445,
    "scheduler": 10259,
    "kube-scheduler": 10259,
    "controller-manager": 10257,
    "kube-controller-manager": 10257,
    "kubelet": 10248,
    "kube-proxy": 10256,
    "cluster-dns": 10053,
    "ingress": 10254,
}

# Checks served on /healthz, /readyz and /livez; a component may add its own
# (from build) with `add_health_check`.
health_checks: dict[str, HealthCheck] = {}


def add_health_check(name: str, check: HealthCheck) -> None:
    """Serve `check` (True = healthy) under `name` on the health endpoints."""
    health_checks[name] = check


def parser(
    name: str,
    *,
    description: str,
    extra_args: ExtraArgs | None = None,
    leader_elect_default: bool = True,
) -> argparse.ArgumentParser:
    """The argument parser with the common flags (plus `extra_args`')."""
    p = argparse.ArgumentParser(prog=f"python -m {name.replace('-', '_')}", description=description)
    p.add_argument(
        "--apiserver",
        default=DEFAULT_APISERVER,
        metavar="HOST:PORT",
        help=f"the apiserver's gRPC address (default {DEFAULT_APISERVER})",
    )
    health_port = DEFAULT_HEALTH_PORTS.get(name, 0)
    p.add_argument(
        "--health-address",
        default=f"0.0.0.0:{health_port}",
        metavar="HOST:PORT",
        help=f"serve /healthz /readyz /livez /metrics there (default 0.0.0.0:{health_port}; "
        "port 0 picks a free one)",
    )
    p.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=leader_elect_default,
        help="run only while holding the Lease named after the component in kube-system "
        f"(default {'on' if leader_elect_default else 'off'})",
    )
    p.add_argument("--leader-elect-lease-duration", type=float, default=15.0, metavar="S")
    p.add_argument("--leader-elect-renew-deadline", type=float, default=10.0, metavar="S")
    p.add_argument("--leader-elect-retry-period", type=float, default=2.0, metavar="S")
    p.add_argument("--leader-elect-resource-name", default=name, metavar="NAME")
    p.add_argument("--leader-elect-resource-namespace", default="kube-system", metavar="NS")
    p.add_argument("-v", "--verbose", action="count", default=0, help="log debug messages too")
    if extra_args is not None:
        extra_args(p)
    return p


def identity() -> str:
    """`hostname_uuid`, as upstream names leader election candidates."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


async def wait_for_apiserver(api: APIClient, logger: logging.Logger) -> None:
    """Return once the apiserver answers, saying what we wait for meanwhile."""
    attempt = 0
    while True:
        try:
            await api.wait_ready(within_s=1.0 if attempt == 0 else 5.0)
        except errors.APIError:
            if attempt % 6 == 0:
                logger.info("waiting for the apiserver at %s", api.address)
            attempt += 1
            continue
        if attempt:
            logger.info("the apiserver at %s answers now", api.address)
        return


async def run(name: str, build: Build, args: argparse.Namespace) -> None:
    """The component's life: health server, apiserver, election, build; until cancelled."""
    logger = logging.getLogger(name)
    ready = {"apiserver": False}
    health_checks.setdefault("ping", lambda: True)
    health_checks["apiserver"] = lambda: ready["apiserver"]
    runner, port = await start_health_server(args.health_address, health_checks)
    logger.info("serving health checks and metrics on port %d", port)
    api = APIClient(args.apiserver)
    recorder = EventRecorder(api, name, socket.gethostname())
    try:
        await wait_for_apiserver(api, logger)
        ready["apiserver"] = True
        if not args.leader_elect:
            await build(api, args)
            return
        elector = LeaderElector(
            api,
            name=args.leader_elect_resource_name,
            namespace=args.leader_elect_resource_namespace,
            identity=identity(),
            lease_duration=args.leader_elect_lease_duration,
            renew_deadline=args.leader_elect_renew_deadline,
            retry_period=args.leader_elect_retry_period,
            recorder=recorder,
        )
        health_checks["leaderElection"] = elector.healthy

        finished = False

        async def lead() -> None:
            nonlocal finished
            await build(api, args)
            finished = True

        while not finished:
            # After losing the lease, stand again: everything build started was
            # cancelled, so the next term starts from a fresh list.
            await elector.run(lead)
            if not finished:
                logger.info("campaigning again for the lease %s", elector.lease)
    finally:
        await recorder.close()
        await api.close()
        await runner.cleanup()


def main(
    name: str,
    build: Build,
    *,
    description: str,
    extra_args: ExtraArgs | None = None,
    leader_elect_default: bool = True,
    argv: list[str] | None = None,
) -> None:
    """Run component `name` until SIGTERM/SIGINT; exits the process on failure."""
    args = parser(
        name,
        description=description,
        extra_args=extra_args,
        leader_elect_default=leader_elect_default,
    ).parse_args(argv)
    logger = logs.setup(name, verbose=args.verbose > 0)
    metrics.set_component(name)
    try:
        asyncio.run(_main(name, build, args, logger))
    except KeyboardInterrupt:
        pass
    except Exception as e:
        logger.critical("%s stopped: %s", name, e, exc_info=args.verbose > 0)
        sys.exit(1)


async def _main(name: str, build: Build, args: argparse.Namespace, logger: logging.Logger) -> None:
    task = asyncio.create_task(run(name, build, args), name=name)
    loop = asyncio.get_running_loop()
    stopping: list[str] = []

    def stop(signame: str) -> None:
        if not stopping:
            logger.info("%s received: stopping", signame)
        stopping.append(signame)
        task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, sig.name)
    try:
        await task
    except asyncio.CancelledError:
        if not stopping:
            raise
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    if stopping:
        logger.info("%s stopped", name)
    else:
        logger.warning("%s finished on its own", name)
