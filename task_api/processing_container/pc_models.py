"""Kaapana's ``pc_models``: the processing-container models its DAGs construct, with its names and defaults. Pure.

Same classes, fields and defaults as Kaapana's ``task_api.processing_container.pc_models`` (``BaseEnv``,
``TaskTemplateEnv``, ``Resources``, ``ScaleRuleType``, ``ScaleRuleMode``, ``ScaleRule``, ``IOBase``, ``IOMount``,
``BaseTask``, ``TaskTemplate``, ``ProcessingContainer``), so a DAG written against Kaapana's library runs unchanged.
Two deliberate differences (docs/compat.md):

* an unknown keyword is an error, not silently dropped (``BaseEnv(name="A", valeu="1")`` must not run without
  the value);
* env values given as numbers or booleans are kept as their string form (``value=5`` is ``"5"``), as task-api
  reads them in files.

A wrong argument raises :class:`PcModelError` (a :class:`~task_api.spec.SpecError` and a ``ValueError``) naming
the class, the field, what was given and what is allowed; values of secret-looking env vars are not shown.
``ProcessingContainer.to_spec()`` and ``TaskTemplate.to_spec()`` check a model against task-api's own, stricter
rules (mount paths, quantities, env types) and return task-api's model.
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, field_validator

from task_api.spec import processing_container as spec
from task_api.spec._base import quote
from task_api.spec.errors import Problem, SpecError, format_path
from task_api.spec.load import SECRET_NAME, validate_value
from task_api.spec.processing_container import check_api_version

__all__ = [
    "BaseEnv",
    "BaseTask",
    "IOBase",
    "IOMount",
    "PcModelError",
    "ProcessingContainer",
    "Resources",
    "ScaleRule",
    "ScaleRuleMode",
    "ScaleRuleType",
    "TaskTemplate",
    "TaskTemplateEnv",
]


class PcModelError(SpecError, ValueError):
    """A pc_models class was given arguments that do not fit (every problem, as for files)."""


def _scalar_to_str(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


#: A string that also accepts a number or boolean, kept as its string form.
EnvValue = Annotated[str, BeforeValidator(_scalar_to_str)]


def _problems(model: str, data: dict[str, Any], exc: ValidationError) -> list[Problem]:
    secret = isinstance(data.get("name"), str) and bool(SECRET_NAME.search(data["name"]))
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        ctx = error.get("ctx") or {}
        inner = ctx.get("error")
        if isinstance(inner, PcModelError):
            # A nested model built from a mapping runs its own __init__: its problems, under this field.
            problems += [
                dataclasses.replace(p, path=format_path((*loc, p.path)) if p.path else format_path(loc))
                for p in inner.problems
            ]
            continue
        given = None if error["type"] == "missing" else quote(error.get("input"))
        message = "required argument is missing" if error["type"] == "missing" else str(error["msg"])
        if error["type"] == "extra_forbidden":
            message = f"{model} has no field {loc[-1]!r}"
        if error["type"] == "spec":
            message, given = str(ctx.get("message", message)), ctx.get("given", given)
        if secret and loc[-1:] == ("value",):
            given = "<redacted>"
        problems.append(Problem(path=format_path(loc), message=message, given=given, allowed=ctx.get("allowed")))
    return problems


class _KaapanaModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            name = type(self).__name__
            raise PcModelError(f"pc_models.{name}(...)", _problems(name, data, exc)) from None


class BaseEnv(_KaapanaModel):
    """An env var override: ``BaseEnv(name="PACS_PORT", value="11112")``."""

    name: str
    value: EnvValue


class TaskTemplateEnv(BaseEnv):
    """An env var as a template declares it."""

    choices: list[EnvValue] | None = None
    description: str | None = None


class Resources(_KaapanaModel):
    """Kubernetes-style ``limits``/``requests`` (``{"memory": "4Gi", "cpu": "2"}``); a ``None`` value means unset."""

    limits: dict[str, Any] | None = None
    requests: dict[str, Any] | None = None


class ScaleRuleType(Enum):
    """What a scale rule sets: the memory limit or the request."""

    limit = "limit"
    request = "request"


class ScaleRuleMode(Enum):
    """What a scale rule measures in its channel."""

    sum = "sum"
    max_file_size = "max_file_size"
    max_item_sum = "max_item_sum"


class ScaleRule(_KaapanaModel):
    """Memory sized from the input: ``scale_factor`` times what ``mode`` measures under ``target_dir``."""

    scale_factor: int
    type: ScaleRuleType
    mode: ScaleRuleMode
    target_dir: str | None = ""
    target_regex: str | None = ".*"
    target_glob: str | None = "*"


class IOBase(_KaapanaModel):
    """What input and output channels share."""

    name: str
    scale_rule: ScaleRule | None = None


class IOMount(IOBase):
    """A channel mounted at ``mounted_path`` in the container."""

    mounted_path: str
    description: str | None = None


class BaseTask(_KaapanaModel):
    """What templates and tasks share."""

    command: list[str] | None = None
    resources: Resources | None = None


class TaskTemplate(BaseTask):
    """One way to run the image: its channels, env vars, command and resources."""

    identifier: str
    description: str
    inputs: list[IOMount]
    outputs: list[IOMount]
    env: list[TaskTemplateEnv]

    def to_spec(self) -> spec.TaskTemplate:
        """task-api's template model, checked by task-api's rules (raises SpecError with every problem)."""
        return validate_value(
            self.model_dump(mode="json", exclude_none=True),
            spec.TaskTemplate,
            source=f"pc_models.TaskTemplate({self.identifier!r})",
        )


class ProcessingContainer(_KaapanaModel):
    """The contents of ``/processing-container.json``."""

    name: str
    description: str
    api_version: int = 1
    templates: list[TaskTemplate]

    @field_validator("api_version")
    @classmethod
    def _api_version(cls, value: int) -> int:
        return check_api_version(value)

    def to_spec(self) -> spec.ProcessingContainer:
        """task-api's model, checked by task-api's rules (raises SpecError with every problem)."""
        return validate_value(
            self.model_dump(mode="json", exclude_none=True),
            spec.ProcessingContainer,
            source=f"pc_models.ProcessingContainer({self.name!r})",
        )
