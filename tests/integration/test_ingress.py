"""The ingress controller as a process: real apiserver, HTTP backends on loopback.

Services are selector-less with hand-written Endpoints naming two local HTTP
servers (127.0.0.1), so no pod is needed; the controller listens on a
loopback port.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from apimachinery.scheme import lookup
from client.api import APIClient
from tests.integration.netprocs import ComponentProcess
from tests.polling import eventually
from tests.processes import ROOT, ApiserverProcess, free_port

pytestmark = pytest.mark.etcd

SERVICES = lookup("", "v1", "services")
ENDPOINTS = lookup("", "v1", "endpoints")
INGRESSES = lookup("networking.k8s.io", "v1", "ingresses")
INGRESS_CLASSES = lookup("networking.k8s.io", "v1", "ingressclasses")


async def _backend(name: str) -> tuple[web.AppRunner, int]:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(
            text=f"{name} {request.path} {request.headers.get('X-Forwarded-Host', '')}"
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


@pytest.fixture
async def backends() -> AsyncIterator[dict[str, int]]:
    runners = {}
    ports = {}
    for name in ("alpha", "beta"):
        runners[name], ports[name] = await _backend(name)
    yield ports
    for runner in runners.values():
        await runner.cleanup()


@pytest.fixture
def ingress(apiserver: ApiserverProcess, tmp_path: Path) -> Iterator[int]:
    port = free_port()
    proc = ComponentProcess(
        "ingress", apiserver.address, tmp_path, "--http-address", f"127.0.0.1:{port}"
    )
    proc.start()
    yield port
    proc.stop()


async def _service(api: APIClient, name: str, backend_port: int | None) -> None:
    await api.create(
        SERVICES,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
        },
        namespace="default",
    )
    if backend_port is None:
        return
    await api.create(
        ENDPOINTS,
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": name},
            "subsets": [
                {
                    "addresses": [{"ip": "127.0.0.1"}],
                    "ports": [{"name": "http", "port": backend_port, "protocol": "TCP"}],
                }
            ],
        },
        namespace="default",
    )


def _path(path: str, service: str, kind: str = "Prefix") -> dict[str, Any]:
    return {
        "path": path,
        "pathType": kind,
        "backend": {"service": {"name": service, "port": {"number": 80}}},
    }


async def test_routes_two_hosts_and_two_paths(
    api: APIClient, backends: dict[str, int], ingress: int
) -> None:
    await _service(api, "alpha", backends["alpha"])
    await _service(api, "beta", backends["beta"])
    await _service(api, "empty", None)
    await _service(api, "dead", free_port())  # an endpoint where nothing listens
    await api.create(
        INGRESSES,
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "web"},
            "spec": {
                "rules": [
                    {"host": "alpha.localhost", "http": {"paths": [_path("/", "alpha")]}},
                    {
                        "host": "paths.localhost",
                        "http": {
                            "paths": [
                                _path("/a", "alpha"),
                                _path("/b", "beta"),
                                _path("/down", "empty", "Exact"),
                                _path("/dead", "dead", "Exact"),
                            ]
                        },
                    },
                ]
            },
        },
        namespace="default",
    )
    url = f"http://127.0.0.1:{ingress}"

    async with aiohttp.ClientSession() as session:

        async def get(host: str, path: str) -> tuple[int, str]:
            async with session.get(url + path, headers={"Host": host}) as r:
                return r.status, await r.text()

        async def routed() -> None:
            assert await get("alpha.localhost", "/x") == (200, "alpha /x alpha.localhost")

        await eventually(routed, asserts=True, what="alpha.localhost routed")
        assert await get("paths.localhost", "/a/1") == (200, "alpha /a/1 paths.localhost")
        assert await get("paths.localhost", "/b") == (200, "beta /b paths.localhost")
        status, body = await get("paths.localhost", "/c")
        assert status == 404 and "404 Not Found" in body
        status, _ = await get("nobody.localhost", "/")
        assert status == 404
        status, body = await get("paths.localhost", "/down")
        assert status == 503 and "Service Temporarily Unavailable" in body
        status, body = await get("paths.localhost", "/dead")
        assert status == 502 and "Bad Gateway" in body

    async def published() -> None:
        ing = await api.get(INGRESSES, "web", namespace="default")
        assert ing["status"]["loadBalancer"]["ingress"] == [{"ip": "127.0.0.1"}]

    await eventually(published, asserts=True, what="ingress status published")
    klass = await api.get(INGRESS_CLASSES, "kubelab")
    assert klass["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == (
        "true"
    )


async def test_other_classes_are_ignored(
    api: APIClient, backends: dict[str, int], ingress: int
) -> None:
    await _service(api, "alpha", backends["alpha"])
    for name, klass in (("theirs", "nginx"), ("ours", "kubelab")):
        await api.create(
            INGRESSES,
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": name},
                "spec": {
                    "ingressClassName": klass,
                    "rules": [
                        {"host": f"{name}.localhost", "http": {"paths": [_path("/", "alpha")]}}
                    ],
                },
            },
            namespace="default",
        )
    url = f"http://127.0.0.1:{ingress}/"
    async with aiohttp.ClientSession() as session:

        async def ours_routed() -> None:
            async with session.get(url, headers={"Host": "ours.localhost"}) as r:
                assert r.status == 200

        await eventually(ours_routed, asserts=True, what="our ingress routed")
        async with session.get(url, headers={"Host": "theirs.localhost"}) as r:
            assert r.status == 404
    ing = await api.get(INGRESSES, "theirs", namespace="default")
    assert not (ing.get("status") or {}).get("loadBalancer", {}).get("ingress")


async def test_load_balancer_forwarder(tmp_path: Path) -> None:
    """`python -m ingress.forward` (the LoadBalancer container's process) on loopback:
    a dead "node" is skipped, the live one's node port answers."""

    async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello " + await reader.read(100))
        await writer.drain()
        writer.close()

    node_port_server = await asyncio.start_server(hello, "127.0.0.2", 0)
    node_port = node_port_server.sockets[0].getsockname()[1]
    listen = free_port()
    log = (tmp_path / "forward.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ingress.forward",
        "--bind",
        "127.0.0.1",
        "--listen",
        f"{listen}:{node_port}",
        "--target",
        "127.0.0.3",  # nothing listens there: connect refused, next node
        "--target",
        "127.0.0.2",
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        async def answers() -> None:
            for _ in range(3):
                reader, writer = await asyncio.open_connection("127.0.0.1", listen)
                writer.write(b"lb")
                writer.write_eof()
                assert await asyncio.wait_for(reader.read(), 5) == b"hello lb"
                writer.close()

        await eventually(answers, asserts=True, what="the forwarder answers through the live node")
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
        node_port_server.close()
        log.close()
