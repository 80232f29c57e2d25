"""The inspection gate: a bounded share overall and per tenant, immediate refusal, slots held until threads end.

The "inspections" here are functions blocked on an Event (threads, no network), so each test controls exactly
when they finish.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from task_api.image.errors import InspectionBusy
from task_api.image.gate import InspectionGate


def blocked(release: threading.Event, started: threading.Semaphore) -> str:
    started.release()
    release.wait(30)
    return threading.current_thread().name


async def wait_started(started: threading.Semaphore, count: int) -> None:
    for _ in range(count):
        while not started.acquire(blocking=False):
            await asyncio.sleep(0.01)


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="slots: given 0"):
        InspectionGate(slots=0)
    with pytest.raises(ValueError, match=r"per_tenant: given 3; allowed 1 … slots \(2\)"):
        InspectionGate(slots=2, per_tenant=3)


def test_one_tenant_cannot_take_every_slot() -> None:
    async def scenario() -> None:
        gate = InspectionGate(slots=4, per_tenant=2)
        release, started = threading.Event(), threading.Semaphore(0)
        hostile = [asyncio.create_task(gate.run("evil", blocked, release, started)) for _ in range(2)]
        await wait_started(started, 2)
        with pytest.raises(InspectionBusy, match="'evil' already runs 2") as caught:
            await gate.run("evil", blocked, release, started)
        assert caught.value.transient is True and caught.value.reason == "InspectionSlotsBusy"
        # Another tenant still gets the other half.
        others = [asyncio.create_task(gate.run(f"team-{i}", blocked, release, started)) for i in range(2)]
        await wait_started(started, 2)
        assert gate.running == 4
        with pytest.raises(InspectionBusy, match="all 4 are in use"):
            await gate.run("team-9", blocked, release, started)
        release.set()
        names = await asyncio.gather(*hostile, *others)
        assert all(name.startswith("inspect") for name in names)  # the gate's own threads
        assert gate.running == 0
        gate.close()

    asyncio.run(scenario())


def test_a_cancelled_caller_keeps_its_slot_until_the_thread_ends() -> None:
    async def scenario() -> None:
        gate = InspectionGate(slots=1)
        release, started = threading.Event(), threading.Semaphore(0)
        task = asyncio.create_task(gate.run("a", blocked, release, started))
        await wait_started(started, 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(InspectionBusy):  # the thread still runs: no second one beside it
            await gate.run("b", blocked, release, started)
        release.set()
        while gate.running:
            await asyncio.sleep(0.01)
        release2 = threading.Event()
        release2.set()
        assert (await gate.run("b", blocked, release2, started)).startswith("inspect")
        gate.close()

    asyncio.run(scenario())


def test_errors_of_the_function_reach_the_caller_and_free_the_slot() -> None:
    def fails() -> None:
        raise RuntimeError("boom")

    async def scenario() -> None:
        gate = InspectionGate(slots=1)
        with pytest.raises(RuntimeError, match="boom"):
            await gate.run("a", fails)
        assert gate.running == 0
        gate.close()

    asyncio.run(scenario())


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_freed_slot_goes_to_the_oldest_waiter_not_to_whoever_asks_first() -> None:
    gate = InspectionGate(slots=1, clock=Clock())
    assert gate.try_acquire("ns", "slow")
    assert not gate.try_acquire("ns", "b") and not gate.try_acquire("ns", "c")
    assert gate.waiting == 2
    gate.release("ns")  # the slow inspection timed out
    assert not gate.try_acquire("ns", "slow")  # back after its short back-off: it goes to the end of the line
    assert not gate.try_acquire("ns", "c")  # asks before b, but b came first
    assert gate.try_acquire("ns", "b")  # b's turn
    assert gate.running == 1 and gate.waiting == 2
    gate.release("ns")
    assert gate.try_acquire("ns", "c")  # then c (the slow one asked after it)
    gate.release("ns")
    assert gate.try_acquire("ns", "slow") and gate.waiting == 0


def test_asking_again_keeps_the_place_in_line() -> None:
    clock = Clock()
    gate = InspectionGate(slots=1, clock=clock)
    assert gate.try_acquire("ns", "holder")
    for name in ("first", "second", "first", "second", "first"):
        clock.now += 2
        assert not gate.try_acquire("ns", name)
    gate.release("ns")
    assert not gate.try_acquire("ns", "second")
    assert gate.try_acquire("ns", "first")


def test_a_waiter_that_stops_asking_leaves_the_line() -> None:
    clock = Clock()
    gate = InspectionGate(slots=1, forget_after=10, clock=clock)
    assert gate.try_acquire("ns", "holder")
    assert not gate.try_acquire("ns", "deleted-run")
    gate.release("ns")
    clock.now += 9
    assert not gate.try_acquire("ns", "next")  # the first waiter may still come back
    clock.now += 2
    assert gate.try_acquire("ns", "next")  # 11 s without asking: it is gone
    assert gate.waiting == 0


def test_an_older_waiter_at_its_tenants_share_does_not_block_others() -> None:
    gate = InspectionGate(slots=2, per_tenant=1, clock=Clock())
    assert gate.try_acquire("attacker", "drip-0")
    assert not gate.try_acquire("attacker", "drip-1")  # the attacker's share is used: in line
    assert gate.try_acquire("team", "ordinary")  # the free slot is not held for a waiter that may not take it
    gate.release("team")
    gate.release("attacker")
    assert not gate.try_acquire("team", "later")  # now drip-1 may take it, and it asked first
    assert gate.try_acquire("attacker", "drip-1")


def test_a_caller_without_a_waiter_key_goes_behind_the_line_and_is_told_why() -> None:
    async def scenario() -> None:
        gate = InspectionGate(slots=1)
        release, started = threading.Event(), threading.Semaphore(0)
        holder = asyncio.create_task(gate.run("a", blocked, release, started))
        await wait_started(started, 1)
        with pytest.raises(InspectionBusy, match="'a' already runs 1"):
            await gate.run("a", blocked, release, started, waiter="queued")
        release.set()
        await holder
        with pytest.raises(InspectionBusy, match="a slot is free but goes to a run that asked earlier"):
            await gate.run("b", blocked, release, started)
        assert (await gate.run("a", blocked, release, started, waiter="queued")).startswith("inspect")
        gate.close()

    asyncio.run(scenario())
