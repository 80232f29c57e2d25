"""The migration: ``task-api legacy init``'s answers → a template for an unchanged legacy image. Pure."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from task_api.core.legacy.layout import (
    CHANNEL_ROOT,
    CONF_ENV,
    DEFAULT_WORKFLOW_ROOT,
    ENV_NAME,
    LEGACY_ENV_NAMES,
    MARKER_ENV,
    LegacyError,
    LegacyLayout,
    LegacyMode,
    LegacyReason,
    StageKind,
    legacy_env,
    validation_problems,
)
from task_api.spec._base import quote
from task_api.spec.errors import Problem


@dataclass(frozen=True)
class LegacyAnswers:
    """What a container author tells ``task-api legacy init`` about a legacy image."""

    name: str
    operator_in_dir: str
    operator_out_dir: str
    identifier: str = "default"
    description: str = ""
    mode: LegacyMode = LegacyMode.PER_ELEMENT
    stage: StageKind = StageKind.COPY
    batch_name: str = "batch"
    run_id: str = "task-api"
    workflow_root: str = DEFAULT_WORKFLOW_ROOT
    input: str = "input"
    output: str = "output"
    dag_id: str = ""
    task_id: str = ""
    #: (name, default value, description) of the image's own env vars.
    env: Sequence[tuple[str, str, str | None]] = ()
    #: Names among ``env`` that came from Kaapana's workflow_form (they also appear in conf.json).
    workflow_form: Sequence[str] = ()
    #: conf.json's default contents (a JSON object) — the run's configuration, adjustable per task.
    conf: Mapping[str, Any] = field(default_factory=dict)
    command: Sequence[str] | None = None


def _answer_problems(answers: LegacyAnswers) -> list[Problem]:
    problems: list[Problem] = []
    names = [n for n, _, _ in answers.env]
    reserved = {*LEGACY_ENV_NAMES, "DAG_ID", "TASK_ID", MARKER_ENV, CONF_ENV}
    for index, name in enumerate(names):
        if name in reserved:
            problems.append(
                Problem(
                    path=f"env[{index}]",
                    message=f"{name} is set by the migration itself (the legacy contract)",
                    given=quote(name),
                    allowed="the image's own variables, not " + ", ".join(sorted(reserved)),
                )
            )
        elif not ENV_NAME.match(name):
            problems.append(
                Problem(
                    path=f"env[{index}]",
                    message="not an env var name",
                    given=quote(name),
                    allowed="letters, digits and '_', not starting with a digit",
                )
            )
        if name in names[:index]:
            problems.append(Problem(path=f"env[{index}]", message="given twice", given=quote(name), allowed="once"))
    for name in answers.workflow_form:
        if name not in names:
            problems.append(
                Problem(
                    path="workflow_form",
                    message=f"{name} is not one of the declared env vars",
                    given=quote(name),
                    allowed=", ".join(names) or "(declare it with --env NAME=DEFAULT first)",
                )
            )
    return problems


def template_for(answers: LegacyAnswers) -> dict[str, Any]:
    """The processing-container.json document for a legacy image (pure).

    Raises :class:`LegacyError` naming each bad answer; the result still goes through the spec models (the CLI
    validates it before writing).
    """
    problems = _answer_problems(answers)
    workflow_dir = posixpath.join(answers.workflow_root, answers.run_id)
    try:
        layout = LegacyLayout(
            mode=answers.mode,
            workflow_dir=workflow_dir,
            batch_name=answers.batch_name,
            operator_in_dir=answers.operator_in_dir,
            operator_out_dir=answers.operator_out_dir,
            run_id=answers.run_id,
            input=answers.input,
            input_path=f"{CHANNEL_ROOT}/inputs/{answers.input}",
            output=answers.output,
            output_path=f"{CHANNEL_ROOT}/outputs/{answers.output}",
            stage=answers.stage,
            workflow_form={name: name.lower() for name in answers.workflow_form},
        )
    except ValidationError as exc:
        problems += validation_problems(exc, prefix="")
        raise LegacyError("legacy init", problems, reason=LegacyReason.INVALID_LAYOUT) from None
    if problems:
        raise LegacyError("legacy init", problems, reason=LegacyReason.INVALID_LAYOUT)
    fixed = "set by task-api for the legacy contract; do not change"
    env: list[dict[str, Any]] = [
        {"name": name, "value": value, "description": fixed, "adjustable": False}
        for name, value in legacy_env(layout).items()
    ]
    env += [
        {"name": "DAG_ID", "value": answers.dag_id, "description": "the legacy DAG_ID (informational)"},
        {"name": "TASK_ID", "value": answers.task_id, "description": "the legacy TASK_ID (informational)"},
        {
            "name": MARKER_ENV,
            "value": layout.to_env_value(),
            "description": "the legacy layout task-api stages before the image runs (docs/migrating-legacy.md)",
            "adjustable": False,
        },
        {
            "name": CONF_ENV,
            "value": json.dumps(dict(answers.conf), separators=(",", ":"), sort_keys=True),
            "description": "the run's conf.json (a JSON object), written to $WORKFLOW_DIR/conf/conf.json; "
            "declared workflow_form variables are merged into its 'workflow_form'",
        },
    ]
    for name, value, description in answers.env:
        var: dict[str, Any] = {"name": name, "value": value}
        text = description or ""
        if name in answers.workflow_form:
            text = (text + " " if text else "") + f"(workflow_form key {name.lower()!r})"
        if text:
            var["description"] = text
        env.append(var)
    in_where = "$BATCHES_INPUT_DIR/<element>" if answers.mode is LegacyMode.PER_ELEMENT else "$WORKFLOW_DIR"
    template: dict[str, Any] = {
        "identifier": answers.identifier,
        "description": answers.description or f"legacy Kaapana processing container {answers.name}, migrated",
        "env": env,
        "inputs": [
            {
                "name": answers.input,
                "mounted_path": layout.input_path,
                "description": (
                    "one directory per batch element, each staged as "
                    if answers.mode is LegacyMode.PER_ELEMENT
                    else "the run's data, staged as "
                )
                + f"{in_where}/{answers.operator_in_dir}",
            }
        ],
        "outputs": [
            {
                "name": answers.output,
                "mounted_path": layout.output_path,
                "description": f"what the image writes to {in_where}/{answers.operator_out_dir}"
                + (", as <element>/..." if answers.mode is LegacyMode.PER_ELEMENT else ""),
            }
        ],
    }
    if answers.command:
        template["command"] = list(answers.command)
    return {"name": answers.name, "api_version": 1, "templates": [template]}
