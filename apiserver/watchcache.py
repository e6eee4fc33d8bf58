"""The watch cache: one etcd watch per resource, fanned out to every watcher.

Like upstream's cacher, each resource type has one `WatchCache` holding

- the current objects (what a list with resourceVersion "0" answers), and
- a window of recent events, so a watcher that reconnects with the
  resourceVersion it last saw gets exactly the events it missed, in order.

A watch from a resourceVersion older than the window (or compacted in etcd)
gets 410 Gone `too old resource version`, and the client relists. The window
is preloaded at start from etcd's history, so watchers resume across an
apiserver restart too.

How the cache knows it has caught up: etcd 3.5's progress requests are not
reliable for watchers still replaying history, so the cache writes a *fence*:
a write to the bare prefix key `/registry/<resource>/` (never an object: no
namespace or name). When its own watch delivers that write, every event before
it has been delivered. The same fence answers a watch whose resourceVersion
is newer than the last event of this resource (an informer lists from etcd at
the global revision, then watches from it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import prometheus_client

from apimachinery import errors, selectors
from apimachinery.scheme import ResourceType
from apiserver.store import Compacted, KeyValue, Store, StoreEvent

log = logging.getLogger("apiserver")

JSON = dict[str, Any]

# Revisions of history replayed into the window at start.
PRELOAD_REVISIONS = 10_000
# Events kept per resource (older ones fall out of the window).
WINDOW_EVENTS = 10_000
# A watcher that falls this many events behind is closed (it resumes by itself).
WATCHER_BUFFER = 20_000
BOOKMARK_INTERVAL_S = 10.0
# How long a watch waits for the cache to reach a resourceVersion it asked for.
FRESHNESS_TIMEOUT_S = 3.0

ETCD_WATCHES = prometheus_client.Gauge(
    "apiserver_etcd_watches", "etcd watch streams open, by resource", ["resource"]
)
ETCD_WATCH_STARTS = prometheus_client.Counter(
    "apiserver_etcd_watch_starts_total", "etcd watch streams started, by resource", ["resource"]
)
WATCHERS = prometheus_client.Gauge(
    "apiserver_registered_watchers", "watchers served from the watch cache", ["resource"]
)
EVENTS_DISPATCHED = prometheus_client.Counter(
    "apiserver_watch_cache_events_total", "events received from etcd", ["resource"]
)
WATCHERS_TERMINATED = prometheus_client.Counter(
    "apiserver_terminated_watchers_total", "watchers closed for falling behind", ["resource"]
)


def decode(kv: KeyValue, revision: int) -> JSON:
    """An object from its etcd value, with resourceVersion = the revision."""
    obj: JSON = json.loads(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return obj


@dataclass
class CacheEvent:
    """One change of one object, shared by every watcher (never mutate it)."""

    type: str  # ADDED, MODIFIED, DELETED
    revision: int
    key: str
    object: JSON
    prev: JSON | None
    _encoded: bytes | None = None

    @property
    def encoded(self) -> bytes:
        if self._encoded is None:
            self._encoded = json.dumps(self.object, separators=(",", ":")).encode()
        return self._encoded


@dataclass(frozen=True)
class Filter:
    namespace: str
    labels: selectors.LabelSelector
    fields: selectors.FieldSelector

    def matches(self, rt: ResourceType, obj: JSON | None) -> bool:
        if obj is None:
            return False
        if self.namespace and (obj.get("metadata") or {}).get("namespace") != self.namespace:
            return False
        return selectors.matches(rt, obj, labels=self.labels, fields=self.fields)

    @property
    def everything(self) -> bool:
        return not self.namespace and self.labels.empty() and self.fields.empty()


# What a watcher receives: (type, object, encoded-json-or-None); None ends the stream.
Delivery = tuple[str, JSON, CacheEvent | None]


@dataclass(eq=False)
class CacheWatcher:
    filter: Filter
    bookmarks: bool
    queue: asyncio.Queue[Delivery | None] = field(default_factory=asyncio.Queue)
    closed: bool = False
    gone: bool = False  # closed because the cache was reset: the client must relist


def filtered(rt: ResourceType, flt: Filter, ev: CacheEvent) -> str | None:
    """The event type a watcher with this filter sees, or None.

    An object leaving the selection is DELETED for that watcher, one entering
    it ADDED, as upstream's cacher does."""
    if flt.everything:
        return ev.type
    now = ev.type != "DELETED" and flt.matches(rt, ev.object)
    before = flt.matches(rt, ev.prev)
    if ev.type == "DELETED":
        return "DELETED" if before else None
    if now and before:
        return "MODIFIED"
    if now:
        return "ADDED"
    if before:
        return "DELETED"
    return None


