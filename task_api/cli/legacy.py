"""``task-api legacy init`` — migrate a legacy (pre-Task-API) Kaapana processing container.

Writes a processing-container.json for an image that still expects Kaapana's old contract (``WORKFLOW_DIR``,
``BATCHES_INPUT_DIR/<element>/OPERATOR_IN_DIR`` …), from what you tell it: the in/out directory names, the image's
env vars and their defaults, which of them came from the workflow form, the default conf.json, and whether the code
works per batch element or on the whole run. The image's code is not changed: task-api stages the old layout before
it runs (``docs/migrating-legacy.md``). The file is validated before it is written.

Exit codes: 0 written, 1 invalid answers or an unreadable --conf file, 2 usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, given {text!r}")
    return name, value


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "legacy",
        help="migrate legacy (pre-Task-API) Kaapana processing containers",
        description="Migrate legacy (pre-Task-API) Kaapana processing containers; see docs/migrating-legacy.md.",
    )
    actions = parser.add_subparsers(dest="legacy_command", metavar="ACTION")
    actions.required = True
    init = actions.add_parser(
        "init",
        help="write a processing-container.json for a legacy image",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    init.add_argument("--name", required=True, help="the processing container's name")
    init.add_argument("--in-dir", required=True, metavar="DIR", help="the image's OPERATOR_IN_DIR")
    init.add_argument("--out-dir", required=True, metavar="DIR", help="the image's OPERATOR_OUT_DIR")
    init.add_argument(
        "--mode",
        choices=["per-element", "workflow"],
        default="per-element",
        help="per-element: $BATCHES_INPUT_DIR/<element>/$OPERATOR_IN_DIR (default); "
        "workflow: $WORKFLOW_DIR/$OPERATOR_IN_DIR",
    )
    init.add_argument(
        "--stage",
        choices=["copy", "link"],
        default="copy",
        help="copy: a private writable copy of the input (default, faithful); link: symbolic links into the "
        "read-only input (no copy; the code must not write into its input dir)",
    )
    init.add_argument(
        "--env", type=_pair, action="append", default=[], metavar="NAME=DEFAULT", help="an env var the image reads"
    )
    init.add_argument(
        "--form",
        type=_pair,
        action="append",
        default=[],
        metavar="NAME=DEFAULT",
        help="an env var that came from the workflow form (Kaapana upper-cased the key); it also appears in "
        "conf.json's workflow_form under the lower-cased name",
    )
    init.add_argument(
        "--describe", type=_pair, action="append", default=[], metavar="NAME=TEXT", help="describe an env var"
    )
    init.add_argument("--conf", type=Path, metavar="FILE", help="the default conf.json (a JSON object)")
    init.add_argument("--identifier", default="default", help="the template's identifier (default 'default')")
    init.add_argument("--description", default="", help="the template's description")
    init.add_argument("--batch-name", default="batch", help="BATCH_NAME (default 'batch')")
    init.add_argument("--run-id", default="task-api", help="RUN_ID; WORKFLOW_DIR is /kaapana/mounted/data/RUN_ID")
    init.add_argument("--dag-id", default="", help="DAG_ID the image sees (default empty)")
    init.add_argument("--task-id", default="", help="TASK_ID the image sees (default empty)")
    init.add_argument("--input", default="input", metavar="CHANNEL", help="the input channel's name")
    init.add_argument("--output", default="output", metavar="CHANNEL", help="the output channel's name")
    init.add_argument(
        "--command",
        dest="image_command",
        metavar="JSON",
        help='the command, as a JSON list (default: the image\'s own), e.g. ["/run.sh"]',
    )
    init.add_argument("-o", "--output-file", type=Path, metavar="FILE", help="write here (default: stdout)")
    init.add_argument("--force", action="store_true", help="overwrite an existing --output-file")


def _json_arg(text: str, *, source: str, what: str) -> Any:
    from task_api.spec.errors import Problem, SpecError

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            source, [Problem(path="", message=f"{what} is not JSON: {exc.msg}", line=exc.lineno, column=exc.colno)]
        ) from None


def _conf(path: Path | None) -> dict[str, Any]:
    from task_api.spec.errors import Problem, SpecError

    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SpecError(str(path), [Problem(path="", message=f"cannot read --conf: {reason}")]) from None
    value = _json_arg(text, source=str(path), what="--conf")
    if not isinstance(value, dict):
        raise SpecError(
            str(path),
            [
                Problem(
                    path="",
                    message="conf.json must be a JSON object",
                    given=f"a JSON {type(value).__name__}",
                    allowed='an object, e.g. {"workflow_form": {"threshold": 5}}',
                )
            ],
        )
    return value


def run(args: argparse.Namespace) -> int:
    from task_api.core.legacy import LegacyAnswers, LegacyMode, StageKind, template_for
    from task_api.spec.errors import Problem, SpecError
    from task_api.spec.load import parse_processing_container

    command = None
    if args.image_command is not None:
        command = _json_arg(args.image_command, source="--command", what="--command")
        if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
            raise SpecError(
                "--command",
                [
                    Problem(
                        path="",
                        message="must be a non-empty JSON list of strings",
                        given=args.image_command,
                        allowed='["/bin/sh", "-c", "..."]',
                    )
                ],
            )
    descriptions = dict(args.describe)
    env = [(name, value, descriptions.get(name)) for name, value in [*args.env, *args.form]]
    unknown = sorted(set(descriptions) - {name for name, _, _ in env})
    if unknown:
        raise SpecError(
            "--describe",
            [Problem(path="", message="describes an env var not declared with --env or --form",
                     given=", ".join(unknown), allowed=", ".join(n for n, _, _ in env) or "(none declared)")],
        )  # fmt: skip
    answers = LegacyAnswers(
        name=args.name,
        operator_in_dir=args.in_dir,
        operator_out_dir=args.out_dir,
        identifier=args.identifier,
        description=args.description,
        mode=LegacyMode(args.mode),
        stage=StageKind(args.stage),
        batch_name=args.batch_name,
        run_id=args.run_id,
        input=args.input,
        output=args.output,
        dag_id=args.dag_id,
        task_id=args.task_id,
        env=env,
        workflow_form=[name for name, _ in args.form],
        conf=_conf(args.conf),
        command=command,
    )
    document = template_for(answers)
    text = json.dumps(document, indent=2) + "\n"
    # The same validation as `task-api validate`: what we write must load everywhere.
    parse_processing_container(text, source=str(args.output_file or "<generated processing-container.json>"))
    if args.output_file is None:
        sys.stdout.write(text)
        return 0
    if args.output_file.exists() and not args.force:
        raise SpecError(
            str(args.output_file),
            [Problem(path="", message="exists; not overwritten", allowed="another path, or --force")],
        )
    try:
        args.output_file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SpecError(str(args.output_file), [Problem(path="", message=f"cannot write: {exc.strerror}")]) from None
    print(f"wrote {args.output_file}", file=sys.stderr)
    return 0
