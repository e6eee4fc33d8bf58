"""The gRPC API (proto/api.proto) on top of the registry: thin translation only.

Each method decodes the envelope, calls the `Registry`, and encodes the
answer. Every failure leaves as a gRPC status whose details string is the
Kubernetes `Status` JSON (`APIError.to_json`), which `client.api` turns back
into the same exception class.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from apimachinery import errors, scheme
from apimachinery.scheme import ResourceType
from apiserver.registry import Registry
from genproto import api_pb2, api_pb2_grpc

log = logging.getLogger("apiserver")

T = TypeVar("T")
JSON = dict[str, Any]

MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _loads(data: bytes, limit: int) -> JSON:
    if len(data) > limit:
        raise errors.too_large(limit)
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.BadRequest(message=f"the object is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise errors.BadRequest(message="the object must be a JSON object")
    return value


def resource_type(ref: api_pb2.ObjectRef) -> ResourceType:
    return scheme.lookup(ref.gvr.group, ref.gvr.version, ref.gvr.resource)


def _delete_options(data: bytes) -> JSON | None:
    if not data:
        return None
    options = _loads(data, 1024 * 1024)
    return options


async def _abort(context: grpc.aio.ServicerContext[Any, Any], e: errors.APIError) -> None:
    await context.abort(e.grpc_code, e.to_json())


async def _guard(
    context: grpc.aio.ServicerContext[Any, Any], call: Callable[[], Awaitable[T]]
) -> T:
    try:
        return await call()
    except errors.APIError as e:
        await _abort(context, e)
        raise  # abort raises; this keeps mypy aware
    except Exception as e:
        log.exception("internal error")
        await _abort(context, errors.InternalError(message=f"internal error: {e}"))
        raise


class APIServicer(api_pb2_grpc.APIServicer):  # type: ignore[misc]
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    @property
    def _limit(self) -> int:
        return self.registry.max_object_bytes

    async def Create(
        self, request: api_pb2.CreateRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> api_pb2.Object:
        async def call() -> api_pb2.Object:
            rt = resource_type(request.ref)
            obj = _loads(request.object, self._limit)
            if request.ref.name and not request.ref.subresource:
                obj.setdefault("metadata", {}).setdefault("name", request.ref.name)
            if request.ref.name and request.ref.subresource:
                obj.setdefault("metadata", {}).setdefault("name", request.ref.name)
            created, warnings = await self.registry.create(
                rt,
                request.ref.namespace,
                obj,
                subresource=request.ref.subresource,
                dry_run=request.options.dry_run,
                field_manager=request.options.field_manager,
                field_validation=request.options.field_validation or "Strict",
            )
            return api_pb2.Object(json=_dumps(created), warnings=warnings)

        return await _guard(context, call)

    async def Get(
        self, request: api_pb2.GetRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> api_pb2.Object:
        async def call() -> api_pb2.Object:
            obj = await self.registry.get(
                resource_type(request.ref),
                request.ref.namespace,
                request.ref.name,
                resource_version=request.ref.resource_version,
                subresource=request.ref.subresource,
            )
            return api_pb2.Object(json=_dumps(obj))

        return await _guard(context, call)

    async def List(
        self, request: api_pb2.ListRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> api_pb2.ObjectList:
        async def call() -> api_pb2.ObjectList:
            result = await self.registry.list(
                resource_type(request.ref),
                request.ref.namespace,
                label_selector=request.label_selector,
                field_selector=request.field_selector,
                limit=int(request.limit),
                continue_token=request.continue_token,
                resource_version=request.ref.resource_version,
            )
            return api_pb2.ObjectList(json=_dumps(result))

        return await _guard(context, call)

    async def _update(
        self,
        request: api_pb2.UpdateRequest,
        context: grpc.aio.ServicerContext[Any, Any],
        subresource: str,
    ) -> api_pb2.Object:
        async def call() -> api_pb2.Object:
            rt = resource_type(request.ref)
            obj = _loads(request.object, self._limit)
            meta = obj.setdefault("metadata", {})
            if request.ref.resource_version and not meta.get("resourceVersion"):
                meta["resourceVersion"] = request.ref.resource_version
            updated, warnings = await self.registry.update(
                rt,
                request.ref.namespace,
                request.ref.name or str(meta.get("name") or ""),
                obj,
                subresource=subresource,
                dry_run=request.options.dry_run,
                field_manager=request.options.field_manager,
                field_validation=request.options.field_validation or "Strict",
            )
            return api_pb2.Object(json=_dumps(updated), warnings=warnings)

        return await _guard(context, call)

    async def Update(
        self, request: api_pb2.UpdateRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> api_pb2.Object:
        return await self._update(request, context, request.ref.subresource)

    async def UpdateStatus(
        self, request: api_pb2.UpdateRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> api_pb2.Object:
        return await self._update(request, context, request.ref.subresource or "status")

    async def Patch(
        self, request: api_pb2.PatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> api_pb2.Object:
        async def call() -> api_pb2.Object:
            if len(request.patch) > self._limit:
                raise errors.too_large(self._limit)
            patched, warnings = await self.registry.patch(
                resource_type(request.ref),
                request.ref.namespace,
                request.ref.name,
                request.patch_type or "application/merge-patch+json",
                request.patch,
                subresource=request.ref.subresource,
                dry_run=request.options.dry_run,
                field_manager=request.options.field_manager,
                field_validation=request.options.field_validation or "Strict",
                force=request.force,
            )
            return api_pb2.Object(json=_dumps(patched), warnings=warnings)

        return await _guard(context, call)

    async def Delete(
        self, request: api_pb2.DeleteRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> api_pb2.Object:
        async def call() -> api_pb2.Object:
            options = _delete_options(request.delete_options) or {}
            if request.ref.resource_version:
                preconditions = dict(options.get("preconditions") or {})
                preconditions.setdefault("resourceVersion", request.ref.resource_version)
                options["preconditions"] = preconditions
            obj = await self.registry.delete(
                resource_type(request.ref), request.ref.namespace, request.ref.name, options
            )
            return api_pb2.Object(json=_dumps(obj))

        return await _guard(context, call)

    async def Watch(
        self, request: api_pb2.WatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[api_pb2.WatchEvent]:
        try:
            rt = resource_type(request.ref)
            events = self.registry.watch_events(
                rt,
                request.ref.namespace,
                resource_version=request.ref.resource_version,
                label_selector=request.label_selector,
                field_selector=request.field_selector,
                allow_bookmarks=request.allow_bookmarks,
            )
            async with contextlib.aclosing(events):
                async for etype, obj, ev in events:
                    data = ev.encoded if ev is not None else _dumps(obj)
                    yield api_pb2.WatchEvent(type=etype, object=data)
        except errors.Gone as e:
            # As upstream: the stream carries an ERROR event with the Status.
            yield api_pb2.WatchEvent(type="ERROR", object=_dumps(e.to_status()))
        except errors.APIError as e:
            await _abort(context, e)
        except Exception as e:
            log.exception("watch failed")
            await _abort(context, errors.InternalError(message=f"internal error: {e}"))


def add_to_server(server: grpc.aio.Server, registry: Registry) -> None:
    api_pb2_grpc.add_APIServicer_to_server(APIServicer(registry), server)


def create_server(address: str, registry: Registry) -> tuple[grpc.aio.Server, int]:
    """A gRPC server with the API bound to `address` (port 0 picks one); not started."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
            ("grpc.http2.max_pings_without_data", 0),
        ]
    )
    add_to_server(server, registry)
    port = server.add_insecure_port(address)
    return server, port
