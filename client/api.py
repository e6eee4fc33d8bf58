"""The async client of the apiserver's gRPC API.

Objects go in and come out as Kubernetes JSON (plain dicts); failures come out
as `apimachinery.errors.APIError` subclasses (NotFound, Conflict, Gone...),
whether the apiserver refused the call or could not be reached. Every
component talks to the apiserver through this class.
"""

from __future__ import annotations

import asyncio
import builtins
import json
from collections.abc import AsyncIterator, Awaitable
from typing import Any, NamedTuple, TypeVar

import grpc

from apimachinery import errors
from apimachinery.scheme import ResourceType
from genproto import api_pb2, api_pb2_grpc

T = TypeVar("T")

# Room for objects up to the apiserver's own limit plus the envelope, so an
# oversized object reaches the apiserver and gets its clear 413.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024

JSON = dict[str, Any]


class WatchEvent(NamedTuple):
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: JSON


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _ref(
    resource: ResourceType,
    *,
    namespace: str = "",
    name: str = "",
    resource_version: str = "",
    subresource: str = "",
) -> api_pb2.ObjectRef:
    return api_pb2.ObjectRef(
        gvr=api_pb2.GroupVersionResource(
            group=resource.group, version=resource.version, resource=resource.resource
        ),
        namespace=namespace if resource.namespaced else "",
        name=name,
        resource_version=resource_version,
        subresource=subresource,
    )


def _options(dry_run: bool, field_manager: str, field_validation: str) -> api_pb2.WriteOptions:
    return api_pb2.WriteOptions(
        dry_run=dry_run, field_manager=field_manager, field_validation=field_validation
    )


async def _call(awaitable: Awaitable[T]) -> T:
    try:
        return await awaitable
    except grpc.aio.AioRpcError as e:
        raise errors.APIError.from_grpc(e.code(), e.details()) from None


