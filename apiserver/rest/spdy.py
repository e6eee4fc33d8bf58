"""The part of SPDY/3.1 that `kubectl port-forward` speaks, on the server side.

kubectl ≥ 1.31 tunnels SPDY inside a WebSocket (subprotocol
`SPDY/3.1+portforward.k8s.io`): the WebSocket's binary messages carry the SPDY
byte stream. For each forwarded connection the client opens two streams with
SYN_STREAM, headers `streamType` (`error` or `data`), `port` and `requestID`;
the server answers each with SYN_REPLY, relays the data stream's DATA frames to
the pod's port and back, and writes a failure (if any) on the error stream
before closing it. PINGs are echoed; flow control is not used by kubectl's
SPDY library (spdystream), so WINDOW_UPDATE and SETTINGS are ignored.

`Session` parses frames out of received bytes and builds the frames to send;
it does no I/O, so the protocol logic is testable on its own.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = (
    1,
    2,
    3,
    4,
    6,
    7,
    8,
    9,
)
FLAG_FIN = 0x01
RST_CANCEL = 5

# The SPDY/3 header compression dictionary (SPDY/3 draft, section 2.6.10.1):
# length-prefixed header names and values, then a run of common text.
_DICTIONARY_WORDS = (
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
)
_DICTIONARY_TAIL = (
    "10010120120220520630030230330430530630740240540640740840941041141241341441541641"
    "7502504505203 Non-Authoritative Information204 No Content301 Moved "
    "Permanently400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal"
    " Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun "
    "Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,"
    "text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,te"
    "xt/plain,text/javascript,publicprivatemax-"
    "age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = (
    b"".join(len(w).to_bytes(4, "big") + w.encode() for w in _DICTIONARY_WORDS)
    + "".join(_DICTIONARY_TAIL).encode()
)


@dataclass
class Frame:
    """A received frame: `type_` is a control frame type, or 0 for DATA."""

    type_: int
    stream_id: int = 0
    flags: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    data: bytes = b""
    value: int = 0  # PING id, RST_STREAM status, GOAWAY status

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


class ProtocolError(Exception):
    pass


class Session:
    """One SPDY session: feed it bytes, get frames; ask it for frames to send."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zdict=DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            length = int.from_bytes(self._buffer[5:8], "big")
            if len(self._buffer) < 8 + length:
                break
            head = bytes(self._buffer[:8])
            body = bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            flags = head[4]
            if head[0] & 0x80:
                frame = self._control(int.from_bytes(head[2:4], "big"), flags, body)
                if frame is not None:
                    frames.append(frame)
            else:
                stream_id = int.from_bytes(head[0:4], "big") & 0x7FFFFFFF
                frames.append(Frame(0, stream_id=stream_id, flags=flags, data=body))
        return frames

    def _headers(self, block: bytes) -> dict[str, str]:
        raw = self._inflate.decompress(block)
        headers: dict[str, str] = {}
        (count,) = struct.unpack_from(">I", raw, 0)
        pos = 4
        for _ in range(count):
            (n,) = struct.unpack_from(">I", raw, pos)
            name = raw[pos + 4 : pos + 4 + n].decode()
            pos += 4 + n
            (n,) = struct.unpack_from(">I", raw, pos)
            value = raw[pos + 4 : pos + 4 + n].decode()
            pos += 4 + n
            headers[name.lower()] = value
        return headers

    def _control(self, type_: int, flags: int, body: bytes) -> Frame | None:
        if type_ == SYN_STREAM:
            stream_id = int.from_bytes(body[0:4], "big") & 0x7FFFFFFF
            return Frame(type_, stream_id, flags, headers=self._headers(body[10:]))
        if type_ in (SYN_REPLY, HEADERS):
            stream_id = int.from_bytes(body[0:4], "big") & 0x7FFFFFFF
            return Frame(type_, stream_id, flags, headers=self._headers(body[4:]))
        if type_ == RST_STREAM:
            stream_id = int.from_bytes(body[0:4], "big") & 0x7FFFFFFF
            return Frame(type_, stream_id, flags, value=int.from_bytes(body[4:8], "big"))
        if type_ == PING:
            return Frame(type_, flags=flags, value=int.from_bytes(body[0:4], "big"))
        if type_ == GOAWAY:
            return Frame(type_, stream_id=int.from_bytes(body[0:4], "big") & 0x7FFFFFFF)
        return None  # SETTINGS, WINDOW_UPDATE: nothing to do for us

    # -- frames to send

    @staticmethod
    def _control_frame(type_: int, flags: int, body: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, type_, (flags << 24) | len(body)) + body

    def _header_block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            n, v = name.lower().encode(), value.encode()
            raw += struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_reply(self, stream_id: int, headers: dict[str, str] | None = None) -> bytes:
        body = struct.pack(">I", stream_id) + self._header_block(headers or {})
        return self._control_frame(SYN_REPLY, 0, body)

    def syn_stream(self, stream_id: int, headers: dict[str, str], *, fin: bool = False) -> bytes:
        """(For tests: what a client sends.)"""
        body = struct.pack(">IIH", stream_id, 0, 0) + self._header_block(headers)
        return self._control_frame(SYN_STREAM, FLAG_FIN if fin else 0, body)

    @staticmethod
    def data(stream_id: int, payload: bytes, *, fin: bool = False) -> bytes:
        flags = FLAG_FIN if fin else 0
        return struct.pack(">II", stream_id, (flags << 24) | len(payload)) + payload

    def rst_stream(self, stream_id: int, status: int = RST_CANCEL) -> bytes:
        return self._control_frame(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    def ping(self, ping_id: int) -> bytes:
        return self._control_frame(PING, 0, struct.pack(">I", ping_id))
