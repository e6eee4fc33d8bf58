"""The kubelet's gRPC probe against a real gRPC server on loopback.

The server implements the standard health service (grpc.health.v1.Health)
from grpcio-health-checking; the probe must follow what it answers, as
upstream's prober does, and say what went wrong in upstream's words.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from kubelet.probes import run_probe
from tests.processes import free_port


class _NoRuntime:
    """gRPC probes never go through the container runtime."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the runtime was used ({name})")


async def _probe(port: int, service: str = "") -> tuple[bool, str]:
    probe = {"grpc": {"port": port, "service": service}, "timeoutSeconds": 1}
    return await run_probe(
        probe, {"name": "c"}, runtime=_NoRuntime(), container_id="x", pod_ip="127.0.0.1"
    )


@pytest.fixture
async def health_server() -> AsyncIterator[tuple[int, health.HealthServicer]]:
    server = grpc.aio.server()
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield port, servicer
    await server.stop(None)


async def test_serving_and_not_serving(health_server: tuple[int, Any]) -> None:
    port, servicer = health_server
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert await _probe(port) == (True, "")
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert await _probe(port) == (False, "service unhealthy (responseCode: NOT_SERVING)")
    # a named service: its own status
    servicer.set("db", health_pb2.HealthCheckResponse.SERVING)
    assert await _probe(port, "db") == (True, "")
    ok, message = await _probe(port, "unknown")
    assert not ok and message.startswith("error: health rpc probe failed:"), message


async def test_no_health_service_and_nothing_listening() -> None:
    server = grpc.aio.server()  # a gRPC server without the health service
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        ok, message = await _probe(port)
        assert not ok
        assert message.startswith(
            "error: this server does not implement the grpc health protocol"
        ), message
    finally:
        await server.stop(None)
    ok, message = await _probe(free_port())
    assert not ok
    assert message.startswith("timeout: failed to connect service '127.0.0.1:"), message
