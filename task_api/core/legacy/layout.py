"""The legacy layout: what a migrated template's marker env var describes, and reading it back. Pure."""

from __future__ import annotations

import enum
import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from task_api.spec._base import quote
from task_api.spec.errors import Problem, SpecError, format_path
from task_api.spec.fields import ENV_NAME_PATTERN, paths_overlap

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
ENV_NAME = re.compile(ENV_NAME_PATTERN)


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
            if not ENV_NAME.match(name):
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


# -- reading the marker back ------------------------------------------------------------------------------------


def validation_problems(exc: ValidationError, *, prefix: str) -> list[Problem]:
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
        raise LegacyError(source, validation_problems(exc, prefix=where), reason=LegacyReason.INVALID_LAYOUT) from None


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
