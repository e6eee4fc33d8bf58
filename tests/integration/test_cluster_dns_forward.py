"""Cluster DNS forwarding names outside the cluster domain, as a process.

The upstream is a DNS server of this test on loopback (dnslib's), so nothing
leaves the machine: it answers `outside.test` and says NXDOMAIN to the rest,
and records what it was asked, so the test sees what was forwarded and what
was not (cluster names, reverse lookups).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dnslib import QTYPE, RCODE, RR, A, DNSRecord  # type: ignore[import-untyped]
from dnslib.server import BaseResolver, DNSLogger, DNSServer  # type: ignore[import-untyped]

from tests.integration.netprocs import ComponentProcess, start_dns
from tests.polling import eventually
from tests.processes import ApiserverProcess, free_port

pytestmark = pytest.mark.etcd


class _Upstream(BaseResolver):  # type: ignore[misc]
    def __init__(self) -> None:
        self.asked: list[str] = []

    def resolve(self, request: Any, handler: Any) -> Any:
        name = str(request.q.qname)
        self.asked.append(name)
        reply = request.reply()
        if name == "outside.test." and request.q.qtype == QTYPE.A:
            reply.add_answer(RR(name, QTYPE.A, rdata=A("192.0.2.10"), ttl=60))
        elif name != "outside.test.":
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@pytest.fixture
def upstream() -> Iterator[tuple[_Upstream, int]]:
    resolver = _Upstream()
    port = free_port()
    logger = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data")
    servers = [
        DNSServer(resolver, address="127.0.0.1", port=port, tcp=tcp, logger=logger)
        for tcp in (False, True)
    ]
    for server in servers:
        server.start_thread()
    yield resolver, port
    for server in servers:
        server.stop()


def _dns(
    apiserver: ApiserverProcess, tmp_path: Path, upstream: str
) -> tuple[ComponentProcess, int]:
    return start_dns(apiserver.address, tmp_path, "--upstream", upstream)


async def _ask(
    port: int, name: str, qtype: str = "A", *, tcp: bool = False, wait: float = 5
) -> Any:
    q = DNSRecord.question(name, qtype)
    raw = await asyncio.to_thread(q.send, "127.0.0.1", port, tcp=tcp, timeout=wait)
    return DNSRecord.parse(raw)


async def _serving(port: int) -> None:
    """Until the server answers (its health endpoint is up before its caches
    have synced and port 53 is bound)."""
    await eventually(
        lambda: _ask(port, "kubernetes.default.svc.cluster.local", wait=0.5),
        within=30,
        what="the DNS server answering",
    )


async def test_outside_names_go_upstream_and_cluster_names_do_not(
    apiserver: ApiserverProcess, tmp_path: Path, upstream: tuple[_Upstream, int]
) -> None:
    fake, up_port = upstream
    proc, port = _dns(apiserver, tmp_path, f"127.0.0.1:{up_port}")
    try:
        await _serving(port)
        for tcp in (False, True):
            reply = await _ask(port, "outside.test", tcp=tcp)
            assert reply.header.rcode == RCODE.NOERROR
            assert [str(r.rdata) for r in reply.rr] == ["192.0.2.10"]
        reply = await _ask(port, "missing.test")
        assert reply.header.rcode == RCODE.NXDOMAIN  # the upstream's answer, passed on
        # the cluster's own names and reverse lookups are never forwarded
        reply = await _ask(port, "kubernetes.default.svc.cluster.local")
        assert [str(r.rdata) for r in reply.rr] == ["10.96.0.1"]
        reply = await _ask(port, "nope.default.svc.cluster.local")
        assert reply.header.rcode == RCODE.NXDOMAIN
        reply = await _ask(port, "1.0.96.10.in-addr.arpa", "PTR")
        assert reply.header.rcode == RCODE.REFUSED
        assert fake.asked == ["outside.test.", "outside.test.", "missing.test."]
        assert "forwarded to 127.0.0.1:" in proc.logs()
    finally:
        proc.stop()


async def test_no_upstream_refuses_and_a_dead_one_fails(
    apiserver: ApiserverProcess, tmp_path: Path
) -> None:
    proc, port = _dns(apiserver, tmp_path, "none")
    try:
        await _serving(port)
        reply = await _ask(port, "outside.test")
        assert reply.header.rcode == RCODE.REFUSED and not reply.rr
    finally:
        proc.stop()
    # an upstream that never answers (nothing listens there): SERVFAIL, in time
    proc, port = _dns(apiserver, tmp_path, f"127.0.0.1:{free_port()}")
    try:
        await _serving(port)
        reply = await _ask(port, "outside.test")
        assert reply.header.rcode == RCODE.SERVFAIL
    finally:
        proc.stop()
