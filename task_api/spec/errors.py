"""Problems found in user input, and the root of task-api's exception tree.

Every layer reports failures with an exception derived from :class:`TaskApiError`, so a front end can
catch one type and print a clear message instead of a traceback. The tree (other layers add their own
leaves)::

    TaskApiError                      base of everything task-api raises on purpose
    ├── SpecError                     a file or object does not follow the spec; carries all Problems
    └── InvalidQuantity (ValueError)  a Kubernetes quantity string that does not parse

A :class:`Problem` is one finding: where (a JSON path such as ``templates[0].inputs[1].mounted_path``
and, when the input came from a file, the line and column), what is wrong, what was given and what is
allowed. Problems are plain immutable values; :class:`SpecError` collects *all* of them so a user fixes a
file in one pass.

Nothing here does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "InvalidQuantity",
    "Problem",
    "Severity",
    "SpecError",
    "TaskApiError",
    "format_path",
]


class TaskApiError(Exception):
    """Base class of every exception task-api raises on purpose (see the tree in the module docstring)."""


class Severity(enum.StrEnum):
    """How bad a :class:`Problem` is: errors make a file invalid, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


def format_path(loc: Iterable[str | int]) -> str:
    """Render a location tuple as a JSON path: ``("templates", 0, "env")`` -> ``templates[0].env`` (pure)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = str(part)
    return out


@dataclass(frozen=True)
class Problem:
    """One finding about an input: where it is, what is wrong, what was given and what is allowed."""

    path: str
    message: str
    given: str | None = None
    allowed: str | None = None
    line: int | None = None
    column: int | None = None
    severity: Severity = Severity.ERROR

    def format(self, source: str | None = None) -> str:
        """The human form ``file:line:col: path: message (given …; allowed …)`` (pure)."""
        where = source or ""
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        head = f"{where}: " if where else ""
        if self.severity is Severity.WARNING:
            head += "warning: "
        path = f"{self.path}: " if self.path else ""
        extra = []
        if self.given is not None:
            extra.append(f"given {self.given}")
        if self.allowed is not None:
            extra.append(f"allowed {self.allowed}")
        tail = f" ({'; '.join(extra)})" if extra else ""
        return f"{head}{path}{self.message}{tail}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping, used by ``validate --output json`` (pure)."""
        return {
            "path": self.path,
            "message": self.message,
            "given": self.given,
            "allowed": self.allowed,
            "line": self.line,
            "column": self.column,
            "severity": self.severity.value,
        }


class SpecError(TaskApiError):
    """An input does not follow the spec. ``problems`` lists every problem found (warnings may ride along)."""

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems: list[Problem] = list(problems)
        super().__init__(source, self.problems)

    @property
    def errors(self) -> list[Problem]:
        """Only the problems of severity ``error``."""
        return [p for p in self.problems if p.severity is Severity.ERROR]

    def __str__(self) -> str:
        return "\n".join(p.format(self.source) for p in self.problems)


class InvalidQuantity(TaskApiError, ValueError):
    """Not a Kubernetes quantity. A ValueError too, so pydantic validators report it as a problem."""
