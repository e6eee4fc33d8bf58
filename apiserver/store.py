"""The apiserver's only door to etcd: a small key-value Store with Kubernetes'
concurrency rules built in.

Every write is one etcd transaction whose comparison decides the outcome, so
two apiservers (or two requests) can never both win:

- create succeeds only while the key does not exist (`create_revision == 0`);
- update and delete succeed only while the key is at the revision the caller
  read (`mod_revision == rv`); otherwise the caller gets the current value
  back and decides between Conflict and a retry.

A key's `mod_revision` is the object's resourceVersion. `watch` streams the
changes under a prefix from a revision and raises `Compacted` when etcd no
longer holds that revision (the apiserver answers 410 Gone).

`Store` is the Protocol the registry and the watch cache are written against;
`EtcdStore` is the real thing on aetcd's connection and etcd's gRPC API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import aetcd
import grpc
from aetcd import rpc

from apimachinery import errors

log = logging.getLogger("apiserver")

# etcd's default request limit is 1.5 MiB; objects up to the apiserver's own
# 3 MiB limit need etcd started with a larger --max-request-bytes.
ETCD_CALL_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True)
class WriteResult:
    """The outcome of a conditional write: `succeeded`, the revision it was
    applied at (or etcd's current revision), and on failure the key as it now
    stands (None when it does not exist)."""

    succeeded: bool
    revision: int
    current: KeyValue | None = None


@dataclass(frozen=True)
class StoreEvent:
    """One change: `kv` after the change (the deleted key carries the deletion
    revision as mod_revision and its last value), `prev` before it."""

    type: str  # "PUT" or "DELETE"
    kv: KeyValue
    prev: KeyValue | None


@dataclass(frozen=True)
class WatchBatch:
    """The events of one etcd watch response, and the revision the stream has
    reached (progress notifications come with no events)."""

    events: list[StoreEvent]
    revision: int


class Compacted(Exception):
    """The requested revision is older than etcd's compaction point."""

    def __init__(self, compact_revision: int) -> None:
        super().__init__(f"revision compacted (oldest available is {compact_revision})")
        self.compact_revision = compact_revision


class Store(Protocol):
    async def get(self, key: str) -> KeyValue | None: ...

    async def range(
        self, prefix: str, *, start_key: str = "", limit: int = 0, revision: int = 0
    ) -> tuple[list[KeyValue], bool, int]:
        """(kvs in key order, more, revision read at)."""
        ...

    async def create(self, key: str, value: bytes) -> WriteResult: ...

    async def update(self, key: str, value: bytes, expected_revision: int) -> WriteResult: ...

    async def delete(self, key: str, expected_revision: int) -> WriteResult: ...

    async def put(self, key: str, value: bytes) -> int:
        """Unconditional write (only for keys that are not objects); the revision."""
        ...

    def watch(self, prefix: str, start_revision: int) -> AsyncIterator[WatchBatch]: ...

    async def compact(self, revision: int) -> None: ...

    async def current_revision(self) -> int: ...


def prefix_range_end(prefix: bytes) -> bytes:
    s = bytearray(prefix)
    for i in reversed(range(len(s))):
        if s[i] < 0xFF:
            s[i] += 1
            return bytes(s[: i + 1])
    return b"\0"


def _kv(kv: Any) -> KeyValue:
    return KeyValue(
        key=kv.key.decode(),
        value=bytes(kv.value),
        create_revision=int(kv.create_revision),
        mod_revision=int(kv.mod_revision),
    )


def translate(e: grpc.aio.AioRpcError) -> errors.APIError:
    """An etcd failure as the API error a client should see."""
    details = e.details() or ""
    if "request is too large" in details:
        return errors.RequestEntityTooLarge(
            message=f"Request entity too large: etcd refused the object ({details})"
        )
    if e.code() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
    ):
        return errors.ServiceUnavailable(message=f"etcd is unavailable: {details}")
    return errors.InternalError(message=f"etcd error: {e.code().name}: {details}")


