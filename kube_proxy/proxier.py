"""The userspace proxy: listeners on Service addresses, spliced to endpoints.

Each frontend (`clusterIP:port`, `nodeIP:nodePort`, TCP or UDP) is a socket
bound directly on that address: the node has `ip route add local <service
CIDR> dev lo`, so every ClusterIP is local to it and no iptables rule is
needed. A new TCP connection is held (reading paused) while a backend is
chosen and connected; a backend that refuses is skipped for the next one. Then
both sockets are spliced by two asyncio protocols that hand each received
buffer to the other side's transport, pausing the reader whenever the writer's
buffer is full (back-pressure, bounded memory), and propagate half-closes.
UDP is proxied per client flow (one connected socket towards the backend per
client address), forgotten after an idle timeout.

`Proxier.apply(frontends)` is the single step the sync loop calls: it opens
what is missing and closes what is no longer wanted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import prometheus_client as prom

from kube_proxy import splice
from kube_proxy.model import Balancer, Endpoint, Frontend, Route

log = logging.getLogger("kube-proxy")

BUFFER_BYTES = 1024 * 1024
_WRITE_COPIES = sys.version_info < (3, 12)
WRITE_HIGH_WATER = 1024 * 1024
CONNECT_TIMEOUT_S = 3.0
MAX_CONNECT_ATTEMPTS = 4
UDP_IDLE_TIMEOUT_S = 30.0
UDP_MAX_FLOWS = 4096

CONNECTIONS = prom.Counter(
    "kubeproxy_connections", "Connections accepted, per service port", ["service"]
)
ACTIVE = prom.Gauge(
    "kubeproxy_active_connections", "Connections open now, per service port", ["service"]
)
BYTES = prom.Counter(
    "kubeproxy_bytes", "Bytes proxied, per service port and direction", ["service", "direction"]
)
ERRORS = prom.Counter(
    "kubeproxy_errors",
    "Connections that found no endpoint or could not reach one, per service port",
    ["service", "reason"],
)


# Which node's endpoints a route may use ("" = any): set by the sync loop from
# the traffic policies.
NodeFilter = Callable[[Route], str]


@dataclass
class Stats:
    bytes_in: int = 0  # client -> backend
    bytes_out: int = 0  # backend -> client


class _Pipe(asyncio.BufferedProtocol):
    """One side of a spliced connection."""

    def __init__(self, conn: _Connection, name: str) -> None:
        self.conn = conn
        self.name = name
        self.transport: asyncio.Transport | None = None
        self.peer: _Pipe | None = None
        self._buf = bytearray(BUFFER_BYTES)
        self._view = memoryview(self._buf)
        self.eof = False
        self.counted = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        self.counted += nbytes
        peer = self.peer
        if peer is not None and peer.transport is not None:
            # Python < 3.12 copies what it cannot send at once, so the buffer can
            # be handed over without a copy; later versions may keep a view.
            peer.transport.write(self._view[:nbytes] if _WRITE_COPIES else self._buf[:nbytes])

    def eof_received(self) -> bool:
        self.eof = True
        peer = self.peer
        if peer is None or peer.transport is None or peer.eof:
            self.conn.close()
            return False
        if peer.transport.can_write_eof():
            peer.transport.write_eof()
            return True  # keep our write side open: the other direction may go on
        self.conn.close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.conn.close()

    # back-pressure: our transport's buffer is full -> stop reading the peer
    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


class _Connection:
    """A client connection and its backend connection."""

    def __init__(self, proxier: Proxier, frontend: Frontend, route: Route) -> None:
        self.proxier = proxier
        self.frontend = frontend
        self.route = route
        self.client = _Pipe(self, "client")
        self.backend: _Pipe | None = None
        self.closed = False
        self.label = str(route.service_port)
        self.task: asyncio.Task[None] | None = None

    def client_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()  # until a backend is connected
        self.proxier.connections.add(self)
        CONNECTIONS.labels(self.label).inc()
        ACTIVE.labels(self.label).inc()
        self.task = asyncio.get_running_loop().create_task(self._connect(transport))

    async def _connect(self, client: asyncio.Transport) -> None:
        peer = client.get_extra_info("peername") or ("", 0)
        client_ip = str(peer[0])
        loop = asyncio.get_running_loop()
        tried: set[Endpoint] = set()
        node = self.proxier.node_filter(self.route)
        for _ in range(MAX_CONNECT_ATTEMPTS):
            endpoint = self.proxier.balancer.pick(
                self.route.service_port,
                client_ip,
                affinity_timeout_s=self.route.affinity_timeout_s,
                node_name=node,
                exclude=tried,
            )
            if endpoint is None:
                break
            tried.add(endpoint)
            backend = _Pipe(self, "backend")
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    await loop.create_connection(lambda b=backend: b, endpoint.ip, endpoint.port)  # type: ignore[misc]
            except (OSError, TimeoutError) as e:
                log.debug("connect to %s for %s failed: %s", endpoint, self.label, e)
                ERRORS.labels(self.label, "connect").inc()
                continue
            if self.closed:
                if backend.transport is not None:
                    backend.transport.close()
                return
            self.backend = backend
            backend.peer = self.client
            self.client.peer = backend
            _nodelay(client)
            _nodelay(backend.transport)
            client.resume_reading()
            return
        if not tried:
            ERRORS.labels(self.label, "no_endpoints").inc()
            log.debug("no endpoint for %s, closing the connection", self.label)
        # Nothing to talk to: a reset tells the client at once.
        client.abort()
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.proxier.connections.discard(self)
        ACTIVE.labels(self.label).dec()
        BYTES.labels(self.label, "in").inc(self.client.counted)
        if self.backend is not None:
            BYTES.labels(self.label, "out").inc(self.backend.counted)
        for side in (self.client, self.backend):
            if side is not None and side.transport is not None:
                side.transport.close()
        if self.task is not None and not self.task.done():
            self.task.cancel()


class _ClientPipe(_Pipe):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.conn.client_made(transport)


def _nodelay(transport: asyncio.BaseTransport | None) -> None:
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _UDPFlow(asyncio.DatagramProtocol):
    """One client's datagrams to one backend, answers back to the client."""

    def __init__(self, listener: _UDPListener, client: tuple[str, int]) -> None:
        self.listener = listener
        self.client = client
        self.transport: asyncio.DatagramTransport | None = None
        self.last_used = time.monotonic()
        self.pending: list[bytes] = []
        self.opening: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        for data in self.pending:
            self.transport.sendto(data)
        self.pending.clear()

    def send(self, data: bytes) -> None:
        self.last_used = time.monotonic()
        if self.transport is None:
            if len(self.pending) < 64:
                self.pending.append(data)
        else:
            self.transport.sendto(data)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.last_used = time.monotonic()
        BYTES.labels(self.listener.label, "out").inc(len(data))
        if self.listener.transport is not None:
            self.listener.transport.sendto(data, self.client)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp flow %s: %s", self.client, exc)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _UDPListener(asyncio.DatagramProtocol):
    def __init__(self, proxier: Proxier, frontend: Frontend, route: Route) -> None:
        self.proxier = proxier
        self.frontend = frontend
        self.route = route
        self.label = str(route.service_port)
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[tuple[str, int], _UDPFlow] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        client = (str(addr[0]), int(addr[1]))
        BYTES.labels(self.label, "in").inc(len(data))
        flow = self.flows.get(client)
        if flow is None:
            endpoint = self.proxier.balancer.pick(
                self.route.service_port,
                client[0],
                affinity_timeout_s=self.route.affinity_timeout_s,
                node_name=self.proxier.node_filter(self.route),
            )
            if endpoint is None:
                ERRORS.labels(self.label, "no_endpoints").inc()
                return
            if len(self.flows) >= UDP_MAX_FLOWS:
                oldest = min(self.flows.values(), key=lambda f: f.last_used)
                self._drop(oldest)
            CONNECTIONS.labels(self.label).inc()
            flow = _UDPFlow(self, client)
            self.flows[client] = flow
            flow.opening = asyncio.get_running_loop().create_task(self._open(flow, endpoint))
        flow.send(data)

    async def _open(self, flow: _UDPFlow, endpoint: Endpoint) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_datagram_endpoint(
                lambda: flow, remote_addr=(endpoint.ip, endpoint.port)
            )
        except OSError as e:
            ERRORS.labels(self.label, "connect").inc()
            log.debug("udp flow to %s failed: %s", endpoint, e)
            self._drop(flow)

    def _drop(self, flow: _UDPFlow) -> None:
        if self.flows.get(flow.client) is flow:
            del self.flows[flow.client]
        flow.close()

    def expire(self, now: float) -> None:
        for flow in [f for f in self.flows.values() if now - f.last_used > UDP_IDLE_TIMEOUT_S]:
            self._drop(flow)

    def close(self) -> None:
        for flow in list(self.flows.values()):
            self._drop(flow)
        if self.transport is not None:
            self.transport.close()


