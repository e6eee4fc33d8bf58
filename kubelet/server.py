"""The kubelet's gRPC API on port 10250: logs, exec, attach, port-forward.

The apiserver's REST layer proxies `kubectl logs/exec/attach/port-forward` to
the kubelet of the pod's node (see proto/kubelet.proto for the contract).
Servicer methods are thin: they find the pod's container by its labels, then
bridge the blocking Docker streams (run in threads) to the gRPC stream.
Errors are gRPC statuses whose message kubectl can print as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import docker.errors
import grpc
from docker.utils.socket import STDERR, frames_iter

from apimachinery import meta
from genproto import kubelet_pb2, kubelet_pb2_grpc
from kubelet import pods as podlib
from kubelet.kubelet import Kubelet
from kubelet.runtime import DockerRuntime

log = logging.getLogger("kubelet.server")
JSON = dict[str, Any]
_END = object()


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _pick_container(pod: JSON, wanted: str) -> tuple[str, str]:
    """(container name, kind) as upstream chooses it, or _Abort with its message."""
    spec = pod.get("spec") or {}
    apps = [c["name"] for c in spec.get("containers") or []]
    inits = [c["name"] for c in spec.get("initContainers") or []]
    name = meta.name_of(pod)
    if not wanted:
        if len(apps) == 1:
            return apps[0], podlib.APP
        raise _Abort(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"a container name must be specified for pod {name}, choose one of: "
            f"[{' '.join(apps)}]"
            + (f" or one of the init containers: [{' '.join(inits)}]" if inits else ""),
        )
    if wanted in apps:
        return wanted, podlib.APP
    if wanted in inits:
        return wanted, podlib.INIT
    raise _Abort(
        grpc.StatusCode.INVALID_ARGUMENT, f"container {wanted} is not valid for pod {name}"
    )


class KubeletService(kubelet_pb2_grpc.KubeletServicer):  # type: ignore[misc]
    def __init__(self, kubelet: Kubelet, runtime: DockerRuntime) -> None:
        self.kubelet = kubelet
        self.runtime = runtime

    async def _container(
        self, ref: kubelet_pb2.PodRef, wanted: str, *, previous: bool = False, running: bool = True
    ) -> tuple[JSON, str, podlib.ObservedContainer, podlib.ObservedPod]:
        pod = self.kubelet.pods.get(ref.namespace, ref.name)
        if pod is None or (ref.uid and meta.uid_of(pod) != ref.uid):
            raise _Abort(grpc.StatusCode.NOT_FOUND, f'pods "{ref.name}" not found')
        name, kind = _pick_container(pod, wanted)
        observed = await self.runtime.observe_pod(meta.uid_of(pod))
        if previous:
            prev = observed.previous(name, kind)
            if prev is None:
                raise _Abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f'previous terminated container "{name}" in pod "{ref.name}" not found',
                )
            return pod, name, prev, observed
        latest = observed.latest(name, kind)
        if latest is None or latest.state == "created":
            raise _Abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f'container "{name}" in pod "{ref.name}" is waiting to start: ContainerCreating',
            )
        if running and not latest.running:
            raise _Abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"container {name} is not running (pod {ref.name})",
            )
        return pod, name, latest, observed

    # --- logs --------------------------------------------------------------------------

    async def Logs(
        self, request: kubelet_pb2.LogsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[kubelet_pb2.LogChunk]:
        try:
            _, _, container, _ = await self._container(
                request.pod, request.container, previous=request.previous, running=False
            )
        except _Abort as e:
            await context.abort(e.code, e.message)
            return
        kwargs: JSON = {
            "stream": True,
            "follow": bool(request.follow) and container.running,
            "timestamps": bool(request.timestamps),
            "tail": int(request.tail_lines) if request.tail_lines > 0 else "all",
        }
        if request.since_seconds > 0:
            kwargs["since"] = int(time.time() - request.since_seconds)
        limit = int(request.limit_bytes)
        sent = 0
        async for piece in self._thread_stream(
            lambda: self.runtime.api.logs(container.id, **kwargs)
        ):
            chunk = piece[: limit - sent] if limit and sent + len(piece) > limit else piece
            sent += len(chunk)
            yield kubelet_pb2.LogChunk(data=chunk)
            if limit and sent >= limit:
                return

    async def _thread_stream(self, open_stream: Callable[[], Any]) -> AsyncIterator[bytes]:
        """Bytes from a blocking Docker stream, read in a thread; closed on cancel."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=64)
        holder: dict[str, Any] = {}

        def pump() -> None:
            try:
                stream = open_stream()
                holder["stream"] = stream
                for chunk in stream:
                    asyncio.run_coroutine_threadsafe(queue.put(chunk), loop).result()
            except Exception as e:
                if not holder.get("closed"):
                    log.debug("log stream ended: %s", e)
            finally:
                with contextlib.suppress(RuntimeError):
                    asyncio.run_coroutine_threadsafe(queue.put(_END), loop)

        thread = threading.Thread(target=pump, daemon=True, name="stream")
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                yield bytes(item)
        finally:
            holder["closed"] = True
            stream = holder.get("stream")
            if stream is not None and hasattr(stream, "close"):
                with contextlib.suppress(Exception):
                    stream.close()
            while not queue.empty():
                queue.get_nowait()

    # --- exec and attach ---------------------------------------------------------------

    async def Exec(
        self,
        request_iterator: AsyncIterator[kubelet_pb2.StreamInput],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[kubelet_pb2.StreamOutput]:
        async for out in self._interactive(request_iterator, context, attach=False):
            yield out

    async def Attach(
        self,
        request_iterator: AsyncIterator[kubelet_pb2.StreamInput],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[kubelet_pb2.StreamOutput]:
        async for out in self._interactive(request_iterator, context, attach=True):
            yield out

    async def _interactive(
        self,
        request_iterator: AsyncIterator[kubelet_pb2.StreamInput],
        context: grpc.aio.ServicerContext[Any, Any],
        *,
        attach: bool,
    ) -> AsyncIterator[kubelet_pb2.StreamOutput]:
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("kind") != "start":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be start")
            return
        start = first.start
        try:
            _, _, container, _ = await self._container(start.pod, start.container)
        except _Abort as e:
            await context.abort(e.code, e.message)
            return
        if not attach and not start.command:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "you must specify at least one command for the container",
            )
            return
        api = self.runtime.api
        want_stdout = start.stdout or not (start.stdout or start.stderr)
        want_stderr = start.stderr or not (start.stdout or start.stderr)
        exec_id = ""
        try:
            if attach:
                sock = await asyncio.to_thread(
                    api.attach_socket,
                    container.id,
                    params={
                        "stdin": 1 if start.stdin else 0,
                        "stdout": 1,
                        "stderr": 1,
                        "stream": 1,
                    },
                )
                tty = bool(self.runtime.inspect(container.id)["Config"].get("Tty"))
            else:
                created = await asyncio.to_thread(
                    api.exec_create,
                    container.id,
                    list(start.command),
                    stdin=start.stdin,
                    tty=start.tty,
                    stdout=True,
                    stderr=True,
                )
                exec_id = created["Id"]
                sock = await asyncio.to_thread(api.exec_start, exec_id, socket=True, tty=start.tty)
                tty = start.tty
        except docker.errors.APIError as e:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(e.explanation or e))
            return
        raw: socket.socket = getattr(sock, "_sock", sock)

        async def feed() -> None:
            async for msg in request_iterator:
                kind = msg.WhichOneof("kind")
                if kind == "stdin" and start.stdin:
                    await asyncio.to_thread(raw.sendall, msg.stdin)
                elif kind == "resize" and exec_id:
                    with contextlib.suppress(docker.errors.APIError):
                        await asyncio.to_thread(
                            api.exec_resize,
                            exec_id,
                            height=msg.resize.height,
                            width=msg.resize.width,
                        )
                elif kind == "resize":
                    with contextlib.suppress(docker.errors.APIError):
                        await asyncio.to_thread(
                            api.resize,
                            container.id,
                            height=msg.resize.height,
                            width=msg.resize.width,
                        )
                elif kind == "stdin_close":
                    with contextlib.suppress(OSError):
                        raw.shutdown(socket.SHUT_WR)
            if start.stdin:
                with contextlib.suppress(OSError):
                    raw.shutdown(socket.SHUT_WR)

        feeder = asyncio.create_task(feed())

        def frames() -> Iterator[tuple[int, bytes]]:
            yield from frames_iter(sock, tty)

        try:
            async for item in self._thread_frames(frames):
                stream_id, data = item
                if stream_id == STDERR and not tty:
                    if want_stderr:
                        yield kubelet_pb2.StreamOutput(stderr=data)
                elif want_stdout:
                    yield kubelet_pb2.StreamOutput(stdout=data)
        finally:
            feeder.cancel()
            with contextlib.suppress(OSError):
                raw.close()
        if exec_id:
            code = (await asyncio.to_thread(api.exec_inspect, exec_id)).get("ExitCode")
        else:
            code = (await asyncio.to_thread(self.runtime.inspect, container.id))["State"].get(
                "ExitCode"
            )
        code = -1 if code is None else int(code)
        message = "" if code == 0 else f"command terminated with non-zero exit code: {code}"
        yield kubelet_pb2.StreamOutput(exit=kubelet_pb2.ExitStatus(code=code, message=message))

    async def _thread_frames(
        self, frames: Callable[[], Iterator[tuple[int, bytes]]]
    ) -> AsyncIterator[tuple[int, bytes]]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=64)

        def pump() -> None:
            try:
                for item in frames():
                    asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()
            except Exception as e:
                log.debug("exec stream ended: %s", e)
            finally:
                with contextlib.suppress(RuntimeError):
                    asyncio.run_coroutine_threadsafe(queue.put(_END), loop)

        threading.Thread(target=pump, daemon=True, name="exec-stream").start()
        while True:
            item = await queue.get()
            if item is _END:
                return
            yield item

    # --- port-forward ------------------------------------------------------------------

    async def PortForward(
        self,
        request_iterator: AsyncIterator[kubelet_pb2.PortForwardInput],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[kubelet_pb2.PortForwardOutput]:
        first = await anext(aiter(request_iterator), None)
        if first is None:
            return
        pod = self.kubelet.pods.get(first.pod.namespace, first.pod.name)
        if pod is None or (first.pod.uid and meta.uid_of(pod) != first.pod.uid):
            await context.abort(grpc.StatusCode.NOT_FOUND, f'pods "{first.pod.name}" not found')
            return
        observed = await self.runtime.observe_pod(meta.uid_of(pod))
        sandbox = observed.sandbox()
        target = sandbox.ip if sandbox else ""
        if (pod.get("spec") or {}).get("hostNetwork"):
            target = self.kubelet.ctx.node_ip
        if sandbox is None or not sandbox.running or not target:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"unable to do port forwarding: pod {first.pod.name} has no running sandbox",
            )
            return
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(target, first.port), 10)
        except (OSError, TimeoutError) as e:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"failed to connect to {target}:{first.port}: {e}",
            )
            return

        async def feed() -> None:
            if first.data:
                writer.write(first.data)
            async for msg in request_iterator:
                if msg.data:
                    writer.write(msg.data)
                    await writer.drain()
                if msg.close_write and writer.can_write_eof():
                    writer.write_eof()
            if writer.can_write_eof():
                with contextlib.suppress(OSError):
                    writer.write_eof()

        feeder = asyncio.create_task(feed())
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                yield kubelet_pb2.PortForwardOutput(data=data)
        finally:
            feeder.cancel()
            writer.close()


async def serve(service: KubeletService, address: str) -> tuple[grpc.aio.Server, int]:
    """Start the kubelet's gRPC server on `host:port` (port 0 picks one)."""
    server = grpc.aio.server()
    kubelet_pb2_grpc.add_KubeletServicer_to_server(service, server)
    port = server.add_insecure_port(address)
    await server.start()
    return server, port
