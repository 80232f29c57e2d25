"""``task-api list [--dir DIR]`` — the local runs recorded in a directory, with their current state.

Reads every ``task_run-*.json`` in ``DIR`` (default: the current directory) and asks the engine how each run
stands. Records that cannot be read are listed with the reason. ``--output json`` prints a JSON list.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from task_api.cli._runs import add_engine_argument, dump_json, record_dir

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "list", help="list local runs", description=__doc__.split("\n\n")[1] if __doc__ else None
    )
    parser.add_argument("--dir", type=Path, default=Path("."), help="where the records are (default: here)")
    parser.add_argument("--output", "-o", choices=["table", "json"], default="table", help="output format")
    add_engine_argument(parser)


def run(args: argparse.Namespace) -> int:
    from task_api.cli._runs import engine_from, status_document
    from task_api.runner.runs import list_runs
    from task_api.runner.status import format_duration

    with engine_from(args) as engine:
        listings = list_runs(engine, record_dir(args))
    if args.output == "json":
        items: list[Any] = []
        for item in listings:
            if item.record is None or item.status is None:
                items.append({"record": str(item.path), "error": item.error})
            else:
                items.append(status_document(item.record, item.status, item.path))
        dump_json({"runs": items})
        return 0
    if not listings:
        print(f"no run records (task_run-*.json) in {record_dir(args)}", file=sys.stderr)
        return 0
    rows = [("ID", "TASK", "TEMPLATE", "STATE", "EXIT", "OOM", "DURATION", "RECORD")]
    for item in listings:
        if item.record is None or item.status is None:
            rows.append(("?", "-", "-", "unreadable", "-", "-", "-", f"{item.path.name}: {item.error}"))
            continue
        status = item.status
        rows.append(
            (
                item.record.id,
                item.record.name,
                item.record.template,
                f"{status.state}/{status.reason.value}",
                "-" if status.exit_code is None else str(status.exit_code),
                "yes" if status.oom_killed else "no",
                format_duration(status.duration_seconds),
                item.path.name,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    return 0
