"""Run records: the ``task_run-<id>.json`` file a local run leaves behind.

A record says what was started — the task file, image and image ID, template, command, environment
(values of secret-looking names redacted), mounts, the memory computation and the measurements behind it —
and, once someone has seen the run finish (``run --watch``, ``wait``, ``status``), how it ended. ``logs``,
``status``, ``wait``, ``stop``, ``list`` and ``rm`` take a record file or a run ID (a prefix of the container
ID, as with ``docker``) and find the container through it.

Records are JSON, never pickle: a pickle runs code when loaded, so a record shared or downloaded would be a way
to run anything on the reader's machine. Kaapana's ``.pkl`` records are therefore refused with a message
rather than read (``docs/compat.md``).

Reading and writing records is file I/O; :func:`redact_env` is pure.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from task_api.runner.errors import RecordError
from task_api.runner.status import RunStatus
from task_api.spec.load import SECRET_NAME
from task_api.spec.resolved import Measurement
from task_api.spec.scale_rule import ScaleRule

__all__ = [
    "RECORD_GLOB",
    "REDACTED",
    "ChannelRecord",
    "RunRecord",
    "find_record",
    "list_records",
    "read_record",
    "record_name",
    "redact_env",
    "write_record",
]

RECORD_GLOB = "task_run-*.json"
REDACTED = "<redacted>"
_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
_RUN_ID = re.compile(r"^[0-9a-f]{1,64}$")


class ChannelRecord(BaseModel):
    """One mounted channel: the host directory, where it appears in the container, and how."""

    model_config = ConfigDict(extra="forbid")

    name: str
    host_path: str
    mounted_path: str
    read_only: bool


class RunRecord(BaseModel):
    """The contents of ``task_run-<id>.json``."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["TaskRun"] = "TaskRun"
    record_version: Literal[1] = 1
    mode: Literal["docker"] = "docker"
    id: str = Field(description="The container ID's first 12 characters, as docker shows it.")
    container_id: str
    container_name: str | None = None
    docker_host: str
    created_at: str
    task_file: str | None = None
    name: str
    image: str
    image_id: str | None = None
    template: str
    command: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    inputs: list[ChannelRecord] = Field(default_factory=list)
    outputs: list[ChannelRecord] = Field(default_factory=list)
    user: str | None = None
    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)
    memory_explanation: list[str] = Field(default_factory=list)
    measurements: list[Measurement] = Field(default_factory=list)
    #: The scale rule applied to each measured input channel.
    scale_rules: dict[str, ScaleRule] = Field(default_factory=dict)
    #: Rule-computed memory per input channel (bytes after headroom), for --monitor-memory's comparison.
    rule_memory: dict[str, int] = Field(default_factory=dict)
    status: RunStatus | None = None


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment with values of secret-looking names replaced by ``<redacted>`` (pure)."""
    return {name: (REDACTED if SECRET_NAME.search(name) else value) for name, value in env.items()}


def record_name(run_id: str) -> str:
    """The record's file name for a run ID (pure)."""
    return f"task_run-{run_id}.json"


def write_record(record: RunRecord, path: Path) -> None:
    """Write ``record`` to ``path`` atomically (a temp file renamed over it), so readers never see half a file."""
    text = record.model_dump_json(indent=2, exclude_none=True) + "\n"
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".task_run-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise RecordError(f"{path}: cannot write the run record: {exc.strerror}") from None


def read_record(path: Path) -> RunRecord:
    """Read and validate a record file (file I/O). Refuses pickles without loading them."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RecordError(f"{path}: no such run record") from None
    except IsADirectoryError:
        raise RecordError(f"{path}: is a directory, not a run record") from None
    except OSError as exc:
        raise RecordError(f"{path}: cannot read: {exc.strerror}") from None
    if data.startswith(_PICKLE_MAGIC) or path.suffix == ".pkl":
        raise RecordError(
            f"{path}: this is a pickle (Kaapana's task_run .pkl format); task-api reads JSON records only, "
            "because loading a pickle can run arbitrary code (see docs/compat.md)"
        )
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        where = f":{exc.lineno}:{exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise RecordError(f"{path}{where}: not a JSON run record ({exc})") from None
    try:
        return RunRecord.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise RecordError(f"{path}: {loc}: {first['msg']} — not a task-api run record") from None


def list_records(directory: Path) -> list[tuple[Path, RunRecord | RecordError]]:
    """Every ``task_run-*.json`` in ``directory`` with its record or the error reading it, oldest first."""
    found: list[tuple[Path, RunRecord | RecordError]] = []
    for path in sorted(directory.glob(RECORD_GLOB)):
        try:
            found.append((path, read_record(path)))
        except RecordError as exc:
            found.append((path, exc))
    found.sort(key=lambda item: item[1].created_at if isinstance(item[1], RunRecord) else "")
    return found


def find_record(reference: str, directory: Path) -> Path:
    """The record a user meant: a record file path, or a run ID (or a unique prefix of one) in ``directory``."""
    path = Path(reference)
    if path.is_file() or reference.endswith((".json", ".pkl")) or os.sep in reference:
        return path
    if not _RUN_ID.match(reference):
        raise RecordError(
            f"{reference!r}: not a run record file or a run ID (allowed: a task_run-<id>.json path or the "
            "hexadecimal ID `task-api list` shows)"
        )
    matches = [
        candidate
        for candidate, record in list_records(directory)
        if isinstance(record, RunRecord)
        and (record.container_id.startswith(reference) or record.id.startswith(reference))
    ]
    if not matches:
        raise RecordError(f"no run record with ID {reference!r} in {directory} (see `task-api list`)")
    if len(matches) > 1:
        names = ", ".join(m.name for m in matches)
        raise RecordError(f"run ID {reference!r} is ambiguous in {directory}: {names}")
    return matches[0]
