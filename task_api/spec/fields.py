"""Field-level rules shared by the models: names, paths, quantities, resources, scale-rule formulas.

Each validator is a pure function that returns the (possibly normalised) value or raises a ``ValueError`` /
pydantic error with a message meant for the person editing the file.
"""

from __future__ import annotations

import posixpath
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from task_api.spec._base import did_you_mean, quote, spec_error
from task_api.spec.errors import InvalidQuantity
from task_api.spec.quantity import QUANTITY_PATTERN, parse_quantity

__all__ = [
    "ENV_NAME_PATTERN",
    "FORBIDDEN_MOUNTS",
    "NAME_PATTERN",
    "ChannelName",
    "EnvName",
    "MountPath",
    "Quantity",
    "RelativePath",
    "ResourceName",
    "check_mount_path",
    "check_relative_path",
    "is_extended_resource",
    "paths_overlap",
]

NAME_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_NAME_RE = re.compile(NAME_PATTERN)
_ENV_RE = re.compile(ENV_NAME_PATTERN)

#: Mount points a channel may not take or live under: the root and the kernel's pseudo file systems.
FORBIDDEN_MOUNTS = ("/", "/proc", "/sys", "/dev")


def _check_name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise spec_error(
            "not a valid name",
            given=quote(value),
            allowed="1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
        )
    return value


def _check_env_name(value: str) -> str:
    if not _ENV_RE.match(value):
        raise spec_error(
            "not a valid environment variable name",
            given=quote(value),
            allowed="letters, digits and '_', not starting with a digit",
        )
    return value


def check_mount_path(value: str) -> str:
    """Validate a channel's ``mounted_path``: absolute, normalised, no ``..``, not a system path (pure)."""
    allowed = "an absolute, normalised path such as /data/in, not /, /proc, /sys, /dev or below them"
    if not value.startswith("/"):
        raise spec_error("must be an absolute path", given=quote(value), allowed=allowed)
    if ".." in value.split("/"):
        raise spec_error("must not contain '..'", given=quote(value), allowed=allowed)
    normal = posixpath.normpath(value)
    if normal.startswith("//"):
        normal = normal[1:]
    if normal != value:
        raise spec_error(f"must be normalised (write {normal!r})", given=quote(value), allowed=allowed)
    for bad in FORBIDDEN_MOUNTS:
        if value == bad or (bad != "/" and value.startswith(bad + "/")):
            raise spec_error(f"must not be {bad!r} or below it", given=quote(value), allowed=allowed)
    return value


def check_relative_path(value: str) -> str:
    """Validate a path relative to a channel's root; returns it normalised ("" for the root itself) (pure)."""
    allowed = "a relative path inside the channel, such as 'series' or 'a/b' ('' or '.' for the root)"
    if value.startswith("/"):
        raise spec_error("must be relative", given=quote(value), allowed=allowed)
    if ".." in value.split("/"):
        raise spec_error("must not contain '..'", given=quote(value), allowed=allowed)
    normal = posixpath.normpath(value) if value else "."
    return "" if normal == "." else normal


def paths_overlap(a: str, b: str) -> bool:
    """True when one absolute path equals the other or lies below it, by whole components (pure)."""
    a_parts = [p for p in a.split("/") if p]
    b_parts = [p for p in b.split("/") if p]
    shorter = min(len(a_parts), len(b_parts))
    return a_parts[:shorter] == b_parts[:shorter]


def _to_quantity_text(value: Any) -> Any:
    # Kubernetes accepts `cpu: 2` in YAML; allow JSON numbers and keep their spelling.
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return value


def _check_quantity(value: str) -> str:
    try:
        number = parse_quantity(value)
    except InvalidQuantity as exc:
        raise spec_error(
            "not a Kubernetes quantity",
            given=quote(value),
            allowed="e.g. 500Mi, 2Gi, 250m, 0.5, 1e3 (suffixes Ki Mi Gi Ti Pi Ei, m k M G T P E)",
        ) from exc
    if number < 0:
        raise spec_error("must not be negative", given=quote(value), allowed="a quantity ≥ 0")
    return value


#: A non-negative Kubernetes quantity, stored as the text given (JSON numbers become text).
Quantity = Annotated[
    str,
    BeforeValidator(_to_quantity_text),
    AfterValidator(_check_quantity),
    WithJsonSchema({"type": ["string", "number"], "pattern": QUANTITY_PATTERN, "minimum": 0}),
]

_STANDARD_RESOURCES = ["cpu", "memory", "ephemeral-storage"]
_DNS_SUBDOMAIN = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
_RESOURCE_RE = re.compile(rf"^(?:{_DNS_SUBDOMAIN}/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def is_extended_resource(name: str) -> bool:
    """Extended resources (``nvidia.com/gpu``) carry a domain prefix; Kubernetes wants them whole (pure)."""
    return "/" in name and not name.startswith("kubernetes.io/")


def _check_resource_name(value: str) -> str:
    allowed = "cpu, memory, ephemeral-storage, hugepages-<size>, or an extended resource like nvidia.com/gpu"
    if not _RESOURCE_RE.match(value) or len(value) > 253:
        raise spec_error("not a resource name", given=quote(value), allowed=allowed)
    if "/" not in value and value not in _STANDARD_RESOURCES and not value.startswith("hugepages-"):
        hint = did_you_mean(value, _STANDARD_RESOURCES)
        suffix = f" (did you mean {hint!r}?)" if hint else ""
        raise spec_error(f"unknown resource{suffix}", given=quote(value), allowed=allowed)
    return value


# The patterns below only document the rule in the JSON Schemas (for editors); the validators enforce it.
ResourceName = Annotated[str, AfterValidator(_check_resource_name)]
ChannelName = Annotated[str, AfterValidator(_check_name), Field(json_schema_extra={"pattern": NAME_PATTERN})]
Identifier = Annotated[str, AfterValidator(_check_name), Field(json_schema_extra={"pattern": NAME_PATTERN})]
EnvName = Annotated[str, AfterValidator(_check_env_name), Field(json_schema_extra={"pattern": ENV_NAME_PATTERN})]
MountPath = Annotated[str, AfterValidator(check_mount_path), Field(json_schema_extra={"pattern": "^/"})]
RelativePath = Annotated[str, AfterValidator(check_relative_path), Field(json_schema_extra={"pattern": "^(?!/)"})]


def decimal_text(value: Decimal) -> str:
    """A Decimal without exponent noise: 1.50 -> '1.5', 1E+2 -> '100' (pure)."""
    text = format(value.normalize(), "f")
    return text
