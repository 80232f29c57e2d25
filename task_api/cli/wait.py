"""``task-api wait RUN`` — block until a local run's container stops, and exit with its code.

The exit code is the container's, except that a run the kernel killed for memory (OOMKilled) never exits 0:
it exits 137 even when the container's main process carried on and returned 0. A one-line summary goes to
stderr. Exit 1 when the record cannot be read; 130 when interrupted (the container keeps running).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from task_api.cli._runs import add_run_argument, record_dir

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "wait",
        help="wait for a local run to end; exit with its code",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    add_run_argument(parser)


def run(args: argparse.Namespace) -> int:
    from task_api.cli._runs import engine_from
    from task_api.runner.runs import load_run, wait_run
    from task_api.runner.status import exit_code_for, format_duration

    path, record = load_run(args.run, record_dir(args))
    with engine_from(args, record) as engine:
        try:
            record, status = wait_run(engine, path, record)
        except KeyboardInterrupt:
            return 130
    oom = ", OOMKilled" if status.oom_killed else ""
    print(
        f"run {record.id}: {status.reason.value}, exit code {status.exit_code}{oom}, "
        f"after {format_duration(status.duration_seconds)}",
        file=sys.stderr,
    )
    return exit_code_for(status)
