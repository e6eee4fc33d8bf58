"""`python -m ingress.forward`: the TCP forwarder inside a LoadBalancer container.

"The laptop is the cloud": each LoadBalancer Service gets one small container
running this, with its ports published on the host's 127.0.0.1. Every
connection goes to the Service's NodePort on one of the nodes (round robin,
the next node when a connect fails), where kube-proxy takes over, exactly as a
cloud load balancer sends traffic to node ports.

    python -m ingress.forward --listen 80:31234 --listen 443:30443 \
        --target 10.127.255.21 --target 10.127.255.22
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import signal

log = logging.getLogger("lb-forward")

CHUNK = 256 * 1024
CONNECT_TIMEOUT_S = 3.0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


class Forwarder:
    def __init__(self, targets: list[str]) -> None:
        self.targets = targets
        self._next = itertools.count()

    async def handle(
        self, node_port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        start = next(self._next)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for i in range(len(self.targets)):
            target = self.targets[(start + i) % len(self.targets)]
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    upstream = await asyncio.open_connection(target, node_port)
                break
            except (OSError, TimeoutError) as e:
                log.info("node %s:%d unreachable: %s", target, node_port, e)
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                with contextlib.suppress(OSError):
                    w.close()


def parse_listen(text: str) -> tuple[int, int]:
    port, _, node_port = text.partition(":")
    return int(port), int(node_port)


async def amain(args: argparse.Namespace) -> None:
    forwarder = Forwarder(args.target)
    servers = []
    for spec in args.listen:
        port, node_port = parse_listen(spec)

        async def handle(
            r: asyncio.StreamReader, w: asyncio.StreamWriter, node_port: int = node_port
        ) -> None:
            await forwarder.handle(node_port, r, w)

        servers.append(await asyncio.start_server(handle, args.bind, port, reuse_address=True))
        log.info("forwarding :%d to node port %d on %s", port, node_port, ", ".join(args.target))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m ingress.forward", description=__doc__)
    parser.add_argument("--listen", action="append", default=[], help="PORT:NODEPORT")
    parser.add_argument("--target", action="append", default=[], help="a node's IP")
    parser.add_argument("--bind", default="0.0.0.0", help="listen address")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s lb-forward %(message)s")
    asyncio.run(amain(args))


if __name__ == "__main__":
    main()
