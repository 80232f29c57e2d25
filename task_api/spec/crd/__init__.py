"""Models of the custom resources: ``ProcessingContainer`` and ``TaskRun`` (group ``task-api.io``, ``v1alpha1``).

The CRDs in ``crds/`` are generated from these models (:mod:`task_api.spec.crd.generate`), so the API server's
validation, ``kubectl explain`` and the operator all read the same definitions. No I/O here.
"""

from task_api.spec.crd.common import (
    API_VERSION,
    GROUP,
    VERSION,
    Condition,
    ConditionStatus,
    LocalObjectReference,
    MemoryRightSizing,
)
from task_api.spec.crd.processing_container import (
    ProcessingContainerResource,
    ProcessingContainerSpec,
    ProcessingContainerStatus,
)
from task_api.spec.crd.taskrun import (
    ChannelMeasurement,
    EnvOverride,
    EnvValueSource,
    FromTaskRun,
    HostPathSource,
    InputBinding,
    MemoryPeak,
    MemorySummary,
    OutputBinding,
    OutputLocation,
    PvcSource,
    ResourceOverrides,
    RetryPolicy,
    SecretKeySelector,
    TaskRunReason,
    TaskRunResource,
    TaskRunSpec,
    TaskRunStatus,
)

__all__ = [
    "API_VERSION",
    "GROUP",
    "VERSION",
    "ChannelMeasurement",
    "Condition",
    "ConditionStatus",
    "EnvOverride",
    "EnvValueSource",
    "FromTaskRun",
    "HostPathSource",
    "InputBinding",
    "LocalObjectReference",
    "MemoryPeak",
    "MemoryRightSizing",
    "MemorySummary",
    "OutputBinding",
    "OutputLocation",
    "ProcessingContainerResource",
    "ProcessingContainerSpec",
    "ProcessingContainerStatus",
    "PvcSource",
    "ResourceOverrides",
    "RetryPolicy",
    "SecretKeySelector",
    "TaskRunReason",
    "TaskRunResource",
    "TaskRunSpec",
    "TaskRunStatus",
]
