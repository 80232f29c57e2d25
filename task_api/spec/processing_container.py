"""Models of ``/processing-container.json``: the task templates a processing-container image offers.

A :class:`ProcessingContainer` bundles :class:`TaskTemplate` s. A template declares environment variables
(:class:`EnvVar`), named input and output channels mounted at paths (:class:`InputChannel`,
:class:`OutputChannel`), an optional command and static :class:`Resources`. Field meanings are in
``docs/spec.md``; the differences from Kaapana are in ``docs/compat.md``.

Pure: models and their validation only.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field, field_validator

from task_api.spec._base import CrossProblem, ScalarStr, SpecModel, did_you_mean, quote, spec_error
from task_api.spec.errors import InvalidQuantity, Problem, SpecError
from task_api.spec.fields import (
    ChannelName,
    EnvName,
    Identifier,
    MountPath,
    Quantity,
    ResourceName,
    is_extended_resource,
    paths_overlap,
)
from task_api.spec.quantity import parse_quantity
from task_api.spec.scale_rule import ScaleRule, complexity_shorthand

__all__ = [
    "EnvType",
    "EnvVar",
    "InputChannel",
    "OutputChannel",
    "ProcessingContainer",
    "Resources",
    "TaskTemplate",
    "check_api_version",
    "check_env_value",
]


class EnvType(enum.StrEnum):
    """The declared type of an environment variable's value."""

    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"

    @classmethod
    def _missing_(cls, value: object) -> EnvType | None:
        # Kaapana's guide documents the types as "boolean, string, int" and its earlier schema enumerated
        # "boolean": the same type, another spelling.
        return cls.BOOL if value == "boolean" else None


_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_BOOL_VALUES = ("true", "false", "True", "False", "1", "0")


def check_env_value(value: str, type_: EnvType, choices: list[str] | None) -> tuple[str, str] | None:
    """Does ``value`` fit the declared type and choices? Returns (message, allowed) when not (pure)."""
    if type_ is EnvType.INT and not _INT_RE.match(value):
        return ("not an integer", "a whole number such as 3 or -1")
    if type_ is EnvType.FLOAT:
        try:
            number = float(value)
        except ValueError:
            return ("not a number", "a decimal number such as 0.5 or 1e-3")
        if not math.isfinite(number):
            return ("not a finite number", "a decimal number such as 0.5 or 1e-3")
    if type_ is EnvType.BOOL and value not in _BOOL_VALUES:
        return ("not a boolean", ", ".join(_BOOL_VALUES))
    if choices and value not in choices:
        return ("not one of the choices", ", ".join(quote(c) for c in choices))
    return None


def check_api_version(value: int) -> int:
    """Only api_version 1 exists (pure)."""
    if value != 1:
        raise spec_error("unsupported api_version", given=quote(value), allowed="1")
    return value


def _scalars_to_str(value: Any) -> Any:
    if isinstance(value, list):
        return [
            ("true" if v else "false")
            if isinstance(v, bool)
            else (repr(v) if isinstance(v, float) else str(v) if isinstance(v, int) else v)
            for v in value
        ]
    return value


class EnvVar(SpecModel):
    """An environment variable a template declares, with its default value."""

    name: EnvName
    value: ScalarStr
    description: str | None = None
    type: EnvType = EnvType.STRING
    choices: Annotated[list[str] | None, BeforeValidator(_scalars_to_str)] = None
    adjustable: bool = True

    @classmethod
    def cross_check(cls, data: Mapping[str, Any]) -> list[CrossProblem]:
        problems: list[CrossProblem] = []
        try:
            type_ = EnvType(data.get("type", "string"))
        except ValueError:
            return problems  # the field error says it
        raw_choices = _scalars_to_str(data.get("choices"))
        choices = [c for c in raw_choices if isinstance(c, str)] if isinstance(raw_choices, list) else None
        for index, choice in enumerate(choices or []):
            found = check_env_value(choice, type_, None)
            if found:
                problems.append((("choices", index), found[0], quote(choice), found[1]))
        value = _scalars_to_str([data.get("value")])[0]
        if isinstance(value, str):
            found = check_env_value(value, type_, choices)
            if found:
                problems.append((("value",), found[0], quote(value), found[1]))
        return problems


class _Channel(SpecModel):
    name: ChannelName
    mounted_path: MountPath
    description: str | None = None


class InputChannel(_Channel):
    """A named input the template reads, mounted read-only at ``mounted_path``."""

    scale_rule: Annotated[ScaleRule | None, BeforeValidator(complexity_shorthand)] = None


class OutputChannel(_Channel):
    """A named output the template writes, mounted read-write at ``mounted_path``."""

    # Kaapana shares one model for inputs and outputs, so files may carry `"scale_rule": null` on outputs.
    scale_rule: None = None

    @field_validator("scale_rule", mode="before")
    @classmethod
    def _no_rule(cls, value: Any) -> None:
        if value is not None:
            raise spec_error("scale rules apply to input channels only", allowed="null, or move it to an input")


def _none_to_empty(value: Any) -> Any:
    return {} if value is None else value


ResourceMap = Annotated[dict[ResourceName, Quantity], BeforeValidator(_none_to_empty)]


