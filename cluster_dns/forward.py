"""Names outside the cluster domain go to upstream servers, as CoreDNS's
`forward . /etc/resolv.conf` in the Corefile kubeadm and kind install.

The query packet is passed through unchanged (same id, flags, EDNS) over the
protocol the client used, to the first upstream that answers within the
timeout; the upstream's reply goes back unchanged. The upstreams come from
`--upstream`: a resolv.conf path (default `/etc/resolv.conf`: in the compose
topology that is Docker's embedded DNS, which knows the containers of the
kubelab network and forwards the rest), a comma-separated `ip[:port]` list, or
`none` (then such names are REFUSED, as before forwarding existed).

Reverse-lookup zones (`in-addr.arpa`, `ip6.arpa`) are never forwarded: they
name the cluster's own private addresses, which no outside server knows.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import struct
from pathlib import Path

log = logging.getLogger("cluster-dns")

Upstream = tuple[str, int]
NEVER_FORWARDED = ("in-addr.arpa", "ip6.arpa")


def parse_upstreams(spec: str, *, exclude: Upstream | None = None) -> list[Upstream]:
    """The upstream servers `--upstream` names, without `exclude` (this
    server's own address: forwarding to itself would loop)."""
    spec = spec.strip()
    if spec in ("", "none"):
        return []
    if spec.startswith("/"):
        entries = _resolv_conf_nameservers(Path(spec))
    else:
        entries = [e.strip() for e in spec.split(",") if e.strip()]
    upstreams: list[Upstream] = []
    for entry in entries:
        host, port = entry, 53
        if entry.count(":") == 1:  # ip:port (a bare IPv6 address has several colons)
            host, _, p = entry.partition(":")
            port = int(p)
        ipaddress.ip_address(host)  # an address, not a name: raises ValueError
        if (host, port) != exclude:
            upstreams.append((host, port))
    return upstreams


def _resolv_conf_nameservers(path: Path) -> list[str]:
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        log.warning("no upstream DNS servers: cannot read %s (%s)", path, e)
        return []
    return [
        fields[1]
        for fields in (line.split() for line in lines)
        if len(fields) >= 2 and fields[0] == "nameserver"
    ]


def forwardable(qname: str) -> bool:
    name = qname.rstrip(".").lower()
    return not any(name == z or name.endswith("." + z) for z in NEVER_FORWARDED)


class _OneReply(asyncio.DatagramProtocol):
    def __init__(self, query_id: bytes) -> None:
        self.query_id = query_id
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if data[:2] == self.query_id and not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


class Forwarder:
    def __init__(self, upstreams: list[Upstream], timeout: float = 2.0) -> None:
        self.upstreams = upstreams
        self.timeout = timeout

    async def forward(self, packet: bytes, *, tcp: bool) -> bytes | None:
        """The first upstream's reply to `packet`; None when none answers."""
        for upstream in self.upstreams:
            try:
                async with asyncio.timeout(self.timeout):
                    if tcp:
                        return await self._tcp(upstream, packet)
                    return await self._udp(upstream, packet)
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as e:
                log.warning("upstream DNS %s:%d did not answer: %s", *upstream, e or "timeout")
        return None

    async def _udp(self, upstream: Upstream, packet: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _OneReply(packet[:2]), remote_addr=upstream
        )
        try:
            transport.sendto(packet)
            return await protocol.reply
        finally:
            transport.close()

    async def _tcp(self, upstream: Upstream, packet: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(*upstream)
        try:
            writer.write(struct.pack("!H", len(packet)) + packet)
            await writer.drain()
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            return await reader.readexactly(length)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
