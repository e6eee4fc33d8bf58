"""Zero-copy TCP splicing with Linux `splice(2)`, driven by the asyncio loop.

Each direction of a proxied connection moves bytes socket -> pipe -> socket
inside the kernel (`os.splice`, non-blocking), so Python never touches the
payload: the event loop only learns that a socket is readable or writable.
The pipe (1 MiB) is the only buffer: when the receiving socket is full the
direction stops reading its source until the pipe drains (back-pressure,
bounded memory). An end-of-stream is forwarded as a half-close
(`shutdown(SHUT_WR)`) once the pipe is empty; the connection closes when
both directions are done or either side fails.

Used where `os.splice` exists (Linux); elsewhere the proxier splices with
asyncio protocols.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import socket
from collections.abc import Callable

PIPE_BYTES = 1024 * 1024
F_SETPIPE_SZ = 1031
_FLAGS = getattr(os, "SPLICE_F_MOVE", 1) | getattr(os, "SPLICE_F_NONBLOCK", 2)
AVAILABLE = hasattr(os, "splice")


class _Direction:
    def __init__(self, owner: Splice, src: socket.socket, dst: socket.socket) -> None:
        self.owner = owner
        self.loop = owner.loop
        self.src = src.fileno()
        self.dst_sock = dst
        self.dst = dst.fileno()
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        with contextlib.suppress(OSError):
            fcntl.fcntl(self.w, F_SETPIPE_SZ, PIPE_BYTES)
        self.pending = 0
        self.moved = 0
        self.eof = False
        self.done = False
        self.reading = False
        self.writing = False

    def start(self) -> None:
        self.loop.add_reader(self.src, self.on_readable)
        self.reading = True

    def on_readable(self) -> None:
        # Move what the socket holds, flushing as we go, until it is empty or
        # the receiver is full (then flush() stops reading until it drains).
        while self.reading:
            try:
                n = os.splice(self.src, self.w, PIPE_BYTES - self.pending, flags=_FLAGS)
            except BlockingIOError:
                return
            except OSError:
                self.owner.close()
                return
            if n == 0:
                self.eof = True
                self.loop.remove_reader(self.src)
                self.reading = False
            else:
                self.pending += n
                self.moved += n
            self.flush()
            if self.owner.closed:
                return

    def on_writable(self) -> None:
        self.flush()

    def flush(self) -> None:
        while self.pending:
            try:
                m = os.splice(self.r, self.dst, self.pending, flags=_FLAGS)
            except BlockingIOError:
                break
            except OSError:
                self.owner.close()
                return
            if m == 0:
                break
            self.pending -= m
        if self.pending:
            # The receiver is full: stop reading until it drains.
            if self.reading:
                self.loop.remove_reader(self.src)
                self.reading = False
            if not self.writing:
                self.loop.add_writer(self.dst, self.on_writable)
                self.writing = True
            return
        if self.writing:
            self.loop.remove_writer(self.dst)
            self.writing = False
        if self.eof:
            if not self.done:
                self.done = True
                with contextlib.suppress(OSError):
                    self.dst_sock.shutdown(socket.SHUT_WR)
                self.owner.direction_done()
        elif not self.reading:
            self.loop.add_reader(self.src, self.on_readable)
            self.reading = True

    def stop(self) -> None:
        if self.reading:
            self.loop.remove_reader(self.src)
            self.reading = False
        if self.writing:
            self.loop.remove_writer(self.dst)
            self.writing = False
        for fd in (self.r, self.w):
            with contextlib.suppress(OSError):
                os.close(fd)


class Splice:
    """Two connected non-blocking sockets, spliced both ways until done."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        client: socket.socket,
        backend: socket.socket,
        on_close: Callable[[int, int], None],
    ) -> None:
        self.loop = loop
        self.client = client
        self.backend = backend
        self.on_close = on_close
        self.closed = False
        self.upstream = _Direction(self, client, backend)
        try:
            self.downstream = _Direction(self, backend, client)
        except OSError:
            self.upstream.stop()
            raise

    def start(self) -> None:
        self.upstream.start()
        self.downstream.start()

    def direction_done(self) -> None:
        if self.upstream.done and self.downstream.done:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.upstream.stop()
        self.downstream.stop()
        for sock in (self.client, self.backend):
            with contextlib.suppress(OSError):
                sock.close()
        self.on_close(self.upstream.moved, self.downstream.moved)


def reset(sock: socket.socket) -> None:
    """Close with a RST (SO_LINGER 0): the client learns at once there is nothing here."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):
        sock.close()


def is_transient_accept_error(e: OSError) -> bool:
    return e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.ECONNABORTED)
