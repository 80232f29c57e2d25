"""``task-api rm RUN [--force] [--keep-record]`` — remove a local run's container and its record.

A running container is only removed with ``--force`` (it is killed). ``--keep-record`` keeps the
``task_run-<id>.json`` file, with the run's final status written into it. Output directories are never
touched. Exit 0 when removed (also when the container was already gone), 1 otherwise.
"""

from __future__ import annotations

import argparse
from typing import Any

from task_api.cli._runs import add_run_argument, record_dir

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rm", help="remove a local run", description=__doc__.split("\n\n")[1] if __doc__ else None
    )
    add_run_argument(parser)
    parser.add_argument("--force", "-f", action="store_true", help="remove a running container too (kills it)")
    parser.add_argument("--keep-record", action="store_true", help="keep the record file")


def run(args: argparse.Namespace) -> int:
    from task_api.cli._runs import engine_from
    from task_api.runner.runs import load_run, remove_run

    path, record = load_run(args.run, record_dir(args))
    with engine_from(args, record) as engine:
        removed = remove_run(engine, path, record, force=args.force, keep_record=args.keep_record)
    what = "removed container" if removed else "container was already gone"
    kept = f"; record kept: {path}" if args.keep_record else f"; removed {path}"
    print(f"run {record.id}: {what}{kept}")
    return 0
