"""The ``task-api`` command: argparse with one module per subcommand.

Each subcommand lives in ``task_api/cli/<name>.py`` and exposes ``add_parser(subparsers) -> None`` and
``run(args) -> int``. :data:`COMMANDS` maps command names to those modules; add a line there for a new
command. Command modules import heavy libraries (docker, kubernetes, httpx) inside ``run()`` only, so that
``task-api validate`` starts fast.

Exit codes: 0 success, 1 invalid input or a failed operation, 2 usage error or unreadable file. A
:class:`~task_api.spec.TaskApiError` is printed as its message; nothing prints a traceback unless
``TASK_API_DEBUG=1`` is set.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import ModuleType

from task_api import __version__
from task_api.spec.errors import TaskApiError

__all__ = ["COMMANDS", "EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

#: Subcommand name -> module. Keep one line per command; others add theirs here.
COMMANDS: dict[str, str] = {
    "validate": "task_api.cli.validate",
    "schema": "task_api.cli.schema",
    "inspect": "task_api.cli.inspect",
    "processing-container": "task_api.cli.inspect",  # Kaapana's name, an alias of inspect
    "run": "task_api.cli.run",
    "logs": "task_api.cli.logs",
    "status": "task_api.cli.status",
    "wait": "task_api.cli.wait",
    "check-task-run": "task_api.cli.check_task_run",  # Kaapana's name: wait, then status
    "stop": "task_api.cli.stop",
    "list": "task_api.cli.list",
    "rm": "task_api.cli.rm",
    "legacy": "task_api.cli.legacy",
    "memory": "task_api.cli.memory",
}


def _load(module_name: str) -> ModuleType | None:
    try:
        return importlib.import_module(module_name)
    except Exception as exc:  # one broken command must not take the others down
        print(f"task-api: warning: command module {module_name} failed to load: {exc}", file=sys.stderr)
        return None


def build_parser(names: list[str] | None = None) -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    """The argument parser and the loaded command modules (imports the command modules, nothing heavy)."""
    parser = argparse.ArgumentParser(
        prog="task-api",
        description="Validate and run processing containers: with Docker, on Kubernetes, from Airflow.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    modules: dict[str, ModuleType] = {}
    for name, module_name in COMMANDS.items():
        if names is not None and name not in names:
            continue
        module = _load(module_name)
        if module is not None:
            module.add_parser(subparsers)
            modules[name] = module
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    """Run the ``task-api`` command line; returns the exit code."""
    args_list = sys.argv[1:] if argv is None else argv
    # Load only the module of the command asked for when it is obvious: keeps `validate` fast and independent.
    first = next((a for a in args_list if not a.startswith("-")), None)
    parser, modules = build_parser([first] if first in COMMANDS else None)
    args = parser.parse_args(args_list)
    module = modules.get(args.command)
    if module is None:  # pragma: no cover - argparse refuses unknown commands first
        parser.error(f"unknown command {args.command!r}")
    try:
        return int(module.run(args))
    except TaskApiError as exc:
        print(f"task-api {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("task-api: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_FAILED
    except Exception as exc:
        if os.environ.get("TASK_API_DEBUG") == "1":
            import traceback  # only here: importing it costs start-up time on every command

            traceback.print_exc()
        print(
            f"task-api {args.command}: internal error: {type(exc).__name__}: {exc} "
            "(set TASK_API_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED
