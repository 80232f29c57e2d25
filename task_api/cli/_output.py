"""Shared output helpers for the CLI: problems as text lines or JSON. Writes to the given streams only."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from task_api.spec.errors import Problem, Severity

__all__ = ["print_json", "print_problems"]


def print_problems(problems: Iterable[Problem], *, source: str, stream: TextIO | None = None) -> None:
    """One ``file:line:col: path: message (given …; allowed …)`` line per problem."""
    out = stream or sys.stdout
    for problem in problems:
        print(problem.format(source), file=out)


def count(problems: Iterable[Problem]) -> tuple[int, int]:
    """(errors, warnings)."""
    errors = warnings = 0
    for problem in problems:
        if problem.severity is Severity.ERROR:
            errors += 1
        else:
            warnings += 1
    return errors, warnings


def print_json(document: dict[str, Any], *, stream: TextIO | None = None) -> None:
    """Machine output: one JSON document, indented."""
    print(json.dumps(document, indent=2, ensure_ascii=False), file=stream or sys.stdout)
