"""kube-proxy as a process on a real apiserver, all on loopback.

The apiserver's service CIDR is 127.96.0.0/16 here: loopback addresses are
local on lo exactly as `ip route add local 10.96.0.0/12 dev lo` makes the real
service range local in a node container, so kube-proxy binds ClusterIPs the
same way without NET_ADMIN. Backends are echo servers on 127.0.0.1 behind
selector-less Services with hand-written Endpoints; NodePorts listen on the
"node IP" 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from apimachinery.scheme import lookup
from client.api import APIClient
from tests.integration.netprocs import ComponentProcess
from tests.polling import eventually
from tests.processes import ApiserverProcess, EtcdProcess

pytestmark = pytest.mark.etcd

SERVICES = lookup("", "v1", "services")
ENDPOINTS = lookup("", "v1", "endpoints")
SERVICE_CIDR = "127.96.0.0/16"


@pytest.fixture
def apiserver_lo(etcd: EtcdProcess, tmp_path: Path) -> Iterator[ApiserverProcess]:
    proc = ApiserverProcess(etcd, tmp_path, "--service-cluster-ip-range", SERVICE_CIDR)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
async def api_lo(apiserver_lo: ApiserverProcess) -> AsyncIterator[APIClient]:
    client = APIClient(apiserver_lo.address, timeout=10)
    await client.wait_ready()
    yield client
    await client.close()


@pytest.fixture
def kube_proxy(apiserver_lo: ApiserverProcess, tmp_path: Path) -> Iterator[ComponentProcess]:
    proc = ComponentProcess(
        "kube_proxy",
        apiserver_lo.address,
        tmp_path,
        "--node-name",
        "node-a",
        "--node-ip",
        "127.0.0.1",
    )
    proc.start()
    yield proc
    proc.stop()


class Backends:
    """TCP servers answering their name, and UDP servers echoing with it."""

    def __init__(self) -> None:
        self.ports: dict[str, int] = {}
        self.udp_ports: dict[str, int] = {}
        self._servers: list[asyncio.Server] = []
        self._udp: list[asyncio.BaseTransport] = []

    async def start(self, *names: str) -> None:
        loop = asyncio.get_running_loop()
        for name in names:

            async def handle(
                reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str = name
            ) -> None:
                writer.write(name.encode())
                await writer.drain()
                writer.close()

            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            self._servers.append(server)
            self.ports[name] = int(server.sockets[0].getsockname()[1])

            class Echo(asyncio.DatagramProtocol):
                def connection_made(self, transport: asyncio.BaseTransport) -> None:
                    self.transport = transport

                def datagram_received(
                    self, data: bytes, addr: tuple[str, int], name: str = name
                ) -> None:
                    self.transport.sendto(name.encode() + b":" + data, addr)  # type: ignore[attr-defined]

            transport, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
            self._udp.append(transport)
            self.udp_ports[name] = int(transport.get_extra_info("sockname")[1])

    def close(self) -> None:
        for server in self._servers:
            server.close()
        for transport in self._udp:
            transport.close()


@pytest.fixture
async def backends() -> AsyncIterator[Backends]:
    b = Backends()
    await b.start("alpha", "beta")
    yield b
    b.close()


def _service(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault(
        "ports",
        [
            {"name": "tcp", "port": 80, "protocol": "TCP"},
            {"name": "udp", "port": 53, "protocol": "UDP"},
        ],
    )
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def _endpoints(name: str, backends: Backends, names: list[str]) -> dict[str, Any]:
    # One subset per backend: each has its own ports on 127.0.0.1.
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name, "namespace": "default"},
        "subsets": [
            {
                "addresses": [{"ip": "127.0.0.1", "nodeName": "node-a"}],
                "ports": [
                    {"name": "tcp", "port": backends.ports[n], "protocol": "TCP"},
                    {"name": "udp", "port": backends.udp_ports[n], "protocol": "UDP"},
                ],
            }
            for n in names
        ],
    }


async def who(ip: str, port: int) -> str:
    reader, writer = await asyncio.open_connection(ip, port)
    try:
        return (await asyncio.wait_for(reader.read(100), 5)).decode()
    finally:
        writer.close()


async def udp_who(ip: str, port: int) -> str:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if not answer.done():
                answer.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=(ip, port))
    try:
        transport.sendto(b"hi")
        return (await asyncio.wait_for(answer, 1)).decode()
    finally:
        transport.close()


async def test_cluster_ip_spreads_load_and_follows_endpoints(
    api_lo: APIClient, kube_proxy: ComponentProcess, backends: Backends
) -> None:
    svc = await api_lo.create(SERVICES, _service("web"), namespace="default")
    ip = svc["spec"]["clusterIP"]
    await api_lo.create(
        ENDPOINTS, _endpoints("web", backends, ["alpha", "beta"]), namespace="default"
    )

    async def both_answer() -> None:
        seen = {await who(ip, 80) for _ in range(10)}
        assert seen == {"alpha", "beta"}

    await eventually(both_answer, asserts=True, what="both endpoints answer on the ClusterIP")

    async def udp_answers() -> None:
        assert (await udp_who(ip, 53)).endswith(":hi")

    await eventually(udp_answers, asserts=True, what="UDP through the ClusterIP")

    # an endpoint removed stops receiving new connections
    current = await api_lo.get(ENDPOINTS, "web", namespace="default")
    current["subsets"] = _endpoints("web", backends, ["beta"])["subsets"]
    await api_lo.update(ENDPOINTS, current)

    async def only_beta() -> None:
        assert {await who(ip, 80) for _ in range(6)} == {"beta"}

    await eventually(only_beta, asserts=True, what="the removed endpoint gets no traffic")

    # no endpoint at all: connections are refused or reset, never hang
    current = await api_lo.get(ENDPOINTS, "web", namespace="default")
    current["subsets"] = []
    await api_lo.update(ENDPOINTS, current)

    async def refused() -> None:
        try:
            got = await who(ip, 80)
        except ConnectionError:
            return
        assert got == "", got

    await eventually(refused, asserts=True, what="no endpoint: the connection is closed")

    # the Service deleted: nothing listens on its IP any more
    await api_lo.delete(SERVICES, "web", namespace="default")

    async def gone() -> None:
        # Not pytest.raises: its failure is not an AssertionError, so
        # eventually() would not retry while kube-proxy catches up.
        try:
            _, writer = await asyncio.open_connection(ip, 80)
        except OSError:
            return
        writer.close()
        raise AssertionError(f"{ip}:80 still accepts connections")

    await eventually(gone, asserts=True, what="the ClusterIP listener closed")


async def test_node_port_and_session_affinity(
    api_lo: APIClient, kube_proxy: ComponentProcess, backends: Backends
) -> None:
    svc = await api_lo.create(
        SERVICES,
        _service("sticky", type="NodePort", sessionAffinity="ClientIP"),
        namespace="default",
    )
    node_port = next(p["nodePort"] for p in svc["spec"]["ports"] if p["name"] == "tcp")
    await api_lo.create(
        ENDPOINTS, _endpoints("sticky", backends, ["alpha", "beta"]), namespace="default"
    )

    async def sticks() -> None:
        seen = [await who("127.0.0.1", node_port) for _ in range(8)]
        assert len(set(seen)) == 1 and seen[0] in ("alpha", "beta"), seen

    await eventually(sticks, asserts=True, what="NodePort with ClientIP affinity")
    ip = svc["spec"]["clusterIP"]
    assert len({await who(ip, 80) for _ in range(8)}) == 1

    metrics = await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"{kube_proxy.health_url}/metrics", timeout=5).read()
    )
    assert b'kubeproxy_connections_total{service="default/sticky:tcp"}' in metrics


async def test_restart_serves_again(
    api_lo: APIClient,
    apiserver_lo: ApiserverProcess,
    backends: Backends,
    tmp_path: Path,
) -> None:
    svc = await api_lo.create(SERVICES, _service("web"), namespace="default")
    ip = svc["spec"]["clusterIP"]
    await api_lo.create(ENDPOINTS, _endpoints("web", backends, ["alpha"]), namespace="default")
    proc = ComponentProcess(
        "kube_proxy", apiserver_lo.address, tmp_path, "--node-name", "n", "--no-node-ports"
    )
    proc.start()
    try:

        async def serves() -> None:
            assert await who(ip, 80) == "alpha"

        await eventually(serves, asserts=True, what="served before the kill")
        proc.kill()
        # Issue 6: new connections work again within 2 s of the restart (it
        # takes 0.3-0.6 s here, most of it Python starting up).
        restarted = time.monotonic()
        proc.start()
        await eventually(serves, asserts=True, within=10, what="served again after a restart")
        elapsed = time.monotonic() - restarted
        assert elapsed <= 2.0, f"new connections served {elapsed:.2f} s after the restart"
    finally:
        proc.stop()


async def test_traffic_policy_local(
    api_lo: APIClient, kube_proxy: ComponentProcess, backends: Backends
) -> None:
    """externalTrafficPolicy: Local: a NodePort only uses this node's endpoints
    (node-a here); ClusterIP traffic (internal policy Cluster) uses all."""
    svc = await api_lo.create(
        SERVICES,
        _service("local", type="NodePort", externalTrafficPolicy="Local"),
        namespace="default",
    )
    node_port = next(p["nodePort"] for p in svc["spec"]["ports"] if p["name"] == "tcp")
    eps = _endpoints("local", backends, ["alpha", "beta"])
    eps["subsets"][1]["addresses"][0]["nodeName"] = "node-b"  # beta runs elsewhere
    await api_lo.create(ENDPOINTS, eps, namespace="default")
    ip = svc["spec"]["clusterIP"]

    async def cluster_wide() -> None:
        assert {await who(ip, 80) for _ in range(8)} == {"alpha", "beta"}

    await eventually(cluster_wide, asserts=True, what="ClusterIP uses both endpoints")
    assert {await who("127.0.0.1", node_port) for _ in range(8)} == {"alpha"}
