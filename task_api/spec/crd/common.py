"""Pieces shared by both custom resources: the API group, conditions, references. Pure."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "task-api.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

#: A DNS-1123 subdomain, the rule for most object names.
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


class CrdModel(BaseModel):
    """Base of the resource models: camelCase on the wire, unknown fields refused (the API server prunes them
    anyway; refusing them here gives the CLI and Airflow the same strictness)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """Pure: the JSON-ready dictionary Kubernetes expects (camelCase, no unset fields)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class CrdStatusModel(CrdModel):
    """Base of the status models: fields this version does not know are ignored when reading, not refused — a
    status written by a newer replica during a rolling update must never make an older one stop reconciling."""

    model_config = CrdModel.model_config | {"extra": "ignore"}


class OwnerReference(BaseModel):
    """An entry of ``metadata.ownerReferences`` (only the fields the operator reads)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    api_version: str = ""
    kind: str = ""
    name: str = ""
    uid: str = ""
    controller: bool = False


class ObjectMeta(BaseModel):
    """The ``metadata`` of an object as the API server returns it (only the fields the operator reads; the rest is
    ignored, not refused: the server owns this part)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    name: str
    namespace: str = ""
    uid: str = ""
    generation: int | None = None
    resource_version: str | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    owner_references: list[OwnerReference] = Field(default_factory=list)


class LocalObjectReference(CrdModel):
    """A reference to an object in the same namespace."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN, description="Name of the object.")


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(CrdStatusModel):
    """A Kubernetes-style condition."""

    type: str = Field(description="Type of the condition, e.g. Succeeded or Ready.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(default="", description="CamelCase reason for the last transition.")
    message: str = Field(default="", description="Human-readable details.")
    last_transition_time: str | None = Field(default=None, description="When the status last changed (RFC 3339).")
    observed_generation: int | None = Field(default=None, description="The spec generation this reflects.")


class MemoryRightSizing(CrdModel):
    """Automatic right-sizing: size memory by the rule learned from earlier runs' peaks (docs/memory.md).

    Off unless ``enabled``. The learned rule comes from finished runs of the same image digest and template in the
    namespace; it applies once ``minRuns`` of them have a recorded peak, never goes below the template's static
    memory, and an OOM kill falls back to the scale rules with the usual retry growth.
    """

    enabled: bool = Field(default=False, description="Use the learned rule (default: off).")
    min_runs: int = Field(default=5, ge=1, le=1000, description="Runs with a recorded peak needed before it applies.")
    headroom: float = Field(
        default=1.2, ge=1.0, le=4.0, description="The learned rule must cover every observed peak times this."
    )
