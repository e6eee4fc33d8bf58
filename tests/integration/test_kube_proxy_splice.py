"""The proxier's sockets on loopback: TCP splice, failover, half-close, UDP flows.

Frontends are bound on 127.0.0.x addresses (local on lo like the service
CIDR is on a node) and backends are asyncio servers on 127.0.0.1; no other
address is used.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator

import pytest

from kube_proxy import splice
from kube_proxy.model import Endpoint, Frontend, Route, ServicePortName
from kube_proxy.proxier import Proxier
from tests.polling import eventually
from tests.processes import free_port

SPN = ServicePortName("default", "echo", "", "TCP")
UDP_SPN = ServicePortName("default", "echo", "", "UDP")


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.write_eof()  # half-close: echo everything, then say we are done
        await writer.drain()
    finally:
        writer.close()


@pytest.fixture
async def backend() -> AsyncIterator[int]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()


@pytest.fixture(params=[True, False], ids=["splice", "protocols"])
async def proxier(request: pytest.FixtureRequest) -> AsyncIterator[Proxier]:
    if request.param and not splice.AVAILABLE:
        pytest.skip("os.splice is Linux only")
    p = Proxier(use_splice=request.param)
    yield p
    await p.close()


async def test_tcp_splice_with_failover_and_half_close(proxier: Proxier, backend: int) -> None:
    dead = free_port()  # nothing listens there: the connect is refused
    proxier.balancer.update({SPN: [Endpoint("127.0.0.1", dead), Endpoint("127.0.0.1", backend)]})
    front = Frontend("127.0.0.3", free_port(), "TCP")
    await proxier.apply({front: Route(SPN, external=False)})
    payload = os.urandom(3 * 1024 * 1024)
    for _ in range(4):  # round robin hits the dead endpoint half of the time
        reader, writer = await asyncio.open_connection(front.ip, front.port)
        writer.write(payload)
        writer.write_eof()
        echoed = await asyncio.wait_for(reader.read(-1), 30)
        assert echoed == payload
        writer.close()
    await asyncio.sleep(0)
    assert not proxier.connections or all(c.closed for c in proxier.connections)


async def test_no_endpoint_resets_and_listener_goes_away(proxier: Proxier) -> None:
    front = Frontend("127.0.0.3", free_port(), "TCP")
    await proxier.apply({front: Route(SPN, external=False)})
    reader, writer = await asyncio.open_connection(front.ip, front.port)
    with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
        data = await asyncio.wait_for(reader.read(10), 10)
        if data == b"":
            raise asyncio.IncompleteReadError(b"", 1)
    writer.close()
    await proxier.apply({})
    with pytest.raises(OSError):
        await asyncio.open_connection(front.ip, front.port)


async def test_udp_flow(proxier: Proxier) -> None:
    loop = asyncio.get_running_loop()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.transport.sendto(b"re:" + data, addr)  # type: ignore[attr-defined]

    server, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    port = server.get_extra_info("sockname")[1]
    proxier.balancer.update({UDP_SPN: [Endpoint("127.0.0.1", port)]})
    front = Frontend("127.0.0.3", free_port(), "UDP")
    await proxier.apply({front: Route(UDP_SPN, external=False)})
    answers: asyncio.Queue[bytes] = asyncio.Queue()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            answers.put_nowait(data)

    client, _ = await loop.create_datagram_endpoint(Client, remote_addr=(front.ip, front.port))
    try:
        for i in range(3):
            client.sendto(f"ping{i}".encode())
            assert await asyncio.wait_for(answers.get(), 10) == f"re:ping{i}".encode()
    finally:
        client.close()
        server.close()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_no_fd_leak_over_10000_short_connections(proxier: Proxier, backend: int) -> None:
    if sys.platform != "linux":
        pytest.skip("needs /proc")
    proxier.balancer.update({SPN: [Endpoint("127.0.0.1", backend)]})
    front = Frontend("127.0.0.3", free_port(), "TCP")
    await proxier.apply({front: Route(SPN, external=False)})

    async def one() -> None:
        reader, writer = await asyncio.open_connection(front.ip, front.port)
        writer.write(b"ping")
        writer.write_eof()
        assert await reader.read(-1) == b"ping"
        writer.close()
        await writer.wait_closed()

    await one()
    before = _open_fds()
    for _ in range(1000):
        await asyncio.gather(*(one() for _ in range(10)))

    async def settled() -> None:
        assert not proxier.connections
        assert _open_fds() <= before + 2

    await eventually(settled, asserts=True, what="every proxied connection closed")
