"""What every controller shares: the sync loop around a workqueue, the narrow
interfaces a controller needs from the world (the apiserver, the informer
caches, the event recorder), and expectations.

A controller is a class with handlers that only enqueue keys and one
`async def sync(key)`: level-triggered, idempotent, reading from the informer
caches, quiet when the object is gone, raising to be retried with backoff. The
worker loop here is the only place that catches: a retryable API error
(Conflict, Unavailable...) is requeued with the key's backoff, anything else is
logged and requeued too, so a bug or a refusal never kills the controller.

The interfaces are Protocols so the unit tests can run `sync` against
in-memory fakes (tests/unit/cm_fakes.py) and assert the exact API actions.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from apimachinery import errors
from apimachinery.scheme import ResourceType

JSON = dict[str, Any]
log = logging.getLogger("controller-manager")


class API(Protocol):
    """The part of `client.api.APIClient` controllers use."""

    async def create(
        self, resource: ResourceType, obj: JSON, *, namespace: str = "", subresource: str = ""
    ) -> JSON: ...

    async def get(self, resource: ResourceType, name: str, *, namespace: str = "") -> JSON: ...

    async def list(
        self, resource: ResourceType, *, namespace: str = "", label_selector: str = ""
    ) -> JSON: ...

    async def update(self, resource: ResourceType, obj: JSON, *, subresource: str = "") -> JSON: ...

    async def update_status(self, resource: ResourceType, obj: JSON) -> JSON: ...

    async def patch(
        self,
        resource: ResourceType,
        name: str,
        patch: Any,
        *,
        namespace: str = "",
        patch_type: str = "application/merge-patch+json",
        subresource: str = "",
    ) -> JSON: ...

    async def delete(
        self, resource: ResourceType, name: str, *, namespace: str = "", options: JSON | None = None
    ) -> JSON: ...


class Lister(Protocol):
    """The part of `client.informer.Informer` controllers use: a read-only cache."""

    def add_handlers(
        self,
        *,
        on_add: Callable[[JSON], None] | None = None,
        on_update: Callable[[JSON, JSON], None] | None = None,
        on_delete: Callable[[JSON], None] | None = None,
    ) -> None: ...

    def get(self, namespace: str, name: str) -> JSON | None: ...

    def list(self, namespace: str | None = None) -> list[JSON]: ...

    def add_index(self, name: str, fn: Callable[[JSON], builtins.list[str]]) -> None: ...

    def by_index(self, name: str, value: str) -> builtins.list[JSON]: ...

    def has_synced(self) -> bool: ...


class Informers(Protocol):
    """`client.informer.InformerFactory`: one shared informer per resource."""

    def informer(self, rt: ResourceType) -> Lister: ...


class Recorder(Protocol):
    """`client.events.EventRecorder`."""

    def event(self, obj: JSON, type_: str, reason: str, message: str) -> None: ...


class Queue(Protocol):
    """`client.workqueue.WorkQueue`."""

    def add(self, key: str) -> None: ...

    def add_after(self, key: str, seconds: float) -> None: ...

    def add_rate_limited(self, key: str) -> None: ...

    def forget(self, key: str) -> None: ...

    def num_requeues(self, key: str) -> int: ...

    async def get(self) -> str | None: ...

    def done(self, key: str) -> None: ...

    def shutdown(self) -> None: ...


@dataclass
class Options:
    """Controller-manager settings (command-line flags)."""

    node_monitor_grace_period: float = 40.0
    node_monitor_period: float = 1.0
    default_not_ready_toleration_seconds: int = 300
    default_unreachable_toleration_seconds: int = 300
    terminated_pod_gc_threshold: int = 12500
    pod_gc_period: float = 5.0
    workers: int = 2


@dataclass
class Context:
    """Everything a controller is built from."""

    api: API
    informers: Informers
    new_recorder: Callable[[str], Recorder]  # by event source component
    new_queue: Callable[[str], Queue]
    options: Options = field(default_factory=Options)
    clock: Callable[[], float] = time.time


def key_of(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or ""
    name = str(meta.get("name") or "")
    return f"{ns}/{name}" if ns else name


def split_key(key: str) -> tuple[str, str]:
    ns, _, name = key.rpartition("/")
    return ns, name


class Controller:
    """A workqueue and the workers that run `sync` on its keys."""

    name = "controller"
    # The `source.component` of its Events, as upstream names it.
    component = "controller-manager"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.api = ctx.api
        self.recorder = ctx.new_recorder(self.component)
        self.options = ctx.options
        self.queue = ctx.new_queue(self.name)
        self.log = logging.getLogger(f"controller-manager.{self.name}")

    # --- handlers helpers (only ever enqueue) ---

    def enqueue(self, obj: Mapping[str, Any]) -> None:
        self.queue.add(key_of(obj))

    def enqueue_keys(self, keys: Iterable[str]) -> None:
        for k in keys:
            self.queue.add(k)

    def event(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """Record an Event about `obj` (what `kubectl describe` shows) and log it."""
        meta = obj.get("metadata") or {}
        where = (
            f"{meta.get('namespace')}/{meta.get('name')}"
            if meta.get("namespace")
            else meta.get("name")
        )
        level = logging.WARNING if type_ == "Warning" else logging.INFO
        self.log.log(level, "%s %s: %s", obj.get("kind", "object"), where, message)
        self.recorder.event(dict(obj), type_, reason, message)

    async def sync(self, key: str) -> None:
        raise NotImplementedError

    def synced(self) -> bool:
        return True

    async def start(self) -> None:
        """Called once the caches have synced, before the workers (periodic keys...)."""

    # --- the loop ---

    async def process_next(self) -> bool:
        """One step: take a key, sync it, requeue on failure. False after shutdown."""
        key = await self.queue.get()
        if key is None:
            return False
        try:
            await self.sync(key)
        except errors.NotFound as e:
            # Something this pass wrote went away meanwhile; its deletion event
            # brings the key back if there is still work to do.
            self.log.debug("%s: %s", key, e)
        except errors.APIError as e:
            if isinstance(e, errors.Conflict):
                self.log.debug("%s: %s; retrying", key, e)
            else:
                self.log.warning("syncing %s failed: %s; retrying", key, e)
            self.queue.add_rate_limited(key)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log.exception("syncing %s failed; retrying", key)
            self.queue.add_rate_limited(key)
        else:
            self.queue.forget(key)
        finally:
            self.queue.done(key)
        return True

    async def run(self) -> None:
        await self.start()
        try:
            async with asyncio.TaskGroup() as tg:
                for _ in range(max(1, self.options.workers)):
                    tg.create_task(self._worker())
        finally:
            self.queue.shutdown()

    async def _worker(self) -> None:
        while await self.process_next():
            pass


class Expectations:
    """How many creations and deletions a controller is waiting to see in its
    cache, per controller key (upstream's ControllerExpectations).

    While a ReplicaSet waits for the pods it just created to show up in the pod
    informer, counting pods again would create them twice. Expectations expire
    after `ttl` seconds so a lost watch event cannot wedge a controller.
    """

    def __init__(self, *, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._adds: dict[str, int] = {}
        self._deletes: dict[str, set[str]] = {}
        self._since: dict[str, float] = {}

    def expect_creations(self, key: str, n: int) -> None:
        self._adds[key] = n
        self._since[key] = self.clock()

    def expect_deletions(self, key: str, uids: Iterable[str]) -> None:
        self._deletes[key] = set(uids)
        self._since[key] = self.clock()

    def creation_observed(self, key: str) -> None:
        if key in self._adds:
            self._adds[key] -= 1

    def deletion_observed(self, key: str, uid: str) -> None:
        self._deletes.get(key, set()).discard(uid)

    def satisfied(self, key: str) -> bool:
        if key not in self._since:
            return True
        if self._adds.get(key, 0) <= 0 and not self._deletes.get(key):
            return True
        return self.clock() - self._since[key] > self.ttl

    def forget(self, key: str) -> None:
        self._adds.pop(key, None)
        self._deletes.pop(key, None)
        self._since.pop(key, None)
