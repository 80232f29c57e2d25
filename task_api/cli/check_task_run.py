"""``task-api check-task-run RUN [--no-watch]`` — Kaapana's command: a local run's state, waiting for its end.

As in Kaapana, ``--watch`` is the default: wait until the container stops (as ``wait`` does), then print its
status (as ``status`` does) and exit with the run's code (137 for an OOM kill, even when the container's code
was 0). ``--no-watch`` prints the status now and exits 0. ``RUN`` is a ``task_run-<id>.json`` record or a run ID;
a Kaapana pickle record is refused unread (docs/compat.md).
"""

from __future__ import annotations

import argparse
from typing import Any

from task_api.cli._runs import add_run_argument

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check-task-run",
        help="Kaapana's name: wait for a local run to end and show its state (status + wait)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    add_run_argument(parser)
    parser.add_argument(
        "--watch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait until the container stops (default; --no-watch: show the state now)",
    )


def run(args: argparse.Namespace) -> int:
    from task_api.cli import status, wait

    code = wait.run(args) if args.watch else 0
    shown = status.run(argparse.Namespace(**{**vars(args), "output": "text"}))
    return code or shown
