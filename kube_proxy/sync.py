"""kube-proxy's sync loop: Services + Endpoints -> listeners and backends.

Informers keep Services and Endpoints cached; any change wakes the loop, which
runs `KubeProxy.sync()` once for everything that changed meanwhile (changes
are applied well under a second). A listener that could not be opened (an
address not yet local, a port in use) is retried every few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

import prometheus_client as prom

from kube_proxy.model import (
    Endpoint,
    Route,
    ServicePortName,
    desired_frontends,
    local_only,
    service_endpoints,
)
from kube_proxy.proxier import Proxier

log = logging.getLogger("kube-proxy")

JSON = dict[str, Any]
RETRY_S = 5.0

SYNC_SECONDS = prom.Histogram(
    "kubeproxy_sync_proxy_rules_duration_seconds",
    "How long one sync of listeners and endpoints took",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
SYNC_LATENCY = prom.Histogram(
    "kubeproxy_network_programming_duration_seconds",
    "From a Service/Endpoints change seen by the informer to it being applied",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
LISTENERS = prom.Gauge("kubeproxy_listeners", "Frontends (clusterIP:port, nodePort) served")


class Cache(Protocol):
    """What kube-proxy reads from an informer."""

    def list(self, namespace: str | None = None) -> list[JSON]: ...

    def get_by_key(self, key: str) -> JSON | None: ...


class KubeProxy:
    def __init__(
        self,
        *,
        services: Cache,
        endpoints: Cache,
        node_name: str,
        node_ip: str,
        bind_node_ports: bool = True,
    ) -> None:
        self.services = services
        self.endpoints = endpoints
        self.node_name = node_name
        self.node_ip = node_ip
        self.bind_node_ports = bind_node_ports
        self.proxier = Proxier(node_name=node_name, node_filter=self._node_filter)
        self._wake = asyncio.Event()
        self._first_change: float | None = None
        self.synced_once = False
        self.last_sync = 0.0

    def changed(self, *_: Any) -> None:
        """Informer handler: something changed, sync soon."""
        if self._first_change is None:
            self._first_change = time.monotonic()
        self._wake.set()

    def _node_filter(self, route: Route) -> str:
        spn = route.service_port
        svc = self.services.get_by_key(f"{spn.namespace}/{spn.name}")
        return self.node_name if local_only(svc, route) else ""

    async def sync(self) -> None:
        """One pass: compute the wanted listeners and backends, apply them."""
        started = time.monotonic()
        services = self.services.list()
        wanted = desired_frontends(services, self.node_ip if self.bind_node_ports else "")
        backends: dict[ServicePortName, list[Endpoint]] = {}
        for route in wanted.values():
            spn = route.service_port
            if spn in backends:
                continue
            key = f"{spn.namespace}/{spn.name}"
            backends[spn] = service_endpoints(
                self.services.get_by_key(key), self.endpoints.get_by_key(key), spn
            )
        # Endpoints first: a new listener must find its backends at once.
        for spn in self.proxier.balancer.update(backends):
            log.info(
                "endpoints of %s: %s",
                spn,
                ", ".join(str(e) for e in backends.get(spn, [])) or "none",
            )
        await self.proxier.apply(wanted)
        LISTENERS.set(len(self.proxier.listeners))
        done = time.monotonic()
        SYNC_SECONDS.observe(done - started)
        self.synced_once = True
        self.last_sync = done

    async def run(self) -> None:
        """Sync on every change, and every few seconds to retry failed listeners."""
        self.changed()
        try:
            while True:
                try:
                    async with asyncio.timeout(RETRY_S):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                self._wake.clear()
                first, self._first_change = self._first_change, None
                try:
                    await self.sync()
                except Exception:
                    log.exception("sync failed; retrying")
                    self.changed()
                    await asyncio.sleep(0.5)
                    continue
                if first is not None:
                    SYNC_LATENCY.observe(time.monotonic() - first)
                self.proxier.expire_udp_flows()
        finally:
            await self.proxier.close()
