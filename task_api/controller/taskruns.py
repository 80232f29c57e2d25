"""Reconcile one TaskRun (I/O): prepare → decide → apply → finish, as Tekton's reconciler does.

* *prepare* reads (:mod:`task_api.controller.prepare`): the template, upstream runs, credentials, the run's pods;
* *decide* is pure (:func:`task_api.core.taskrun.decide.decide`): the new status and the actions;
* *apply* writes (:mod:`task_api.controller.apply`): creations, the status (guarded by the resourceVersion it was
  decided on), clean-up;
* *finish* reports (:mod:`task_api.controller.finish`): events and metrics from the status before and after.

Every step is idempotent: an operator restart at any point resumes from what the API server holds and never creates
a second pod for the same attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from task_api.controller.apply import Applier, CreateRefused
from task_api.controller.finish import Finisher
from task_api.controller.prepare import Preparer
from task_api.core.taskrun.decide import decide, refused
from task_api.core.taskrun.decision import Decision
from task_api.core.taskrun.world import Policy
from task_api.spec.crd.taskrun import TaskRunResource


@dataclass(frozen=True)
class Reconciled:
    """A pass's decision, and the run as the pass left it on the server (None: it wrote nothing)."""

    decision: Decision
    run: TaskRunResource | None


class TaskRunReconciler:
    """I/O: brings one TaskRun's pods and status in line with its spec."""

    def __init__(
        self,
        *,
        prepare: Preparer,
        apply: Applier,
        finish: Finisher,
        policy: Policy,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._prepare = prepare
        self._apply = apply
        self._finish = finish
        self._policy = policy
        self._clock = clock

    async def reconcile(self, run: TaskRunResource) -> Reconciled:
        """I/O: one pass. Raises Conflict when the run changed since it was read (decide again on fresh data)."""
        now = self._clock()
        world = await self._prepare.world(run, now)
        decision = decide(run, world, self._policy, now)
        try:
            applied = await self._apply.apply(run, decision)
        except CreateRefused as exc:
            what = f"{exc.kind[:-1]} {exc.name}"
            decision = refused(
                run,
                what=what,
                message=exc.message,
                status=exc.status,
                foreign=exc.foreign,
                policy=self._policy,
                now=now,
            )
            applied = await self._apply.apply(run, decision)
        self._finish.finish(
            kind="TaskRun", meta=run.metadata, before=run.status, after=decision.status, notes=decision.notes
        )
        return Reconciled(decision=decision, run=applied.run)
