"""What kube-proxy should serve, computed from Services and Endpoints (no I/O).

`desired_frontends` turns the Services into the addresses this node must
listen on (every `clusterIP:port`, and every NodePort on the node's IP), each
routed to a service port. `service_endpoints` reads an Endpoints object into
the ready backends of one service port, honouring the traffic policies
(`internalTrafficPolicy: Local` for ClusterIP traffic, `externalTrafficPolicy:
Local` for NodePorts: only endpoints on this node). `Balancer` picks a backend
per new connection: round robin, or the same one per client IP for
`sessionAffinity: ClientIP` until the affinity times out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
DEFAULT_AFFINITY_TIMEOUT_S = 10800  # upstream's sessionAffinityConfig default


@dataclass(frozen=True, order=True)
class ServicePortName:
    """One port of one Service: `default/web:http`."""

    namespace: str
    name: str
    port: str  # the port's name ("" for a single unnamed port)
    protocol: str = "TCP"

    def __str__(self) -> str:
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port}" if self.port else base


@dataclass(frozen=True, order=True)
class Frontend:
    """An address kube-proxy listens on."""

    ip: str
    port: int
    protocol: str  # TCP or UDP


@dataclass(frozen=True)
class Route:
    """Where connections to a frontend go."""

    service_port: ServicePortName
    external: bool  # NodePort traffic (externalTrafficPolicy) vs ClusterIP traffic
    affinity_timeout_s: int = 0  # 0: no session affinity


@dataclass(frozen=True, order=True)
class Endpoint:
    ip: str
    port: int
    node_name: str = ""

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


def is_proxied(svc: JSON) -> bool:
    """ExternalName and headless Services have no virtual IP to serve."""
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return False
    ip = spec.get("clusterIP") or ""
    return bool(ip) and ip != "None"


def affinity_timeout(spec: JSON) -> int:
    if spec.get("sessionAffinity") != "ClientIP":
        return 0
    config = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
    return int(config.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT_S)


def desired_frontends(services: Iterable[JSON], node_ip: str) -> dict[Frontend, Route]:
    """Every listener this node needs, for the given Services."""
    wanted: dict[Frontend, Route] = {}
    for svc in services:
        if not is_proxied(svc):
            continue
        meta = svc.get("metadata") or {}
        spec = svc.get("spec") or {}
        timeout = affinity_timeout(spec)
        node_ports = spec.get("type") in ("NodePort", "LoadBalancer")
        for port in spec.get("ports") or []:
            protocol = str(port.get("protocol") or "TCP")
            if protocol not in ("TCP", "UDP"):
                continue  # SCTP is not proxied
            spn = ServicePortName(
                str(meta.get("namespace", "")),
                str(meta.get("name", "")),
                port.get("name") or "",
                protocol,
            )
            wanted[Frontend(spec["clusterIP"], int(port["port"]), protocol)] = Route(
                spn, external=False, affinity_timeout_s=timeout
            )
            for extra_ip in spec.get("externalIPs") or []:
                wanted[Frontend(str(extra_ip), int(port["port"]), protocol)] = Route(
                    spn, external=True, affinity_timeout_s=timeout
                )
            if node_ports and port.get("nodePort") and node_ip:
                wanted[Frontend(node_ip, int(port["nodePort"]), protocol)] = Route(
                    spn, external=True, affinity_timeout_s=timeout
                )
    return wanted


def service_endpoints(
    svc: JSON | None, endpoints: JSON | None, spn: ServicePortName
) -> list[Endpoint]:
    """The ready backends of one service port, from the Endpoints object."""
    if not endpoints:
        return []
    result: set[Endpoint] = set()
    for subset in endpoints.get("subsets") or []:
        ports = subset.get("ports") or []
        target = None
        for p in ports:
            if (p.get("name") or "") == spn.port and (p.get("protocol") or "TCP") == spn.protocol:
                target = int(p["port"])
                break
        if target is None and len(ports) == 1 and not spn.port:
            target = int(ports[0]["port"])
        if target is None:
            continue
        for address in subset.get("addresses") or []:
            result.add(Endpoint(str(address["ip"]), target, str(address.get("nodeName") or "")))
    return sorted(result)


def local_only(svc: JSON | None, route: Route) -> bool:
    """Whether this route may only use endpoints on this node (traffic policy Local)."""
    spec = (svc or {}).get("spec") or {}
    if route.external:
        return spec.get("externalTrafficPolicy") == "Local"
    return spec.get("internalTrafficPolicy") == "Local"


@dataclass
class _PortState:
    endpoints: list[Endpoint] = field(default_factory=list)
    next_index: int = 0
    # client IP -> (endpoint, last used)
    affinity: dict[str, tuple[Endpoint, float]] = field(default_factory=dict)


class Balancer:
    """Chooses a backend per new connection (round robin or ClientIP affinity)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ports: dict[ServicePortName, _PortState] = {}

    def update(self, endpoints: Mapping[ServicePortName, list[Endpoint]]) -> list[ServicePortName]:
        """Replace every service port's endpoints; the service ports that changed."""
        changed = []
        for spn in list(self._ports):
            if spn not in endpoints:
                del self._ports[spn]
                changed.append(spn)
        for spn, eps in endpoints.items():
            state = self._ports.setdefault(spn, _PortState())
            if state.endpoints != eps:
                changed.append(spn)
                state.endpoints = list(eps)
                alive = set(eps)
                state.affinity = {c: v for c, v in state.affinity.items() if v[0] in alive}
        return changed

    def endpoints(self, spn: ServicePortName) -> list[Endpoint]:
        state = self._ports.get(spn)
        return list(state.endpoints) if state else []

    def pick(
        self,
        spn: ServicePortName,
        client_ip: str,
        *,
        affinity_timeout_s: int = 0,
        node_name: str = "",
        exclude: frozenset[Endpoint] | set[Endpoint] = frozenset(),
    ) -> Endpoint | None:
        """The backend for a new connection from `client_ip`, or None when there is none.

        `node_name` restricts the choice to that node's endpoints (traffic policy
        Local); `exclude` holds backends that already failed for this connection.
        """
        state = self._ports.get(spn)
        if state is None:
            return None
        candidates = [
            e
            for e in state.endpoints
            if e not in exclude and (not node_name or e.node_name == node_name)
        ]
        if not candidates:
            return None
        now = self._clock()
        if affinity_timeout_s:
            sticky = state.affinity.get(client_ip)
            if sticky and sticky[0] in candidates and now - sticky[1] <= affinity_timeout_s:
                state.affinity[client_ip] = (sticky[0], now)
                return sticky[0]
        chosen = candidates[state.next_index % len(candidates)]
        state.next_index = (state.next_index + 1) % max(len(state.endpoints), 1)
        if affinity_timeout_s:
            state.affinity[client_ip] = (chosen, now)
        return chosen
