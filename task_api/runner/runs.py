"""Look after runs that were started: status, logs, wait, stop, remove, list.

Each function takes a run record (see :mod:`task_api.runner.record`) and the engine. The record is the
user's handle; the engine is the truth while the container exists. When a run is seen finished, its final
status is written back into the record, so the record still tells how the run ended after the container is
removed (``rm`` keeps nothing, ``rm --keep-record`` keeps the file).

I/O: the engine and the record files.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from task_api.runner.engine import Engine, LogChunk
from task_api.runner.errors import ContainerNotFound, RecordError, RunnerError
from task_api.runner.memory import PeakSampler
from task_api.runner.record import RunRecord, find_record, list_records, read_record, write_record
from task_api.runner.status import Phase, RunReason, RunStatus, run_status

_log = logging.getLogger(__name__)

__all__ = [
    "RunListing",
    "current_status",
    "list_runs",
    "load_run",
    "remove_run",
    "save_status",
    "stop_run",
    "stream_logs",
    "wait_run",
]


def load_run(reference: str, directory: Path) -> tuple[Path, RunRecord]:
    """The record a user named (a file, or a run ID in ``directory``) (file I/O)."""
    path = find_record(reference, directory)
    return path, read_record(path)


def _removed(record: RunRecord) -> RunStatus:
    if record.status is not None and record.status.finished:
        return record.status.model_copy(update={"state": "removed"})
    return RunStatus(state="removed", phase=Phase.FAILED, reason=RunReason.REMOVED)


def current_status(engine: Engine, record: RunRecord, *, peak_memory: int | None = None) -> RunStatus:
    """The run's status now: from the engine, or from the record when the container is gone (I/O)."""
    try:
        inspect = engine.inspect_container(record.container_id)
    except ContainerNotFound:
        return _removed(record)
    status = run_status(inspect)
    peak = peak_memory
    if peak is None and record.status is not None:
        peak = record.status.peak_memory_bytes
    if peak is None and status.phase is Phase.RUNNING:
        peak = _live_peak(engine, record.container_id)
    return status.model_copy(update={"peak_memory_bytes": peak}) if peak is not None else status


def _live_peak(engine: Engine, container_id: str) -> int | None:
    try:
        memory = engine.stats(container_id).get("memory_stats") or {}
    except RunnerError:
        return None
    value = memory.get("max_usage")
    return value if isinstance(value, int) and value > 0 else None


def save_status(path: Path, record: RunRecord, status: RunStatus) -> RunRecord:
    """Write a finished status into the record file; running states are not worth a write (file I/O)."""
    if not status.finished or status.state == "removed" or record.status == status:
        return record
    updated = record.model_copy(update={"status": status})
    write_record(updated, path)
    return updated


def _save_quietly(path: Path, record: RunRecord, status: RunStatus) -> RunRecord:
    """save_status, but a record that cannot be written (read-only folder) only costs a warning: the run's
    outcome is what the caller asked for."""
    try:
        return save_status(path, record, status)
    except RecordError as exc:
        _log.warning("%s (the final status was not recorded)", exc)
        return record


def stream_logs(engine: Engine, record: RunRecord, *, follow: bool, tail: int | None = None) -> Iterator[LogChunk]:
    """The container's output (engine I/O); :class:`ContainerNotFound` when it was removed."""
    return engine.logs(record.container_id, follow=follow, tail=tail)


def wait_run(engine: Engine, path: Path, record: RunRecord, *, monitor: bool = True) -> tuple[RunRecord, RunStatus]:
    """Block until the run's container stops; returns the record (with its final status) (I/O).

    With ``monitor`` the peak memory is sampled while waiting: the cgroup's high-water mark counts from the
    container's start, so a ``wait`` begun late still records the true peak.
    """
    sampler = PeakSampler(engine, record.container_id).start() if monitor else None
    try:
        engine.wait_container(record.container_id)
    except ContainerNotFound:
        if sampler is not None:
            sampler.stop()
        return record, _removed(record)
    peak = sampler.stop() if sampler is not None else None
    status = current_status(engine, record, peak_memory=peak)
    return _save_quietly(path, record, status), status


def stop_run(engine: Engine, path: Path, record: RunRecord, *, timeout: int = 10) -> RunStatus:
    """Stop the container (SIGTERM, then SIGKILL after ``timeout`` s) and record how it ended (I/O)."""
    engine.stop_container(record.container_id, timeout=timeout)
    status = current_status(engine, record)
    _save_quietly(path, record, status)
    return status


def remove_run(engine: Engine, path: Path, record: RunRecord, *, force: bool, keep_record: bool) -> bool:
    """Remove the container and (unless ``keep_record``) the record file; returns whether a container was
    removed. A running container is only removed with ``force`` (I/O)."""
    removed = True
    try:
        status = current_status(engine, record)
        if status.phase is Phase.RUNNING and not force:
            raise RecordError(
                f"run {record.id} is still running; stop it first (`task-api stop {record.id}`) or use --force"
            )
        save_status(path, record, status)
        engine.remove_container(record.container_id, force=force)
    except ContainerNotFound:
        removed = False
    if not keep_record:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise RecordError(f"{path}: cannot remove the record: {exc.strerror}") from None
    return removed


@dataclass(frozen=True)
class RunListing:
    """One line of ``task-api list``: the record file and what is known about its run."""

    path: Path
    record: RunRecord | None
    status: RunStatus | None
    error: str | None = None


def list_runs(engine: Engine, directory: Path) -> list[RunListing]:
    """Every record in ``directory`` with its run's current status, oldest first (I/O)."""
    listings: list[RunListing] = []
    for path, found in list_records(directory):
        if isinstance(found, RecordError):
            listings.append(RunListing(path=path, record=None, status=None, error=str(found)))
            continue
        listings.append(RunListing(path=path, record=found, status=current_status(engine, found)))
    return listings
