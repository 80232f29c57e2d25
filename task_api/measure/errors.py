"""Errors of the input-size scan.

Every error is a :class:`MeasureError`, itself a :class:`task_api.spec.errors.TaskApiError`, and carries a
``reason`` (a :class:`MeasureReason`, usable as a Kubernetes event or condition reason). The tree::

    MeasureError
    ├── InputMissing        the channel's directory does not exist, or is not a directory
    ├── InputUnreadable     a directory inside the input could not be read (permissions, I/O error)
    └── BadMeasureRequest   the measuring entry point was given a request it cannot use

Messages name the channel, the path and what was found; they never include file contents.

Nothing here does I/O.
"""

from __future__ import annotations

import enum

from task_api.spec.errors import TaskApiError

__all__ = ["BadMeasureRequest", "InputMissing", "InputUnreadable", "MeasureError", "MeasureReason"]


class MeasureReason(enum.StrEnum):
    """Why a measurement failed (CamelCase, like Kubernetes reasons)."""

    INPUT_MISSING = "InputMissing"
    INPUT_UNREADABLE = "InputUnreadable"
    BAD_REQUEST = "BadMeasureRequest"


class MeasureError(TaskApiError):
    """Base of the errors raised while measuring an input channel."""

    reason: MeasureReason = MeasureReason.INPUT_UNREADABLE

    def __init__(self, message: str, *, channel: str | None = None, path: str | None = None) -> None:
        self.channel = channel
        self.path = path
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        where = []
        if self.channel is not None:
            where.append(f"input channel {self.channel!r}")
        if self.path:
            where.append(self.path)
        prefix = f"{', '.join(where)}: " if where else ""
        return f"{prefix}{self.message}"


class InputMissing(MeasureError):
    """The channel's directory does not exist or is not a directory."""

    reason = MeasureReason.INPUT_MISSING


class InputUnreadable(MeasureError):
    """A directory inside the input could not be read."""

    reason = MeasureReason.INPUT_UNREADABLE


class BadMeasureRequest(MeasureError):
    """The measuring entry point's request is not valid JSON of the expected shape."""

    reason = MeasureReason.BAD_REQUEST
