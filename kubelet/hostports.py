"""hostPort: a container port published on the node's IP.

Pods live on the cluster network with their own IPs, and a node is a container
(or the host), so Docker's port publishing (which binds on the Docker host) is
not the node's address. The kubelet instead listens on `nodeIP:hostPort` itself
and splices each TCP connection to `podIP:containerPort`, as the CNI portmap
plugin's DNAT does upstream. UDP host ports are not supported.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("kubelet.hostports")


@dataclass(frozen=True)
class HostPort:
    host_ip: str
    host_port: int
    pod_uid: str
    pod_ip: str
    container_port: int


def wanted_host_ports(pod: Mapping[str, Any], *, node_ip: str, pod_ip: str) -> list[HostPort]:
    """The TCP host ports a running pod asks for (hostNetwork pods need none)."""
    spec = pod.get("spec") or {}
    if spec.get("hostNetwork") or not pod_ip:
        return []
    uid = str((pod.get("metadata") or {}).get("uid", ""))
    out = []
    for c in spec.get("containers") or []:
        for p in c.get("ports") or []:
            if not p.get("hostPort") or (p.get("protocol") or "TCP") != "TCP":
                continue
            host_ip = p.get("hostIP") or node_ip
            out.append(
                HostPort(host_ip, int(p["hostPort"]), uid, pod_ip, int(p.get("containerPort") or 0))
            )
    return out


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, ConnectionError):
        pass


class HostPortManager:
    """Listeners for the host ports of this node's pods."""

    def __init__(self) -> None:
        self._servers: dict[tuple[str, int], tuple[HostPort, asyncio.Server]] = {}

    async def sync(self, uid: str, wanted: list[HostPort]) -> None:
        """Make the listeners of pod `uid` exactly `wanted`."""
        keep = {(h.host_ip, h.host_port) for h in wanted}
        for key, (hp, server) in list(self._servers.items()):
            if hp.pod_uid == uid and (key not in keep or hp not in wanted):
                server.close()
                del self._servers[key]
        for hp in wanted:
            key = (hp.host_ip, hp.host_port)
            if key in self._servers:
                continue
            try:
                server = await asyncio.start_server(
                    functools.partial(self._serve, hp), hp.host_ip, hp.host_port
                )
            except OSError as e:
                log.warning(
                    "cannot listen on %s:%d for a hostPort: %s", hp.host_ip, hp.host_port, e
                )
                continue
            self._servers[key] = (hp, server)
            log.info(
                "hostPort %s:%d -> %s:%d",
                hp.host_ip,
                hp.host_port,
                hp.pod_ip,
                hp.container_port,
            )

    async def forget(self, uid: str) -> None:
        await self.sync(uid, [])

    def close(self) -> None:
        for _, server in self._servers.values():
            server.close()
        self._servers.clear()

    async def _serve(
        self, hp: HostPort, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(hp.pod_ip, hp.container_port), 10
            )
        except (OSError, TimeoutError):
            writer.close()
            return
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(Exception):
                    await w.wait_closed()
