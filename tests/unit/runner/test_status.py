"""run_status(): a run's phase and reason from the engine's State (pure, table-driven)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from task_api.runner.status import Phase, RunReason, RunStatus, exit_code_for, format_duration, run_status

STARTED = "2026-01-02T03:04:05.123456789Z"
FINISHED = "2026-01-02T03:04:07.623456789Z"
ZERO = "0001-01-01T00:00:00Z"


def state(**fields: Any) -> dict[str, Any]:
    base = {"Status": "exited", "Running": False, "Paused": False, "Restarting": False, "OOMKilled": False,
            "Dead": False, "ExitCode": 0, "Error": "", "StartedAt": STARTED, "FinishedAt": FINISHED}  # fmt: skip
    base.update(fields)
    return {"State": base}


@pytest.mark.parametrize(
    ("inspect", "phase", "reason", "exit_code", "oom"),
    [
        (state(), Phase.SUCCEEDED, RunReason.COMPLETED, 0, False),
        (state(ExitCode=3), Phase.FAILED, RunReason.ERROR, 3, False),
        # A child killed for memory while the main process exits 0: still a failure.
        (state(OOMKilled=True, ExitCode=0), Phase.FAILED, RunReason.OOM_KILLED, 0, True),
        (state(OOMKilled=True, ExitCode=137), Phase.FAILED, RunReason.OOM_KILLED, 137, True),
        (state(Status="running", Running=True, FinishedAt=ZERO), Phase.RUNNING, RunReason.RUNNING, None, False),
        (state(Status="paused", Running=True, Paused=True), Phase.RUNNING, RunReason.PAUSED, None, False),
        (state(Status="created", StartedAt=ZERO, FinishedAt=ZERO), Phase.PENDING, RunReason.CREATED, None, False),
        (state(Status="dead", Dead=True, ExitCode=1), Phase.FAILED, RunReason.DEAD, 1, False),
        (state(ExitCode=127, Error="exec: /nope: not found"), Phase.FAILED, RunReason.ENGINE_ERROR, 127, False),
    ],
)
def test_phase_and_reason(
    inspect: dict[str, Any], phase: Phase, reason: RunReason, exit_code: int | None, oom: bool
) -> None:
    status = run_status(inspect)
    assert (status.phase, status.reason, status.exit_code, status.oom_killed) == (phase, reason, exit_code, oom)


def test_duration_of_a_finished_run_comes_from_the_engines_times() -> None:
    status = run_status(state())
    assert status.duration_seconds == pytest.approx(2.5)
    assert (status.started_at, status.finished_at) == (STARTED, FINISHED)


def test_duration_of_a_running_run_is_measured_to_now() -> None:
    now = datetime(2026, 1, 2, 3, 5, 5, 123456, tzinfo=UTC)
    status = run_status(state(Status="running", Running=True, FinishedAt=ZERO), now=now)
    assert status.duration_seconds == pytest.approx(60.0)
    assert status.finished_at is None


def test_a_container_that_never_started_has_no_times() -> None:
    status = run_status(state(Status="created", StartedAt=ZERO, FinishedAt=ZERO))
    assert (status.started_at, status.finished_at, status.duration_seconds) == (None, None, None)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (RunStatus(state="exited", phase=Phase.SUCCEEDED, reason=RunReason.COMPLETED, exit_code=0), 0),
        (RunStatus(state="exited", phase=Phase.FAILED, reason=RunReason.ERROR, exit_code=5), 5),
        (RunStatus(state="exited", phase=Phase.FAILED, reason=RunReason.OOM_KILLED, exit_code=0, oom_killed=True), 137),
        (
            RunStatus(state="exited", phase=Phase.FAILED, reason=RunReason.OOM_KILLED, exit_code=137, oom_killed=True),
            137,
        ),
        (RunStatus(state="removed", phase=Phase.FAILED, reason=RunReason.REMOVED), 1),
    ],
)
def test_exit_code_for(status: RunStatus, code: int) -> None:
    assert exit_code_for(status) == code


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0.004, "0.00s"), (2.345, "2.35s"), (12.34, "12.3s"), (65, "1m05s"), (3725, "1h02m05s")],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text
