"""``task-api status RUN`` — how a local run stands: state, exit code, OOMKilled, duration, peak memory.

``RUN`` is a ``task_run-<id>.json`` record or a run ID. The engine is asked while the container exists; once
a run is seen finished its status is written into the record, so ``status`` still answers after ``rm
--keep-record``. Peak memory is what ``run --monitor-memory`` recorded, or, for a running container, the
engine's current high-water mark. OOMKilled is the engine's flag: a process killed for memory inside the
container counts even when the container's exit code is 0.

Exit codes: 0 (whatever the run's state; use ``wait`` for the run's code), 1 when the record cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from task_api.cli._runs import add_run_argument, dump_json, print_status, record_dir, status_document

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status", help="show a local run's state", description=__doc__.split("\n\n")[1] if __doc__ else None
    )
    add_run_argument(parser)
    parser.add_argument("--output", "-o", choices=["text", "json"], default="text", help="output format")


def run(args: argparse.Namespace) -> int:
    from task_api.cli._runs import engine_from
    from task_api.runner.errors import RecordError
    from task_api.runner.runs import current_status, load_run, save_status

    path, record = load_run(args.run, record_dir(args))
    with engine_from(args, record) as engine:
        status = current_status(engine, record)
    try:
        save_status(path, record, status)
    except RecordError as exc:  # a read-only record still has a status to show
        print(f"task-api status: warning: {exc}", file=sys.stderr)
    if args.output == "json":
        dump_json(status_document(record, status, path))
    else:
        print_status(record, status, path)
    return 0