class _SpliceConnection:
    """A client connection being connected to a backend, then spliced (Linux)."""

    def __init__(self, listener: _SpliceListener, sock: socket.socket, client_ip: str) -> None:
        self.listener = listener
        self.proxier = listener.proxier
        self.sock = sock
        self.client_ip = client_ip
        self.label = listener.label
        self.splice: splice.Splice | None = None
        self.closed = False
        self.task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        route = self.listener.route
        node = self.proxier.node_filter(route)
        tried: set[Endpoint] = set()
        for _ in range(MAX_CONNECT_ATTEMPTS):
            endpoint = self.proxier.balancer.pick(
                route.service_port,
                self.client_ip,
                affinity_timeout_s=route.affinity_timeout_s,
                node_name=node,
                exclude=tried,
            )
            if endpoint is None:
                break
            tried.add(endpoint)
            backend = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            backend.setblocking(False)
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    await loop.sock_connect(backend, (endpoint.ip, endpoint.port))
            except (OSError, TimeoutError) as e:
                backend.close()
                log.debug("connect to %s for %s failed: %s", endpoint, self.label, e)
                ERRORS.labels(self.label, "connect").inc()
                continue
            except BaseException:
                backend.close()
                raise
            for s in (self.sock, backend):
                with contextlib.suppress(OSError):
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self.splice = splice.Splice(loop, self.sock, backend, self._spliced_closed)
            except OSError as e:  # out of file descriptors for the pipes
                backend.close()
                log.warning("cannot splice a connection for %s: %s", self.label, e)
                break
            self.splice.start()
            return
        if not tried:
            ERRORS.labels(self.label, "no_endpoints").inc()
        splice.reset(self.sock)
        self._finish()

    def _spliced_closed(self, up: int, down: int) -> None:
        BYTES.labels(self.label, "in").inc(up)
        BYTES.labels(self.label, "out").inc(down)
        self._finish()

    def _finish(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.proxier.connections.discard(self)
        ACTIVE.labels(self.label).dec()

    def close(self) -> None:
        if self.splice is not None:
            self.splice.close()
        else:
            if self.task is not None and not self.task.done():
                self.task.cancel()
            with contextlib.suppress(OSError):
                self.sock.close()
            self._finish()


class _SpliceListener:
    """A listening socket whose connections are spliced with `splice(2)`."""

    def __init__(self, proxier: Proxier, frontend: Frontend, route: Route) -> None:
        self.proxier = proxier
        self.frontend = frontend
        self.route = route
        self.label = str(route.service_port)
        self.loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((frontend.ip, frontend.port))
            sock.listen(1024)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self.loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        for _ in range(64):
            try:
                conn, addr = self.sock.accept()
            except BlockingIOError:
                return
            except OSError as e:
                if splice.is_transient_accept_error(e):
                    log.warning("accept on %s failed: %s", self.label, e)
                    return
                raise
            conn.setblocking(False)
            CONNECTIONS.labels(self.label).inc()
            ACTIVE.labels(self.label).inc()
            c = _SpliceConnection(self, conn, str(addr[0]))
            self.proxier.connections.add(c)
            c.task = self.loop.create_task(c.connect())

    def close(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()


@dataclass
class _Listener:
    route: Route
    server: asyncio.Server | None = None
    udp: _UDPListener | None = None
    spliced: _SpliceListener | None = None

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        if self.spliced is not None:
            self.spliced.close()
        if self.udp is not None:
            self.udp.close()


class Proxier:
    """Owns the listeners and the live connections of one kube-proxy."""

    def __init__(
        self,
        *,
        node_name: str = "",
        node_filter: NodeFilter | None = None,
        use_splice: bool = splice.AVAILABLE,
    ) -> None:
        self.node_name = node_name
        self.use_splice = use_splice
        self.balancer = Balancer()
        self.node_filter: NodeFilter = node_filter or (lambda _route: "")
        self.listeners: dict[Frontend, _Listener] = {}
        self.failed: dict[Frontend, str] = {}
        self.connections: set[_Connection | _SpliceConnection] = set()

    async def apply(self, wanted: dict[Frontend, Route]) -> None:
        """Open missing listeners, close unwanted ones, re-route changed ones."""
        for frontend in list(self.listeners):
            listener = self.listeners[frontend]
            if frontend not in wanted or wanted[frontend] != listener.route:
                listener.close()
                del self.listeners[frontend]
                log.info(
                    "stopped listening on %s %s:%d", frontend.protocol, frontend.ip, frontend.port
                )
        for frontend in list(self.failed):
            if frontend not in wanted:
                del self.failed[frontend]
        for frontend, route in wanted.items():
            if frontend in self.listeners:
                continue
            try:
                self.listeners[frontend] = await self._listen(frontend, route)
            except OSError as e:
                if self.failed.get(frontend) != str(e):
                    log.warning(
                        "cannot listen on %s %s:%d for %s: %s",
                        frontend.protocol,
                        frontend.ip,
                        frontend.port,
                        route.service_port,
                        e,
                    )
                self.failed[frontend] = str(e)
                continue
            self.failed.pop(frontend, None)
            log.info(
                "listening on %s %s:%d for %s",
                frontend.protocol,
                frontend.ip,
                frontend.port,
                route.service_port,
            )

    async def _listen(self, frontend: Frontend, route: Route) -> _Listener:
        loop = asyncio.get_running_loop()
        if frontend.protocol == "UDP":
            udp = _UDPListener(self, frontend, route)
            await loop.create_datagram_endpoint(
                lambda: udp, local_addr=(frontend.ip, frontend.port), reuse_port=False
            )
            return _Listener(route, udp=udp)
        if self.use_splice:
            return _Listener(route, spliced=_SpliceListener(self, frontend, route))

        def factory() -> asyncio.BaseProtocol:
            conn = _Connection(self, frontend, route)
            pipe = _ClientPipe(conn, "client")
            conn.client = pipe
            return pipe

        server = await loop.create_server(
            factory, frontend.ip, frontend.port, reuse_address=True, backlog=1024
        )
        return _Listener(route, server=server)

    def expire_udp_flows(self) -> None:
        now = time.monotonic()
        for listener in self.listeners.values():
            if listener.udp is not None:
                listener.udp.expire(now)

    async def close(self) -> None:
        for listener in self.listeners.values():
            listener.close()
        self.listeners.clear()
        for conn in list(self.connections):
            conn.close()
