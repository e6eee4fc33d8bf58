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
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from apimachinery.scheme import ResourceType
from apimachinery.selectors import Selector
from client.api import APIClient

JSON = dict[str, Any]
AddHandler = Callable[[JSON], None]
UpdateHandler = Callable[[JSON, JSON], None]
DeleteHandler = Callable[[JSON], None]
IndexFunc = Callable[[JSON], Iterable[str]]

NAMESPACE_INDEX = "namespace"

log = logging.getLogger("client.informer")


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
        raise NotImplementedError

    async def run(self) -> None:
        """List then watch until cancelled (never returns otherwise)."""
        raise NotImplementedError

    def has_synced(self) -> bool:
        """Whether the first list has been stored and its handlers called."""
        return self._synced.is_set()

    async def wait_synced(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Wait for the first list; False when `timeout` seconds pass first."""
        raise NotImplementedError

    def get(self, namespace: str, name: str) -> JSON | None:
        """The cached object, or None. Use namespace "" for cluster-scoped ones."""
        raise NotImplementedError

    def get_by_key(self, key: str) -> JSON | None:
        """The cached object for `"ns/name"` (or `"name"`), or None."""
        raise NotImplementedError

    def list(
        self,
        namespace: str | None = None,
        selector: Mapping[str, Any] | Selector | str | None = None,
    ) -> builtins.list[JSON]:
        """Cached objects (in key order) in `namespace` (None or "" = all) that
        match `selector`: a Selector, a selector string (`app=web,tier!=db`), a
        LabelSelector object (`{"matchLabels": ..., "matchExpressions": ...}`) or
        a plain label map (a Service's `spec.selector`)."""
        raise NotImplementedError

    def keys(self) -> builtins.list[str]:
        """The keys of every cached object."""
        raise NotImplementedError

    def add_index(self, name: str, fn: IndexFunc) -> None:
        """Index the cache by `fn(obj)` (the values an object is filed under)."""
        raise NotImplementedError

    def by_index(self, name: str, value: str) -> builtins.list[JSON]:
        """Cached objects filed under `value` in index `name`."""
        raise NotImplementedError

    @property
    def last_sync_resource_version(self) -> str:
        """The resourceVersion the cache reflects (the last list or watch event)."""
        raise NotImplementedError


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
        raise NotImplementedError

    async def start(self) -> None:
        """Start every informer not yet running (idempotent)."""
        raise NotImplementedError

    async def wait_synced(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Wait until every informer has synced; False on timeout."""
        raise NotImplementedError

    async def stop(self) -> None:
        """Cancel the informers' tasks and wait for them."""
        raise NotImplementedError
