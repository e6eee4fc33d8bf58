"""The workqueue that every controller loop pulls keys from.

Event handlers only enqueue keys ("namespace/name"); workers take a key with
`get()`, reconcile it, then call `done(key)`. The queue keeps client-go's
guarantees (util/workqueue/queue.go):

- a key queued several times before a worker takes it is handled once (the
  *dirty* set deduplicates);
- a key is never handed to two workers at once (the *processing* set): a key
  added while a worker holds it is parked and queued again by `done(key)`, so
  the change that arrived meanwhile is not lost;
- `add_after(key, s)` queues a key later (a timer; several pending delays of
  one key keep the earliest);
- `add_rate_limited(key)` retries a failed key after a per-key exponential
  backoff, 5 ms doubling up to 1000 s, as upstream's default controller rate
  limiter; `forget(key)` resets it after a success.

Usage (one event loop; workers are tasks):

    queue: WorkQueue[str] = WorkQueue(name="deployment")
    while (key := await queue.get()) is not None:
        try:
            await sync(key)
            queue.forget(key)
        except Exception:
            queue.add_rate_limited(key)
        finally:
            queue.done(key)

`run_workers(queue, sync, workers=N)` is that loop, with failures logged.

The queue is not thread-safe: use it from the event loop that runs the workers.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from apimachinery import errors
from client import metrics

T = TypeVar("T", bound=Hashable)

DEFAULT_BASE_DELAY_S = 0.005
DEFAULT_MAX_DELAY_S = 1000.0


class WorkQueue(Generic[T]):
    """A deduplicating FIFO of keys with delayed and rate-limited adds.

    `name` labels the queue's metrics (`<component>_workqueue_depth{name=...}`).
    """

    def __init__(
        self,
        name: str = "default",
        *,
        base_delay: float = DEFAULT_BASE_DELAY_S,
        max_delay: float = DEFAULT_MAX_DELAY_S,
    ) -> None:
        self.name = name
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._queue: collections.deque[T] = collections.deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        # Pending add_after timers: key -> (ready time on the loop clock, handle).
        self._delayed: dict[T, tuple[float, asyncio.TimerHandle]] = {}
        self._failures: dict[T, int] = {}
        self._shutting_down = False
        # For the latency metrics: when a key was queued, when a worker took it.
        self._queued_at: dict[T, float] = {}
        self._taken_at: dict[T, float] = {}
        fam = metrics.families()
        self._queue_duration = fam.workqueue_queue_duration.labels(name)
        self._work_duration = fam.workqueue_work_duration.labels(name)
        self._depth = fam.workqueue_depth.labels(name)
        self._adds = fam.workqueue_adds.labels(name)
        self._retries = fam.workqueue_retries.labels(name)

    # --- adding ----------------------------------------------------------------

    def add(self, key: T) -> None:
        """Queue `key` unless it is already waiting; a key being processed is
        queued again when its worker calls `done(key)`. Ignored after shutdown."""
        if self._shutting_down or key in self._dirty:
            return
        self._adds.inc()
        self._dirty.add(key)
        self._queued_at.setdefault(key, time.monotonic())
        if key in self._processing:
            return
        self._queue.append(key)
        self._depth.set(len(self._queue))
        self._wake_one()

    def add_after(self, key: T, seconds: float) -> None:
        """Queue `key` in `seconds` (now when `seconds <= 0`). When the key is
        already waiting for a delay, the earlier of the two ready times wins."""
        if self._shutting_down:
            return
        if seconds <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        ready_at = loop.time() + seconds
        pending = self._delayed.get(key)
        if pending is not None:
            if pending[0] <= ready_at:
                return
            pending[1].cancel()
        handle = loop.call_at(ready_at, self._fire_delayed, key)
        self._delayed[key] = (ready_at, handle)

    def add_rate_limited(self, key: T) -> None:
        """Queue `key` after its backoff: base_delay * 2^(failures so far),
        capped at max_delay. Call `forget(key)` once it succeeds."""
        self.retry_later(key)

    def retry_later(self, key: T) -> float:
        """`add_rate_limited(key)`, returning the delay chosen (for logs)."""
        if self._shutting_down:
            return 0.0
        self._retries.inc()
        delay = self.backoff(key)
        self.add_after(key, delay)
        return delay

    def backoff(self, key: T) -> float:
        """The delay the next `add_rate_limited(key)` will use, and count one
        more failure of `key`."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        if failures >= 64:  # 2**64 * 5ms is far beyond any cap; avoid huge floats
            return self.max_delay
        return float(min(self.base_delay * (2**failures), self.max_delay))

    def forget(self, key: T) -> None:
        """Reset `key`'s backoff (after a successful sync)."""
        self._failures.pop(key, None)

    def num_requeues(self, key: T) -> int:
        """How many times `key` was rate-limited since it was last forgotten."""
        return self._failures.get(key, 0)

    # --- taking ----------------------------------------------------------------

    async def get(self) -> T | None:
        """The next key, waiting for one; None once the queue is shut down.

        The caller owns the key until it calls `done(key)`.
        """
        while not self._queue:
            if self._shutting_down:
                return None
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                # Woken and cancelled at once: pass the wake-up to another worker.
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()
                raise
        if self._shutting_down:
            return None
        key = self._queue.popleft()
        self._depth.set(len(self._queue))
        self._processing.add(key)
        self._dirty.discard(key)
        now = time.monotonic()
        queued_at = self._queued_at.pop(key, None)
        if queued_at is not None:
            self._queue_duration.observe(now - queued_at)
        self._taken_at[key] = now
        return key

    def done(self, key: T) -> None:
        """Mark `key` as processed; requeue it if it was added meanwhile."""
        self._processing.discard(key)
        taken_at = self._taken_at.pop(key, None)
        if taken_at is not None:
            self._work_duration.observe(time.monotonic() - taken_at)
        if key in self._dirty and not self._shutting_down:
            self._queue.append(key)
            self._depth.set(len(self._queue))
            self._wake_one()

    # --- lifecycle ---------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop the queue: pending and future `get()` calls return None, adds are
        ignored, delayed adds are dropped."""
        self._shutting_down = True
        for _, handle in self._delayed.values():
            handle.cancel()
        self._delayed.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def __len__(self) -> int:
        """Keys waiting to be taken (not counting delayed or in-process ones)."""
        return len(self._queue)

    def processing(self) -> frozenset[T]:
        """Keys currently held by workers."""
        return frozenset(self._processing)

    def pending_delayed(self) -> int:
        """Keys waiting for their add_after delay."""
        return len(self._delayed)

    # --- internals ---------------------------------------------------------------

    def _fire_delayed(self, key: T) -> None:
        self._delayed.pop(key, None)
        self.add(key)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


log = logging.getLogger("client.workqueue")


async def run_workers(
    queue: WorkQueue[str],
    sync: Callable[[str], Awaitable[None]],
    *,
    workers: int = 1,
    logger: logging.Logger | None = None,
) -> None:
    """Run `workers` loops taking keys from `queue` and calling `sync(key)`,
    until the queue is shut down (or this is cancelled, which shuts it down).

    A sync that returns forgets the key's backoff; one that raises is retried
    with the key's backoff, logged as a warning (at debug level for retryable
    API errors such as 409 Conflict, which are routine).
    """
    logger = logger or log

    async def worker() -> None:
        while (key := await queue.get()) is not None:
            try:
                await sync(key)
                queue.forget(key)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                retry_in = queue.retry_later(key)
                quiet = isinstance(e, errors.APIError) and e.is_retryable
                logger.log(
                    logging.DEBUG if quiet else logging.WARNING,
                    "%s %s failed: %s; retrying in %.3gs",
                    queue.name,
                    key,
                    e or type(e).__name__,
                    retry_in,
                    exc_info=not isinstance(e, errors.APIError),
                )
            finally:
                queue.done(key)

    tasks = [asyncio.create_task(worker(), name=f"{queue.name} worker {i}") for i in range(workers)]
    try:
        await asyncio.gather(*tasks)
    finally:
        queue.shutdown()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