def _resource_problems(requests: Mapping[str, Any], limits: Mapping[str, Any]) -> list[CrossProblem]:
    problems: list[CrossProblem] = []

    def value(raw: Any) -> Decimal | None:
        try:
            return parse_quantity(raw if isinstance(raw, str) else str(raw))
        except InvalidQuantity:
            return None

    for kind, mapping in (("requests", requests), ("limits", limits)):
        for name, raw in mapping.items():
            number = value(raw)
            extended = isinstance(name, str) and is_extended_resource(name)
            if extended and number is not None and number != number.to_integral_value():
                problems.append(((kind, name), "extended resources must be whole numbers", quote(raw), "0, 1, 2, …"))
    for name, raw_limit in limits.items():
        if name not in requests:
            continue
        limit, request = value(raw_limit), value(requests[name])
        if limit is None or request is None:
            continue
        if limit < request:
            problems.append(
                (
                    ("limits", name),
                    f"limit is below the request ({requests[name]})",
                    quote(raw_limit),
                    f"a limit ≥ {requests[name]}",
                )
            )
        elif isinstance(name, str) and is_extended_resource(name) and limit != request:
            problems.append(
                (
                    ("limits", name),
                    "an extended resource's limit must equal its request (no overcommit in Kubernetes)",
                    quote(raw_limit),
                    quote(requests[name]),
                )
            )
    return problems


class Resources(SpecModel):
    """Static requests and limits: memory, cpu, ``nvidia.com/gpu`` and other (extended) resources."""

    requests: ResourceMap = Field(default_factory=dict)
    limits: ResourceMap = Field(default_factory=dict)

    @classmethod
    def cross_check(cls, data: Mapping[str, Any]) -> list[CrossProblem]:
        requests = data.get("requests") or {}
        limits = data.get("limits") or {}
        if not isinstance(requests, Mapping) or not isinstance(limits, Mapping):
            return []
        return _resource_problems(requests, limits)

    def merged_with(self, override: Resources | None) -> Resources:
        """This template's resources with a task's values replacing them key by key (pure, unvalidated)."""
        if override is None:
            return self
        return Resources.model_construct(
            requests={**self.requests, **override.requests}, limits={**self.limits, **override.limits}
        )

    def problems(self) -> list[CrossProblem]:
        """The cross-field problems of this object (used after merging) (pure)."""
        return _resource_problems(self.requests, self.limits)


def _dedupe(items: Any, key: str, what: str, where: str) -> list[CrossProblem]:
    problems: list[CrossProblem] = []
    if not isinstance(items, list):
        return problems
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if isinstance(item, Mapping) and isinstance(item.get(key), str):
            name = item[key]
            if name in seen:
                problems.append(
                    (
                        (where, index, key),
                        f"duplicate {what} (also at {where}[{seen[name]}])",
                        quote(name),
                        f"each {what} once",
                    )
                )
            else:
                seen[name] = index
    return problems


class TaskTemplate(SpecModel):
    """One way of running the image: its env, channels, command and resources."""

    identifier: Identifier
    description: str = ""
    env: list[EnvVar] = Field(default_factory=list)
    inputs: list[InputChannel] = Field(default_factory=list)
    outputs: list[OutputChannel] = Field(default_factory=list)
    command: list[str] | None = None
    resources: Resources | None = None

    @classmethod
    def cross_check(cls, data: Mapping[str, Any]) -> list[CrossProblem]:
        problems = _dedupe(data.get("env"), "name", "environment variable", "env")
        channels: list[tuple[str, int, Mapping[str, Any]]] = []
        for where in ("inputs", "outputs"):
            items = data.get(where)
            if isinstance(items, list):
                channels += [(where, i, c) for i, c in enumerate(items) if isinstance(c, Mapping)]
        names: dict[str, str] = {}
        paths: list[tuple[str, str]] = []
        for where, index, channel in channels:
            name = channel.get("name")
            here = f"{where}[{index}]"
            if isinstance(name, str):
                if name in names:
                    problems.append(
                        (
                            (where, index, "name"),
                            f"duplicate channel name (also at {names[name]}); names are unique across inputs "
                            "and outputs",
                            quote(name),
                            "a name not used by another channel",
                        )
                    )
                else:
                    names[name] = here
            path = channel.get("mounted_path")
            if isinstance(path, str) and path.startswith("/"):
                for other_where, other_path in paths:
                    if paths_overlap(path, other_path):
                        problems.append(
                            (
                                (where, index, "mounted_path"),
                                f"overlaps {other_where} (mounted at {other_path!r})",
                                quote(path),
                                "a path that is neither equal to, inside, nor above another channel's path",
                            )
                        )
                        break
                paths.append((here, path))
        return problems

    @property
    def channel_names(self) -> list[str]:
        """Names of the inputs then the outputs."""
        return [c.name for c in self.inputs] + [c.name for c in self.outputs]


class ProcessingContainer(SpecModel):
    """The contents of ``/processing-container.json``."""

    tolerated_keys: ClassVar[frozenset[str]] = frozenset({"$schema"})

    name: str = Field(min_length=1)
    description: str = ""
    api_version: int = 1
    templates: list[TaskTemplate] = Field(min_length=1)

    @field_validator("api_version")
    @classmethod
    def _api_version(cls, value: int) -> int:
        return check_api_version(value)

    @classmethod
    def cross_check(cls, data: Mapping[str, Any]) -> list[CrossProblem]:
        return _dedupe(data.get("templates"), "identifier", "template identifier", "templates")

    def template(self, identifier: str) -> TaskTemplate:
        """The template named ``identifier``; a SpecError lists the identifiers there are."""
        for template in self.templates:
            if template.identifier == identifier:
                return template
        have = [t.identifier for t in self.templates]
        hint = did_you_mean(identifier, have)
        raise SpecError(
            self.name,
            [
                Problem(
                    path="taskTemplate",
                    message=f"no template {identifier!r} in processing container {self.name!r}"
                    + (f" (did you mean {hint!r}?)" if hint else ""),
                    given=quote(identifier),
                    allowed=", ".join(quote(h) for h in have),
                )
            ],
        )
