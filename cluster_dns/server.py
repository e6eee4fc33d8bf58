"""The DNS wire protocol around the resolver: UDP and TCP on port 53.

Packets are parsed and built with dnslib; each question is answered from the
informers' caches by `Resolver.resolve`, so a query costs no API call. A name
outside the cluster domain goes to the upstream servers (cluster_dns.forward),
when there are any; SERVFAIL when none answers.
Malformed packets are dropped (UDP) or end the connection (TCP); a query with
an opcode other than QUERY gets NOTIMP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from typing import Any, cast

import prometheus_client as prom
from dnslib import CNAME, QTYPE, RCODE, RR, SOA, SRV, A, DNSHeader, DNSRecord  # type: ignore[import-untyped]

from cluster_dns.forward import Forwarder, forwardable
from cluster_dns.resolver import REFUSED, Answer, Record, Resolver

log = logging.getLogger("cluster-dns")

QUERIES = prom.Counter(
    "coredns_dns_requests", "DNS queries answered, by protocol and rcode", ["proto", "rcode"]
)


def _rr(record: Record) -> Any:
    rtype = getattr(QTYPE, record.type)
    rdata: Any
    if record.type == "A":
        rdata = A(record.value)
    elif record.type == "CNAME":
        rdata = CNAME(record.value + ".")
    elif record.type == "SRV":
        rdata = SRV(record.priority, record.weight, record.port, record.value + ".")
    elif record.type == "SOA":
        rdata = SOA(
            record.value + ".",
            f"hostmaster.{record.name}.",
            (1, 7200, 1800, 86400, record.ttl),
        )
    else:
        raise ValueError(record.type)
    return RR(record.name + ".", rtype, rdata=rdata, ttl=record.ttl)


def answer_packet(resolver: Resolver, data: bytes) -> tuple[bytes, str] | None:
    """The reply to one query packet and its rcode; None for an unparseable packet."""
    try:
        request = DNSRecord.parse(data)
    except Exception:
        return None
    reply = DNSRecord(DNSHeader(id=request.header.id, qr=1, rd=request.header.rd, ra=0))
    reply.questions = list(request.questions)
    if request.header.opcode != 0 or len(request.questions) != 1:
        reply.header.rcode = RCODE.NOTIMP if request.header.opcode != 0 else RCODE.FORMERR
        return bytes(reply.pack()), RCODE.get(reply.header.rcode)
    question = request.questions[0]
    qname = str(question.qname)
    qtype = QTYPE.get(question.qtype)
    result: Answer = resolver.resolve(qname, str(qtype))
    reply.header.aa = 1 if result.authoritative else 0
    reply.header.rcode = getattr(RCODE, result.rcode)
    for record in result.records:
        reply.add_answer(_rr(record))
    for record in result.additional:
        reply.add_ar(_rr(record))
    if result.rcode != "REFUSED" and not result.records:
        reply.add_auth(_rr(resolver.soa()))
    return bytes(reply.pack()), result.rcode


async def respond(
    resolver: Resolver, forwarder: Forwarder | None, data: bytes, *, tcp: bool
) -> tuple[bytes, str, bool] | None:
    """answer_packet, with names outside the cluster domain forwarded upstream:
    (reply, rcode, whether it is an upstream's reply, to pass on unchanged)."""
    result = answer_packet(resolver, data)
    if result is None:
        return None
    if result[1] != REFUSED or forwarder is None or not forwarder.upstreams:
        return (*result, False)
    request = DNSRecord.parse(data)
    if not forwardable(str(request.questions[0].qname)):
        return (*result, False)
    reply = await forwarder.forward(data, tcp=tcp)
    if reply is None or len(reply) < 4:
        failed = DNSRecord(DNSHeader(id=request.header.id, qr=1, rd=request.header.rd, ra=1))
        failed.questions = list(request.questions)
        failed.header.rcode = RCODE.SERVFAIL
        return bytes(failed.pack()), "SERVFAIL", False
    return reply, str(RCODE.get(reply[3] & 0x0F)), True


class _UDPServer(asyncio.DatagramProtocol):
    def __init__(self, resolver: Resolver, forwarder: Forwarder | None) -> None:
        self.resolver = resolver
        self.forwarder = forwarder
        self.transport: asyncio.DatagramTransport | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        # Answered in a task: a forwarded query waits for its upstream.
        task = asyncio.ensure_future(self._answer(data, addr))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _answer(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        result = await respond(self.resolver, self.forwarder, data, tcp=False)
        if result is None or self.transport is None:
            return
        packet, rcode, forwarded = result
        if len(packet) > 512 and not forwarded:
            # Too long for plain UDP: truncate, the client retries over TCP.
            reply = DNSRecord.parse(packet)
            reply.rr, reply.ar, reply.auth = [], [], []
            reply.header.tc = 1
            packet = bytes(reply.pack())
        QUERIES.labels("udp", rcode).inc()
        self.transport.sendto(packet, addr)


async def _tcp_client(
    resolver: Resolver,
    forwarder: Forwarder | None,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    try:
        while True:
            try:
                async with asyncio.timeout(30):
                    header = await reader.readexactly(2)
                    (length,) = struct.unpack("!H", header)
                    data = await reader.readexactly(length)
            except (asyncio.IncompleteReadError, TimeoutError):
                return
            result = await respond(resolver, forwarder, data, tcp=True)
            if result is None:
                return
            packet, rcode, _ = result
            QUERIES.labels("tcp", rcode).inc()
            writer.write(struct.pack("!H", len(packet)) + packet)
            await writer.drain()
    except OSError:
        return
    finally:
        with contextlib.suppress(OSError):
            writer.close()


class DNSServer:
    """UDP and TCP listeners on one address."""

    def __init__(self, resolver: Resolver, forwarder: Forwarder | None = None) -> None:
        self.resolver = resolver
        self.forwarder = forwarder
        self.udp: asyncio.DatagramTransport | None = None
        self.tcp: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (port 0: one free port for both); the bound port."""
        loop = asyncio.get_running_loop()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _tcp_client(self.resolver, self.forwarder, reader, writer)

        self.tcp = await asyncio.start_server(handle, host, port, reuse_address=True)
        bound = int(self.tcp.sockets[0].getsockname()[1])
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UDPServer(self.resolver, self.forwarder), local_addr=(host, bound)
        )
        self.udp = transport
        self.port = bound
        log.info("serving DNS on %s:%d (udp and tcp)", host, bound)
        return bound

    def close(self) -> None:
        if self.udp is not None:
            self.udp.close()
        if self.tcp is not None:
            self.tcp.close()