class EtcdStore:
    """`Store` on a real etcd (aetcd's connection, etcd's KV and Watch APIs)."""

    def __init__(self, host: str, port: int) -> None:
        self.client = aetcd.Client(
            host=host,
            port=port,
            options={
                "grpc.max_send_message_length": 16 * 1024 * 1024,
                "grpc.max_receive_message_length": 64 * 1024 * 1024,
                "grpc.keepalive_time_ms": 10_000,
                "grpc.keepalive_timeout_ms": 5_000,
                "grpc.initial_reconnect_backoff_ms": 200,
                "grpc.max_reconnect_backoff_ms": 2_000,
            },
        )
        self._kv: Any = None
        self._watch_stub: Any = None

    @classmethod
    def from_url(cls, url: str) -> EtcdStore:
        """From `--etcd-servers` (`http://host:port`, the first of a list)."""
        first = url.split(",", maxsplit=1)[0].strip()
        hostport = first.split("://", 1)[-1].rstrip("/")
        host, _, port = hostport.rpartition(":")
        return cls(host or "127.0.0.1", int(port or 2379))

    async def connect(self) -> None:
        await self.client.connect()
        self._kv = rpc.KVStub(self.client.channel)
        self._watch_stub = rpc.WatchStub(self.client.channel)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.close()

    async def _call(self, method: Any, request: Any) -> Any:
        if self._kv is None:
            await self.connect()
        try:
            return await method(request, timeout=ETCD_CALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None

    async def get(self, key: str) -> KeyValue | None:
        resp = await self._call(self._kv.Range, rpc.RangeRequest(key=key.encode()))
        return _kv(resp.kvs[0]) if resp.kvs else None

    async def range(
        self, prefix: str, *, start_key: str = "", limit: int = 0, revision: int = 0
    ) -> tuple[list[KeyValue], bool, int]:
        p = prefix.encode()
        request = rpc.RangeRequest(
            key=(start_key or prefix).encode(),
            range_end=prefix_range_end(p),
            limit=limit,
            revision=revision,
        )
        try:
            if self._kv is None:
                await self.connect()
            resp = await self._kv.Range(request, timeout=ETCD_CALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.OUT_OF_RANGE and "compacted" in (e.details() or ""):
                raise Compacted(0) from None
            raise translate(e) from None
        return [_kv(kv) for kv in resp.kvs], bool(resp.more), int(resp.header.revision)

    async def _txn(self, compare: Any, success: list[Any], key: str) -> WriteResult:
        request = rpc.TxnRequest(
            compare=[compare],
            success=success,
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=key.encode()))],
        )
        resp = await self._call(self._kv.Txn, request)
        revision = int(resp.header.revision)
        if resp.succeeded:
            return WriteResult(True, revision)
        kvs = resp.responses[0].response_range.kvs
        return WriteResult(False, revision, _kv(kvs[0]) if kvs else None)

    async def create(self, key: str, value: bytes) -> WriteResult:
        compare = rpc.Compare(
            key=key.encode(),
            result=rpc.Compare.EQUAL,
            target=rpc.Compare.CREATE,
            create_revision=0,
        )
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=key.encode(), value=value))
        return await self._txn(compare, [put], key)

    async def update(self, key: str, value: bytes, expected_revision: int) -> WriteResult:
        compare = rpc.Compare(
            key=key.encode(),
            result=rpc.Compare.EQUAL,
            target=rpc.Compare.MOD,
            mod_revision=expected_revision,
        )
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=key.encode(), value=value))
        return await self._txn(compare, [put], key)

    async def delete(self, key: str, expected_revision: int) -> WriteResult:
        compare = rpc.Compare(
            key=key.encode(),
            result=rpc.Compare.EQUAL,
            target=rpc.Compare.MOD,
            mod_revision=expected_revision,
        )
        op = rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=key.encode()))
        return await self._txn(compare, [op], key)

    async def put(self, key: str, value: bytes) -> int:
        resp = await self._call(self._kv.Put, rpc.PutRequest(key=key.encode(), value=value))
        return int(resp.header.revision)

    async def compact(self, revision: int) -> None:
        try:
            await self._call(self._kv.Compact, rpc.CompactionRequest(revision=revision))
        except errors.InternalError as e:
            if "compacted" in e.message:
                return  # someone compacted further already
            raise

    async def current_revision(self) -> int:
        resp = await self._call(
            self._kv.Range, rpc.RangeRequest(key=b"/registry/", count_only=True)
        )
        return int(resp.header.revision)

    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[WatchBatch]:
        """Changes under `prefix` from `start_revision` (inclusive), one etcd
        watch stream of its own. Raises Compacted, or ServiceUnavailable when
        the stream breaks (the caller restarts from the last revision it saw)."""
        if self._watch_stub is None:
            await self.connect()
        p = prefix.encode()
        requests: asyncio.Queue[Any] = asyncio.Queue()
        await requests.put(
            rpc.WatchRequest(
                create_request=rpc.WatchCreateRequest(
                    key=p,
                    range_end=prefix_range_end(p),
                    start_revision=start_revision,
                    prev_kv=True,
                    progress_notify=True,
                )
            )
        )

        async def request_iterator() -> AsyncIterator[Any]:
            while True:
                item = await requests.get()
                if item is None:
                    return
                yield item

        call = self._watch_stub.Watch(request_iterator())
        try:
            async for resp in call:
                if resp.compact_revision:
                    raise Compacted(int(resp.compact_revision))
                if resp.created and not resp.events:
                    continue
                if resp.canceled:
                    raise errors.ServiceUnavailable(
                        message=f"etcd canceled the watch: {resp.cancel_reason}"
                    )
                events = []
                for ev in resp.events:
                    kv = _kv(ev.kv)
                    prev = _kv(ev.prev_kv) if ev.HasField("prev_kv") else None
                    if ev.type == rpc.Event.DELETE:
                        # The deleted key's last value, at the deletion revision.
                        value = prev.value if prev else b""
                        kv = KeyValue(
                            kv.key, value, prev.create_revision if prev else 0, kv.mod_revision
                        )
                        events.append(StoreEvent("DELETE", kv, prev))
                    else:
                        events.append(StoreEvent("PUT", kv, prev))
                yield WatchBatch(events, int(resp.header.revision))
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None
        finally:
            await requests.put(None)
            call.cancel()
