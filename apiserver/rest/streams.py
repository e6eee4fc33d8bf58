"""Pod subresources served by the pod's kubelet: `log`, `exec`, `attach`
(and `portforward`, which kubectl ≥ 1.31 tunnels as SPDY inside a WebSocket:
not supported yet, answered with a clear 400).

The apiserver finds the pod's node, dials its kubelet's gRPC streaming API
(proto/kubelet.proto; the Node's InternalIP and
status.daemonEndpoints.kubeletEndpoint.Port, 10250 by default) and relays:

- `log`: plain text, streamed while the kubelet streams (`kubectl logs -f`);
- `exec`/`attach`: the WebSocket channel protocol kubectl speaks
  (`v5.channel.k8s.io`, `v4.channel.k8s.io`): binary messages whose first byte
  is the channel (0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize,
  255 close), ending with a Status on channel 3 that carries the exit code.
  SPDY-only clients get a 400 that says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
from aiohttp import WSMsgType, web

from apimachinery import errors
from apimachinery.scheme import ResourceType, lookup
from apiserver.rest import spdy
from apiserver.rest.types import RegistryLike
from genproto import kubelet_pb2, kubelet_pb2_grpc

log = logging.getLogger("apiserver")

JSON = dict[str, Any]
_CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
_PORTFORWARD_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def _int(query: Any, name: str) -> int:
    raw = query.get(name, "")
    if not raw:
        return 0
    try:
        return int(raw)
    except ValueError:
        raise errors.BadRequest(message=f'invalid value for {name}: "{raw}"') from None


def _from_grpc(e: grpc.aio.AioRpcError) -> errors.APIError:
    message = e.details() or e.code().name.lower()
    code = e.code()
    if code == grpc.StatusCode.NOT_FOUND:
        return errors.NotFound(message=message)
    if code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT):
        return errors.BadRequest(message=message)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return errors.ServiceUnavailable(message=f"error dialing the kubelet: {message}")
    return errors.InternalError(message=message)


async def kubelet_address(
    registry: RegistryLike, pod: JSON, default_port: int
) -> tuple[str, kubelet_pb2.PodRef]:
    """host:port of the kubelet running `pod`, and the pod's reference."""
    meta = pod.get("metadata") or {}
    node_name = (pod.get("spec") or {}).get("nodeName") or ""
    if not node_name:
        raise errors.BadRequest(message=f"pod {meta.get('name')} does not have a host assigned")
    node = await registry.get(lookup("", "v1", "nodes"), "", node_name)
    status = node.get("status") or {}
    address = ""
    for kind in ("InternalIP", "Hostname", "ExternalIP"):
        for a in status.get("addresses") or []:
            if a.get("type") == kind and a.get("address"):
                address = a["address"]
                break
        if address:
            break
    if not address:
        raise errors.ServiceUnavailable(message=f"node {node_name} has no address for its kubelet")
    port = int(
        ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
        or default_port
    )
    ref = kubelet_pb2.PodRef(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
    )
    host = f"[{address}]" if ":" in address else address
    return f"{host}:{port}", ref


def container_not_running(pod: JSON, container: str) -> None:
    """400 with the kubelet's wording when the container to exec in is known
    not to run (per the pod's status)."""
    meta = pod.get("metadata") or {}
    spec_names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    name = container or (spec_names[0] if len(spec_names) == 1 else "")
    if not name:
        return
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") != name:
            continue
        state = status.get("state") or {}
        if "waiting" in state:
            reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
            raise errors.BadRequest(
                message=f'container "{name}" in pod "{meta.get("name")}" is waiting to start: '
                f"{reason}"
            )
        if "terminated" in state:
            raise errors.BadRequest(
                message=f'container "{name}" in pod "{meta.get("name")}" is terminated'
            )


async def serve(
    request: web.Request,
    registry: RegistryLike,
    *,
    rt: ResourceType,
    namespace: str,
    name: str,
    subresource: str,
    kubelet_port: int,
) -> web.StreamResponse:
    if rt.resource != "pods":
        raise errors.NotFound(message="the server could not find the requested resource")
    if subresource == "log" and request.method != "GET":
        raise errors.MethodNotAllowed(message="log only supports GET")
    pod = await registry.get(rt, namespace, name)
    # Check what can fail before the upgrade, so that kubectl (which retries a
    # failed WebSocket upgrade over SPDY) shows the real reason.
    address, ref = await kubelet_address(registry, pod, kubelet_port)
    if subresource in ("exec", "attach"):
        container_not_running(pod, request.query.get("container", ""))
    upgrade = request.headers.get("Upgrade", "").lower()
    if subresource in ("exec", "attach", "portforward") and upgrade != "websocket":
        raise errors.BadRequest(
            message=f"kubelab serves pods/{subresource} over WebSocket only "
            "(kubectl 1.30 or newer); SPDY upgrades are not supported"
        )
    if subresource == "portforward":
        offered = request.headers.get("Sec-WebSocket-Protocol", "")
        if _PORTFORWARD_PROTOCOL not in [p.strip() for p in offered.split(",")]:
            raise errors.BadRequest(
                message=f"kubelab serves pods/portforward over WebSocket with the "
                f"{_PORTFORWARD_PROTOCOL} subprotocol (kubectl 1.31 or newer)"
            )
    async with grpc.aio.insecure_channel(address) as channel:
        stub = kubelet_pb2_grpc.KubeletStub(channel)
        if subresource == "log":
            return await _logs(request, stub, ref)
        if subresource == "portforward":
            return await _portforward(request, stub, ref)
        return await _exec(request, stub, ref, subresource)


