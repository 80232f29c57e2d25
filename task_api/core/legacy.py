"""Legacy (pre-Task-API) Kaapana processing containers: the pure half of running them unchanged under task-api.

Before the Task API, a Kaapana processing container found its data through an implicit layout and environment
variables set by Kaapana's base operator::

    WORKFLOW_DIR=/kaapana/mounted/data/<run_id>    BATCH_NAME=batch    BATCHES_INPUT_DIR=$WORKFLOW_DIR/$BATCH_NAME
    $BATCHES_INPUT_DIR/<element>/$OPERATOR_IN_DIR/   read, one directory per batch element
    $BATCHES_INPUT_DIR/<element>/$OPERATOR_OUT_DIR/  written
    $WORKFLOW_DIR/conf/conf.json                     the run's configuration (workflow_form keys also arrive
                                                     upper-cased as env vars)

or, for "workflow level" operators, ``$WORKFLOW_DIR/$OPERATOR_IN_DIR`` and ``$WORKFLOW_DIR/$OPERATOR_OUT_DIR``.

A migrated template (written by ``task-api legacy init``, see ``docs/migrating-legacy.md``) declares one input and
one output channel mounted outside that layout, and the reserved, non-adjustable env var :data:`MARKER_ENV` holding
the layout as JSON (a :class:`LegacyLayout`). Why an env var and not an ``x-`` extension key: extension keys are
ignored by every model (that is their contract), while env vars survive the merge unchanged into every front end's
:class:`~task_api.spec.ResolvedTask` and pod, so the runners and the operator need no extra plumbing.

Before the image runs, a *staging* step builds the legacy layout in a per-run scratch directory mounted at
``WORKFLOW_DIR``: each input element is copied (or linked) to ``<element>/$OPERATOR_IN_DIR``, and
``<element>/$OPERATOR_OUT_DIR`` is a symbolic link to ``<output channel>/<element>``, so what the legacy code writes
lands in the output channel as ``<element>/...`` — a normal output that downstream tasks read. conf.json is written
from :data:`CONF_ENV` plus the declared workflow_form variables. This module computes all of it; the I/O lives in
:mod:`task_api.legacy` (staging, the Docker runner's scratch directory). Nothing outside those two places knows
about legacy images: the runner and the operator call one hook each, which returns its argument unchanged when the
marker is absent.

Pure: no I/O.
"""

from __future__ import annotations

import copy
import enum
import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from task_api.spec._base import quote
from task_api.spec.errors import Problem, Severity, SpecError, format_path
from task_api.spec.fields import paths_overlap
from task_api.spec.resolved import ResolvedTask

__all__ = [
    "CONF_ENV",
    "LEGACY_ENV_NAMES",
    "MARKER_ENV",
    "SCRATCH_VOLUME",
    "STAGE_CONTAINER",
    "Copy",
    "LegacyAnswers",
    "LegacyError",
    "LegacyLayout",
    "LegacyMode",
    "LegacyReason",
    "Link",
    "MakeDir",
    "StageKind",
    "WriteFile",
    "adapt_container_config",
    "adapt_task_pod",
    "check_task",
    "conf_document",
    "layout_of",
    "legacy_env",
    "stage_operations",
    "template_for",
]

#: The reserved env var carrying the legacy layout (JSON). Its presence is the one switch for all legacy handling.
MARKER_ENV = "TASK_API_LEGACY"
#: The run's conf.json contents (a JSON object), written to ``$WORKFLOW_DIR/conf/conf.json`` by the staging step.
CONF_ENV = "TASK_API_LEGACY_CONF"
#: The env vars Kaapana's base operator sets; the staging hook sets them from the layout, whatever the task says.
LEGACY_ENV_NAMES = (
    "WORKFLOW_DIR",
    "BATCH_NAME",
    "BATCHES_INPUT_DIR",
    "OPERATOR_IN_DIR",
    "OPERATOR_OUT_DIR",
    "RUN_ID",
)
#: Names of the staging init container and of the scratch volume in a task pod.
STAGE_CONTAINER = "legacy-stage"
SCRATCH_VOLUME = "legacy-workflow"
#: Kaapana's PROCESSING_WORKFLOW_DIR.
DEFAULT_WORKFLOW_ROOT = "/kaapana/mounted/data"
#: Channels are mounted here, outside the legacy layout (the staging step links them into it).
CHANNEL_ROOT = "/task-api/legacy"

