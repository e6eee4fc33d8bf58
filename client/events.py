"""Events: what happened to an object, in the words `kubectl describe` shows.

`EventRecorder.event(obj, "Normal", "Scheduled", "Successfully assigned ...")`
writes a core/v1 Event about `obj` (involvedObject, reason, message, type,
source.component/host, firstTimestamp/lastTimestamp, count). As upstream's
event correlator, a repeat of the same (object, type, reason, message) within
10 minutes updates the existing Event's count and lastTimestamp instead of
creating another one. Recording never blocks and never raises: events are
queued and written by a background task; if the apiserver is unreachable they
are dropped with a debug log (events are best effort in Kubernetes too).
Upstream's "similar events" aggregation (same reason, different messages,
combined into one) and its spam filter are not done.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apimachinery import errors, meta
from apimachinery.scheme import lookup
from client.api import APIClient

log = logging.getLogger("client.events")

NORMAL = "Normal"
WARNING = "Warning"

EVENTS = lookup("", "v1", "events")
AGGREGATION_WINDOW_S = 600.0  # upstream's 10 minutes
MAX_QUEUED = 1000
MAX_REMEMBERED = 4096  # upstream's LRU size

JSON = dict[str, Any]
# What makes two events "the same": the object, type, reason and message.
_Identity = tuple[str, str, str, str, str, str, str]


@dataclass
class _Pending:
    identity: _Identity
    event: JSON  # the Event to create when no recent twin exists
    timestamp: str  # when it happened (RFC 3339)
    seen: float  # monotonic time it happened


@dataclass
class _Recorded:
    event: JSON  # as last written (with metadata.resourceVersion)
    seen: float


def involved_object(obj: Mapping[str, Any], field_path: str = "") -> JSON:
    """The ObjectReference of `obj` (a whole object or already a reference)."""
    if "metadata" in obj:
        m = obj.get("metadata") or {}
        ref = {
            "apiVersion": obj.get("apiVersion", ""),
            "kind": obj.get("kind", ""),
            "namespace": m.get("namespace", ""),
            "name": m.get("name", ""),
            "uid": m.get("uid", ""),
            "resourceVersion": m.get("resourceVersion", ""),
        }
    else:
        keys = ("apiVersion", "kind", "namespace", "name", "uid", "resourceVersion", "fieldPath")
        ref = {k: obj.get(k, "") for k in keys}
    if field_path:
        ref["fieldPath"] = field_path
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    """Records Events on behalf of `component` (e.g. "default-scheduler") on `host`."""

    def __init__(self, api: APIClient, component: str, host: str = "") -> None:
        self.api = api
        self.component = component
        self.host = host
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._recent: collections.OrderedDict[_Identity, _Recorded] = collections.OrderedDict()
        self._closed = False

    def event(
        self,
        obj: Mapping[str, Any],
        type_: str,
        reason: str,
        message: str,
        *,
        field_path: str = "",
    ) -> None:
        """Record an event about `obj` (an object with apiVersion, kind, metadata,
        or an ObjectReference; `field_path` as the kubelet's `spec.containers{web}`).

        Fire and forget: returns at once, never raises.
        """
        try:
            self._enqueue(obj, type_, reason, message, field_path)
        except Exception:
            log.debug("could not record the event %s %r", reason, message, exc_info=True)

    def _enqueue(
        self, obj: Mapping[str, Any], type_: str, reason: str, message: str, field_path: str
    ) -> None:
        if self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.debug("no event loop: event %s %r not recorded", reason, message)
            return
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._write_loop(), name="event recorder")
        if self._queue.qsize() >= MAX_QUEUED:
            log.debug("too many events queued: %s %r dropped", reason, message)
            return
        ref = involved_object(obj, field_path)
        namespace = ref.get("namespace") or "default"
        timestamp = meta.now_rfc3339()
        event: JSON = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{ref.get('name', 'unknown')}.{time.time_ns():x}",
                "namespace": namespace,
            },
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "type": type_,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": timestamp,
            "lastTimestamp": timestamp,
            "count": 1,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
        identity: _Identity = (
            ref.get("uid", ""),
            ref.get("kind", ""),
            namespace,
            ref.get("name", ""),
            ref.get("fieldPath", ""),
            type_,
            f"{reason}\x00{message}",
        )
        self._queue.put_nowait(_Pending(identity, event, timestamp, time.monotonic()))

    async def _write_loop(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            pending = await queue.get()
            try:
                await self._write(pending)
            except asyncio.CancelledError:
                raise
            except errors.APIError as e:
                log.debug("event %s not written: %s", pending.event["reason"], e)
            except Exception:
                log.debug("event %s not written", pending.event["reason"], exc_info=True)
            finally:
                queue.task_done()

    async def _write(self, pending: _Pending) -> None:
        recent = self._recent.get(pending.identity)
        if recent is not None and pending.seen - recent.seen < AGGREGATION_WINDOW_S:
            written = await self._bump(recent.event, pending.timestamp)
        else:
            written = None
        if written is None:
            written = await self.api.create(EVENTS, pending.event)
        self._recent[pending.identity] = _Recorded(written, pending.seen)
        self._recent.move_to_end(pending.identity)
        while len(self._recent) > MAX_REMEMBERED:
            self._recent.popitem(last=False)

    async def _bump(self, event: JSON, timestamp: str) -> JSON | None:
        """Count one more occurrence on the stored Event; None when it is gone."""
        for _ in range(3):
            updated = copy.deepcopy(event)
            updated["count"] = int(updated.get("count") or 1) + 1
            updated["lastTimestamp"] = timestamp
            try:
                return await self.api.update(EVENTS, updated)
            except errors.NotFound:
                return None
            except errors.Conflict:
                m = event.get("metadata") or {}
                try:
                    event = await self.api.get(
                        EVENTS, m.get("name", ""), namespace=m.get("namespace", "")
                    )
                except errors.NotFound:
                    return None
        return None

    async def flush(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the events recorded so far are written (or dropped)."""
        if self._queue is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._queue.join()

    async def close(self) -> None:
        """Write what is queued (briefly), then stop the background task."""
        await self.flush(timeout=2.0)
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
