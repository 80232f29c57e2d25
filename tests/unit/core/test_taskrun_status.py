"""The Succeeded condition and status transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from task_api.core.taskrun_status import (
    changes,
    condition_status,
    format_duration,
    is_finished,
    phase_for,
    status_patch,
)
from task_api.spec.crd import TaskRunReason as R

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


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


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (59.6, "1m0s"), (83, "1m23s"), (3723, "1h2m3s")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_transition_time_moves_only_when_status_changes() -> None:
    first = status_patch(None, reason=R.PENDING, message="a", now=T0)
    later = status_patch(first, reason=R.RUNNING, message="b", now=T0 + timedelta(seconds=30))
    assert later["conditions"][0]["lastTransitionTime"] == "2026-01-01T12:00:00Z"
    done = status_patch(later, reason=R.SUCCEEDED, message="", now=T0 + timedelta(seconds=90))
    assert done["conditions"][0]["lastTransitionTime"] == "2026-01-01T12:01:30Z"


def test_finishing_sets_completion_and_duration_from_start() -> None:
    current = {"startTime": "2026-01-01T12:00:00Z"}
    done = status_patch(current, reason=R.FAILED, message="x", now=T0 + timedelta(seconds=83))
    assert done["completionTime"] == "2026-01-01T12:01:23Z"
    assert done["duration"] == "1m23s"
    assert is_finished(done)
    assert not is_finished(status_patch(None, reason=R.RUNNING, message="", now=T0))


def test_changes_ignores_timestamp_only_churn() -> None:
    current = status_patch(None, reason=R.RUNNING, message="running", now=T0, podName="p")
    again = status_patch(current, reason=R.RUNNING, message="running", now=T0 + timedelta(seconds=5), podName="p")
    assert changes(current, again) == {}
    moved = status_patch(current, reason=R.RUNNING, message="running", now=T0, podName="q")
    assert changes(current, moved) == {"podName": "q"}


@pytest.mark.parametrize(
    ("reason", "derived"),
    [(R.RUNNING, "Reconciling"), (R.WAITING_FOR_UPSTREAM, "Reconciling"), (R.OOM_KILLED, "Stalled"),
     (R.INVALID_SPEC, "Stalled"), (R.SUCCEEDED, None)],
)  # fmt: skip
def test_gitops_tools_read_reconciling_while_under_way_and_stalled_once_failed(reason: R, derived: str | None) -> None:
    patch = status_patch(None, reason=reason, message="m", now=T0, generation=3)
    succeeded, *others = patch["conditions"]
    assert succeeded["type"] == "Succeeded"
    if derived is None:
        assert others == []
    else:
        assert others == [
            {"type": derived, "status": "True", "reason": reason.value, "message": "m",
             "lastTransitionTime": "2026-01-01T12:00:00Z", "observedGeneration": 3}
        ]  # fmt: skip
