"""``task-api schema pc|task``: print the JSON Schema of processing-container.json or task.json."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of processing-container.json (pc) or task.json (task)",
        description="Print a JSON Schema (Draft 2020-12). The same files are published in schemas/.",
    )
    parser.add_argument("kind", choices=["pc", "task"], help="pc: processing-container.json; task: task.json")


def run(args: argparse.Namespace) -> int:
    from task_api.spec.schema import schema_text

    sys.stdout.write(schema_text(args.kind))
    return 0
