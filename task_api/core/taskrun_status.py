"""Status bookkeeping for TaskRuns: the ``Succeeded`` condition, phases, durations. Pure.

One condition, ``Succeeded``, tells the whole story, as in Tekton: ``Unknown`` while the run is under way (its
reason says why: Pending, WaitingForUpstream, Running, …), ``True`` when it succeeded, ``False`` when it failed
(reason OOMKilled, TimedOut, Cancelled, InvalidSpec, …).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from task_api.spec.crd.taskrun import TaskRunReason

SUCCEEDED = "Succeeded"

_FINAL_TRUE = {TaskRunReason.SUCCEEDED}
_FINAL_FALSE = {
    TaskRunReason.FAILED,
    TaskRunReason.OOM_KILLED,
    TaskRunReason.TIMED_OUT,
    TaskRunReason.CANCELLED,
    TaskRunReason.INVALID_SPEC,
    TaskRunReason.IMAGE_INSPECTION_FAILED,
    TaskRunReason.POD_DELETED,
    TaskRunReason.UPSTREAM_FAILED,
}


def now_rfc3339(now: datetime) -> str:
    """Pure: Kubernetes' timestamp format (seconds, UTC, 'Z')."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    """Pure: parse a Kubernetes timestamp."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def condition_status(reason: TaskRunReason) -> str:
    """Pure: True, False or Unknown for a reason."""
    if reason in _FINAL_TRUE:
        return "True"
    if reason in _FINAL_FALSE:
        return "False"
    return "Unknown"


def phase_for(reason: TaskRunReason) -> str:
    """Pure: the coarse phase shown beside the condition."""
    status = condition_status(reason)
    if status == "True":
        return "Succeeded"
    if status == "False":
        return "Failed"
    return "Running" if reason == TaskRunReason.RUNNING else "Pending"


def succeeded_condition(status: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """Pure: the ``Succeeded`` condition of a status, if any."""
    for cond in (status or {}).get("conditions") or []:
        if cond.get("type") == SUCCEEDED:
            return cond  # type: ignore[no-any-return]
    return None


def is_finished(status: Mapping[str, Any] | None) -> bool:
    """Pure: whether the run has a final (True/False) ``Succeeded`` condition."""
    cond = succeeded_condition(status)
    return cond is not None and cond.get("status") in ("True", "False")


def has_failed(status: Mapping[str, Any] | None) -> bool:
    cond = succeeded_condition(status)
    return cond is not None and cond.get("status") == "False"


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


def status_patch(
    current: Mapping[str, Any] | None,
    *,
    reason: TaskRunReason,
    message: str,
    now: datetime,
    generation: int | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Pure: the status fields to write for a transition to ``reason`` (plus any extra ``fields``).

    The condition's ``lastTransitionTime`` only moves when its status changes, as Kubernetes conventions ask.
    When the run finishes, ``completionTime`` and ``duration`` are filled in.
    """
    current = current or {}
    old = succeeded_condition(current) or {}
    cond_status = condition_status(reason)
    stamp = now_rfc3339(now)
    transition = old.get("lastTransitionTime") if old.get("status") == cond_status else stamp
    condition = {
        "type": SUCCEEDED,
        "status": cond_status,
        "reason": reason.value,
        "message": message,
        "lastTransitionTime": transition or stamp,
    }
    if generation is not None:
        condition["observedGeneration"] = generation
    patch: dict[str, Any] = {
        "conditions": [condition, *kstatus_conditions(condition)],
        "phase": phase_for(reason),
        "reason": reason.value,
        **fields,
    }
    if generation is not None:
        patch["observedGeneration"] = generation
    if cond_status != "Unknown" and not current.get("completionTime"):
        patch["completionTime"] = stamp
        start = fields.get("startTime") or current.get("startTime")
        if start:
            patch["duration"] = format_duration((now - parse_rfc3339(start)).total_seconds())
    return patch


def kstatus_conditions(condition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Pure: the "abnormal-true" conditions GitOps tools compute health from (kstatus, used by Flux and kpt):
    ``Reconciling=True`` while the run is under way, ``Stalled=True`` once it failed, none once it succeeded —
    so a finished run reads Current, a failed one Failed and a running one InProgress. Derived from the
    ``Succeeded`` condition, which stays the one to read."""
    kind = {"Unknown": "Reconciling", "False": "Stalled"}.get(str(condition.get("status")))
    if kind is None:
        return []
    derived = {
        k: condition[k] for k in ("reason", "message", "lastTransitionTime", "observedGeneration") if k in condition
    }
    return [{"type": kind, "status": "True", **derived}]


def changes(current: Mapping[str, Any] | None, patch: Mapping[str, Any]) -> dict[str, Any]:
    """Pure: the part of ``patch`` that differs from ``current`` (ignoring a condition's timestamp-only churn)."""
    current = current or {}
    out: dict[str, Any] = {}
    for key, value in patch.items():
        if key == "conditions":
            old = succeeded_condition(current) or {}
            new = value[0]
            same = all(old.get(k) == new.get(k) for k in ("status", "reason", "message", "observedGeneration"))
            if not same:
                out[key] = value
        elif current.get(key) != value:
            out[key] = value
    return out
