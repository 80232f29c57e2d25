"""What one reconcile pass decided: the new status, the writes that come before it and the clean-up after it.
Pure data, made by :func:`task_api.core.taskrun.decide.decide` and carried out by the controller's *apply* step.

Why two lists of actions: objects are created *before* the status records them (a crash in between leaves a pod
the next pass finds by its deterministic name and adopts), and objects are removed only *after* the status no
longer needs them (a measuring pod goes once its result is written).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from task_api.core.taskrun.conditions import is_finished
from task_api.spec.crd.taskrun import TaskRunStatus

__all__ = ["Action", "CreatePod", "CreateSecret", "Decision", "DeletePod", "DeleteRunPods", "DeleteSecret", "Note"]


@dataclass(frozen=True)
class CreatePod:
    """Create this pod (``role``: task or measure). AlreadyExists is fine when the pod is this run's own."""

    manifest: Mapping[str, Any] = field(repr=False)
    role: str

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])


@dataclass(frozen=True)
class DeletePod:
    """Delete one pod by name (gone already is fine)."""

    name: str


@dataclass(frozen=True)
class DeleteRunPods:
    """Delete every pod labelled with the run's uid — found by a label selector, not from memory, so a pod created
    just before a crash or a lost status write is stopped too."""

    uid: str


@dataclass(frozen=True)
class CreateSecret:
    """Create this Secret (it carries credentials: never logged). AlreadyExists is fine when the run owns it."""

    manifest: Mapping[str, Any] = field(repr=False)

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])


@dataclass(frozen=True)
class DeleteSecret:
    """Delete one Secret by name (gone already is fine)."""

    name: str


Action = CreatePod | DeletePod | DeleteRunPods | CreateSecret | DeleteSecret


@dataclass(frozen=True)
class Note:
    """An event to post that the condition's change does not tell (e.g. a warning about the spec)."""

    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class Decision:
    """The outcome of one pass."""

    status: TaskRunStatus
    actions: tuple[Action, ...] = ()
    cleanup: tuple[Action, ...] = ()
    #: Look again after this many seconds (0: at once); None: only when something changes.
    requeue_after: float | None = None
    #: Look again after the work queue's exponential backoff for this run (transient trouble).
    backoff: bool = False
    #: Upstream TaskRuns (same namespace) whose changes should wake this run.
    waiting_on: tuple[str, ...] = ()
    notes: tuple[Note, ...] = ()

    @property
    def finished(self) -> bool:
        return is_finished(self.status)
