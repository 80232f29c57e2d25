"""What the pure core hands to the adapters: a resolved task, measurements and computed resources.

* :class:`ResolvedTask` — a task merged with its template (made by :func:`task_api.core.merge.resolve`); the
  one object the runners, the operator and the Airflow operator consume.
* :class:`Measurement` — what :mod:`task_api.measure` reports for one input channel and its scale rule,
  following ``docs/scale-rules.md``.
* :class:`ComputedResources` — the result of :func:`task_api.core.scale.compute_resources`.

Pure: models only.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from task_api.spec.errors import Problem
from task_api.spec.processing_container import Resources
from task_api.spec.scale_rule import ScaleRule, ScaleRuleMode
from task_api.spec.task import RunnerConfig, VolumeSource

__all__ = ["ComputedResources", "Measurement", "ResolvedChannel", "ResolvedTask"]


class _Output(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ResolvedChannel(_Output):
    """A template channel bound to storage. Inputs are mounted read-only, outputs read-write."""

    name: str
    mounted_path: str
    source: VolumeSource
    read_only: bool
    scale_rule: ScaleRule | None = None
    description: str | None = None


class ResolvedTask(_Output):
    """A task merged with its template: everything needed to run it, checked and in one place."""

    name: str
    image: str
    template: str = Field(description="the template's identifier")
    template_description: str = ""
    #: Template defaults in declaration order, overrides applied, then undeclared task vars (with a warning).
    env: dict[str, str] = Field(default_factory=dict)
    #: None: run the image's own entrypoint/command.
    command: list[str] | None = None
    inputs: list[ResolvedChannel] = Field(default_factory=list)
    outputs: list[ResolvedChannel] = Field(default_factory=list)
    #: Static resources: the template's, with the task's values replacing them key by key.
    resources: Resources = Field(default_factory=Resources)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    #: Dumps mask registryPassword as '**********': records never carry it; use the in-memory object to log in.
    config: RunnerConfig | None = None
    warnings: list[Problem] = Field(default_factory=list)

    @property
    def channels(self) -> list[ResolvedChannel]:
        """Inputs then outputs."""
        return [*self.inputs, *self.outputs]

    @property
    def scaled_inputs(self) -> list[ResolvedChannel]:
        """The inputs that carry a scale rule, in order."""
        return [c for c in self.inputs if c.scale_rule is not None]


class Measurement(_Output):
    """The size measured for one input channel under one scale rule (see docs/scale-rules.md)."""

    channel: str
    mode: ScaleRuleMode
    #: sum: bytes of all matched files; max_file_size: the largest file; max_item_sum: the largest item.
    measured_bytes: int = Field(ge=0)
    #: Matched regular files that were counted (all items together for max_item_sum).
    files_counted: int = Field(ge=0)
    #: max_item_sum only: how many items (top-level folders) were considered.
    items_counted: int | None = Field(default=None, ge=0)
    #: The file (max_file_size) or item (max_item_sum) that gave the maximum, relative to the channel root.
    largest: str | None = None
    #: True when the channel root or target_dir did not exist (the size is then 0).
    target_missing: bool = False


class ComputedResources(_Output):
    """Final requests/limits (static values raised by scale rules) and how they were obtained."""

    resources: Resources
    memory_request_bytes: int | None = None
    memory_limit_bytes: int | None = None
    explanation: list[str] = Field(default_factory=list)

    @property
    def requests(self) -> dict[str, str]:
        return dict(self.resources.requests)

    @property
    def limits(self) -> dict[str, str]:
        return dict(self.resources.limits)
