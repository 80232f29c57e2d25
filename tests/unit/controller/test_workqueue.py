"""The work queue's controller semantics, driven on a real event loop (no I/O)."""

from __future__ import annotations

import asyncio

from task_api.controller.workqueue import WorkQueue


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_adding_a_queued_key_twice_queues_it_once() -> None:
    async def scenario() -> list[str]:
        q: WorkQueue[str] = WorkQueue()
        q.add("a")
        q.add("b")
        q.add("a")
        got = [await q.get(), await q.get()]
        assert len(q) == 0
        return got

    assert run(scenario()) == ["a", "b"]


def test_a_key_changed_while_processing_comes_back_once_done() -> None:
    async def scenario() -> None:
        q: WorkQueue[str] = WorkQueue()
        q.add("a")
        key = await q.get()
        q.add("a")  # an event while a worker holds it
        assert len(q) == 0  # not handed to a second worker
        q.done(key)
        assert len(q) == 1
        assert await q.get() == "a"

    run(scenario())


def test_add_after_fires_later_and_the_earlier_schedule_wins() -> None:
    async def scenario() -> None:
        q: WorkQueue[str] = WorkQueue()
        q.add_after("a", 0.05)
        q.add_after("a", 10)  # later: ignored, the earlier one stands
        assert len(q) == 0
        got = await asyncio.wait_for(q.get(), timeout=2)
        assert got == "a"

    run(scenario())


def test_rate_limited_backoff_grows_and_forget_resets() -> None:
    async def scenario() -> None:
        q: WorkQueue[str] = WorkQueue(base_delay=0.01, max_delay=0.04)
        delays = [q.add_rate_limited("a") for _ in range(4)]
        assert delays == [0.01, 0.02, 0.04, 0.04]
        q.forget("a")
        assert q.failures("a") == 0

    run(scenario())


def test_discard_drops_queue_entries_and_timers() -> None:
    async def scenario() -> None:
        q: WorkQueue[str] = WorkQueue()
        q.add("a")
        q.add_after("b", 0.01)
        q.discard("a")
        q.discard("b")
        await asyncio.sleep(0.05)
        assert len(q) == 0

    run(scenario())


def test_conflicts_back_off_per_key_from_milliseconds_and_reset() -> None:
    async def scenario() -> None:
        q: WorkQueue[str] = WorkQueue(base_delay=0.5, max_delay=0.04, conflict_delay=0.005)
        delays = [q.add_after_conflict("a") for _ in range(5)]
        assert delays == [0.005, 0.01, 0.02, 0.04, 0.04]  # doubling, capped by max_delay
        assert q.add_after_conflict("b") == 0.005  # per key
        assert q.failures("a") == 0  # the failure backoff is a separate count
        q.forget_conflicts("a")
        assert q.conflicts("a") == 0 and q.conflicts("b") == 1
        assert q.add_after_conflict("a") == 0.005
        q.discard("b")
        assert q.conflicts("b") == 0

    run(scenario())


def test_a_conflicted_key_comes_back_after_its_delay_not_at_once() -> None:
    async def scenario() -> None:
        q: WorkQueue[str] = WorkQueue(conflict_delay=0.05)
        q.add("a")
        key = await q.get()
        q.add_after_conflict(key)
        q.done(key)
        assert len(q) == 0  # scheduled, not queued
        assert await asyncio.wait_for(q.get(), timeout=2) == "a"

    run(scenario())
