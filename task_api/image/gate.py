"""A bounded share of the operator for image inspections: at most N at once, at most M per tenant, on threads of
their own, and a caller who finds no room is told so at once instead of waiting.

Why: an inspection is blocking I/O in a thread and holds the reconcile worker that awaits it until its deadline.
Without a bound, a handful of TaskRuns naming a slow registry occupy every worker and every thread of the event
loop's default executor, and every other tenant's runs wait behind them. With an :class:`InspectionGate`:

* at most ``slots`` inspections run at once, on the gate's own ``slots`` threads (never the default executor);
* one tenant (a namespace) holds at most ``per_tenant`` of them, so others keep a share;
* when no slot is free, :meth:`InspectionGate.run` raises :class:`~task_api.image.errors.InspectionBusy`
  (transient) immediately: the caller requeues the object with back-off and frees its worker;
* a slot is released when the inspection's thread ends, not when its caller stops waiting (a cancelled caller
  does not let a new inspection start beside a thread still blocked);
* turns go first come, first served: a caller refused with a ``waiter`` key (the operator passes the inspection's
  image and credentials) is remembered in a line, and a freed slot goes to the oldest waiter that may use it, not
  to whoever asks first after it freed. Without the line, the run whose inspection just timed out asks again
  after half a second of back-off while the others look every two seconds, so it mostly took its own slot back
  and a run behind it could wait for ever. A waiter that stops asking (its run was deleted)
  leaves the line after ``forget_after`` seconds.

Wiring in the operator (``task_api/controller``): one gate built from ``TASK_API_INSPECT_SLOTS`` (default a quarter
of ``TASK_API_WORKERS``) and ``TASK_API_INSPECT_SLOTS_PER_NAMESPACE``; ``TemplateResolver`` calls
``await gate.run(namespace, inspect_image, image, …)`` instead of ``asyncio.to_thread(inspect_image, …)`` and maps
``InspectionBusy`` like any transient :class:`~task_api.image.errors.ImageError`.

The accounting is pure and thread-safe; :meth:`InspectionGate.run` does I/O only through the function it runs.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from task_api.image.errors import InspectionBusy

__all__ = ["InspectionGate"]

T = TypeVar("T")


class InspectionGate:
    """Bounds concurrent inspections overall and per tenant."""

    def __init__(
        self,
        *,
        slots: int,
        per_tenant: int | None = None,
        forget_after: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``forget_after``: seconds after which a waiter that has not asked again leaves the line (the operator's
        runs ask every 2 s). ``clock`` is for tests."""
        if slots < 1:
            raise ValueError(f"slots: given {slots}; allowed an integer ≥ 1")
        per_tenant = slots if per_tenant is None else per_tenant
        if not 1 <= per_tenant <= slots:
            raise ValueError(f"per_tenant: given {per_tenant}; allowed 1 … slots ({slots})")
        self.slots = slots
        self.per_tenant = per_tenant
        self._busy: Counter[str] = Counter()
        #: Refused callers in the order they first asked: (tenant, waiter) → when they last asked.
        self._line: dict[tuple[str, Hashable], float] = {}
        self._forget_after = forget_after
        self._clock = clock
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    @property
    def running(self) -> int:
        with self._lock:
            return sum(self._busy.values())

    def running_for(self, tenant: str) -> int:
        with self._lock:
            return self._busy[tenant]

    @property
    def waiting(self) -> int:
        """Callers in the line (refused, still asking)."""
        with self._lock:
            return len(self._line)

    def try_acquire(self, tenant: str, waiter: Hashable | None = None) -> bool:
        """Take a slot for ``tenant`` if one is free and no older waiter that could use it is in line; otherwise
        put ``waiter`` in the line (keeping its place if it is there). A caller without a ``waiter`` key has no
        place to keep and goes behind everyone waiting. Pure accounting."""
        with self._lock:
            now = self._clock()
            self._line = {k: seen for k, seen in self._line.items() if now - seen <= self._forget_after}
            me = (tenant, waiter)
            room = sum(self._busy.values()) < self.slots and self._busy[tenant] < self.per_tenant
            if room and not self._someone_ahead(me):
                self._line.pop(me, None)
                self._busy[tenant] += 1
                return True
            if waiter is not None:
                self._line[me] = now  # a dict keeps the first insertion's place: the turn does not move back
            return False

    def _someone_ahead(self, me: tuple[str, Hashable]) -> bool:
        """Whether a waiter older than ``me`` could take a slot now (its tenant has room). Holds the lock."""
        for key in self._line:
            if key == me:
                return False
            if self._busy[key[0]] < self.per_tenant:
                return True
        return False

    def release(self, tenant: str) -> None:
        with self._lock:
            self._busy[tenant] -= 1
            if self._busy[tenant] <= 0:
                del self._busy[tenant]

    async def run(
        self, tenant: str, fn: Callable[..., T], /, *args: Any, waiter: Hashable | None = None, **kwargs: Any
    ) -> T:
        """Run ``fn(*args, **kwargs)`` on one of the gate's threads, or raise :class:`InspectionBusy` at once
        (``waiter`` then keeps its place in the line for the next time it asks)."""
        if not self.try_acquire(tenant, waiter):
            if self.running_for(tenant) >= self.per_tenant:
                why = f"{tenant!r} already runs {self.per_tenant}"
            elif self.running >= self.slots:
                why = f"all {self.slots} are in use"
            else:
                why = "a slot is free but goes to a run that asked earlier"
            raise InspectionBusy(
                f"no image inspection slot free ({why}); the run waits and tries again "
                "(TASK_API_INSPECT_SLOTS, TASK_API_INSPECT_SLOTS_PER_NAMESPACE)"
            )
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="inspect")
        try:
            future: Future[T] = self._executor.submit(functools.partial(fn, *args, **kwargs))
        except BaseException:
            self.release(tenant)
            raise
        # Released when the thread is done, whatever became of the caller awaiting it.
        future.add_done_callback(lambda _: self.release(tenant))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Stop taking work; queued calls are cancelled, running ones end at their own deadline."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
