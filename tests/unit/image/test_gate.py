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
