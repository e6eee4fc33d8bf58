"""Informers: a local cache of one resource, kept current by list + watch.

Controllers read from the cache instead of asking the apiserver, and react to
its changes through handlers that only enqueue keys. The loop is client-go's
reflector: list (which gives a resourceVersion), then watch from that
resourceVersion; when the watch ends, watch again from the last version seen;
when the apiserver answers 410 Gone (the version was compacted), list again and
reconcile the cache with the fresh list, calling on_delete for objects that
vanished meanwhile. Stream and connection errors are retried with backoff, and
logged in plain words.

The cache is indexed by namespace and by every label, so
`list(namespace, selector)` does not scan every object; more indexes can be
added with `add_index(name, fn)`.

Objects handed out (to handlers, by `get` and `list`) are the cache's own
dicts: treat them as read-only and copy (`copy.deepcopy`) before changing one.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import random
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from typing import Any, cast

from apimachinery import errors, meta
from apimachinery.scheme import ResourceType
from apimachinery.selectors import (
    DOUBLE_EQUALS,
    EQUALS,
    EXISTS,
    IN,
    LabelSelector,
    Selector,
    label_selector_from_dict,
    parse_label_selector,
    selector_from_set,
)
from client import metrics
from client.api import APIClient, WatchEvent

JSON = dict[str, Any]
AddHandler = Callable[[JSON], None]
UpdateHandler = Callable[[JSON, JSON], None]
DeleteHandler = Callable[[JSON], None]
IndexFunc = Callable[[JSON], Iterable[str]]

NAMESPACE_INDEX = "namespace"

log = logging.getLogger("client.informer")


class Backoff:
    """Exponential backoff with jitter for retry loops: `initial` doubling up to
    `maximum`; `reset()` after a success."""

    def __init__(self, initial: float = 0.8, maximum: float = 10.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self._next = initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return delay * random.uniform(1.0, 1.2)

    def reset(self) -> None:
        self._next = self.initial


def _namespace_index(obj: JSON) -> list[str]:
    return [meta.namespace_of(obj)]


def _resource_version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def to_selector(selector: Mapping[str, Any] | Selector | str | None) -> Selector | None:
    """A Selector from what `Informer.list` accepts (None = no filtering)."""
    if selector is None:
        return None
    if isinstance(selector, str):
        return parse_label_selector(selector)
    if isinstance(selector, Mapping):
        if selector and set(selector) <= {"matchLabels", "matchExpressions"}:
            return label_selector_from_dict(selector)
        return selector_from_set({str(k): str(v) for k, v in selector.items()})
    return selector


class _Handlers:
    __slots__ = ("on_add", "on_delete", "on_update")

    def __init__(
        self,
        on_add: AddHandler | None,
        on_update: UpdateHandler | None,
        on_delete: DeleteHandler | None,
    ) -> None:
        self.on_add = on_add
        self.on_update = on_update
        self.on_delete = on_delete


class Informer:
    """A list + watch cache of one resource (optionally one namespace, and
    filtered by label and field selectors as the apiserver applies them)."""

    def __init__(
        self,
        api: APIClient,
        rt: ResourceType,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
        resync_period: float = 0.0,
    ) -> None:
        """`resync_period` > 0 calls on_update(obj, obj) for every cached object
        that often (upstream's resync), so level-triggered loops revisit them."""
        self.api = api
        self.rt = rt
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self._synced = asyncio.Event()
        self._store: dict[str, JSON] = {}
        self._indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: _namespace_index}
        self._indices: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}
        # label key -> label value -> keys of the objects carrying that label
        self._labels: dict[str, dict[str, set[str]]] = {}
        self._handlers: builtins.list[_Handlers] = []
        self._rv = ""
        self._backoff = Backoff()
        # Full lists made so far (the first one, then one per relist).
        self.lists = 0
        fam = metrics.families()
        self._events_metric = fam.informer_events
        self._relists_metric = fam.informer_relists.labels(rt.qualified_resource)

    @property
    def what(self) -> str:
        """How logs name what this informer watches: `pods`, `pods in default`."""
        where = f" in {self.namespace}" if self.namespace else ""
        sel = ",".join(s for s in (self.label_selector, self.field_selector) if s)
        return f"{self.rt.qualified_resource}{where}" + (f" ({sel})" if sel else "")

    # --- handlers ----------------------------------------------------------------

    def add_handlers(
        self,
        *,
        on_add: AddHandler | None = None,
        on_update: UpdateHandler | None = None,
        on_delete: DeleteHandler | None = None,
    ) -> None:
        """Register handlers, called in registration order on the event loop.

        on_add(obj), on_update(old, new), on_delete(last known obj). A handler
        added after objects are cached gets on_add for each of them at once.
        Handlers must not block: enqueue keys, do the work elsewhere.
        """
        handlers = _Handlers(on_add, on_update, on_delete)
        self._handlers.append(handlers)
        if on_add is not None:
            for key in sorted(self._store):
                self._call(on_add, "add", self._store[key])

    def _call(self, fn: Callable[..., None], what: str, *objs: JSON) -> None:
        try:
            fn(*objs)
        except Exception:
            log.exception(
                "a handler of the %s informer failed on the %s of %s",
                self.what,
                what,
                meta.key(objs[-1]),
            )

    def _notify_add(self, obj: JSON) -> None:
        for h in self._handlers:
            if h.on_add is not None:
                self._call(h.on_add, "add", obj)

    def _notify_update(self, old: JSON, new: JSON) -> None:
        for h in self._handlers:
            if h.on_update is not None:
                self._call(h.on_update, "update", old, new)

    def _notify_delete(self, obj: JSON) -> None:
        for h in self._handlers:
            if h.on_delete is not None:
                self._call(h.on_delete, "delete", obj)

    # --- the list + watch loop -----------------------------------------------------

    async def run(self) -> None:
        """List then watch until cancelled (never returns otherwise)."""
        resync = None
        if self.resync_period > 0:
            resync = asyncio.create_task(self._resync_loop(), name=f"resync {self.what}")
        try:
            while True:
                if not await self.list_once():
                    await asyncio.sleep(self._backoff.next())
                    continue
                while await self.watch_once():
                    pass
        finally:
            if resync is not None:
                resync.cancel()

    async def list_once(self) -> bool:
        """One full list, reconciled into the cache; False (logged) on failure."""
        try:
            result = await self.api.list(
                self.rt,
                namespace=self.namespace,
                label_selector=self.label_selector,
                field_selector=self.field_selector,
            )
            items = result.get("items") or []
            rv = str((result.get("metadata") or {}).get("resourceVersion") or "")
            self.lists += 1
            self._relists_metric.inc()
            self.replace(items, rv)
        except errors.APIError as e:
            log.warning("could not list %s (%s); will try again", self.what, e)
            return False
        except Exception:
            log.exception("could not list %s; will try again", self.what)
            return False
        self._backoff.reset()
        if not self._synced.is_set():
            log.debug("%s: cache filled with %d objects at version %s", self.what, len(items), rv)
            self._synced.set()
        return True

    async def watch_once(self) -> bool:
        """One watch stream from the last resourceVersion, until it ends.

        True: watch again from where this one stopped (the stream ended, or the
        connection broke: the apiserver replays what we missed). False: list
        again (410 Gone, or an error after which the cache may be wrong).
        """
        started = time.monotonic()
        received = 0
        try:
            stream = cast(
                AsyncGenerator[WatchEvent, None],
                self.api.watch(
                    self.rt,
                    namespace=self.namespace,
                    label_selector=self.label_selector,
                    field_selector=self.field_selector,
                    resource_version=self._rv,
                    allow_bookmarks=True,
                ),
            )
            async with contextlib.aclosing(stream):
                async for event in stream:
                    received += 1
                    if received == 1:
                        self._backoff.reset()
                    self.handle_event(event)
        except errors.Gone as e:
            log.info("the watch on %s is too old (%s): listing everything again", self.what, e)
            return False
        except (errors.ServiceUnavailable, errors.Timeout, errors.TooManyRequests) as e:
            delay = self._backoff.next()
            log.warning(
                "lost the watch on %s (%s); watching again from version %s in %.1fs",
                self.what,
                e,
                self._rv or "(latest)",
                delay,
            )
            await asyncio.sleep(delay)
            return True
        except errors.APIError as e:
            delay = self._backoff.next()
            log.warning(
                "the watch on %s failed (%s); listing everything again in %.1fs",
                self.what,
                e,
                delay,
            )
            await asyncio.sleep(delay)
            return False
        except Exception:
            delay = self._backoff.next()
            log.exception(
                "the watch on %s broke unexpectedly; listing everything again in %.1fs",
                self.what,
                delay,
            )
            await asyncio.sleep(delay)
            return False
        if received == 0 and time.monotonic() - started < 1.0:
            # A stream that closes at once, again and again: do not spin.
            await asyncio.sleep(self._backoff.next())
        return True

    def handle_event(self, event: WatchEvent) -> None:
        """Apply one watch event to the cache and call the handlers."""
        self._events_metric.labels(self.rt.qualified_resource, event.type).inc()
        obj = event.object
        rv = _resource_version(obj)
        if event.type == "BOOKMARK":
            if rv:
                self._rv = rv
            return
        self._fill_type(obj)
        key = meta.key(obj)
        if event.type in ("ADDED", "MODIFIED"):
            old = self._store.get(key)
            self._put(key, obj)
            if old is None:
                self._notify_add(obj)
            elif _resource_version(old) != rv or not rv:
                self._notify_update(old, obj)
        elif event.type == "DELETED":
            old = self._store.get(key)
            if old is not None:
                self._remove(key)
                self._notify_delete(obj)
        else:
            log.debug("ignoring a %s event on %s", event.type, self.what)
        if rv:
            self._rv = rv

    def replace(self, items: Iterable[JSON], resource_version: str) -> None:
        """Make the cache equal to a fresh list: on_delete for objects that
        vanished, on_add for new ones, on_update for changed ones."""
        fresh: dict[str, JSON] = {}
        for obj in items:
            self._fill_type(obj)
            fresh[meta.key(obj)] = obj
        for key in [k for k in self._store if k not in fresh]:
            gone = self._store[key]
            self._remove(key)
            self._notify_delete(gone)
        for key, obj in fresh.items():
            old = self._store.get(key)
            self._put(key, obj)
            if old is None:
                self._notify_add(obj)
            elif _resource_version(old) != _resource_version(obj):
                self._notify_update(old, obj)
        self._rv = resource_version

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync_period)
            if not self.has_synced():
                continue
            for obj in builtins.list(self._store.values()):
                self._notify_update(obj, obj)

    def _fill_type(self, obj: JSON) -> None:
        # List items may come without apiVersion/kind; events and owner
        # references need them.
        obj.setdefault("apiVersion", self.rt.api_version)
        obj.setdefault("kind", self.rt.kind)

    # --- the cache -------------------------------------------------------------------

    def has_synced(self) -> bool:
        """Whether the first list has been stored and its handlers called."""
        return self._synced.is_set()

    async def wait_synced(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Wait for the first list; False when `timeout` seconds pass first."""
        try:
            async with asyncio.timeout(timeout):
                await self._synced.wait()
        except TimeoutError:
            return False
        return True

    def get(self, namespace: str, name: str) -> JSON | None:
        """The cached object, or None. Use namespace "" for cluster-scoped ones."""
        return self._store.get(f"{namespace}/{name}" if namespace else name)

    def get_by_key(self, key: str) -> JSON | None:
        """The cached object for `"ns/name"` (or `"name"`), or None."""
        return self._store.get(key)

    def list(
        self,
        namespace: str | None = None,
        selector: Mapping[str, Any] | Selector | str | None = None,
    ) -> builtins.list[JSON]:
        """Cached objects (in key order) in `namespace` (None or "" = all) that
        match `selector`: a Selector, a selector string (`app=web,tier!=db`), a
        LabelSelector object (`{"matchLabels": ..., "matchExpressions": ...}`) or
        a plain label map (a Service's `spec.selector`)."""
        sel = to_selector(selector)
        if isinstance(sel, LabelSelector) and sel.nothing:
            return []
        candidates: set[str] | None = None
        if namespace:
            candidates = set(self._indices[NAMESPACE_INDEX].get(namespace, ()))
        if isinstance(sel, LabelSelector):
            for req in sel.requirements:
                by_value = self._labels.get(req.key, {})
                if req.operator in (EQUALS, DOUBLE_EQUALS, IN):
                    values: Iterable[str] = req.values
                elif req.operator == EXISTS:
                    values = by_value.keys()
                else:
                    continue
                found: set[str] = set()
                for value in values:
                    found |= by_value.get(value, set())
                candidates = found if candidates is None else candidates & found
        keys = sorted(self._store if candidates is None else candidates)
        out = []
        for key in keys:
            obj = self._store[key]
            if sel is None or sel.matches(meta.labels_of(obj)):
                out.append(obj)
        return out

    def keys(self) -> builtins.list[str]:
        """The keys of every cached object."""
        return sorted(self._store)

    def __len__(self) -> int:
        return len(self._store)

    def add_index(self, name: str, fn: IndexFunc) -> None:
        """Index the cache by `fn(obj)` (the values an object is filed under)."""
        self._indexers[name] = fn
        index: dict[str, set[str]] = {}
        self._indices[name] = index
        for key, obj in self._store.items():
            for value in self._index_values(name, fn, obj):
                index.setdefault(value, set()).add(key)

    def by_index(self, name: str, value: str) -> builtins.list[JSON]:
        """Cached objects filed under `value` in index `name` (in key order)."""
        if name not in self._indices:
            raise KeyError(f"the {self.what} informer has no index named {name!r}")
        keys = self._indices[name].get(value, set())
        return [self._store[k] for k in sorted(keys)]

    @property
    def last_sync_resource_version(self) -> str:
        """The resourceVersion the cache reflects (the last list or watch event)."""
        return self._rv

    def _index_values(self, name: str, fn: IndexFunc, obj: JSON) -> builtins.list[str]:
        try:
            return [str(v) for v in fn(obj)]
        except Exception:
            log.exception(
                "index %r of the %s informer failed on %s", name, self.what, meta.key(obj)
            )
            return []

    def _put(self, key: str, obj: JSON) -> None:
        old = self._store.get(key)
        if old is not None:
            self._unindex(key, old)
        self._store[key] = obj
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in self._index_values(name, fn, obj):
                index.setdefault(value, set()).add(key)
        for lk, lv in meta.labels_of(obj).items():
            self._labels.setdefault(lk, {}).setdefault(str(lv), set()).add(key)

    def _remove(self, key: str) -> None:
        old = self._store.pop(key, None)
        if old is not None:
            self._unindex(key, old)

    def _unindex(self, key: str, obj: JSON) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in self._index_values(name, fn, obj):
                _discard(index, value, key)
        for lk, lv in meta.labels_of(obj).items():
            by_value = self._labels.get(lk)
            if by_value is not None:
                _discard(by_value, str(lv), key)
                if not by_value:
                    del self._labels[lk]


def _discard(index: dict[str, set[str]], value: str, key: str) -> None:
    keys = index.get(value)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[value]


class InformerFactory:
    """One shared informer per (resource, namespace, selectors) for a component.

    factory = InformerFactory(api)
    pods = factory.informer(scheme_pods)
    await factory.start()          # runs every informer as a task
    await factory.wait_synced()
    ...
    await factory.stop()
    """

    def __init__(self, api: APIClient, *, resync_period: float = 0.0) -> None:
        self.api = api
        self.resync_period = resync_period
        self._informers: dict[tuple[ResourceType, str, str, str], Informer] = {}
        self._tasks: dict[Informer, asyncio.Task[None]] = {}
        self._started = False

    def informer(
        self,
        rt: ResourceType,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
    ) -> Informer:
        """The shared informer of `rt` (created on first use; started at once
        if the factory already runs)."""
        key = (rt, namespace, label_selector, field_selector)
        inf = self._informers.get(key)
        if inf is None:
            inf = Informer(
                self.api,
                rt,
                namespace=namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                resync_period=self.resync_period,
            )
            self._informers[key] = inf
            if self._started:
                self._start(inf)
        return inf

    def informers(self) -> builtins.list[Informer]:
        return builtins.list(self._informers.values())

    async def start(self) -> None:
        """Start every informer not yet running (idempotent)."""
        self._started = True
        for inf in self._informers.values():
            if inf not in self._tasks:
                self._start(inf)

    def _start(self, inf: Informer) -> None:
        task = asyncio.get_running_loop().create_task(inf.run(), name=f"informer {inf.what}")
        task.add_done_callback(_log_task_end)
        self._tasks[inf] = task

    def has_synced(self) -> bool:
        return all(inf.has_synced() for inf in self._informers.values())

    async def wait_synced(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Wait until every informer has synced; False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                for inf in builtins.list(self._informers.values()):
                    await inf.wait_synced()
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """Cancel the informers' tasks and wait for them."""
        tasks = builtins.list(self._tasks.values())
        self._tasks.clear()
        self._started = False
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _log_task_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped: %s", task.get_name(), task.exception(), exc_info=task.exception())
