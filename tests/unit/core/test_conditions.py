"""The Succeeded condition: what each reason means, how clients read it, how the operator moves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from task_api.core.taskrun.changes import status_patch
from task_api.core.taskrun.conditions import (
    NOT_RETRYABLE,
    condition_status,
    format_duration,
    is_finished,
    outcome,
    outcome_of,
    phase_for,
    transition,
)
from task_api.spec.crd import TaskRunReason as R
from task_api.spec.crd import TaskRunStatus

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def moved(
    status: TaskRunStatus, reason: R, message: str = "m", *, at: datetime = T0, gen: int | None = None
) -> TaskRunStatus:
    return transition(status, reason=reason, message=message, now=at, generation=gen)


@pytest.mark.parametrize(
    ("reason", "status", "phase"),
    [
        (R.PENDING, "Unknown", "Pending"),
        (R.WAITING_FOR_UPSTREAM, "Unknown", "Pending"),
        (R.MEASURING, "Unknown", "Pending"),
        (R.RETRYING, "Unknown", "Pending"),
        (R.RUNNING, "Unknown", "Running"),
        (R.SUCCEEDED, "True", "Succeeded"),
        (R.FAILED, "False", "Failed"),
        (R.OOM_KILLED, "False", "Failed"),
        (R.TIMED_OUT, "False", "Failed"),
        (R.CANCELLED, "False", "Failed"),
        (R.INVALID_SPEC, "False", "Failed"),
        (R.POD_DELETED, "False", "Failed"),
        (R.IMAGE_INSPECTION_FAILED, "False", "Failed"),
        (R.UPSTREAM_FAILED, "False", "Failed"),
    ],
)
def test_reason_maps_to_condition_and_phase(reason: R, status: str, phase: str) -> None:
    assert condition_status(reason) == status
    assert phase_for(reason) == phase
    after = moved(TaskRunStatus(), reason)
    assert (after.phase, after.reason, after.conditions[0].status) == (phase, reason.value, status)


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (59.6, "1m0s"), (83, "1m23s"), (3723, "1h2m3s")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_transition_time_moves_only_when_status_changes() -> None:
    first = moved(TaskRunStatus(), R.PENDING, "a")
    later = moved(first, R.RUNNING, "b", at=T0 + timedelta(seconds=30))
    assert later.conditions[0].last_transition_time == "2026-01-01T12:00:00Z"
    done = moved(later, R.SUCCEEDED, "", at=T0 + timedelta(seconds=90))
    assert done.conditions[0].last_transition_time == "2026-01-01T12:01:30Z"


def test_finishing_sets_completion_and_duration_from_start() -> None:
    done = moved(TaskRunStatus(start_time="2026-01-01T12:00:00Z"), R.FAILED, "x", at=T0 + timedelta(seconds=83))
    assert done.completion_time == "2026-01-01T12:01:23Z"
    assert done.duration == "1m23s"
    assert is_finished(done)
    assert not is_finished(moved(TaskRunStatus(), R.RUNNING))
    # A finished run's completion time never moves again.
    again = moved(done, R.FAILED, "y", at=T0 + timedelta(hours=1))
    assert again.completion_time == "2026-01-01T12:01:23Z"


def test_the_same_transition_again_writes_nothing() -> None:
    first = moved(TaskRunStatus(pod_name="p"), R.RUNNING, "running", gen=2)
    again = moved(first, R.RUNNING, "running", at=T0 + timedelta(seconds=5), gen=2)
    assert status_patch(first, again) == {}
    other = first.model_copy(update={"pod_name": "q"})
    assert status_patch(first, other) == {"podName": "q"}


@pytest.mark.parametrize(
    ("reason", "derived"),
    [(R.RUNNING, "Reconciling"), (R.WAITING_FOR_UPSTREAM, "Reconciling"), (R.OOM_KILLED, "Stalled"),
     (R.INVALID_SPEC, "Stalled"), (R.SUCCEEDED, None)],
)  # fmt: skip
def test_gitops_tools_read_reconciling_while_under_way_and_stalled_once_failed(reason: R, derived: str | None) -> None:
    patch = status_patch(TaskRunStatus(), moved(TaskRunStatus(), reason, gen=3))
    succeeded, *others = patch["conditions"]
    assert succeeded["type"] == "Succeeded"
    assert patch["observedGeneration"] == 3
    if derived is None:
        assert others == []
    else:
        assert others == [
            {"type": derived, "status": "True", "reason": reason.value, "message": "m",
             "lastTransitionTime": "2026-01-01T12:00:00Z", "observedGeneration": 3}
        ]  # fmt: skip


@pytest.mark.parametrize(
    ("reason", "finished", "succeeded", "retryable"),
    [
        (R.RUNNING, False, False, True),
        (R.SUCCEEDED, True, True, False),
        (R.OOM_KILLED, True, False, True),
        (R.TIMED_OUT, True, False, True),
        (R.INVALID_SPEC, True, False, False),
        (R.UPSTREAM_FAILED, True, False, False),
        (R.IMAGE_INSPECTION_FAILED, True, False, False),
    ],
)
def test_clients_read_the_outcome_from_plain_json(reason: R, finished: bool, succeeded: bool, retryable: bool) -> None:
    body = {"status": status_patch(TaskRunStatus(), moved(TaskRunStatus(), reason, "why"))}
    seen = outcome_of(body)
    assert (seen.finished, seen.succeeded, seen.reason, seen.message) == (finished, succeeded, reason.value, "why")
    assert seen.retryable is retryable
    assert (reason in NOT_RETRYABLE) is (finished and not retryable and not succeeded)


def test_a_run_without_a_condition_is_pending() -> None:
    assert outcome(TaskRunStatus()).reason == "Pending"
    assert outcome_of({}).finished is False
