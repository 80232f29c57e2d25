"""``task-api logs RUN [--follow]`` — print a run's container output (``--watch``: Kaapana's spelling of --follow).

``RUN`` is a ``task_run-<id>.json`` record or a run ID (looked up in ``--dir``, default the current directory).
The container's stdout goes to stdout and its stderr to stderr, byte for byte. ``--follow`` keeps streaming
until the container stops (Ctrl-C stops following, not the container). Exit codes: 0, or 1 when the record
cannot be read or the container was removed (its logs went with it).
"""

from __future__ import annotations

import argparse
from typing import Any

from task_api.cli._runs import add_run_argument, record_dir, write_chunk

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "logs", help="print a local run's output", description=__doc__.split("\n\n")[1] if __doc__ else None
    )
    add_run_argument(parser)
    parser.add_argument(
        "--follow",
        "-f",
        "--watch",
        action="store_true",
        help="keep streaming until the container stops (--watch: Kaapana's spelling)",
    )
    parser.add_argument("--no-watch", dest="follow", action="store_false", help="print what is there and stop")
    parser.add_argument("--tail", type=int, metavar="N", help="only the last N lines")


def run(args: argparse.Namespace) -> int:
    from task_api.cli._runs import engine_from
    from task_api.runner.runs import load_run, stream_logs

    _, record = load_run(args.run, record_dir(args))
    with engine_from(args, record) as engine:
        try:
            for stream_id, data in stream_logs(engine, record, follow=args.follow, tail=args.tail):
                write_chunk(stream_id, data)
        except KeyboardInterrupt:
            return 130
    return 0