async def _logs(
    request: web.Request, stub: kubelet_pb2_grpc.KubeletStub, ref: kubelet_pb2.PodRef
) -> web.StreamResponse:
    q = request.query
    tail = q.get("tailLines", "")
    req = kubelet_pb2.LogsRequest(
        pod=ref,
        container=q.get("container", ""),
        follow=_truthy(q.get("follow")),
        tail_lines=int(tail) if tail.lstrip("-").isdigit() else -1,
        since_seconds=_int(q, "sinceSeconds"),
        timestamps=_truthy(q.get("timestamps")),
        previous=_truthy(q.get("previous")),
        limit_bytes=_int(q, "limitBytes"),
    )
    call = stub.Logs(req)
    iterator = call.__aiter__()
    try:
        first = await iterator.__anext__()
    except StopAsyncIteration:
        first = None
    except grpc.aio.AioRpcError as e:
        raise _from_grpc(e) from None
    response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        if first is not None:
            await response.write(first.data)
            async for chunk in iterator:
                await response.write(chunk.data)
    except grpc.aio.AioRpcError as e:
        log.info("log stream of pod %s/%s ended: %s", ref.namespace, ref.name, e.details())
    except (ConnectionError, RuntimeError):
        call.cancel()
        return response
    finally:
        call.cancel()
    with contextlib.suppress(ConnectionError, RuntimeError):
        await response.write_eof()
    return response


def _exit_status(code: int, message: str) -> bytes:
    if code == 0:
        status: JSON = {"metadata": {}, "status": "Success"}
    else:
        status = {
            "metadata": {},
            "status": "Failure",
            "message": message or f"command terminated with non-zero exit code: {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
        }
    return bytes([ERROR]) + json.dumps(status).encode()


