"""The ``ProcessingContainer`` resource: an image whose task templates the operator reads and publishes. Pure."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from task_api.spec.crd.common import (
    API_VERSION,
    Condition,
    CrdModel,
    CrdStatusModel,
    LocalObjectReference,
    MemoryRightSizing,
    ObjectMeta,
)


class ProcessingContainerSpec(CrdModel):
    """Which image to read ``/processing-container.json`` from."""

    image: str = Field(
        min_length=1,
        max_length=1024,
        description="Image reference (registry/repository[:tag][@sha256:digest]) carrying /processing-container.json.",
    )
    image_pull_secrets: list[LocalObjectReference] = Field(
        default_factory=list,
        description="Secrets of type kubernetes.io/dockerconfigjson used to read the image and to pull it in pods.",
    )
    memory_right_sizing: MemoryRightSizing | None = Field(
        default=None,
        description="Size TaskRuns' memory by the rule learned from their peaks (off by default; docs/memory.md).",
    )


class ProcessingContainerStatus(CrdStatusModel):
    """What the operator found in the image."""

    observed_generation: int | None = Field(default=None, description="The spec generation last inspected.")
    digest: str | None = Field(default=None, description="Resolved manifest digest of the image.")
    short_digest: str | None = Field(default=None, description="First 12 hex digits of the digest (for kubectl).")
    resolved_image: str | None = Field(default=None, description="The image pinned by digest, used by TaskRuns.")
    template_names: str | None = Field(default=None, description="Comma-separated template identifiers.")
    templates: list[dict[str, Any]] = Field(
        default_factory=list, description="The task templates read from /processing-container.json."
    )
    name: str | None = Field(default=None, description="The processing container's declared name.")
    description: str | None = Field(default=None, description="The processing container's declared description.")
    conditions: list[Condition] = Field(default_factory=list, description="Ready: whether the templates are known.")


class ProcessingContainerResource(CrdModel):
    """A processing container image registered with the operator."""

    model_config = CrdModel.model_config | {"extra": "ignore"}

    api_version: str = Field(default=API_VERSION)
    kind: str = Field(default="ProcessingContainer")
    metadata: ObjectMeta
    spec: ProcessingContainerSpec
    status: ProcessingContainerStatus = Field(default_factory=ProcessingContainerStatus)
