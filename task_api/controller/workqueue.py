"""A work queue with the semantics controllers rely on (as client-go's): no I/O.

* a key is processed by at most one worker at a time;
* adding a key that is queued is a no-op; adding a key that is being processed marks it dirty, and it is queued
  again when its worker finishes — so no change is ever lost and no key is handled twice at once;
* ``add_after`` schedules a key for later (requeue with backoff, timeouts, TTLs);
* per-key failure counts give exponential backoff, reset by ``forget``;
* a Conflict (a write decided on a stale copy) has a backoff of its own, per key, from a few milliseconds (client-go's
  per-item rate limiter starts at 5 ms): the next pass on fresh data comes almost at once, as it should, but two
  writers that keep colliding on one object drift apart instead of spinning. It resets once a pass gets through.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    """An asyncio work queue of keys (e.g. ``(namespace, name)``)."""

    def __init__(self, *, base_delay: float = 0.5, max_delay: float = 60.0, conflict_delay: float = 0.005) -> None:
        self._queue: OrderedDict[K, None] = OrderedDict()
        self._processing: set[K] = set()
        self._dirty: set[K] = set()
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._failures: dict[K, int] = {}
        self._conflicts: dict[K, int] = {}
        self._ready = asyncio.Condition()
        self._base = base_delay
        self._max = max_delay
        self._conflict_base = conflict_delay
        self._shutdown = False

    def __len__(self) -> int:
        return len(self._queue)

    def keys_held(self) -> int:
        """How many distinct keys the queue holds any state for (queued, in work, scheduled, backing off)."""
        return len(set(self._queue) | self._processing | self._dirty | set(self._timers) | set(self._failures)
                   | set(self._conflicts))  # fmt: skip

    @property
    def processing(self) -> int:
        return len(self._processing)

    def _notify(self) -> None:
        async def wake() -> None:
            async with self._ready:
                self._ready.notify()

        asyncio.get_running_loop().create_task(wake())

    def add(self, key: K) -> None:
        """Queue ``key`` now (or mark it dirty when a worker holds it)."""
        if self._shutdown:
            return
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if key in self._processing:
            self._dirty.add(key)
            return
        if key not in self._queue:
            self._queue[key] = None
            self._notify()

    def add_after(self, key: K, delay: float) -> None:
        """Queue ``key`` after ``delay`` seconds; an earlier pending schedule wins."""
        if self._shutdown:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        existing = self._timers.get(key)
        if existing is not None and existing.when() <= loop.time() + delay:
            return
        if existing is not None:
            existing.cancel()
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: K) -> float:
        """Queue ``key`` after an exponential backoff for its consecutive failures; returns the delay."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay = float(min(self._max, self._base * (2.0**failures)))
        self.add_after(key, delay)
        return delay

    def add_after_conflict(self, key: K) -> float:
        """Queue ``key`` again after a Conflict: ``conflict_delay`` doubling per consecutive Conflict of the key (up to
        ``max_delay``); returns the delay. Independent of the failure backoff of :meth:`add_rate_limited`."""
        conflicts = self._conflicts.get(key, 0)
        self._conflicts[key] = conflicts + 1
        delay = float(min(self._max, self._conflict_base * (2.0**conflicts)))
        self.add_after(key, delay)
        return delay

    def forget_conflicts(self, key: K) -> None:
        """Reset ``key``'s Conflict backoff (a pass got through without one)."""
        self._conflicts.pop(key, None)

    def conflicts(self, key: K) -> int:
        return self._conflicts.get(key, 0)

    def forget(self, key: K) -> None:
        """Reset ``key``'s backoff (after a success)."""
        self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> K:
        """Wait for a key and mark it as being processed."""
        async with self._ready:
            while not self._queue:
                await self._ready.wait()
            key, _ = self._queue.popitem(last=False)
        self._processing.add(key)
        return key

    def done(self, key: K) -> None:
        """The worker finished ``key``; queue it again if it changed meanwhile."""
        self._processing.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    def discard(self, key: K) -> None:
        """Drop every trace of ``key`` (the object was deleted)."""
        self._queue.pop(key, None)
        self._dirty.discard(key)
        self._failures.pop(key, None)
        self._conflicts.pop(key, None)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def shutdown(self) -> None:
        self._shutdown = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
