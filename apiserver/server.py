"""The apiserver process: etcd, the registry and its watch caches, the gRPC API,
the REST API (apiserver/rest, when present), health and metrics, compaction.

Start-up order matters for readiness: connect to etcd, fill the watch caches,
create the namespaces, the `kubernetes` Service and the default RBAC policy
(apiserver/bootstrappolicy.py), then listen. `/readyz`
answers 200 only when etcd is reachable and every watch cache is synced;
`/livez` answers as long as the process runs its event loop. SIGTERM stops
accepting calls, lets the ones in flight finish (a few seconds), and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import ipaddress
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from apimachinery import errors, logs, serving
from apiserver.admission import PluginConfig, build_plugins
from apiserver.bootstrappolicy import ensure_policy
from apiserver.grpc_service import create_server
from apiserver.rbac_rules import CachedRules
from apiserver.registry import Registry
from apiserver.store import EtcdStore

log = logging.getLogger("apiserver")

ETCD_PROBE_INTERVAL_S = 2.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m apiserver",
        description="kubelab's API server: Kubernetes objects in etcd, served over gRPC and HTTPS.",
    )
    p.add_argument("--etcd-servers", default="http://127.0.0.1:2379", help="etcd client URL")
    p.add_argument("--grpc-address", default="0.0.0.0:6444", help="gRPC API for components")
    p.add_argument(
        "--secure-address",
        default="0.0.0.0:6443",
        help='HTTPS Kubernetes REST API for kubectl ("" disables it)',
    )
    p.add_argument("--health-address", default="0.0.0.0:6445", help="/healthz /readyz /metrics")
    p.add_argument("--cert-dir", default="/var/lib/kubelab/pki", help="CA, certs, admin token")
    p.add_argument("--service-cluster-ip-range", default="10.96.0.0/12")
    p.add_argument("--node-port-range", default="30000-32767")
    p.add_argument(
        "--advertise-address", default="127.0.0.1", help="the kubernetes Service's endpoint"
    )
    p.add_argument(
        "--compaction-interval-s",
        type=float,
        default=300.0,
        help="compact etcd history older than this (0 disables)",
    )
    p.add_argument(
        "--event-ttl-s",
        type=float,
        default=3600.0,
        help="events older than this are deleted (checked at each compaction)",
    )
    # Upstream's apiserver flags, with the lab's short default (upstream: 300),
    # the same as the controller-manager's, so a dead node's pods move in seconds.
    for taint in ("not-ready", "unreachable"):
        p.add_argument(
            f"--default-{taint}-toleration-seconds",
            type=int,
            default=3,
            help=f"tolerationSeconds of the node.kubernetes.io/{taint}:NoExecute toleration "
            "added to every pod that has none (upstream default: 300)",
        )
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def kubernetes_service_ip(cidr: str) -> str:
    """The first address of the service range: 10.96.0.1 for 10.96.0.0/12."""
    network = ipaddress.IPv4Network(cidr, strict=False)
    return str(network.network_address + 1)


def _port_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    return int(low), int(high or low)


class APIServer:
    """One apiserver: `await start()`, then `await stop()`."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.store = EtcdStore.from_url(args.etcd_servers)
        self.registry: Registry | None = None
        self.grpc_server: grpc.aio.Server | None = None
        self.grpc_port = 0
        self.health_runner: Any = None
        self.health_port = 0
        self.rest_stop: Callable[[], Awaitable[None]] | None = None
        self.etcd_ok = False
        self.bootstrapped = False
        self.listening = False
        self._tasks: list[asyncio.Task[None]] = []

    # -- health

    def checks(self) -> dict[str, serving.HealthCheck]:
        return {"etcd": lambda: self.etcd_ok}

    def ready_checks(self) -> dict[str, serving.HealthCheck]:
        return {
            "etcd": lambda: self.etcd_ok,
            "watch-caches": lambda: self.registry is not None and self.registry.synced(),
            "bootstrap": lambda: self.bootstrapped,
            "serving": lambda: self.listening,
        }

    async def _probe_etcd(self) -> None:
        while True:
            try:
                await self.store.current_revision()
                if not self.etcd_ok:
                    log.info("etcd at %s is reachable", self.args.etcd_servers)
                self.etcd_ok = True
            except errors.APIError as e:
                if self.etcd_ok:
                    log.warning("etcd at %s is unreachable: %s", self.args.etcd_servers, e)
                self.etcd_ok = False
            await asyncio.sleep(ETCD_PROBE_INTERVAL_S)

    async def _compact_loop(self, interval: float) -> None:
        """Every interval, compact to the revision seen one interval ago: etcd keeps
        at least one interval of history, as upstream's compactor does."""
        previous = 0
        while True:
            await asyncio.sleep(interval)
            try:
                current = await self.store.current_revision()
                if previous:
                    await self.store.compact(previous)
                    assert self.registry is not None
                    self.registry.compacted(previous)
                    log.info("compacted etcd up to revision %d", previous)
                previous = current
            except errors.APIError as e:
                log.warning("etcd compaction failed: %s", e)
            try:
                assert self.registry is not None
                expired = await self.registry.expire_events(self.args.event_ttl_s)
                if expired:
                    log.info("deleted %d events older than %.0fs", expired, self.args.event_ttl_s)
            except errors.APIError as e:
                log.warning("expiring old events failed: %s", e)

    # -- life cycle

    async def start(self) -> None:
        args = self.args
        health = {**self.checks()}
        ready = self.ready_checks()
        self.health_runner, self.health_port = await start_health(
            args.health_address, health, ready
        )
        while True:
            try:
                await self.store.connect()
                await self.store.current_revision()
                self.etcd_ok = True
                break
            except (errors.APIError, OSError) as e:
                log.warning("waiting for etcd at %s: %s", args.etcd_servers, e)
                await asyncio.sleep(1)
        self._tasks.append(asyncio.create_task(self._probe_etcd()))
        plugins = build_plugins(
            PluginConfig(
                etcd=self.store,
                service_cluster_ip_range=args.service_cluster_ip_range,
                node_port_range=_port_range(args.node_port_range),
                default_not_ready_toleration_seconds=args.default_not_ready_toleration_seconds,
                default_unreachable_toleration_seconds=args.default_unreachable_toleration_seconds,
            )
        )
        self.registry = Registry(self.store, plugins=plugins)
        self.registry.start()
        while True:
            try:
                await self.registry.wait_synced(60)
                break
            except TimeoutError:
                log.warning("watch caches not synced yet; still waiting")
        log.info("watch caches synced for %d resources", len(self.registry.caches))
        while True:
            try:
                await self.registry.bootstrap(
                    kubernetes_service_ip=kubernetes_service_ip(args.service_cluster_ip_range),
                    advertise_address=args.advertise_address,
                    secure_port=_secure_port(args.secure_address),
                )
                await ensure_policy(self.registry)
                break
            except errors.APIError as e:
                log.warning("bootstrap failed (%s); retrying", e)
                await asyncio.sleep(1)
        self.bootstrapped = True
        self.grpc_server, self.grpc_port = create_server(args.grpc_address, self.registry)
        await self.grpc_server.start()
        log.info("serving the gRPC API on %s", args.grpc_address)
        if args.secure_address:
            await self._start_rest()
        if args.compaction_interval_s > 0:
            self._tasks.append(asyncio.create_task(self._compact_loop(args.compaction_interval_s)))
        self.listening = True

    async def _start_rest(self) -> None:
        try:
            rest = importlib.import_module("apiserver.rest")
        except ImportError:
            log.warning("the REST API (apiserver/rest) is not available; serving gRPC only")
            return
        serve = getattr(rest, "serve", None)
        if serve is None:
            log.warning("apiserver.rest has no serve(registry, args); serving gRPC only")
            return
        assert self.registry is not None
        self.rest_stop = await serve(self.registry, self.args, rules=CachedRules(self.registry))

    async def stop(self, grace: float = 5.0) -> None:
        self.listening = False
        if self.registry is not None:
            self.registry.close_watches()
        if self.grpc_server is not None:
            await self.grpc_server.stop(grace)
        if self.rest_stop is not None:
            with contextlib.suppress(Exception):
                await self.rest_stop()
        for task in self._tasks:
            task.cancel()
        if self.registry is not None:
            await self.registry.stop()
        await self.store.close()
        if self.health_runner is not None:
            await self.health_runner.cleanup()


