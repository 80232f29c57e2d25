"""A run's status, computed from the engine's container inspect document.

One function, :func:`run_status`, reads ``State`` and returns a :class:`RunStatus`: the engine's state, a phase
(Pending / Running / Succeeded / Failed, the words the Kubernetes side uses), a :class:`RunReason`, the exit
code, whether the kernel killed something in the container for memory, and the times.

Why ``OOMKilled`` decides on its own: when the process the kernel kills is a *child* of the container's main
process, the main process may carry on and exit 0 — the container then "succeeded" with part of its work
lost. The engine's ``State.OOMKilled`` flag records the kill either way, so a run with that flag set is
``Failed/OOMKilled`` whatever its exit code, and :func:`exit_code_for` maps it to 137 when the code was 0.

Pure: no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["OOM_EXIT_CODE", "Phase", "RunReason", "RunStatus", "exit_code_for", "format_duration", "run_status"]

#: What a shell reports for a process killed by SIGKILL, the OOM killer's signal.
OOM_EXIT_CODE = 137
_ZERO_TIME = "0001-01-01T00:00:00Z"


class Phase(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class RunReason(enum.StrEnum):
    """Why a run is in its phase."""

    CREATED = "Created"
    RUNNING = "Running"
    PAUSED = "Paused"
    RESTARTING = "Restarting"
    COMPLETED = "Completed"
    ERROR = "Error"
    OOM_KILLED = "OOMKilled"
    ENGINE_ERROR = "EngineError"
    DEAD = "Dead"
    REMOVED = "Removed"


class RunStatus(BaseModel):
    """Where a run stands. Times are RFC 3339 strings from the engine; ``duration_seconds`` is derived."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: str
    phase: Phase
    reason: RunReason
    exit_code: int | None = None
    oom_killed: bool = False
    error: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_seconds: float | None = None
    peak_memory_bytes: int | None = None

    @property
    def finished(self) -> bool:
        return self.phase in (Phase.SUCCEEDED, Phase.FAILED)


def _parse_time(text: str | None) -> datetime | None:
    if not text or text.startswith("0001-01-01"):
        return None
    # The engine writes nanoseconds; datetime keeps microseconds.
    main, _, rest = text.partition(".")
    fraction = ""
    zone = "+00:00"
    if rest:
        digits = "".join(ch for ch in rest if ch.isdigit())
        fraction = "." + digits[:6]
        tail = rest[len(digits) :]
        zone = "+00:00" if tail in ("Z", "") else tail
    elif main.endswith("Z"):
        main = main[:-1]
    try:
        return datetime.fromisoformat(main + fraction + zone)
    except ValueError:
        return None


def run_status(inspect: Mapping[str, Any], *, now: datetime | None = None) -> RunStatus:
    """The status of a container from its inspect document (pure; ``now`` dates a running container)."""
    state: Mapping[str, Any] = inspect.get("State") or {}
    status = str(state.get("Status") or "unknown")
    oom = bool(state.get("OOMKilled"))
    code = state.get("ExitCode")
    exit_code = int(code) if isinstance(code, int) else None
    error = str(state.get("Error") or "") or None
    started_text = state.get("StartedAt") if state.get("StartedAt") != _ZERO_TIME else None
    finished_text = state.get("FinishedAt") if state.get("FinishedAt") != _ZERO_TIME else None
    started = _parse_time(started_text)
    finished = _parse_time(finished_text)
    running = bool(state.get("Running"))
    if state.get("Paused"):
        phase, reason = Phase.RUNNING, RunReason.PAUSED
    elif state.get("Restarting"):
        phase, reason = Phase.RUNNING, RunReason.RESTARTING
    elif running:
        phase, reason = Phase.RUNNING, RunReason.RUNNING
    elif status == "created":
        phase, reason = Phase.PENDING, RunReason.CREATED
    elif status == "dead" or state.get("Dead"):
        phase, reason = Phase.FAILED, RunReason.DEAD
    elif oom:
        phase, reason = Phase.FAILED, RunReason.OOM_KILLED
    elif error:
        phase, reason = Phase.FAILED, RunReason.ENGINE_ERROR
    elif exit_code == 0:
        phase, reason = Phase.SUCCEEDED, RunReason.COMPLETED
    else:
        phase, reason = Phase.FAILED, RunReason.ERROR
    duration = None
    if started is not None:
        end = finished if (finished is not None and not running) else (now or datetime.now(UTC))
        duration = max(0.0, (end - started).total_seconds())
    return RunStatus(
        state=status,
        phase=phase,
        reason=reason,
        exit_code=exit_code if phase in (Phase.SUCCEEDED, Phase.FAILED) else None,
        oom_killed=oom,
        error=error,
        started_at=started_text if started is not None else None,
        finished_at=finished_text if finished is not None and not running else None,
        duration_seconds=duration,
    )


def exit_code_for(status: RunStatus) -> int:
    """The exit code ``wait`` and ``run --watch`` return: the container's, but never 0 for an OOM kill (pure)."""
    if status.oom_killed and not status.exit_code:
        return OOM_EXIT_CODE
    if status.exit_code is None:
        return 1
    return status.exit_code


def format_duration(seconds: float | None) -> str:
    """``1h02m03s`` / ``4m05s`` / ``12.3s`` / ``0.25s`` (pure)."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
