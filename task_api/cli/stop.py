"""``task-api stop RUN [--time N]`` — stop a local run's container (SIGTERM, then SIGKILL after N seconds).

The container and the record stay (``rm`` removes them); the record gets the final status. Exit 0 when the
container is stopped (or had already stopped), 1 when the record cannot be read or the container is gone.
"""

from __future__ import annotations

import argparse
from typing import Any

from task_api.cli._runs import add_run_argument, record_dir

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stop", help="stop a local run", description=__doc__.split("\n\n")[1] if __doc__ else None
    )
    add_run_argument(parser)
    parser.add_argument("--time", "-t", type=int, default=10, metavar="N", help="seconds before SIGKILL (default 10)")


def run(args: argparse.Namespace) -> int:
    from task_api.cli._runs import engine_from
    from task_api.runner.runs import load_run, stop_run

    path, record = load_run(args.run, record_dir(args))
    with engine_from(args, record) as engine:
        status = stop_run(engine, path, record, timeout=args.time)
    print(f"run {record.id}: {status.state} ({status.reason.value}, exit code {status.exit_code})")
    return 0
