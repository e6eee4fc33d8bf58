"""Cluster DNS: names to answers, and the wire format of those answers."""

from __future__ import annotations

from typing import Any

from dnslib import QTYPE, RCODE, DNSRecord  # type: ignore[import-untyped]

from cluster_dns.resolver import NOERROR, NXDOMAIN, REFUSED, Record, Resolver
from cluster_dns.server import answer_packet


class Store:
    def __init__(self, *objs: dict[str, Any]) -> None:
        self.objs = {f"{o['metadata']['namespace']}/{o['metadata']['name']}": o for o in objs}

    def get_by_key(self, key: str) -> dict[str, Any] | None:
        return self.objs.get(key)


def svc(name: str, ns: str = "default", **spec: Any) -> dict[str, Any]:
    spec.setdefault("ports", [{"name": "http", "port": 80, "protocol": "TCP"}])
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def eps(name: str, addresses: list[dict[str, Any]], ns: str = "default") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns},
        "subsets": [
            {
                "addresses": addresses,
                "notReadyAddresses": [{"ip": "10.112.0.99"}],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            }
        ],
    }


RESOLVER = Resolver(
    services=Store(
        svc("web", clusterIP="10.96.10.1"),
        svc("db", clusterIP="None"),
        svc("ext", type="ExternalName", externalName="example.org", ports=[]),
        svc("alias", type="ExternalName", externalName="web.default.svc.cluster.local", ports=[]),
        svc("kube-dns", "kube-system", clusterIP="10.96.0.10"),
    ),
    endpoints=Store(
        eps("db", [{"ip": "10.112.0.5", "hostname": "db-0"}, {"ip": "10.112.0.6"}]),
    ),
)


def a_values(name: str) -> list[str]:
    answer = RESOLVER.resolve(name, "A")
    assert answer.rcode == NOERROR, answer
    return [r.value for r in answer.records]


def test_cluster_ip_service() -> None:
    assert a_values("web.default.svc.cluster.local.") == ["10.96.10.1"]
    assert a_values("KUBE-DNS.kube-system.svc.cluster.local") == ["10.96.0.10"]


def test_headless_service_gives_ready_pod_ips() -> None:
    assert a_values("db.default.svc.cluster.local") == ["10.112.0.5", "10.112.0.6"]
    assert a_values("db-0.db.default.svc.cluster.local") == ["10.112.0.5"]
    assert a_values("10-112-0-6.db.default.svc.cluster.local") == ["10.112.0.6"]
    assert RESOLVER.resolve("db-1.db.default.svc.cluster.local", "A").rcode == NXDOMAIN


def test_external_name_is_a_cname() -> None:
    answer = RESOLVER.resolve("ext.default.svc.cluster.local", "A")
    assert answer.records == [Record("ext.default.svc.cluster.local", "CNAME", "example.org")]
    # a target inside the cluster domain is chased in the same answer
    answer = RESOLVER.resolve("alias.default.svc.cluster.local", "A")
    assert [(r.type, r.value) for r in answer.records] == [
        ("CNAME", "web.default.svc.cluster.local"),
        ("A", "10.96.10.1"),
    ]


def test_srv_for_named_ports() -> None:
    answer = RESOLVER.resolve("_http._tcp.web.default.svc.cluster.local", "SRV")
    assert [(r.value, r.port) for r in answer.records] == [("web.default.svc.cluster.local", 80)]
    assert [r.value for r in answer.additional] == ["10.96.10.1"]
    answer = RESOLVER.resolve("_http._tcp.db.default.svc.cluster.local", "SRV")
    assert [(r.value, r.port) for r in answer.records] == [
        ("db-0.db.default.svc.cluster.local", 8080),
        ("10-112-0-6.db.default.svc.cluster.local", 8080),
    ]
    assert RESOLVER.resolve("_nope._tcp.web.default.svc.cluster.local", "SRV").rcode == NXDOMAIN


def test_pod_names() -> None:
    assert a_values("10-112-0-7.default.pod.cluster.local") == ["10.112.0.7"]
    assert RESOLVER.resolve("x-y.default.pod.cluster.local", "A").rcode == NXDOMAIN


def test_search_path_and_foreign_names() -> None:
    # what a pod in "default" asks first for `web.default` and for `redis`
    assert RESOLVER.resolve("web.default.default.svc.cluster.local", "A").rcode == NXDOMAIN
    assert RESOLVER.resolve("redis.default.svc.cluster.local", "A").rcode == NXDOMAIN
    assert RESOLVER.resolve("web.default.cluster.local", "A").rcode == NXDOMAIN
    assert RESOLVER.resolve("example.org", "A").rcode == REFUSED
    empty = RESOLVER.resolve("web.default.svc.cluster.local", "AAAA")
    assert empty.rcode == NOERROR and empty.records == []


def test_wire_format() -> None:
    query = DNSRecord.question("web.default.svc.cluster.local", "A")
    result = answer_packet(RESOLVER, bytes(query.pack()))
    assert result is not None
    reply = DNSRecord.parse(result[0])
    assert reply.header.id == query.header.id
    assert [str(rr.rdata) for rr in reply.rr] == ["10.96.10.1"]
    assert reply.rr[0].ttl == 5
    nx = DNSRecord.parse(
        answer_packet(RESOLVER, bytes(DNSRecord.question("nope.default.svc.cluster.local").pack()))[
            0
        ]  # type: ignore[index]
    )
    assert nx.header.rcode == RCODE.NXDOMAIN
    assert nx.auth and nx.auth[0].rtype == QTYPE.SOA
    assert answer_packet(RESOLVER, b"garbage") is None