_COMPONENT = re.compile(r"^[A-Za-z0-9._-]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class LegacyMode(enum.StrEnum):
    """Where the legacy code looks for its data."""

    #: ``$BATCHES_INPUT_DIR/<element>/$OPERATOR_IN_DIR``: one directory per batch element (most operators).
    PER_ELEMENT = "per-element"
    #: ``$WORKFLOW_DIR/$OPERATOR_IN_DIR``: the whole run at once ("operator_in_dir at workflow level").
    WORKFLOW = "workflow"


class StageKind(enum.StrEnum):
    """How input data is put where the legacy code looks for it."""

    #: A private, writable copy: faithful (legacy code may move or change files in its input dir), costs space.
    COPY = "copy"
    #: Symbolic links into the read-only input mount: no copy; code that writes into its input dir fails.
    LINK = "link"


class LegacyReason(enum.StrEnum):
    """Why legacy handling refused a task (CamelCase, like Kubernetes reasons)."""

    INVALID_LAYOUT = "InvalidLegacyLayout"
    RESERVED_ENV = "ReservedLegacyEnv"
    INVALID_CONF = "InvalidLegacyConf"
    CHANNEL_MISMATCH = "LegacyChannelMismatch"
    NO_STAGE_IMAGE = "NoLegacyStageImage"
    INPUT_LAYOUT = "LegacyInputLayout"
    STAGING_FAILED = "LegacyStagingFailed"


class LegacyError(SpecError):
    """A legacy template, task or input cannot be run; ``reason`` says which kind (a :class:`SpecError`)."""

    def __init__(self, source: str, problems: Sequence[Problem], *, reason: LegacyReason) -> None:
        super().__init__(source, problems)
        self.reason = reason


def _component(value: str) -> str:
    if not _COMPONENT.match(value) or value in (".", ".."):
        raise ValueError("must be one directory name: letters, digits, '.', '_' or '-', not '.' or '..'")
    return value


def _absolute(value: str) -> str:
    if not value.startswith("/") or posixpath.normpath(value) != value or value == "/":
        raise ValueError("must be an absolute, normalized path below '/' (no '..', no trailing '/')")
    return value


class LegacyLayout(BaseModel):
    """The legacy layout a migrated template declares (the JSON in :data:`MARKER_ENV`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(1, description="layout format version; only 1 exists")
    mode: LegacyMode = LegacyMode.PER_ELEMENT
    workflow_dir: str = Field(description="WORKFLOW_DIR as the legacy code sees it")
    batch_name: str = "batch"
    operator_in_dir: str
    operator_out_dir: str
    run_id: str
    input: str = Field(description="the input channel's name")
    input_path: str = Field(description="where the input channel is mounted")
    output: str = Field(description="the output channel's name")
    output_path: str = Field(description="where the output channel is mounted")
    stage: StageKind = StageKind.COPY
    #: env var name -> workflow_form key (conf.json's ``workflow_form``; Kaapana upper-cased keys into env vars).
    workflow_form: dict[str, str] = Field(default_factory=dict)

    @field_validator("version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != 1:
            raise ValueError("only version 1 exists")
        return value

    @field_validator("batch_name", "operator_in_dir", "operator_out_dir", "run_id")
    @classmethod
    def _components(cls, value: str) -> str:
        return _component(value)

    @field_validator("workflow_dir", "input_path", "output_path")
    @classmethod
    def _paths(cls, value: str) -> str:
        return _absolute(value)

    @field_validator("workflow_form")
    @classmethod
    def _form(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not an env var name")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> LegacyLayout:
        if self.operator_in_dir == self.operator_out_dir:
            raise ValueError("operator_in_dir and operator_out_dir must differ")
        if self.batch_name == "conf":
            raise ValueError("batch_name 'conf' is taken by $WORKFLOW_DIR/conf/conf.json")
        if self.mode is LegacyMode.WORKFLOW:
            # Both dirs sit directly in WORKFLOW_DIR, next to the batch folder and conf/.
            taken = {self.batch_name, "conf"} & {self.operator_in_dir, self.operator_out_dir}
            if taken:
                raise ValueError(f"in workflow mode {sorted(taken)[0]!r} is taken in $WORKFLOW_DIR")
        for name, path in (("input_path", self.input_path), ("output_path", self.output_path)):
            if paths_overlap(path, self.workflow_dir):
                raise ValueError(f"{name} {path!r} overlaps workflow_dir {self.workflow_dir!r}")
        if paths_overlap(self.input_path, self.output_path):
            raise ValueError("input_path and output_path overlap")
        if self.input == self.output:
            raise ValueError("the input and output channels need different names")
        return self

    @property
    def batches_input_dir(self) -> str:
        return posixpath.join(self.workflow_dir, self.batch_name)

    def to_env_value(self) -> str:
        """The compact JSON stored in :data:`MARKER_ENV` (pure)."""
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":"), sort_keys=True)


# -- the migration: answers -> processing-container.json --------------------------------------------------------


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
        elif not _ENV_NAME.match(name):
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
        problems += _validation_problems(exc, prefix="")
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


# -- reading the marker back --------------------------------------------------------------------------------------


def _validation_problems(exc: ValidationError, *, prefix: str) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = format_path(error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        given = error.get("input")
        problems.append(
            Problem(
                path=f"{prefix}{'.' if prefix and loc else ''}{loc}",
                message=message,
                given=None if isinstance(given, dict) else quote(given),
            )
        )
    return problems


def layout_of(env: Mapping[str, str], *, source: str = "task") -> LegacyLayout | None:
    """The legacy layout in ``env``, or None when the task is not a legacy one (pure)."""
    raw = env.get(MARKER_ENV)
    if raw is None:
        return None
    where = f"env.{MARKER_ENV}"
    try:
        data = json.loads(raw)
    except ValueError as exc:
        problem = Problem(
            path=where, message=f"not JSON ({exc})", allowed="the layout written by `task-api legacy init`"
        )
        raise LegacyError(source, [problem], reason=LegacyReason.INVALID_LAYOUT) from None
    try:
        return LegacyLayout.model_validate(data)
    except ValidationError as exc:
        raise LegacyError(source, _validation_problems(exc, prefix=where), reason=LegacyReason.INVALID_LAYOUT) from None


def legacy_env(layout: LegacyLayout) -> dict[str, str]:
    """The env vars of the legacy contract, as Kaapana's base operator set them (pure)."""
    return {
        "WORKFLOW_DIR": layout.workflow_dir,
        "BATCH_NAME": layout.batch_name,
        "BATCHES_INPUT_DIR": layout.batches_input_dir,
        "OPERATOR_IN_DIR": layout.operator_in_dir,
        "OPERATOR_OUT_DIR": layout.operator_out_dir,
        "RUN_ID": layout.run_id,
    }


def conf_document(layout: LegacyLayout, env: Mapping[str, str], *, source: str = "task") -> dict[str, Any]:
    """conf.json's contents: :data:`CONF_ENV` with the workflow_form variables' values merged in (pure).

    The env values win over the same keys in :data:`CONF_ENV`'s ``workflow_form``: they are what the legacy code
    also sees as env vars, and the two must agree.
    """
    raw = env.get(CONF_ENV, "{}") or "{}"
    try:
        conf = json.loads(raw)
    except ValueError as exc:
        # The value is not shown: a conf may hold credentials.
        problem = Problem(path=f"env.{CONF_ENV}", message=f"not JSON ({exc})", allowed='a JSON object, e.g. {"k": 1}')
        raise LegacyError(source, [problem], reason=LegacyReason.INVALID_CONF) from None
    if not isinstance(conf, dict):
        problem = Problem(
            path=f"env.{CONF_ENV}", message="conf.json must be a JSON object", given=f"a JSON {type(conf).__name__}",
            allowed='a JSON object, e.g. {"k": 1}',
        )  # fmt: skip
        raise LegacyError(source, [problem], reason=LegacyReason.INVALID_CONF)
    if layout.workflow_form:
        form = conf.get("workflow_form")
        if form is None:
            form = {}
        if not isinstance(form, dict):
            problem = Problem(path=f"env.{CONF_ENV}.workflow_form", message="must be a JSON object",
                              given=f"a JSON {type(form).__name__}", allowed="an object")  # fmt: skip
            raise LegacyError(source, [problem], reason=LegacyReason.INVALID_CONF)
        form = dict(form)
        for name, key in layout.workflow_form.items():
            if name in env:
                form[key] = env[name]
        conf = {**conf, "workflow_form": form}
    return conf


def _reserved_injection(task: ResolvedTask) -> bool:
    """Did the *task* add the marker to a template that does not declare it? (merge's pass-through warning)"""
    return any(
        w.severity is Severity.WARNING and w.path.startswith("env[") and w.given == quote(MARKER_ENV)
        for w in task.warnings
    )


def check_task(task: ResolvedTask, *, source: str = "task", stage_image: str | None = None) -> LegacyLayout | None:
    """Check a resolved legacy task before anything is created; None for ordinary tasks (pure).

    ``stage_image`` is checked when given as a string (the operator passes its own image; the Docker runner stages
    on the host and passes None). Raises :class:`LegacyError`.
    """
    if MARKER_ENV not in task.env:
        return None
    if _reserved_injection(task):
        problem = Problem(
            path="env",
            message=f"{MARKER_ENV} is reserved for templates migrated with `task-api legacy init`; a task cannot "
            f"add it to template {task.template!r}",
            given=quote(MARKER_ENV),
            allowed="remove it from the task's env",
        )
        raise LegacyError(source, [problem], reason=LegacyReason.RESERVED_ENV)
    layout = layout_of(task.env, source=source)
    assert layout is not None
    problems: list[Problem] = []
    for kind, channels, name, path in (
        ("inputs", task.inputs, layout.input, layout.input_path),
        ("outputs", task.outputs, layout.output, layout.output_path),
    ):
        found = next((c for c in channels if c.name == name), None)
        if found is None:
            problems.append(
                Problem(
                    path=kind,
                    message=f"the legacy layout needs channel {name!r} bound",
                    allowed=f'add {{"name": "{name}", "volume_source": {{…}}}} to {kind}',
                )
            )
        elif found.mounted_path != path:
            problems.append(
                Problem(
                    path=f"env.{MARKER_ENV}",
                    message=f"the layout expects channel {name!r} at {path!r}, the template mounts it elsewhere",
                    given=quote(found.mounted_path),
                    allowed=quote(path),
                )
            )
    if problems:
        raise LegacyError(source, problems, reason=LegacyReason.CHANNEL_MISMATCH)
    conf_document(layout, task.env, source=source)
    if stage_image is not None and not stage_image:
        problem = Problem(
            path="",
            message="legacy images need the operator's own image for the staging step, and "
            "TASK_API_MEASURE_IMAGE is not set",
            allowed="set TASK_API_MEASURE_IMAGE in the operator's deployment",
        )
        raise LegacyError(source, [problem], reason=LegacyReason.NO_STAGE_IMAGE)
    return layout


# -- staging: what to create ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MakeDir:
    """Create ``path`` (and parents), writable by whatever user the image runs as."""

    path: str


@dataclass(frozen=True)
class Copy:
    """Copy the tree at ``source`` to ``target`` (a writable private copy)."""

    source: str
    target: str


@dataclass(frozen=True)
class Link:
    """Create the symbolic link ``path`` -> ``target`` (``target`` is a path as the *image* sees it)."""

    path: str
    target: str


@dataclass(frozen=True)
class WriteFile:
    """Write ``text`` to ``path``."""

    path: str
    text: str


StageOperation = MakeDir | Copy | Link | WriteFile


def stage_operations(
    layout: LegacyLayout,
    env: Mapping[str, str],
    elements: Sequence[str],
    *,
    workflow_root: str,
    input_root: str,
    output_root: str,
) -> list[StageOperation]:
    """The operations that build the legacy layout (pure).

    ``workflow_root``, ``input_root`` and ``output_root`` are where the staging step itself sees the scratch
    directory and the two channels (host directories for the Docker runner, the same mount paths as the image in
    the pod's init container). Link targets are always the image's paths (``layout.input_path`` …), because the
    image resolves them. ``elements`` are the input's top-level directory names (per-element mode).
    """
    in_dir, out_dir = layout.operator_in_dir, layout.operator_out_dir
    batch = posixpath.join(workflow_root, layout.batch_name)
    ops: list[StageOperation] = [MakeDir(workflow_root), MakeDir(batch)]

    def place_input(source_rel: str, target: str) -> None:
        if layout.stage is StageKind.COPY:
            ops.append(Copy(posixpath.join(input_root, source_rel) if source_rel else input_root, target))
        else:
            ops.append(Link(target, posixpath.join(layout.input_path, source_rel) if source_rel else layout.input_path))

    if layout.mode is LegacyMode.PER_ELEMENT:
        for element in elements:
            element_dir = posixpath.join(batch, element)
            ops.append(MakeDir(element_dir))
            place_input(element, posixpath.join(element_dir, in_dir))
            ops.append(MakeDir(posixpath.join(output_root, element)))
            ops.append(Link(posixpath.join(element_dir, out_dir), posixpath.join(layout.output_path, element)))
    else:
        place_input("", posixpath.join(workflow_root, in_dir))
        ops.append(Link(posixpath.join(workflow_root, out_dir), layout.output_path))
    conf = conf_document(layout, env)
    ops.append(MakeDir(posixpath.join(workflow_root, "conf")))
    ops.append(WriteFile(posixpath.join(workflow_root, "conf", "conf.json"), json.dumps(conf, indent=2) + "\n"))
    return ops


# -- the hooks: Docker container config and Kubernetes pod --------------------------------------------------------


def adapt_container_config(
    config: Mapping[str, Any], *, layout: LegacyLayout, workflow_host_dir: str
) -> dict[str, Any]:
    """The Docker runner's create body with the staged scratch directory bind-mounted at WORKFLOW_DIR (pure).

    The legacy env vars are set from the layout (they already are, non-adjustable, in a migrated template; this
    keeps them consistent even for a hand-edited one).
    """
    adapted = copy.deepcopy(dict(config))
    host = adapted.setdefault("HostConfig", {})
    host.setdefault("Mounts", []).append(
        {"Type": "bind", "Source": workflow_host_dir, "Target": layout.workflow_dir, "ReadOnly": False}
    )
    adapted["Env"] = _with_env([str(e) for e in adapted.get("Env") or []], legacy_env(layout))
    adapted.setdefault("Labels", {})["io.task-api.legacy-workflow-dir"] = workflow_host_dir
    return adapted


def _with_env(entries: list[str], values: Mapping[str, str]) -> list[str]:
    kept = [e for e in entries if e.split("=", 1)[0] not in values]
    return kept + [f"{name}={value}" for name, value in values.items()]


def adapt_task_pod(
    manifest: Mapping[str, Any],
    *,
    stage_image: str,
    stage_pull_secrets: Sequence[str] = (),
) -> dict[str, Any]:
    """The operator's hook: a task pod of a legacy template gets a staging init container (pure).

    Returns ``manifest`` unchanged (the same object) when its task container carries no :data:`MARKER_ENV`.
    Otherwise adds an ``emptyDir`` scratch volume mounted at WORKFLOW_DIR in both containers and an init container
    running ``python3 -m task_api.legacy.stage`` from ``stage_image`` (the operator's image: the legacy image may
    have no shell or ``cp``) with the task's env and mounts. The init container runs as root (with every
    capability dropped) because it must write into output directories the kubelet created as root; what it
    creates it makes writable for any user, since the legacy image may run as anyone.
    Call :func:`check_task` first: a malformed marker raises :class:`LegacyError` here too.
    """
    spec = manifest.get("spec") or {}
    containers = spec.get("containers") or []
    if not containers:
        return dict(manifest)
    main = containers[0]
    env = {e["name"]: e.get("value", "") for e in main.get("env") or [] if "name" in e}
    layout = layout_of(env, source=str((manifest.get("metadata") or {}).get("name", "pod")))
    if layout is None:
        return manifest  # type: ignore[return-value]
    pod = copy.deepcopy(dict(manifest))
    pod_spec = pod["spec"]
    task = pod_spec["containers"][0]
    consistent = {**env, **legacy_env(layout)}
    task["env"] = [{"name": name, "value": value} for name, value in consistent.items()]
    scratch_mount = {"name": SCRATCH_VOLUME, "mountPath": layout.workflow_dir}
    task["volumeMounts"] = [*task.get("volumeMounts", []), scratch_mount]
    pod_spec["volumes"] = [*pod_spec.get("volumes", []), {"name": SCRATCH_VOLUME, "emptyDir": {}}]
    stage = {
        "name": STAGE_CONTAINER,
        "image": stage_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", "-m", "task_api.legacy.stage"],
        "env": copy.deepcopy(task["env"]),
        "volumeMounts": copy.deepcopy(task["volumeMounts"]),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
            "seccompProfile": {"type": "RuntimeDefault"},
            "runAsUser": 0,
            "runAsGroup": 0,
        },
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    pod_spec["initContainers"] = [*pod_spec.get("initContainers", []), stage]
    if stage_pull_secrets:
        have = [s["name"] for s in pod_spec.get("imagePullSecrets", [])]
        names = list(dict.fromkeys([*have, *stage_pull_secrets]))
        pod_spec["imagePullSecrets"] = [{"name": n} for n in names]
    pod.setdefault("metadata", {}).setdefault("annotations", {})["task-api.io/legacy"] = layout.mode.value
    return pod
