"""``task-api validate FILE``: check a processing-container.json or task.json and report *every* problem.

Each problem is printed as ``file:line:col: json.path: message (given …; allowed …)``. The kind of file is
taken from ``--schema``, else from its ``$schema`` key, its keys (``templates`` vs ``image``/``taskTemplate``)
or its name. With ``--template processing-container.json`` a task is also merged with its template offline,
which finds unbound inputs, unknown channels, non-adjustable or out-of-range env overrides. A task's
``{{ env.NAME }}`` placeholders are filled from the environment, as at run time.

Exit codes: 0 valid (warnings allowed), 1 invalid, 2 usage error or unreadable file. ``--output json``
prints one JSON document instead. Reads the named files; imports nothing heavier than pydantic.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from task_api.cli._output import count, print_json, print_problems
from task_api.core.merge import resolve
from task_api.spec import ProcessingContainer, SpecError, Task
from task_api.spec._jsonpos import line_column, locate
from task_api.spec.errors import Problem
from task_api.spec.load import (
    MAX_BYTES,
    Document,
    decode_document,
    fill_placeholders,
    parse_processing_container,
    validate_document,
)
from task_api.spec.schema import SCHEMA_IDS

__all__ = ["add_parser", "run"]

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a processing-container.json or task.json, reporting every problem",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("file", help="the file to check")
    parser.add_argument(
        "--schema",
        choices=["pc", "task"],
        help="pc: processing-container.json, task: task.json (default: detect)",
    )
    parser.add_argument(
        "--template",
        metavar="PC_FILE",
        help="a processing-container.json: also merge the task with its template, offline",
    )
    parser.add_argument("--output", choices=["text", "json"], default="text", help="output format")


class Unreadable(Exception):
    """A file could not be read at all (exit code 2)."""


@dataclass
class Report:
    """What ``validate`` found, printed at the end in the format asked for."""

    file: str
    kind: str | None = None
    summary: str = ""
    problems: list[Problem] = field(default_factory=list)
    template_file: str | None = None
    template_problems: list[Problem] = field(default_factory=list)


def _read(path_text: str, limit: int) -> bytes:
    path = Path(path_text)
    try:
        if path.is_dir():
            raise Unreadable(f"{path_text}: is a directory, not a file")
        size = path.stat().st_size
        if size > limit:
            # Refuse before reading: the size is the problem, not the content.
            raise _Oversize(size)
        with path.open("rb") as handle:
            return handle.read(limit + 1)
    except FileNotFoundError:
        raise Unreadable(f"{path_text}: no such file") from None
    except PermissionError:
        raise Unreadable(f"{path_text}: permission denied") from None
    except IsADirectoryError:
        raise Unreadable(f"{path_text}: is a directory, not a file") from None
    except OSError as exc:
        raise Unreadable(f"{path_text}: cannot read: {exc.strerror or exc}") from None


class _Oversize(Exception):
    """A file over the size limit, refused without reading it."""

    def __init__(self, size: int) -> None:
        self.size = size


def _detect(document: Document, path: str) -> str | None:
    value = document.value
    declared = value.get("$schema")
    for kind, schema_id in SCHEMA_IDS.items():
        if declared == schema_id:
            return kind
    if "templates" in value:
        return "pc"
    if "image" in value or "taskTemplate" in value:
        return "task"
    name = Path(path).name
    if "processing-container" in name:
        return "pc"
    if "task" in name:
        return "task"
    return None


def _locate_task_problems(problems: list[Problem], document: Document) -> list[Problem]:
    """Give merge problems (task.json paths, no position) their line:column in the task file (pure)."""
    located = []
    for problem in problems:
        if problem.line is not None:
            located.append(problem)
            continue
        loc: list[str | int] = []
        for part in re.findall(r"[^.\[\]]+|\[\d+\]", problem.path):
            loc.append(int(part[1:-1]) if part.startswith("[") else part)
        line, column = line_column(document.text, locate(document.text, tuple(loc)))
        located.append(dataclasses.replace(problem, line=line, column=column))
    return located


def _check(args: argparse.Namespace, report: Report) -> None:
    def load(path: str) -> Document:
        try:
            data = _read(path, MAX_BYTES)
        except _Oversize as big:
            raise SpecError(
                path,
                [_problem("file is too large", given=f"{big.size} bytes", allowed=f"at most {MAX_BYTES} bytes")],
            ) from None
        return decode_document(data, source=path)

    try:
        document = load(args.file)
    except SpecError as exc:
        report.problems = exc.problems
        return
    kind = args.schema or _detect(document, args.file)
    if kind is None:
        raise Unreadable(
            f"{args.file}: cannot tell whether this is a processing-container.json or a task.json; "
            "pass --schema pc or --schema task"
        )
    report.kind = kind
    if kind == "pc":
        if args.template:
            raise Unreadable("--template applies to task files only")
        try:
            container = validate_document(document, ProcessingContainer)
        except SpecError as exc:
            report.problems = exc.problems
            return
        names = ", ".join(t.identifier for t in container.templates)
        report.summary = f"processing container {container.name!r}, templates: {names}"
        return

    fill_placeholders(document, os.environ)
    parse_warnings: list[Problem] = []
    try:
        task = validate_document(document, Task, warnings=parse_warnings)
    except SpecError as exc:
        report.problems = exc.problems
        return
    report.problems = parse_warnings
    pc = None
    if args.template:
        report.template_file = args.template
        try:
            data = _read(args.template, MAX_BYTES)
            pc = parse_processing_container(data, source=args.template)
        except _Oversize as big:
            report.template_problems = [
                _problem("file is too large", given=f"{big.size} bytes", allowed=f"at most {MAX_BYTES} bytes")
            ]
            return
        except SpecError as exc:
            report.template_problems = exc.problems
            return
    summary = f"task {task.name!r}, template {task.template_identifier!r}"
    if pc is None and isinstance(task.taskTemplate, str):
        report.summary = summary + " (merge not checked: pass --template processing-container.json)"
        return
    base_dir = str(Path(args.file).resolve().parent)
    try:
        resolved = resolve(task, pc, source=args.file, base_dir=base_dir)
    except SpecError as exc:
        report.problems = _locate_task_problems(exc.problems, document)
        return
    report.problems = parse_warnings + _locate_task_problems(resolved.warnings, document)
    report.summary = summary + f" (merged with {'its inline template' if pc is None else args.template})"


def _problem(message: str, **kw: Any) -> Problem:
    return Problem(path="", message=message, **kw)


def run(args: argparse.Namespace) -> int:
    report = Report(file=args.file)
    try:
        _check(args, report)
    except Unreadable as exc:
        if args.output == "json":
            print_json({"file": args.file, "valid": False, "error": str(exc), "problems": []})
        else:
            print(f"task-api validate: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    all_problems = report.problems + report.template_problems
    errors, warnings = count(all_problems)
    if args.output == "json":
        print_json(
            {
                "file": report.file,
                "kind": report.kind,
                "valid": errors == 0,
                "errors": errors,
                "warnings": warnings,
                "summary": report.summary or None,
                "problems": [p.to_dict() | {"file": report.file} for p in report.problems]
                + [p.to_dict() | {"file": report.template_file} for p in report.template_problems],
            }
        )
    else:
        print_problems(report.problems, source=report.file)
        print_problems(report.template_problems, source=report.template_file or "")
        if errors:
            print(f"{report.file}: invalid: {errors} error(s), {warnings} warning(s)")
        else:
            extra = f", {warnings} warning(s)" if warnings else ""
            print(f"{report.file}: valid {report.summary}{extra}")
    return EXIT_INVALID if errors else EXIT_OK
