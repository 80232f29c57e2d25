"""What a pass changed, derived once from the status before and after it: the status patch to write, and the
events and metric updates to report (as Tekton's ``finishReconcileUpdateEmitEvents``). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from task_api.core.taskrun.conditions import is_finished
from task_api.core.taskrun.decision import Note
from task_api.spec.crd.taskrun import TaskRunReason, TaskRunStatus

__all__ = ["events", "finished_reason", "status_patch", "wire_status"]

R = TaskRunReason
_MESSAGE = 500


def wire_status(status: BaseModel) -> dict[str, Any]:
    """Pure: a status as the API server stores it (camelCase; unset and default fields left out)."""
    return status.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def status_patch(before: BaseModel, after: BaseModel) -> dict[str, Any]:
    """Pure: the JSON merge patch of a ``status`` taking ``before`` to ``after`` (empty: nothing to write).
    A field that went back to its default is removed (``null``). For TaskRuns and ProcessingContainers alike."""
    return _merge_diff(wire_status(before), wire_status(after))


def _merge_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Pure: the smallest JSON merge patch from ``old`` to ``new``: objects are compared key by key (so a write of
    ``status.memory`` never carries the node agent's ``peaks`` unless they changed), lists as wholes."""
    patch: dict[str, Any] = {}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            inner = _merge_diff(before, value)
            if inner:
                patch[key] = inner
        elif before != value:
            patch[key] = value
    patch.update({key: None for key in old if key not in new})
    return patch


def finished_reason(before: TaskRunStatus, after: TaskRunStatus) -> str | None:
    """Pure: the final reason when this pass finished the run, else None (for the finished-runs metric)."""
    return after.reason if is_finished(after) and not is_finished(before) else None


def events(before: TaskRunStatus, after: TaskRunStatus, notes: Sequence[Note] = ()) -> list[Note]:
    """Pure: the events a pass should post: a retry and the end — each once, when the status first says so — plus
    the notes the decision carried. A run's start and its pod running are in its status (startTime, podName,
    reason) and in the pod's own events; one Event each would double the operator's writes per run at scale."""
    out = list(notes)
    if after.reason == R.RETRYING.value and after.attempts != before.attempts:
        out.append(Note("Warning", "Retrying", _message(after)))
    reason = finished_reason(before, after)
    if reason == R.SUCCEEDED.value:
        out.append(Note("Normal", "Succeeded", "the task finished"))
    elif reason == R.CANCELLED.value:
        out.append(Note("Normal", "Cancelled", _message(after)))
    elif reason is not None:
        out.append(Note("Warning", reason, _message(after)))
    return out


def _message(status: TaskRunStatus) -> str:
    return next((c.message for c in status.conditions), "")[:_MESSAGE]
