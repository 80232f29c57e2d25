"""A TaskRun's ``Succeeded`` condition: what each reason means, how to read it and how it moves. Pure.

One condition tells the whole story, as in Tekton: ``Unknown`` while the run is under way (its reason says why:
Pending, WaitingForUpstream, Running, …), ``True`` when it succeeded, ``False`` when it failed (OOMKilled,
TimedOut, Cancelled, InvalidSpec, …). The operator writes it (:func:`transition`); the CLI, the Airflow operator and
the sensor read it (:func:`outcome`) — through this module only, so they agree on what "finished" and "worth
another try" mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from task_api.core.times import format_rfc3339, parse_rfc3339
from task_api.spec.crd.common import Condition, ConditionStatus
from task_api.spec.crd.keys import CONDITION_RECONCILING, CONDITION_STALLED, CONDITION_SUCCEEDED
from task_api.spec.crd.taskrun import TaskRunReason, TaskRunStatus

__all__ = [
    "NOT_RETRYABLE",
    "Outcome",
    "condition_status",
    "find_condition",
    "format_duration",
    "has_failed",
    "is_finished",
    "kstatus_conditions",
    "outcome",
    "outcome_of",
    "phase_for",
    "transition",
]

R = TaskRunReason

_SUCCESS = frozenset({R.SUCCEEDED})
_FAILURE = frozenset(
    {
        R.FAILED,
        R.OOM_KILLED,
        R.TIMED_OUT,
        R.CANCELLED,
        R.INVALID_SPEC,
        R.IMAGE_INSPECTION_FAILED,
        R.POD_DELETED,
        R.UPSTREAM_FAILED,
        R.CLAIM_NOT_FOUND,
        R.QUOTA_EXCEEDED,
        R.UNSCHEDULABLE,
        R.PENDING_TIMEOUT,
        R.UPSTREAM_CYCLE,
        R.POD_SECURITY_REJECTED,
    }
)
#: Final reasons that another try of the same spec cannot fix: the spec, the image or an upstream run must change
#: first. Clients (Airflow) fail for good on these and retry the others.
NOT_RETRYABLE = frozenset(
    {
        R.INVALID_SPEC,
        R.UPSTREAM_FAILED,
        R.IMAGE_INSPECTION_FAILED,
        R.CLAIM_NOT_FOUND,
        R.UPSTREAM_CYCLE,
        R.POD_SECURITY_REJECTED,
    }
)


def condition_status(reason: TaskRunReason) -> str:
    """Pure: ``True``, ``False`` or ``Unknown`` for a reason."""
    if reason in _SUCCESS:
        return "True"
    if reason in _FAILURE:
        return "False"
    return "Unknown"


def phase_for(reason: TaskRunReason) -> str:
    """Pure: the coarse phase shown beside the condition."""
    status = condition_status(reason)
    if status == "True":
        return "Succeeded"
    if status == "False":
        return "Failed"
    return "Running" if reason is R.RUNNING else "Pending"


def find_condition(conditions: list[Condition], kind: str = CONDITION_SUCCEEDED) -> Condition | None:
    """Pure: the condition of type ``kind``, if any."""
    return next((c for c in conditions if c.type == kind), None)


def is_finished(status: TaskRunStatus) -> bool:
    """Pure: whether the run has a final (True/False) ``Succeeded`` condition."""
    cond = find_condition(status.conditions)
    return cond is not None and cond.status in ("True", "False")


def has_failed(status: TaskRunStatus) -> bool:
    """Pure: whether the run finished and failed."""
    cond = find_condition(status.conditions)
    return cond is not None and cond.status == "False"


@dataclass(frozen=True)
class Outcome:
    """A TaskRun's state as a client sees it."""

    finished: bool
    succeeded: bool
    reason: str
    message: str

    @property
    def retryable(self) -> bool:
        """Whether another try could help (not for an invalid spec, a failed upstream, a bad image)."""
        return not self.succeeded and self.reason not in NOT_RETRYABLE


def outcome(status: TaskRunStatus) -> Outcome:
    """Pure: the outcome a status tells."""
    cond = find_condition(status.conditions)
    if cond is None:
        return Outcome(finished=False, succeeded=False, reason=status.reason or R.PENDING.value, message="")
    return Outcome(
        finished=cond.status in ("True", "False"),
        succeeded=cond.status == "True",
        reason=cond.reason or status.reason or "",
        message=cond.message,
    )


def outcome_of(taskrun: Mapping[str, Any]) -> Outcome:
    """Pure: the outcome of a TaskRun object as the API server returned it (clients hold plain JSON)."""
    return outcome(TaskRunStatus.model_validate(taskrun.get("status") or {}))


def format_duration(seconds: float) -> str:
    """Pure: ``83`` → ``1m23s``, ``3723`` → ``1h2m3s``."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def kstatus_conditions(condition: Condition) -> list[Condition]:
    """Pure: the "abnormal-true" conditions GitOps tools compute health from (kstatus, used by Flux and kpt):
    ``Reconciling=True`` while under way, ``Stalled=True`` once failed, none once succeeded — so a finished run reads
    Current, a failed one Failed and a running one InProgress. Derived from the real condition (a TaskRun's
    ``Succeeded``, a ProcessingContainer's ``Ready``), never decided on their own."""
    kind = {"Unknown": CONDITION_RECONCILING, "False": CONDITION_STALLED}.get(condition.status)
    if kind is None:
        return []
    return [condition.model_copy(update={"type": kind, "status": "True"})]


def transition(
    status: TaskRunStatus, *, reason: TaskRunReason, message: str, now: datetime, generation: int | None
) -> TaskRunStatus:
    """Pure: ``status`` moved to ``reason``: the condition (its ``lastTransitionTime`` only moves when its status
    changes, as Kubernetes conventions ask), the derived conditions, phase and reason, and — when the run finishes —
    ``completionTime`` and ``duration``."""
    old = find_condition(status.conditions)
    state = condition_status(reason)
    stamp = format_rfc3339(now)
    moved = old is None or old.status != state or not old.last_transition_time
    condition = Condition(
        type=CONDITION_SUCCEEDED,
        status=ConditionStatus(state),
        reason=reason.value,
        message=message,
        last_transition_time=stamp if moved or old is None else old.last_transition_time,
        observed_generation=generation,
    )
    new = status.model_copy(deep=True)
    new.conditions = [condition, *kstatus_conditions(condition)]
    new.phase = phase_for(reason)
    new.reason = reason.value
    new.observed_generation = generation
    if state != "Unknown" and not status.completion_time:
        new.completion_time = stamp
        if status.start_time:
            new.duration = format_duration((now - parse_rfc3339(status.start_time)).total_seconds())
    return new