class WatchCache:
    def __init__(self, store: Store, rt: ResourceType) -> None:
        self.store = store
        self.rt = rt
        self.prefix = rt.etcd_prefix()
        self.objects: dict[str, CacheEvent] = {}
        self.history: deque[CacheEvent] = deque()
        # Every event with revision > oldest is in history: watches from a
        # resourceVersion >= oldest can be served.
        self.oldest = 0
        # The cache reflects etcd up to this revision.
        self.revision = 0
        self.watchers: set[CacheWatcher] = set()
        self.synced = asyncio.Event()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._bookmarks: asyncio.Task[None] | None = None
        self.etcd_watches = 0
        self._listed_at = 0
        self.broken = False

    # -- life cycle

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"watchcache-{self.rt.resource}")
        self._bookmarks = asyncio.create_task(self._bookmark_loop())

    async def stop(self) -> None:
        for task in (self._task, self._bookmarks):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for w in list(self.watchers):
            self._close(w)

    def close_watchers(self) -> None:
        for w in list(self.watchers):
            self._close(w)

    async def _run(self) -> None:
        backoff = 0.2
        need_list = True
        start = 0
        while True:
            try:
                if need_list:
                    start = await self._relist()
                    need_list = False
                await self._watch_from(start)
            except asyncio.CancelledError:
                raise
            except Compacted as e:
                if self.synced.is_set():
                    log.info(
                        "watch cache for %s fell behind etcd's compaction (%s); relisting",
                        self.rt.resource,
                        e.compact_revision,
                    )
                    need_list = True
                else:
                    # Preloading history from before the compaction point: start there.
                    start = max(start + 1, e.compact_revision)
                    self.history.clear()
                    self.oldest = start - 1
            except Exception as e:
                # Once per outage at warning level: 26 resources fail together.
                (log.debug if self.broken else log.warning)(
                    "watch of %s in etcd broke (%s); resuming from revision %d",
                    self.rt.resource,
                    e,
                    self.revision + 1,
                )
                self.broken = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                if self.synced.is_set():
                    start = self.revision + 1
                else:
                    need_list = True  # a partial preload: start over
                continue
            backoff = 0.2
            if self.synced.is_set():
                start = self.revision + 1

    async def _relist(self) -> int:
        """Load the current objects; the revision to watch from (with history)."""
        kvs: list[KeyValue] = []
        start_key = ""
        revision = 0
        while True:
            page, more, rev = await self.store.range(
                self.prefix, start_key=start_key, limit=1000, revision=revision
            )
            revision = rev
            kvs.extend(kv for kv in page if self._is_object_key(kv.key))
            if not more or not page:
                break
            start_key = page[-1].key + "\0"
        # Watchers of a previous generation of the cache must relist too.
        for w in list(self.watchers):
            w.gone = True
            self._close(w)
        self.objects = {
            kv.key: CacheEvent("ADDED", kv.mod_revision, kv.key, decode(kv, kv.mod_revision), None)
            for kv in kvs
        }
        self.history.clear()
        self._listed_at = revision
        self.revision = revision
        start = max(1, revision - PRELOAD_REVISIONS + 1)
        self.oldest = start - 1
        self.synced.clear()
        return start

    def _is_object_key(self, key: str) -> bool:
        return len(key) > len(self.prefix)

    async def _watch_from(self, start: int) -> None:
        self.etcd_watches += 1
        ETCD_WATCHES.labels(self.rt.resource).inc()
        ETCD_WATCH_STARTS.labels(self.rt.resource).inc()
        fence_task: asyncio.Task[None] | None = None
        try:
            if not self.synced.is_set():
                fence_task = asyncio.create_task(self._fence())
            async for batch in self.store.watch(self.prefix, start):
                if self.broken:
                    self.broken = False
                    log.info("watch of %s in etcd resumed", self.rt.resource)
                for ev in batch.events:
                    self._apply(ev)
                if batch.events:
                    async with self._changed:
                        self._changed.notify_all()
        finally:
            self.etcd_watches -= 1
            ETCD_WATCHES.labels(self.rt.resource).dec()
            if fence_task:
                fence_task.cancel()

    async def _fence(self) -> None:
        """Write the prefix key; its event proves the watch has caught up."""
        for attempt in range(50):
            try:
                await self.store.put(self.prefix, b"")
                return
            except errors.APIError:
                await asyncio.sleep(min(0.1 * (attempt + 1), 1.0))

    def _apply(self, sev: StoreEvent) -> None:
        rev = sev.kv.mod_revision
        if not self._is_object_key(sev.kv.key):
            # A fence: everything up to here has been delivered.
            self.revision = max(self.revision, rev)
            if not self.synced.is_set() and rev >= self._listed_at:
                self.synced.set()
                log.info(
                    "watch cache for %s synced at revision %d (%d objects)",
                    self.rt.resource,
                    self.revision,
                    len(self.objects),
                )
            return
        EVENTS_DISPATCHED.labels(self.rt.resource).inc()
        prev = decode(sev.prev, sev.prev.mod_revision) if sev.prev else None
        if prev is None and rev > self._listed_at and sev.kv.key in self.objects:
            # etcd had no previous value to send (compacted): the cache has it.
            prev = self.objects[sev.kv.key].object
        if sev.type == "DELETE":
            if prev is None:
                return
            obj = dict(prev)
            obj["metadata"] = {**prev["metadata"], "resourceVersion": str(rev)}
            ev = CacheEvent("DELETED", rev, sev.kv.key, obj, prev)
        else:
            obj = decode(sev.kv, rev)
            ev = CacheEvent("ADDED" if prev is None else "MODIFIED", rev, sev.kv.key, obj, prev)
        self.history.append(ev)
        while len(self.history) > WINDOW_EVENTS:
            dropped = self.history.popleft()
            self.oldest = max(self.oldest, dropped.revision)
        if rev <= self._listed_at:
            return  # preloaded history: the listed state already includes it
        if sev.type == "DELETE":
            self.objects.pop(sev.kv.key, None)
        else:
            self.objects[sev.kv.key] = ev
        self.revision = max(self.revision, rev)
        self._dispatch(ev)

    def _dispatch(self, ev: CacheEvent) -> None:
        for w in list(self.watchers):
            etype = filtered(self.rt, w.filter, ev)
            if etype is None:
                continue
            if w.queue.qsize() >= WATCHER_BUFFER:
                WATCHERS_TERMINATED.labels(self.rt.resource).inc()
                log.warning("closing a %s watcher that fell behind", self.rt.resource)
                self._close(w)
                continue
            w.queue.put_nowait((etype, ev.object, ev if etype == ev.type else None))

    def _close(self, w: CacheWatcher) -> None:
        if w in self.watchers:
            self.watchers.discard(w)
            WATCHERS.labels(self.rt.resource).dec()
        if not w.closed:
            w.closed = True
            w.queue.put_nowait(None)

    async def _bookmark_loop(self) -> None:
        while True:
            await asyncio.sleep(BOOKMARK_INTERVAL_S)
            for w in list(self.watchers):
                if w.bookmarks and w.queue.qsize() == 0:
                    w.queue.put_nowait(("BOOKMARK", self.bookmark_object(), None))

    def bookmark_object(self) -> JSON:
        return {
            "kind": self.rt.kind,
            "apiVersion": self.rt.api_version,
            "metadata": {"resourceVersion": str(self.revision)},
        }

    # -- reads

    async def wait_synced(self, within_s: float) -> None:
        try:
            await asyncio.wait_for(self.synced.wait(), within_s)
        except TimeoutError:
            raise errors.ServiceUnavailable(
                message=f"the watch cache for {self.rt.resource} is not ready yet",
                retry_after_seconds=1,
            ) from None

    async def wait_for_revision(self, revision: int, within_s: float = FRESHNESS_TIMEOUT_S) -> None:
        """Until the cache reflects etcd up to `revision`.

        A fence written now lands after `revision` (which the client read
        before asking), so its event proves the cache has caught up even when
        this resource saw no change since."""
        await self.wait_synced(within_s)
        if self.revision >= revision:
            return
        deadline = time.monotonic() + within_s
        fence = asyncio.create_task(self._fence())
        try:
            async with self._changed:
                while self.revision < revision:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise errors.Timeout(
                            message=f"Too large resource version: {revision}, "
                            f"current: {self.revision}",
                            retry_after_seconds=1,
                        )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
        finally:
            if not fence.done():
                fence.cancel()

    def list(self, flt: Filter) -> tuple[list[JSON], int]:
        """The current objects that match, sorted by key, and the cache revision."""
        items = [
            ev.object for key, ev in sorted(self.objects.items()) if flt.matches(self.rt, ev.object)
        ]
        return items, self.revision

    def get(self, key: str) -> JSON | None:
        ev = self.objects.get(key)
        return ev.object if ev else None

    async def watch(
        self, flt: Filter, resource_version: int | None, *, bookmarks: bool = False
    ) -> AsyncGenerator[Delivery, None]:
        """Events for `flt` after `resource_version`; None = the current
        objects as ADDED first. Raises Gone for a version out of the window."""
        if resource_version is not None:
            await self.wait_for_revision(resource_version)
        else:
            await self.wait_synced(FRESHNESS_TIMEOUT_S * 10)
        w = CacheWatcher(flt, bookmarks)
        # No await between reading the state and registering: nothing is missed.
        if resource_version is None:
            for _, ev in sorted(self.objects.items()):
                if flt.matches(self.rt, ev.object):
                    w.queue.put_nowait(("ADDED", ev.object, ev))
        else:
            if resource_version < self.oldest:
                raise errors.gone(resource_version, self.oldest)
            for ev in self.history:
                if ev.revision > resource_version:
                    etype = filtered(self.rt, flt, ev)
                    if etype is not None:
                        w.queue.put_nowait((etype, ev.object, ev if etype == ev.type else None))
        self.watchers.add(w)
        WATCHERS.labels(self.rt.resource).inc()
        try:
            while True:
                item = await w.queue.get()
                if item is None:
                    if w.gone:
                        raise errors.gone(resource_version or 0)
                    return
                yield item
        finally:
            self._close(w)

    def compacted(self, revision: int) -> None:
        """etcd was compacted at `revision`: older versions are gone here too."""
        if revision - 1 > self.oldest:
            self.oldest = revision - 1
            while self.history and self.history[0].revision <= self.oldest:
                self.history.popleft()
