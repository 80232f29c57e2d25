"""What the local-run commands share: common arguments, the engine, status lines, the pull progress display.

``run``, ``logs``, ``status``, ``wait``, ``stop``, ``list`` and ``rm`` each have their own module (one per
command, as :mod:`task_api.cli.main` wants); this module holds the parts they have in common. It imports only
the standard library at module level, so loading the command table stays fast; the runner (httpx, the engine
client) is imported inside the functions that need it.

Writes to the streams it is given (the CLI's stdout/stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from task_api.runner.engine import DockerEngine
    from task_api.runner.record import RunRecord
    from task_api.runner.status import RunStatus

__all__ = [
    "PullDisplay",
    "add_engine_argument",
    "add_run_argument",
    "engine_from",
    "print_status",
    "status_document",
    "write_chunk",
]


def add_engine_argument(parser: argparse.ArgumentParser) -> None:
    """``--docker-host`` (default ``$DOCKER_HOST`` or the standard socket)."""
    parser.add_argument(
        "--docker-host",
        metavar="URL",
        default=None,
        help="the engine: unix:///path/docker.sock or tcp://127.0.0.1:PORT (default $DOCKER_HOST or "
        "unix:///var/run/docker.sock)",
    )


def add_run_argument(parser: argparse.ArgumentParser) -> None:
    """The ``RUN`` positional (record file or run ID) and ``--dir`` where IDs are looked up."""
    parser.add_argument("run", metavar="RUN", help="a task_run-<id>.json record, or a run ID (or a prefix of one)")
    parser.add_argument(
        "--dir", type=Path, default=Path("."), help="where run IDs are looked up (default: the current directory)"
    )
    add_engine_argument(parser)


def engine_from(args: argparse.Namespace, record: RunRecord | None = None) -> DockerEngine:
    """The engine a command talks to: ``--docker-host``, else the record's, else the default (no I/O yet)."""
    from task_api.runner.engine import DockerEngine

    host = getattr(args, "docker_host", None) or (record.docker_host if record is not None else None)
    return DockerEngine(host)


def write_chunk(stream_id: int, data: bytes, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
    """Container output: stream 2 to our stderr, everything else to our stdout, bytes passed through."""
    target = (stderr or sys.stderr) if stream_id == 2 else (stdout or sys.stdout)
    buffer = getattr(target, "buffer", None)
    if buffer is not None:
        target.flush()
        buffer.write(data)
        buffer.flush()
    else:
        target.write(data.decode("utf-8", errors="replace"))
        target.flush()


def status_document(record: RunRecord, status: RunStatus, path: Path) -> dict[str, Any]:
    """What ``status --output json`` prints (pure)."""
    return {
        "record": str(path),
        "id": record.id,
        "container_id": record.container_id,
        "task": record.name,
        "template": record.template,
        "image": record.image,
        "limits": record.limits,
        "requests": record.requests,
        **status.model_dump(mode="json"),
    }


def print_status(record: RunRecord, status: RunStatus, path: Path, *, stream: TextIO | None = None) -> None:
    """The human form of a run's status, one ``key: value`` per line."""
    from task_api.runner.memory import human_bytes
    from task_api.runner.status import format_duration

    out = stream or sys.stdout
    limit = record.limits.get("memory")
    rows = [
        ("run", f"{record.id} ({path})"),
        ("task", f"{record.name} (template {record.template}, image {record.image})"),
        ("state", f"{status.state} — {status.phase.value}, {status.reason.value}"),
        ("exit code", "-" if status.exit_code is None else str(status.exit_code)),
        ("OOMKilled", "yes" if status.oom_killed else "no"),
        ("started", status.started_at or "-"),
        ("finished", status.finished_at or "-"),
        ("duration", format_duration(status.duration_seconds)),
        ("peak memory", human_bytes(status.peak_memory_bytes) + (f" (limit {limit})" if limit else "")),
    ]
    if status.error:
        rows.append(("engine error", status.error))
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key + ':':<{width + 1}} {value}", file=out)


class PullDisplay:
    """Shows a pull's progress from the engine's status messages.

    On a terminal one line is rewritten in place (layers done, bytes downloaded); otherwise a line is printed
    when a layer finishes and when the pull ends, so logs stay short.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.layers: dict[str, str] = {}
        self.current: dict[str, int] = {}
        self.total: dict[str, int] = {}
        self._last = ""

    def __call__(self, event: Mapping[str, Any]) -> None:
        status = str(event.get("status") or "")
        layer = str(event.get("id") or "")
        detail = event.get("progressDetail") or {}
        if layer and status and not status.startswith(("Pulling from", "Digest", "Status")):
            previous = self.layers.get(layer)
            self.layers[layer] = status
            if isinstance(detail, Mapping):
                if isinstance(detail.get("current"), int) and status == "Downloading":
                    self.current[layer] = int(detail["current"])
                if isinstance(detail.get("total"), int) and status == "Downloading":
                    self.total[layer] = int(detail["total"])
            if status in ("Download complete", "Pull complete", "Already exists") and layer in self.total:
                self.current[layer] = self.total[layer]
            if not self.tty and status in ("Pull complete", "Already exists") and previous != status:
                self._line(f"  {layer}: {status.lower()} ({self._summary()})")
        elif status.startswith("Status:") or status.startswith("Digest:"):
            if self.tty and self._last:
                self.stream.write("\n")
                self._last = ""
            self._line(f"  {status}")
            return
        if self.tty:
            text = f"\r  {self._summary()}"
            self.stream.write(text + " " * max(0, len(self._last) - len(text)))
            self.stream.flush()
            self._last = text

    def _summary(self) -> str:
        done = sum(1 for s in self.layers.values() if s in ("Pull complete", "Already exists"))
        got = sum(self.current.values()) / 2**20
        want = sum(self.total.values()) / 2**20
        size = f", {got:.1f}/{want:.1f} MiB" if want else ""
        return f"{done}/{len(self.layers)} layers{size}"

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def dump_json(document: Mapping[str, Any], stream: TextIO | None = None) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False), file=stream or sys.stdout)


def record_dir(args: argparse.Namespace) -> Path:
    directory: Path = getattr(args, "dir", None) or Path(".")
    return directory if directory.is_absolute() else Path(os.getcwd()) / directory
