"""Cluster DNS as a process: real apiserver, queries over UDP and TCP on loopback.

Started with `--upstream none`, the server only ever answers: names outside
the cluster domain are REFUSED (forwarding is test_cluster_dns_forward.py's,
with an upstream on loopback).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dnslib import QTYPE, RCODE, DNSRecord  # type: ignore[import-untyped]

from apimachinery.scheme import lookup
from client.api import APIClient
from tests.integration.netprocs import ComponentProcess, start_dns
from tests.polling import eventually
from tests.processes import ApiserverProcess

pytestmark = pytest.mark.etcd

SERVICES = lookup("", "v1", "services")
ENDPOINTS = lookup("", "v1", "endpoints")


@pytest.fixture
def dns(apiserver: ApiserverProcess, tmp_path: Path) -> Iterator[tuple[ComponentProcess, int]]:
    proc, port = start_dns(
        apiserver.address, tmp_path, "--register-ip", "127.0.0.1", "--upstream", "none"
    )
    yield proc, port
    proc.stop()


def query(port: int, name: str, qtype: str = "A", *, tcp: bool = False) -> Any:
    q = DNSRecord.question(name, qtype)
    return DNSRecord.parse(q.send("127.0.0.1", port, tcp=tcp, timeout=2))


async def ask(port: int, name: str, qtype: str = "A", *, tcp: bool = False) -> Any:
    return await asyncio.to_thread(query, port, name, qtype, tcp=tcp)


def service(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("ports", [{"name": "http", "port": 80, "protocol": "TCP"}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


async def test_service_names_answered(api: APIClient, dns: tuple[ComponentProcess, int]) -> None:
    _, port = dns
    web = await api.create(SERVICES, service("web"), namespace="default")
    await api.create(SERVICES, service("db", clusterIP="None"), namespace="default")
    await api.create(
        ENDPOINTS,
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "db"},
            "subsets": [
                {
                    "addresses": [
                        {"ip": "10.112.0.5", "hostname": "db-0"},
                        {"ip": "10.112.0.6", "hostname": "db-1"},
                    ],
                    "ports": [{"name": "http", "port": 5432, "protocol": "TCP"}],
                }
            ],
        },
        namespace="default",
    )
    cluster_ip = web["spec"]["clusterIP"]

    async def web_resolves() -> None:
        reply = await ask(port, "web.default.svc.cluster.local")
        assert [str(r.rdata) for r in reply.rr] == [cluster_ip]

    await eventually(web_resolves, asserts=True, what="web.default resolves")

    async def headless_resolves() -> None:
        reply = await ask(port, "db.default.svc.cluster.local", tcp=True)
        assert sorted(str(r.rdata) for r in reply.rr) == ["10.112.0.5", "10.112.0.6"]

    await eventually(headless_resolves, asserts=True, what="headless db resolves to pod IPs")
    reply = await ask(port, "db-1.db.default.svc.cluster.local")
    assert [str(r.rdata) for r in reply.rr] == ["10.112.0.6"]
    reply = await ask(port, "_http._tcp.db.default.svc.cluster.local", "SRV")
    assert sorted((str(r.rdata.target), r.rdata.port) for r in reply.rr) == [
        ("db-0.db.default.svc.cluster.local.", 5432),
        ("db-1.db.default.svc.cluster.local.", 5432),
    ]
    reply = await ask(port, "nope.default.svc.cluster.local")
    assert reply.header.rcode == RCODE.NXDOMAIN
    reply = await ask(port, "example.org")
    assert reply.header.rcode == RCODE.REFUSED and not reply.rr
    reply = await ask(port, "10-1-2-3.default.pod.cluster.local")
    assert [str(r.rdata) for r in reply.rr] == ["10.1.2.3"]
    assert reply.rr[0].rtype == QTYPE.A

    # a deleted Service disappears from DNS
    await api.delete(SERVICES, "web", namespace="default")

    async def web_gone() -> None:
        reply = await ask(port, "web.default.svc.cluster.local")
        assert reply.header.rcode == RCODE.NXDOMAIN

    await eventually(web_gone, asserts=True, what="deleted web gives NXDOMAIN")


async def test_kube_dns_service_registered(
    api: APIClient, dns: tuple[ComponentProcess, int]
) -> None:
    _, port = dns

    async def registered() -> None:
        svc = await api.get(SERVICES, "kube-dns", namespace="kube-system")
        assert svc["spec"]["clusterIP"] == "10.96.0.10"
        assert {(p["name"], p["protocol"]) for p in svc["spec"]["ports"]} == {
            ("dns", "UDP"),
            ("dns-tcp", "TCP"),
        }
        eps = await api.get(ENDPOINTS, "kube-dns", namespace="kube-system")
        assert eps["subsets"][0]["addresses"] == [{"ip": "127.0.0.1"}]
        assert {p["port"] for p in eps["subsets"][0]["ports"]} == {port}

    await eventually(registered, asserts=True, what="kube-dns Service and Endpoints")

    async def self_resolves() -> None:
        reply = await ask(port, "kube-dns.kube-system.svc.cluster.local")
        assert [str(r.rdata) for r in reply.rr] == ["10.96.0.10"]

    await eventually(self_resolves, asserts=True, what="kube-dns resolves to its ClusterIP")
