"""Build the legacy directory layout (I/O), and the staging init container's program.

``python3 -m task_api.legacy.stage`` reads the legacy layout and the task's env from its own environment (the
operator gives the init container the task container's env and mounts), stages, and exits 0. On failure it writes
one line ``task-api legacy stage: <what went wrong>`` to stderr and to the termination log, and exits 1 (2 when the
layout itself is unreadable). No traceback.

The Docker runner calls :func:`stage` directly with host directories (:mod:`task_api.legacy.docker`).

Does filesystem I/O: lists the input, copies or links, creates directories in the output and the scratch dir.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from task_api.core.legacy import (
    Copy,
    LegacyError,
    LegacyLayout,
    LegacyMode,
    LegacyReason,
    Link,
    MakeDir,
    StageOperation,
    WriteFile,
    layout_of,
    stage_operations,
)
from task_api.spec._base import quote
from task_api.spec.errors import Problem

__all__ = ["StageReport", "apply", "list_elements", "main", "stage"]

ENV_TERMINATION_LOG = "TASK_API_TERMINATION_LOG"
TERMINATION_LOG = "/dev/termination-log"

# Any user may write what staging creates: the legacy image may run as any uid, and these directories belong to
# this one run (the scratch dir is private to the pod or container; output element dirs are in the run's output).
_DIR_MODE = 0o777
_WRITABLE = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


@dataclass(frozen=True)
class StageReport:
    """What was staged: the batch elements and how many operations ran."""

    elements: list[str]
    operations: int


def list_elements(input_root: Path, *, channel: str, mode: LegacyMode) -> list[str]:
    """The batch elements: the input's top-level directories, sorted (I/O: lists one directory).

    Hidden entries are skipped (``.DS_Store``, ``.snapshot``). In per-element mode a regular file at the top level
    is an error: it usually means the element's own directory was bound instead of the batch directory.
    """
    if mode is LegacyMode.WORKFLOW:
        return []
    try:
        entries = sorted(os.scandir(input_root), key=lambda e: e.name)
    except OSError as exc:
        problem = Problem(path=f"inputs.{channel}", message=f"cannot list the input: {exc.strerror}",
                          given=quote(str(input_root)))  # fmt: skip
        raise LegacyError(str(input_root), [problem], reason=LegacyReason.INPUT_LAYOUT) from None
    elements: list[str] = []
    files: list[str] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        (elements if entry.is_dir() else files).append(entry.name)
    if files:
        shown = ", ".join(quote(f) for f in files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
        problem = Problem(
            path=f"inputs.{channel}",
            message="per-element mode expects one directory per batch element at the input's top level, "
            f"found files: {shown}",
            given=quote(str(input_root)),
            allowed="<input>/<element>/... (bind the batch folder, not one element's folder), or migrate with "
            "--mode workflow",
        )
        raise LegacyError(str(input_root), [problem], reason=LegacyReason.INPUT_LAYOUT)
    return elements


def _make_writable_tree(root: Path) -> None:
    for current, _dirs, files in os.walk(root):
        os.chmod(current, _DIR_MODE)
        for name in files:
            path = Path(current, name)
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | _WRITABLE)


def _make_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    # Not ours (e.g. an output root the kubelet made): it stays as writable as whoever made it left it.
    with contextlib.suppress(PermissionError):
        path.chmod(_DIR_MODE)


def apply(operations: Sequence[StageOperation]) -> None:
    """Carry out staging operations in order (I/O). Raises :class:`LegacyError` naming the failing path."""
    for op in operations:
        try:
            if isinstance(op, MakeDir):
                _make_dir(Path(op.path))
            elif isinstance(op, Copy):
                # symlinks=True: a link in the input is copied as a link, never followed out of the input.
                shutil.copytree(op.source, op.target, symlinks=True, dirs_exist_ok=True)
                _make_writable_tree(Path(op.target))
            elif isinstance(op, Link):
                link = Path(op.path)
                if link.is_symlink() or link.exists():
                    raise FileExistsError(17, "already exists", op.path)
                link.symlink_to(op.target)
            elif isinstance(op, WriteFile):
                target = Path(op.path)
                target.write_text(op.text, encoding="utf-8")
                target.chmod(0o666)
        except OSError as exc:
            where = getattr(op, "path", None) or getattr(op, "target", "")
            detail = exc.strerror or str(exc)
            problem = Problem(path="", message=f"staging the legacy layout failed at {where}: {detail}")
            raise LegacyError("legacy stage", [problem], reason=LegacyReason.STAGING_FAILED) from None


def stage(
    layout: LegacyLayout,
    env: Mapping[str, str],
    *,
    workflow_root: Path,
    input_root: Path,
    output_root: Path,
) -> StageReport:
    """List the input, compute the operations and carry them out (I/O)."""
    elements = list_elements(input_root, channel=layout.input, mode=layout.mode)
    operations = stage_operations(
        layout,
        env,
        elements,
        workflow_root=str(workflow_root),
        input_root=str(input_root),
        output_root=str(output_root),
    )
    apply(operations)
    return StageReport(elements=elements, operations=len(operations))


def _fail(message: str, code: int, env: Mapping[str, str]) -> int:
    line = f"task-api legacy stage: {message}\n"
    sys.stderr.write(line)
    log = Path(env.get(ENV_TERMINATION_LOG, TERMINATION_LOG))
    if log.parent.is_dir():
        with contextlib.suppress(OSError):  # stderr has it
            log.write_text(line[:4000], encoding="utf-8")
    return code


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """The init container's program: stage at the image's own paths (I/O). Returns the exit code."""
    env = dict(os.environ if environ is None else environ)
    try:
        layout = layout_of(env, source="legacy stage")
    except LegacyError as exc:
        return _fail(str(exc), 2, env)
    if layout is None:
        return _fail("the environment carries no TASK_API_LEGACY layout; nothing to stage", 2, env)
    try:
        report = stage(
            layout,
            env,
            workflow_root=Path(layout.workflow_dir),
            input_root=Path(layout.input_path),
            output_root=Path(layout.output_path),
        )
    except LegacyError as exc:
        return _fail(str(exc), 1, env)
    sys.stderr.write(
        f"task-api legacy stage: {layout.mode.value} layout at {layout.workflow_dir}: "
        f"{len(report.elements)} element(s), inputs {layout.stage.value}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