class APIClient:
    """One channel to the apiserver; safe to share between tasks of one event loop."""

    def __init__(self, address: str, *, timeout: float = 30.0) -> None:
        self.address = address
        self.timeout = timeout
        self._channel = grpc.aio.insecure_channel(
            address,
            options=[
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.keepalive_time_ms", 10_000),
                ("grpc.keepalive_timeout_ms", 5_000),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.initial_reconnect_backoff_ms", 200),
                ("grpc.max_reconnect_backoff_ms", 2_000),
            ],
        )
        self._stub = api_pb2_grpc.APIStub(self._channel)

    async def close(self) -> None:
        await self._channel.close(grace=None)

    async def __aenter__(self) -> APIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_ready(self, within_s: float = 30.0) -> None:
        """Wait until the channel is connected (the apiserver is listening)."""
        try:
            async with asyncio.timeout(within_s):
                await self._channel.channel_ready()
        except TimeoutError:
            raise errors.ServiceUnavailable(
                f"the apiserver at {self.address} did not answer within {within_s:.0f}s"
            ) from None

    async def create(
        self,
        resource: ResourceType,
        obj: JSON,
        *,
        namespace: str = "",
        subresource: str = "",
        name: str = "",
        dry_run: bool = False,
        field_manager: str = "",
        field_validation: str = "",
    ) -> JSON:
        namespace = namespace or obj.get("metadata", {}).get("namespace", "")
        req = api_pb2.CreateRequest(
            ref=_ref(resource, namespace=namespace, name=name, subresource=subresource),
            object=_dumps(obj),
            options=_options(dry_run, field_manager, field_validation),
        )
        reply = await _call(self._stub.Create(req, timeout=self.timeout))
        return _loads(reply.json)

    async def get(
        self,
        resource: ResourceType,
        name: str,
        *,
        namespace: str = "",
        subresource: str = "",
        resource_version: str = "",
    ) -> JSON:
        req = api_pb2.GetRequest(
            ref=_ref(
                resource,
                namespace=namespace,
                name=name,
                subresource=subresource,
                resource_version=resource_version,
            )
        )
        reply = await _call(self._stub.Get(req, timeout=self.timeout))
        return _loads(reply.json)

    async def list(
        self,
        resource: ResourceType,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        limit: int = 0,
        continue_token: str = "",
    ) -> JSON:
        """The Kubernetes list object (`items`, `metadata.resourceVersion`)."""
        req = api_pb2.ListRequest(
            ref=_ref(resource, namespace=namespace, resource_version=resource_version),
            label_selector=label_selector,
            field_selector=field_selector,
            limit=limit,
            continue_token=continue_token,
        )
        reply = await _call(self._stub.List(req, timeout=self.timeout))
        return _loads(reply.json)

    async def update(
        self,
        resource: ResourceType,
        obj: JSON,
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_manager: str = "",
        field_validation: str = "",
    ) -> JSON:
        """Replace the object named by its metadata; metadata.resourceVersion, when
        set, is a precondition (Conflict when the stored object moved on)."""
        meta = obj.get("metadata", {})
        req = api_pb2.UpdateRequest(
            ref=_ref(
                resource,
                namespace=meta.get("namespace", ""),
                name=meta.get("name", ""),
                resource_version=meta.get("resourceVersion", ""),
                subresource=subresource,
            ),
            object=_dumps(obj),
            options=_options(dry_run, field_manager, field_validation),
        )
        method = self._stub.UpdateStatus if subresource == "status" else self._stub.Update
        reply = await _call(method(req, timeout=self.timeout))
        return _loads(reply.json)

    async def update_status(self, resource: ResourceType, obj: JSON) -> JSON:
        return await self.update(resource, obj, subresource="status")

    async def patch(
        self,
        resource: ResourceType,
        name: str,
        patch: JSON | builtins.list[Any],
        *,
        namespace: str = "",
        patch_type: str = "application/merge-patch+json",
        subresource: str = "",
        dry_run: bool = False,
        field_manager: str = "",
        force: bool = False,
    ) -> JSON:
        req = api_pb2.PatchRequest(
            ref=_ref(resource, namespace=namespace, name=name, subresource=subresource),
            patch_type=patch_type,
            patch=_dumps(patch),
            options=_options(dry_run, field_manager, ""),
            force=force,
        )
        reply = await _call(self._stub.Patch(req, timeout=self.timeout))
        return _loads(reply.json)

    async def delete(
        self,
        resource: ResourceType,
        name: str,
        *,
        namespace: str = "",
        options: JSON | None = None,
        resource_version: str = "",
    ) -> JSON:
        req = api_pb2.DeleteRequest(
            ref=_ref(resource, namespace=namespace, name=name, resource_version=resource_version),
            delete_options=_dumps(options) if options else b"",
        )
        reply = await _call(self._stub.Delete(req, timeout=self.timeout))
        return _loads(reply.json)

    async def watch(
        self,
        resource: ResourceType,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        allow_bookmarks: bool = False,
    ) -> AsyncIterator[WatchEvent]:
        """Events after `resource_version` ("" = current state as ADDED first).

        An ERROR event (410 Gone after compaction, for instance) is raised as its
        APIError; the stream ending is the iterator ending.
        """
        req = api_pb2.WatchRequest(
            ref=_ref(resource, namespace=namespace, resource_version=resource_version),
            label_selector=label_selector,
            field_selector=field_selector,
            allow_bookmarks=allow_bookmarks,
        )
        call = self._stub.Watch(req)
        try:
            async for event in _stream(call):
                if event.type == "ERROR":
                    raise errors.APIError.from_status(_loads(event.object))
                yield WatchEvent(event.type, _loads(event.object))
        finally:
            call.cancel()


async def _stream(call: Any) -> AsyncIterator[api_pb2.WatchEvent]:
    try:
        async for event in call:
            yield event
    except grpc.aio.AioRpcError as e:
        if e.code() == grpc.StatusCode.CANCELLED and call.cancelled():
            return
        raise errors.APIError.from_grpc(e.code(), e.details()) from None


def _loads(data: bytes) -> JSON:
    value = json.loads(data)
    if not isinstance(value, dict):
        raise errors.InternalError(f"the apiserver sent a non-object: {data[:80]!r}")
    return value
