"""The workqueue's guarantees: deduplication, one key never held by two workers,
a key changed while in flight requeued after done(), per-key backoff, delays,
shutdown."""

from __future__ import annotations

import asyncio
import random

import pytest

from client.workqueue import WorkQueue, run_workers
from tests.polling import eventually


async def test_add_deduplicates_keys_waiting_to_be_processed() -> None:
    q: WorkQueue[str] = WorkQueue()
    for key in ["a", "b", "a", "a", "b", "c"]:
        q.add(key)
    assert len(q) == 3
    assert [await q.get() for _ in range(3)] == ["a", "b", "c"]
    assert len(q) == 0


async def test_key_added_while_processing_is_requeued_after_done() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    key = await q.get()
    assert key == "a"
    q.add("a")  # changed while a worker holds it
    q.add("a")
    assert len(q) == 0, "a key being processed must not be handed out again"
    q.done("a")
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_done_without_new_add_does_not_requeue() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_never_the_same_key_to_two_workers() -> None:
    q: WorkQueue[str] = WorkQueue()
    keys = [f"ns/obj-{i}" for i in range(5)]
    in_flight: set[str] = set()
    violations: list[str] = []
    handled: dict[str, int] = dict.fromkeys(keys, 0)
    rng = random.Random(7)

    async def worker() -> None:
        while (key := await q.get()) is not None:
            if key in in_flight:
                violations.append(key)
            in_flight.add(key)
            await asyncio.sleep(rng.random() * 0.002)
            handled[key] += 1
            in_flight.discard(key)
            q.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(8)]
    for _ in range(300):
        q.add(rng.choice(keys))
        if rng.random() < 0.3:
            await asyncio.sleep(0)
    await eventually(lambda: len(q) == 0 and not q.processing())
    q.shutdown()
    await asyncio.gather(*workers)
    assert violations == []
    assert all(n >= 1 for n in handled.values())


async def test_last_add_is_always_processed_after_it() -> None:
    """Level triggering: after the last add, some worker handles the key again."""
    q: WorkQueue[str] = WorkQueue()
    seen_versions: list[int] = []
    version = 0

    async def worker() -> None:
        while (key := await q.get()) is not None:
            seen_versions.append(version)
            await asyncio.sleep(0.001)
            q.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(3)]
    for version in range(1, 50):  # noqa: B007 (read by the worker)
        q.add("k")
        await asyncio.sleep(0)
    await eventually(lambda: len(q) == 0 and not q.processing())
    q.shutdown()
    await asyncio.gather(*workers)
    assert seen_versions[-1] == 49


async def test_get_waits_for_an_add() -> None:
    q: WorkQueue[str] = WorkQueue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0.01)
    assert not getter.done()
    q.add("x")
    assert await asyncio.wait_for(getter, 5) == "x"


async def test_rate_limited_backoff_doubles_from_5ms_to_1000s_and_forget_resets() -> None:
    q: WorkQueue[str] = WorkQueue()
    delays = [q.backoff("a") for _ in range(20)]
    assert delays[0] == pytest.approx(0.005)
    assert delays[1] == pytest.approx(0.010)
    assert delays[2] == pytest.approx(0.020)
    assert delays[10] == pytest.approx(0.005 * 1024)
    assert delays[-1] == 1000.0
    assert max(delays) == 1000.0
    assert q.num_requeues("a") == 20
    assert q.num_requeues("b") == 0, "backoff is per key"
    q.forget("a")
    assert q.num_requeues("a") == 0
    assert q.backoff("a") == pytest.approx(0.005)


async def test_add_rate_limited_queues_the_key_after_its_backoff() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add_rate_limited("a")
    assert q.num_requeues("a") == 1
    assert await asyncio.wait_for(q.get(), 5) == "a"
    q.done("a")
    for _ in range(3):
        q.add_rate_limited("a")
        assert await asyncio.wait_for(q.get(), 5) == "a"
        q.done("a")
    assert q.num_requeues("a") == 4


async def test_add_after_delays_and_keeps_the_earliest() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add_after("late", 3600)
    q.add_after("soon", 3600)
    q.add_after("soon", 0.01)  # earlier wins
    q.add_after("soon", 3600)  # later is ignored
    assert len(q) == 0
    assert q.pending_delayed() == 2
    assert await asyncio.wait_for(q.get(), 5) == "soon"
    assert q.pending_delayed() == 1
    q.add_after("now", 0)
    assert len(q) == 1
    q.shutdown()
    assert q.pending_delayed() == 0


async def test_shutdown_releases_waiting_workers_and_ignores_adds() -> None:
    q: WorkQueue[str] = WorkQueue()
    getters = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0.01)
    q.shutdown()
    assert await asyncio.wait_for(asyncio.gather(*getters), 5) == [None, None, None]
    q.add("x")
    q.add_rate_limited("y")
    assert len(q) == 0
    assert await q.get() is None
    assert q.shutting_down


async def test_cancelled_get_does_not_swallow_a_key() -> None:
    q: WorkQueue[str] = WorkQueue()
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0.01)
    q.add("x")  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs
    assert await asyncio.wait_for(second, 5) == "x"


async def test_run_workers_retries_failures_with_backoff_and_forgets_successes() -> None:
    q: WorkQueue[str] = WorkQueue(base_delay=0.001)
    attempts: dict[str, int] = {"ok": 0, "flaky": 0}

    async def sync(key: str) -> None:
        attempts[key] += 1
        if key == "flaky" and attempts[key] < 4:
            raise RuntimeError("not yet")

    runner = asyncio.create_task(run_workers(q, sync, workers=2))
    q.add("ok")
    q.add("flaky")
    await eventually(lambda: attempts["flaky"] == 4 and not q.processing())
    assert attempts["ok"] == 1
    assert q.num_requeues("flaky") == 0, "forgotten after its success"
    q.shutdown()
    await asyncio.wait_for(runner, 5)
