"""ClusterIP and NodePort allocation through a real apiserver on a real etcd.

Concurrency is tested where it matters: many creates at once, through two
apiservers sharing one etcd, in a range small enough that collisions would
happen if allocation were not atomic.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from apimachinery import errors
from apimachinery.scheme import lookup
from client.api import APIClient
from tests.processes import ApiserverProcess, EtcdProcess

pytestmark = pytest.mark.etcd

SERVICES = lookup("", "v1", "services")


def service(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("ports", [{"port": 80, "protocol": "TCP"}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


async def test_allocate_conflict_and_free(api: APIClient) -> None:
    kubernetes = await api.get(SERVICES, "kubernetes", namespace="default")
    assert kubernetes["spec"]["clusterIP"] == "10.96.0.1"

    web = await api.create(SERVICES, service("web"), namespace="default")
    ip = web["spec"]["clusterIP"]
    assert ipaddress.IPv4Address(ip) in ipaddress.IPv4Network("10.96.0.0/12")
    assert web["spec"]["clusterIPs"] == [ip]

    # the first address is the kubernetes Service's
    with pytest.raises(errors.Invalid) as e:
        await api.create(SERVICES, service("taken", clusterIP="10.96.0.1"), namespace="default")
    assert e.value.code == 422
    assert 'Service "taken" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.1"}' in (
        str(e.value)
    )
    assert "provided IP is already allocated" in str(e.value)

    with pytest.raises(errors.Invalid) as e:
        await api.create(SERVICES, service("far", clusterIP="192.168.0.1"), namespace="default")
    assert "The range of valid IPs is 10.96.0.0/12" in str(e.value)

    dns = await api.create(
        SERVICES, service("dns", clusterIP="10.96.0.10"), namespace="kube-system"
    )
    assert dns["spec"]["clusterIP"] == "10.96.0.10"

    headless = await api.create(SERVICES, service("db", clusterIP="None"), namespace="default")
    assert headless["spec"]["clusterIP"] == "None"

    # deleting frees the IP for the next Service that asks for it
    await api.delete(SERVICES, "web", namespace="default")
    again = await api.create(SERVICES, service("web2", clusterIP=ip), namespace="default")
    assert again["spec"]["clusterIP"] == ip


async def test_node_ports(api: APIClient) -> None:
    np = await api.create(
        SERVICES,
        service(
            "np",
            type="NodePort",
            ports=[{"name": "a", "port": 80}, {"name": "b", "port": 81, "nodePort": 30080}],
        ),
        namespace="default",
    )
    ports = {p["name"]: p["nodePort"] for p in np["spec"]["ports"]}
    assert ports["b"] == 30080 and 30000 <= ports["a"] <= 32767
    with pytest.raises(errors.Invalid) as e:
        await api.create(
            SERVICES,
            service("np2", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]),
            namespace="default",
        )
    assert "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated" in (
        str(e.value)
    )
    lb = await api.create(SERVICES, service("lb", type="LoadBalancer"), namespace="default")
    assert 30000 <= lb["spec"]["ports"][0]["nodePort"] <= 32767

    # switching to ClusterIP frees the node ports
    current = await api.get(SERVICES, "np", namespace="default")
    current["spec"]["type"] = "ClusterIP"
    for port in current["spec"]["ports"]:
        port.pop("nodePort", None)
    await api.update(SERVICES, current)
    reuse = await api.create(
        SERVICES,
        service("np3", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]),
        namespace="default",
    )
    assert reuse["spec"]["ports"][0]["nodePort"] == 30080


@pytest.fixture
def small_range(tmp_path: Path) -> Iterator[list[ApiserverProcess]]:
    """Two apiservers on one etcd with a /26 service range and 40 node ports."""
    etcd = EtcdProcess(tmp_path / "etcd")
    etcd.start()
    servers = []
    for i in range(2):
        work = tmp_path / f"apiserver-{i}"
        work.mkdir()
        server = ApiserverProcess(
            etcd,
            work,
            "--service-cluster-ip-range",
            "10.96.0.0/26",
            "--node-port-range",
            "30000-30039",
        )
        server.start()
        servers.append(server)
    yield servers
    for server in servers:
        server.stop()
    etcd.stop()


@pytest.fixture
async def clients(small_range: list[ApiserverProcess]) -> AsyncIterator[list[APIClient]]:
    result = [APIClient(s.address, timeout=30) for s in small_range]
    for c in result:
        await c.wait_ready()
    yield result
    for c in result:
        await c.close()


async def test_concurrent_creates_never_collide(clients: list[APIClient]) -> None:
    count = 40  # of 61 usable addresses (one is kubernetes'), and 40 node ports

    async def create(i: int) -> dict[str, Any]:
        return await clients[i % 2].create(
            SERVICES, service(f"s{i}", type="NodePort"), namespace="default"
        )

    created = await asyncio.gather(*(create(i) for i in range(count)))
    ips = [s["spec"]["clusterIP"] for s in created]
    ports = [s["spec"]["ports"][0]["nodePort"] for s in created]
    assert len(set(ips)) == count and "10.96.0.1" not in ips
    assert len(set(ports)) == count
    # the node port range is now full: the next NodePort Service is refused
    with pytest.raises(errors.APIError):
        await clients[0].create(SERVICES, service("full", type="NodePort"), namespace="default")
    # and a freed port is available again
    await clients[1].delete(SERVICES, "s0", namespace="default")
    last = await clients[0].create(SERVICES, service("last", type="NodePort"), namespace="default")
    assert last["spec"]["ports"][0]["nodePort"] == ports[0]
