"""The specification: pydantic models of processing-container.json, task.json and what the core derives.

Everything is re-exported flat from here (``from task_api.spec import Task``). Submodules:

* :mod:`~task_api.spec.errors` — :class:`Problem`, :class:`SpecError` and the root of the exception tree;
* :mod:`~task_api.spec.processing_container`, :mod:`~task_api.spec.task`, :mod:`~task_api.spec.scale_rule` —
  the models of the two files;
* :mod:`~task_api.spec.resolved` — :class:`ResolvedTask`, :class:`Measurement`, :class:`ComputedResources`;
* :mod:`~task_api.spec.quantity` — Kubernetes quantities;
* :mod:`~task_api.spec.load` — bytes to models, with every problem located by JSON path and line:column;
* :mod:`~task_api.spec.schema` — the published JSON Schemas.

No I/O anywhere in this package.
"""

from task_api.spec.errors import InvalidQuantity, Problem, Severity, SpecError, TaskApiError
from task_api.spec.processing_container import (
    EnvType,
    EnvVar,
    InputChannel,
    OutputChannel,
    ProcessingContainer,
    Resources,
    TaskTemplate,
)
from task_api.spec.quantity import format_bytes_quantity, parse_quantity
from task_api.spec.resolved import ComputedResources, Measurement, ResolvedChannel, ResolvedTask
from task_api.spec.scale_rule import ScaleRule, ScaleRuleMode, ScaleRuleType
from task_api.spec.task import (
    ChannelBinding,
    DockerConfig,
    K8sConfig,
    NfsVolume,
    PvcVolume,
    Task,
    TaskEnv,
    VolumeSource,
)

__all__ = [
    "ChannelBinding",
    "ComputedResources",
    "DockerConfig",
    "EnvType",
    "EnvVar",
    "InputChannel",
    "InvalidQuantity",
    "K8sConfig",
    "Measurement",
    "NfsVolume",
    "OutputChannel",
    "Problem",
    "ProcessingContainer",
    "PvcVolume",
    "ResolvedChannel",
    "ResolvedTask",
    "Resources",
    "ScaleRule",
    "ScaleRuleMode",
    "ScaleRuleType",
    "Severity",
    "SpecError",
    "Task",
    "TaskApiError",
    "TaskEnv",
    "TaskTemplate",
    "VolumeSource",
    "format_bytes_quantity",
    "parse_quantity",
]