def _secure_port(address: str) -> int:
    if not address:
        return 6443
    return int(address.rpartition(":")[2] or 6443)


async def start_health(
    address: str,
    health: dict[str, serving.HealthCheck],
    ready: dict[str, serving.HealthCheck],
) -> tuple[Any, int]:
    """/healthz and /livez check etcd; /readyz also the watch caches and bootstrap."""
    from aiohttp import web

    app = web.Application()
    app.router.add_get("/healthz", serving._health_handler(health))  # type: ignore[arg-type]
    app.router.add_get("/livez", serving._health_handler({}))  # type: ignore[arg-type]
    app.router.add_get("/readyz", serving._health_handler(ready))  # type: ignore[arg-type]
    app.router.add_get("/metrics", serving._metrics)
    host, _, port = address.rpartition(":")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host or "0.0.0.0", int(port))
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else int(port)
    return runner, int(bound)


async def run(args: argparse.Namespace) -> None:
    server = APIServer(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(server.start())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if starting.done() and starting.exception() is not None:
        await server.stop(0)
        raise starting.exception()  # type: ignore[misc]
    await stopped
    log.info("shutting down")
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await starting
    await server.stop()
    log.info("stopped")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logs.setup("apiserver", verbose=args.verbose)
    logging.getLogger("aetcd").setLevel(logging.WARNING)
    asyncio.run(run(args))
