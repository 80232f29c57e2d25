"""``task-api inspect IMAGE`` (alias ``processing-container``, Kaapana's name): show an image's templates.

Reads ``processing-container.json`` out of an image in a registry without pulling it (or, with ``--local``,
out of the local Docker engine without running it; Kaapana's ``--mode docker`` is ``--local`` and its
``--mode k8s`` the registry, the default) and prints its templates as a table — identifier,
description, inputs, outputs, configurable environment — or, with ``--output json``, the file plus the
resolved digest.

Credentials: ``--username U --password-stdin`` (the password is read from standard input, never from the
command line), otherwise the Docker client config (``$DOCKER_CONFIG/config.json`` or
``~/.docker/config.json``).

Exit codes, as for ``validate``: 0 the image's file is valid; 1 it is missing or invalid (the problems are
printed as ``validate`` prints them); 2 the image could not be inspected (bad arguments, not found,
unauthorized, registry unreachable). Errors are one clear message on standard error, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from task_api.spec.errors import TaskApiError

if TYPE_CHECKING:  # the image package pulls in httpx: imported in run() only, so `validate` starts fast
    from task_api.image import Credentials, Inspection

__all__ = ["ALIASES", "COMMAND", "add_arguments", "add_parser", "main", "render_json", "render_table", "run"]

COMMAND = "inspect"
ALIASES = ("processing-container",)
HELP = "show the task templates of a processing-container image (reads it without pulling)"

EXIT_OK, EXIT_INVALID, EXIT_ERROR = 0, 1, 2


def add_parser(subparsers: Any) -> None:
    """Register ``inspect`` and its alias ``processing-container`` (once, however often it is called)."""
    for name in (COMMAND, *ALIASES):
        if name in subparsers.choices:
            continue
        parser = subparsers.add_parser(name, help=HELP if name == COMMAND else f"alias of {COMMAND}")
        add_arguments(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the subcommand's arguments on ``parser`` (pure)."""
    parser.add_argument("image", metavar="IMAGE", help="image reference, e.g. registry:5000/repo/name:tag")
    parser.add_argument("--template", metavar="ID", help="show only the template with this identifier")
    parser.add_argument("--output", "-o", choices=("table", "json"), default="table", help="output format")
    parser.add_argument("--username", "-u", metavar="U", help="registry user (password from --password-stdin)")
    parser.add_argument("--password-stdin", action="store_true", help="read the registry password from stdin")
    parser.add_argument("--platform", default="linux/amd64", help="platform of a multi-platform image")
    parser.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="allow plain HTTP to this registry (loopback registries always may); repeatable",
    )
    parser.add_argument("--local", action="store_true", help="read the image from the local Docker engine")
    parser.add_argument(
        "--mode",
        choices=("docker", "k8s"),
        help="Kaapana's spelling: docker reads the local Docker engine (as --local), k8s the registry the cluster "
        "pulls from (the default)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds")


def _credentials(args: argparse.Namespace, stdin: TextIO) -> Credentials | None:
    from task_api.image import Credentials, parse_reference

    if args.password_stdin and not args.username:
        raise _Usage("--password-stdin needs --username")
    if args.username and not args.password_stdin:
        raise _Usage("--username needs --password-stdin (passwords are never taken from the command line)")
    if args.username:
        password = stdin.read().rstrip("\r\n")
        if not password:
            raise _Usage("--password-stdin: standard input is empty")
        return Credentials.basic(args.username, password)
    return Credentials.from_docker_config(parse_reference(args.image).registry)


class _Usage(Exception):
    """A usage error of this subcommand (exit 2)."""


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


def render_table(inspection: Inspection, template: str | None = None) -> str:
    """The human output: a header naming image and digest, then one row per template (pure)."""
    pc = inspection.container
    templates = [pc.template(template)] if template else list(pc.templates)
    rows = []
    for t in templates:
        env = [f"{e.name}={e.value}" for e in t.env if e.adjustable]
        rows.append(
            [
                t.identifier,
                (t.description or "").replace("\n", " ")[:60],
                ", ".join(c.name for c in t.inputs) or "-",
                ", ".join(c.name for c in t.outputs) or "-",
                ", ".join(env) or "-",
            ]
        )
    head = [
        f"{pc.name}: {pc.description}".rstrip(": ") if pc.description else pc.name,
        f"image:  {inspection.reference}",
        f"found:  {inspection.found_in} (via {inspection.source.value}; {inspection.requests} requests, "
        f"{inspection.bytes_read} bytes read)",
        "",
    ]
    table = _table(rows, ["IDENTIFIER", "DESCRIPTION", "INPUTS", "OUTPUTS", "CONFIGURABLE ENV"])
    return "\n".join(head) + table


def render_json(inspection: Inspection, template: str | None = None) -> str:
    """The machine output: digest, reference, source and the validated file (pure)."""
    pc = inspection.container
    document = pc.model_dump(mode="json", exclude_none=True)
    if template:
        document["templates"] = [pc.template(template).model_dump(mode="json", exclude_none=True)]
    return json.dumps(
        {
            "reference": inspection.reference,
            "digest": inspection.digest,
            "index_digest": inspection.index_digest,
            "source": inspection.source.value,
            "found_in": inspection.found_in,
            "bytes_read": inspection.bytes_read,
            "requests": inspection.requests,
            "processing_container": document,
        },
        indent=2,
    )


def run(
    args: argparse.Namespace, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:  # fmt: skip
    """Run the subcommand with parsed ``args`` (I/O: network or Docker engine, the terminal)."""
    from task_api.image import ImageError, SpecFileInvalid, SpecFileMissing, inspect_image, inspect_local_image

    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    prog = f"task-api {getattr(args, 'command', None) or COMMAND}"
    try:
        mode = getattr(args, "mode", None)
        if mode == "k8s" and args.local:
            raise _Usage("--mode k8s reads the registry; --local reads the Docker engine: give one of them")
        if args.local or mode == "docker":
            if args.username:
                raise _Usage("--local reads the local Docker engine; --username does not apply")
            inspection = inspect_local_image(args.image, timeout=args.timeout)
        else:
            inspection = inspect_image(
                args.image,
                credentials=_credentials(args, stdin),
                platform=args.platform,
                insecure_registries=args.insecure_registry,
                timeout=args.timeout,
            )
        text = (
            render_json(inspection, args.template) if args.output == "json" else render_table(inspection, args.template)
        )
    except _Usage as exc:
        print(f"{prog}: {exc}", file=stderr)
        return EXIT_ERROR
    except (SpecFileInvalid, SpecFileMissing) as exc:
        print(str(exc), file=stderr)
        return EXIT_INVALID
    except ImageError as exc:
        print(f"{prog}: {exc}", file=stderr)
        return EXIT_ERROR
    except TaskApiError as exc:  # e.g. a SpecError: --template names no template of the image
        print(f"{prog}: {exc}", file=stderr)
        return EXIT_ERROR
    print(text, file=stdout)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point (``python -m task_api.cli.inspect``), also used by tests."""
    parser = argparse.ArgumentParser(prog="task-api inspect", description=HELP)
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
