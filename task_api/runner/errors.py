"""Errors of the local Docker runner.

Every error is a :class:`RunnerError`, itself a :class:`task_api.spec.errors.TaskApiError`, with a ``reason``
(a :class:`RunnerReason`). The tree::

    RunnerError
    ├── EngineUnavailable     the Docker engine's socket does not answer
    ├── EngineError           the engine answered with an error (status and its message)
    │   └── ContainerNotFound the run's container is gone (removed, or another engine)
    ├── PullFailed            the image could not be pulled (not found, unauthorized, registry down)
    ├── ImageMissing          the image is not in the local engine and pulling is off (--no-pull)
    ├── TaskNotRunnable       the task is valid but cannot run here (missing input folder, a PVC binding)
    │                         — carries Problems with file, field path, line:column, given and allowed
    └── RecordError           a run record cannot be found, read or written

Messages name the task file, the image or the run; they never contain a password, a token or an
``X-Registry-Auth`` header (credentials never reach the code that formats messages).

Nothing here does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from task_api.spec.errors import Problem, TaskApiError

__all__ = [
    "ContainerNotFound",
    "EngineError",
    "EngineUnavailable",
    "ImageMissing",
    "PullFailed",
    "RecordError",
    "RunnerError",
    "RunnerReason",
    "TaskNotRunnable",
]


class RunnerReason(enum.StrEnum):
    """Why a local run failed (CamelCase, like Kubernetes reasons)."""

    ENGINE_UNAVAILABLE = "EngineUnavailable"
    ENGINE_ERROR = "EngineError"
    CONTAINER_NOT_FOUND = "ContainerNotFound"
    PULL_FAILED = "PullFailed"
    IMAGE_MISSING = "ImageMissing"
    TASK_NOT_RUNNABLE = "TaskNotRunnable"
    RECORD_ERROR = "RecordError"


class RunnerError(TaskApiError):
    """Base of the errors raised by :mod:`task_api.runner`."""

    reason: RunnerReason = RunnerReason.ENGINE_ERROR


class EngineUnavailable(RunnerError):
    """The engine's socket did not answer (not running, wrong ``DOCKER_HOST``, no permission)."""

    reason = RunnerReason.ENGINE_UNAVAILABLE


class EngineError(RunnerError):
    """The engine refused a request. ``status`` is the HTTP status, the message the engine's own."""

    reason = RunnerReason.ENGINE_ERROR

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class ContainerNotFound(EngineError):
    """The container of a run no longer exists in the engine."""

    reason = RunnerReason.CONTAINER_NOT_FOUND


class PullFailed(RunnerError):
    """Pulling the image failed; the message is the engine's (registries never echo credentials)."""

    reason = RunnerReason.PULL_FAILED


class ImageMissing(RunnerError):
    """The image is not in the local engine and ``--no-pull`` forbids fetching it."""

    reason = RunnerReason.IMAGE_MISSING


class TaskNotRunnable(RunnerError):
    """The task file is valid, but cannot be run by the local runner as it stands."""

    reason = RunnerReason.TASK_NOT_RUNNABLE

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(source, self.problems)

    def __str__(self) -> str:
        return "\n".join(p.format(self.source) for p in self.problems)


class RecordError(RunnerError):
    """A run record could not be found, parsed or written."""

    reason = RunnerReason.RECORD_ERROR
