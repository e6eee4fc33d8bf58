"""The SPDY/3.1 framing kubectl port-forward tunnels in a WebSocket (pure logic)."""

from __future__ import annotations

import zlib

from apiserver.rest import spdy


def test_dictionary_is_the_spdy3_one() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 3821447106


def test_client_streams_data_and_ping_round_trip() -> None:
    client, server = spdy.Session(), spdy.Session()
    wire = (
        client.syn_stream(1, {"streamType": "error", "port": "80", "requestID": "0"})
        + client.syn_stream(3, {"streamType": "data", "port": "80", "requestID": "0"})
        + spdy.Session.data(3, b"GET / HTTP/1.0\r\n\r\n")
        + spdy.Session.data(3, b"", fin=True)
        + client.ping(7)
    )
    # Bytes arrive in arbitrary pieces (WebSocket messages): frames still come out whole.
    frames = []
    for i in range(0, len(wire), 5):
        frames += server.feed(wire[i : i + 5])
    assert [(f.type_, f.stream_id) for f in frames] == [
        (spdy.SYN_STREAM, 1),
        (spdy.SYN_STREAM, 3),
        (0, 3),
        (0, 3),
        (spdy.PING, 0),
    ]
    assert frames[0].headers == {"streamtype": "error", "port": "80", "requestid": "0"}
    assert frames[2].data == b"GET / HTTP/1.0\r\n\r\n" and not frames[2].fin
    assert frames[3].fin and frames[4].value == 7

    replies = client.feed(server.syn_reply(1) + server.syn_reply(3) + server.rst_stream(3))
    assert [(f.type_, f.stream_id) for f in replies] == [
        (spdy.SYN_REPLY, 1),
        (spdy.SYN_REPLY, 3),
        (spdy.RST_STREAM, 3),
    ]