def _failure(message: str) -> bytes:
    status = {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError"}
    return bytes([ERROR]) + json.dumps(status).encode()


async def _exec(
    request: web.Request,
    stub: kubelet_pb2_grpc.KubeletStub,
    ref: kubelet_pb2.PodRef,
    subresource: str,
) -> web.StreamResponse:
    q = request.query
    start = kubelet_pb2.StreamStart(
        pod=ref,
        container=q.get("container", ""),
        command=q.getall("command", []),
        tty=_truthy(q.get("tty")),
        stdin=_truthy(q.get("stdin")),
        stdout=_truthy(q.get("stdout", "true")),
        stderr=_truthy(q.get("stderr", "true")),
    )
    if subresource == "exec" and not start.command:
        raise errors.BadRequest(message="you must specify at least 1 command")
    ws = web.WebSocketResponse(protocols=_CHANNEL_PROTOCOLS, autoping=True, max_msg_size=0)
    await ws.prepare(request)
    inputs: asyncio.Queue[kubelet_pb2.StreamInput | None] = asyncio.Queue()
    await inputs.put(kubelet_pb2.StreamInput(start=start))

    async def input_iterator() -> AsyncIterator[kubelet_pb2.StreamInput]:
        while True:
            item = await inputs.get()
            if item is None:
                return
            yield item

    call = (stub.Exec if subresource == "exec" else stub.Attach)(input_iterator())

    async def pump_input() -> None:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            channel, payload = msg.data[0], msg.data[1:]
            if channel == STDIN and payload:
                await inputs.put(kubelet_pb2.StreamInput(stdin=bytes(payload)))
            elif channel == RESIZE:
                with contextlib.suppress(ValueError):
                    size = json.loads(payload)
                    await inputs.put(
                        kubelet_pb2.StreamInput(
                            resize=kubelet_pb2.TerminalSize(
                                width=int(size.get("Width", 0)), height=int(size.get("Height", 0))
                            )
                        )
                    )
            elif channel == CLOSE and payload[:1] == bytes([STDIN]):
                await inputs.put(kubelet_pb2.StreamInput(stdin_close=True))
        await inputs.put(None)

    reader = asyncio.create_task(pump_input())
    try:
        async for out in call:
            kind = out.WhichOneof("kind")
            if kind == "stdout":
                await ws.send_bytes(bytes([STDOUT]) + out.stdout)
            elif kind == "stderr":
                await ws.send_bytes(bytes([STDERR]) + out.stderr)
            elif kind == "exit":
                await ws.send_bytes(_exit_status(out.exit.code, out.exit.message))
                break
    except grpc.aio.AioRpcError as e:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_bytes(_failure(e.details() or e.code().name))
    except (ConnectionError, RuntimeError):
        pass
    finally:
        reader.cancel()
        call.cancel()
        with contextlib.suppress(Exception):
            await ws.close()
    return ws


class _Forward:
    """One forwarded connection: an error stream and a data stream sharing a requestID."""

    def __init__(self) -> None:
        self.error_stream = 0
        self.data_stream = 0
        self.port = 0
        self.inputs: asyncio.Queue[kubelet_pb2.PortForwardInput | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None


async def _portforward(
    request: web.Request, stub: kubelet_pb2_grpc.KubeletStub, ref: kubelet_pb2.PodRef
) -> web.StreamResponse:
    """SPDY over WebSocket, as kubectl port-forward speaks it; each forwarded
    connection is one PortForward call to the kubelet."""
    ws = web.WebSocketResponse(protocols=(_PORTFORWARD_PROTOCOL,), max_msg_size=0)
    await ws.prepare(request)
    session = spdy.Session()
    send_lock = asyncio.Lock()
    forwards: dict[str, _Forward] = {}
    by_stream: dict[int, _Forward] = {}

    async def send(frame: bytes) -> None:
        async with send_lock:
            if not ws.closed:
                await ws.send_bytes(frame)

    async def run(fwd: _Forward) -> None:
        async def requests() -> AsyncIterator[kubelet_pb2.PortForwardInput]:
            yield kubelet_pb2.PortForwardInput(pod=ref, port=fwd.port)
            while True:
                item = await fwd.inputs.get()
                if item is None:
                    return
                yield item

        call = stub.PortForward(requests())
        failure = ""
        try:
            async for chunk in call:
                if chunk.data:
                    await send(spdy.Session.data(fwd.data_stream, chunk.data))
        except grpc.aio.AioRpcError as e:
            failure = e.details() or e.code().name
        finally:
            call.cancel()
        with contextlib.suppress(ConnectionError, RuntimeError):
            if failure:
                await send(spdy.Session.data(fwd.error_stream, failure.encode()))
            await send(spdy.Session.data(fwd.data_stream, b"", fin=True))
            await send(spdy.Session.data(fwd.error_stream, b"", fin=True))

    def on_frame(frame: spdy.Frame) -> bytes | None:
        """Handle one frame; the frame to answer with, if any."""
        if frame.type_ == spdy.SYN_STREAM:
            request_id = frame.headers.get("requestid", str(frame.stream_id))
            fwd = forwards.setdefault(request_id, _Forward())
            by_stream[frame.stream_id] = fwd
            try:
                fwd.port = int(frame.headers.get("port", "0"))
            except ValueError:
                fwd.port = 0
            if frame.headers.get("streamtype") == "error":
                fwd.error_stream = frame.stream_id
            else:
                fwd.data_stream = frame.stream_id
            if fwd.error_stream and fwd.data_stream and fwd.task is None:
                fwd.task = asyncio.create_task(run(fwd))
            return session.syn_reply(frame.stream_id)
        if frame.type_ == 0:
            target = by_stream.get(frame.stream_id)
            if target is not None and frame.stream_id == target.data_stream:
                if frame.data:
                    target.inputs.put_nowait(kubelet_pb2.PortForwardInput(data=frame.data))
                if frame.fin:
                    target.inputs.put_nowait(kubelet_pb2.PortForwardInput(close_write=True))
            return None
        if frame.type_ == spdy.RST_STREAM:
            reset = by_stream.get(frame.stream_id)
            if reset is not None:
                reset.inputs.put_nowait(None)
                if reset.task is not None:
                    reset.task.cancel()
            return None
        if frame.type_ == spdy.PING:
            return session.ping(frame.value)
        return None

    try:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY:
                continue
            try:
                frames = session.feed(msg.data)
            except (ValueError, zlib.error, struct.error, UnicodeDecodeError) as e:
                log.info("port-forward to %s/%s: bad SPDY data: %s", ref.namespace, ref.name, e)
                break
            for frame in frames:
                if frame.type_ == spdy.GOAWAY:
                    break
                answer = on_frame(frame)
                if answer is not None:
                    await send(answer)
    finally:
        for fwd in forwards.values():
            fwd.inputs.put_nowait(None)
            if fwd.task is not None:
                fwd.task.cancel()
        with contextlib.suppress(Exception):
            await ws.close()
    return ws
