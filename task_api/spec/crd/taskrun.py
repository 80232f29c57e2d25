"""The ``TaskRun`` resource: one run of a processing container's task template on bound volumes. Pure.

Validation that the API server can do is declared here (OpenAPI constraints and CEL rules in
``x-kubernetes-validations``), so a bad TaskRun is refused at ``kubectl apply`` with a message a person understands.
What needs the template (channel names, env choices) is checked by the operator and reported as ``InvalidSpec``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from task_api.spec.crd.common import (
    API_VERSION,
    DNS_SUBDOMAIN,
    Condition,
    CrdModel,
    CrdStatusModel,
    LocalObjectReference,
    MemoryRightSizing,
    ObjectMeta,
)
from task_api.spec.fields import ENV_NAME_PATTERN

CHANNEL_NAME = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
ENV_NAME = ENV_NAME_PATTERN
QUANTITY = r"^([+]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"

# CEL shared by PVC subPaths: relative, no '..' segment (a TaskRun author must not climb out of the claim).
_SUBPATH_RULES = [
    {"rule": "!self.startsWith('/')", "message": "subPath must be relative (no leading '/')"},
    {"rule": "!self.matches('(^|/)[.][.](/|$)')", "message": "subPath must not contain a '..' segment"},
]


def _cel(*rules: dict[str, str]) -> dict[str, Any]:
    return {"x-kubernetes-validations": list(rules)}


class TaskRunReason(StrEnum):
    """Reasons of the ``Succeeded`` condition."""

    PENDING = "Pending"
    WAITING_FOR_UPSTREAM = "WaitingForUpstream"
    WAITING_FOR_PROCESSING_CONTAINER = "WaitingForProcessingContainer"
    RESOLVING_IMAGE = "ResolvingImage"
    MEASURING = "Measuring"
    IMAGE_INSPECTION_FAILED = "ImageInspectionFailed"
    INVALID_SPEC = "InvalidSpec"
    UPSTREAM_FAILED = "UpstreamFailed"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    OOM_KILLED = "OOMKilled"
    TIMED_OUT = "TimedOut"
    CANCELLED = "Cancelled"
    POD_DELETED = "PodDeleted"
    RETRYING = "Retrying"
    #: Waits with a bound (``spec.pendingTimeoutSeconds``), and what they end in when it passes.
    WAITING_FOR_CLAIM = "WaitingForClaim"
    WAITING_FOR_QUOTA = "WaitingForQuota"
    CLAIM_NOT_FOUND = "ClaimNotFound"
    QUOTA_EXCEEDED = "QuotaExceeded"
    UNSCHEDULABLE = "Unschedulable"
    PENDING_TIMEOUT = "PendingTimeout"
    #: Refusals no wait can fix.
    UPSTREAM_CYCLE = "UpstreamCycle"
    POD_SECURITY_REJECTED = "PodSecurityRejected"


class ImagePullPolicy(StrEnum):
    """When the node pulls the task's image (Kubernetes' container imagePullPolicy)."""

    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class PvcSource(CrdModel):
    """A PersistentVolumeClaim in the TaskRun's namespace, optionally a directory inside it."""

    claim_name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN, description="Name of the PVC.")
    sub_path: str | None = Field(
        default=None,
        max_length=1024,
        description="Directory inside the claim (relative, no '..').",
        json_schema_extra=_cel(*_SUBPATH_RULES),
    )
    read_only: bool | None = Field(
        default=None, description="Mount the claim read-only (inputs always are; an output cannot be)."
    )


class NfsSource(CrdModel):
    """An NFS export, mounted by the node (the pod's ``nfs`` volume), optionally a directory inside it."""

    server: str = Field(
        min_length=1,
        max_length=253,
        pattern=r"^[^\s/]+$",
        description="Host name or IP address of the NFS server.",
    )
    path: str = Field(
        min_length=1,
        max_length=4096,
        description="Exported path on the server (absolute).",
        json_schema_extra=_cel({"rule": "self.startsWith('/')", "message": "nfs.path must be absolute"}),
    )
    sub_path: str | None = Field(
        default=None,
        max_length=1024,
        description="Directory inside the export (relative, no '..').",
        json_schema_extra=_cel(*_SUBPATH_RULES),
    )
    read_only: bool | None = Field(
        default=None, description="Mount the export read-only (inputs always are; an output cannot be)."
    )


class HostPathSource(CrdModel):
    """A directory on the node. Refused unless it lies under a root the operator's administrator allows."""

    path: str = Field(
        min_length=1,
        max_length=4096,
        description="Absolute path on the node.",
        json_schema_extra=_cel(
            {"rule": "self.startsWith('/')", "message": "hostPath.path must be absolute"},
            {"rule": "!self.matches('(^|/)[.][.](/|$)')", "message": "hostPath.path must not contain '..'"},
        ),
    )


class FromTaskRun(CrdModel):
    """An output channel of another TaskRun in the same namespace; mounted read-only, waited for."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN, description="Upstream TaskRun name.")
    output: str = Field(min_length=1, max_length=63, pattern=CHANNEL_NAME, description="Its output channel.")


_ONE_SOURCE_IN = (
    "[has(self.persistentVolumeClaim), has(self.hostPath), has(self.fromTaskRun), has(self.nfs)]"
    ".filter(x, x).size() == 1"
)
_ONE_SOURCE_OUT = "[has(self.persistentVolumeClaim), has(self.hostPath), has(self.nfs)].filter(x, x).size() <= 1"
_WRITABLE_OUT = (
    "!(has(self.persistentVolumeClaim) && has(self.persistentVolumeClaim.readOnly) "
    "&& self.persistentVolumeClaim.readOnly) && !(has(self.nfs) && has(self.nfs.readOnly) && self.nfs.readOnly)"
)


class InputBinding(CrdModel):
    """Binds a template input channel to exactly one source."""

    model_config = CrdModel.model_config | {
        "json_schema_extra": _cel(
            {
                "rule": _ONE_SOURCE_IN,
                "message": "an input needs exactly one of persistentVolumeClaim, hostPath, fromTaskRun or nfs",
            }
        )
    }

    name: str = Field(min_length=1, max_length=63, pattern=CHANNEL_NAME, description="Template input channel name.")
    persistent_volume_claim: PvcSource | None = Field(default=None, description="Read the channel from a PVC.")
    host_path: HostPathSource | None = Field(default=None, description="Read from an allowed node directory.")
    from_task_run: FromTaskRun | None = Field(default=None, description="Read an upstream TaskRun's output.")
    nfs: NfsSource | None = Field(default=None, description="Read the channel from an NFS export.")


class OutputBinding(CrdModel):
    """Binds a template output channel to a PVC or an allowed host path. Unbound outputs go to the workspace."""

    model_config = CrdModel.model_config | {
        "json_schema_extra": _cel(
            {
                "rule": _ONE_SOURCE_OUT,
                "message": "an output takes one of persistentVolumeClaim, hostPath or nfs",
            },
            {
                "rule": "has(self.persistentVolumeClaim) || has(self.hostPath) || has(self.nfs)",
                "message": "an output needs persistentVolumeClaim, hostPath or nfs (omit it to use the workspace)",
            },
            {"rule": _WRITABLE_OUT, "message": "an output cannot be written to a volume bound readOnly"},
        )
    }

    name: str = Field(min_length=1, max_length=63, pattern=CHANNEL_NAME, description="Template output channel name.")
    persistent_volume_claim: PvcSource | None = Field(default=None, description="Write the channel to a PVC.")
    host_path: HostPathSource | None = Field(default=None, description="Write to an allowed node directory.")
    nfs: NfsSource | None = Field(default=None, description="Write the channel to an NFS export.")


class SecretKeySelector(CrdModel):
    """One key of a Secret in the TaskRun's namespace."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN, description="The Secret's name.")
    key: str = Field(
        min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$", description="The key within the Secret."
    )


class EnvValueSource(CrdModel):
    """Where a variable's value comes from, instead of the TaskRun."""

    secret_key_ref: SecretKeySelector = Field(
        description=(
            "A key of a Secret in this namespace: the pod reads it (secretKeyRef); the value never enters the "
            "TaskRun, its status or events, and is not checked against the template's type and choices."
        )
    )


class EnvOverride(CrdModel):
    """A value for one of the template's environment variables: literal, or from a Secret."""

    model_config = CrdModel.model_config | {
        "json_schema_extra": _cel(
            {"rule": "has(self.value) != has(self.valueFrom)", "message": "set exactly one of value and valueFrom"}
        )
    }

    name: str = Field(min_length=1, max_length=256, pattern=ENV_NAME, description="Variable name.")
    value: str | None = Field(
        default=None, max_length=32768, description="Its value (checked against the template's type and choices)."
    )
    value_from: EnvValueSource | None = Field(
        default=None,
        description="Its value from a Secret (only for variables the template declares adjustable).",
    )


class ResourceOverrides(CrdModel):
    """Requests and limits that replace the template's static values (scale rules still apply on top)."""

    requests: dict[str, int | str] = Field(
        default_factory=dict, description="Resource requests, e.g. memory: 256Mi, cpu: 500m."
    )
    limits: dict[str, int | str] = Field(default_factory=dict, description="Resource limits.")


class RetryPolicy(CrdModel):
    """How many more attempts a failed run gets, and how memory grows after an OOM kill."""

    limit: int = Field(default=0, ge=0, le=10, description="Extra attempts after a failure (0: none).")
    memory_factor: float = Field(
        default=1.5,
        ge=1.0,
        le=16.0,
        description="After OOMKilled, the next attempt's memory is multiplied by this.",
    )
    max_memory: str | None = Field(
        default=None,
        pattern=QUANTITY,
        max_length=64,
        description="Upper bound for the grown memory (default: the operator's).",
        json_schema_extra=_cel({"rule": "isQuantity(self)", "message": "maxMemory must be a quantity, e.g. 8Gi"}),
    )


_ONE_RUN = (
    "cannot change once the TaskRun exists: a TaskRun is one run. To run with other values, create a TaskRun with "
    "a new name (with GitOps, change metadata.name, e.g. add a suffix) or delete this one first (Argo CD: sync "
    "option Replace=true; Flux: spec.force: true)"
)
_IMMUTABLE = {"rule": "self == oldSelf", "message": f"is immutable: it {_ONE_RUN}"}
#: Fields that may still change on a running TaskRun: stopping it, and how long to keep or wait for it.
MUTABLE_FIELDS = ("cancelled", "ttlSecondsAfterFinished", "heartbeatTimeoutSeconds", "pendingTimeoutSeconds")
#: Every other field of the spec, held fixed by a transition rule each (optional fields may not appear or vanish).
_FIXED = ("imagePullSecrets", "registryCredentialsSecret", "inputs", "outputs", "env", "command", "resources",
          "timeoutSeconds", "retries", "runAsRoot")  # fmt: skip


def _fixed(field: str) -> dict[str, str]:
    return {
        "rule": f"has(self.{field}) == has(oldSelf.{field}) && (!has(self.{field}) || self.{field} == oldSelf.{field})",
        "message": f"spec.{field} {_ONE_RUN}",
    }


class TaskRunSpec(CrdModel):
    """What to run: a template of a processing container, bound to volumes, with overrides."""

    model_config = CrdModel.model_config | {
        "json_schema_extra": _cel(
            {
                "rule": "has(self.processingContainerRef) != has(self.image)",
                "message": "set exactly one of processingContainerRef and image",
            },
            {
                "rule": "!has(self.registryCredentialsSecret) || has(self.image)",
                "message": "registryCredentialsSecret needs image (a ProcessingContainer carries its own secrets)",
            },
            *(_fixed(f) for f in _FIXED),
        )
    }

    processing_container_ref: LocalObjectReference | None = Field(
        default=None,
        description="A ProcessingContainer in this namespace whose templates and pinned image are used.",
        json_schema_extra=_cel(_IMMUTABLE),
    )
    image: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="An image carrying /processing-container.json (instead of processingContainerRef).",
        json_schema_extra=_cel(_IMMUTABLE),
    )
    image_pull_secrets: list[LocalObjectReference] = Field(
        default_factory=list, description="dockerconfigjson Secrets for reading and pulling the image."
    )
    image_pull_policy: ImagePullPolicy | None = Field(
        default=None, description="The task container's imagePullPolicy (default IfNotPresent)."
    )
    registry_credentials_secret: LocalObjectReference | None = Field(
        default=None,
        description=(
            "A Secret with keys username and password for the image's registry. The operator turns it into a "
            "dockerconfigjson pull Secret owned by this TaskRun (removed with it)."
        ),
    )
    task_template: str = Field(
        min_length=1,
        max_length=253,
        description="Identifier of the task template to run.",
        json_schema_extra=_cel(_IMMUTABLE),
    )
    inputs: list[InputBinding] = Field(
        default_factory=list,
        max_length=64,
        description="Sources of the template's input channels (every input must be bound).",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    outputs: list[OutputBinding] = Field(
        default_factory=list,
        max_length=64,
        description="Destinations of output channels; unbound outputs go to the workspace claim.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    env: list[EnvOverride] = Field(
        default_factory=list,
        max_length=256,
        description="Values for the template's adjustable environment variables.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    command: list[str] | None = Field(default=None, max_length=256, description="Replaces the template's command.")
    resources: ResourceOverrides | None = Field(default=None, description="Replaces the template's resources.")
    timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        le=7 * 24 * 3600,
        description="Limit on each attempt's run time (activeDeadlineSeconds).",
    )
    retries: RetryPolicy | None = Field(default=None, description="Retry policy.")
    run_as_root: bool = Field(
        default=False,
        description=(
            "Run the task container as the image's own user (often root) instead of the operator's non-root uid. "
            "Honoured only in namespaces the administrator lists in TASK_API_ALLOW_ROOT_NAMESPACES; elsewhere the "
            "run fails InvalidSpec."
        ),
    )
    cancelled: bool = Field(default=False, description="Set to true to cancel the run: its pod is stopped.")
    heartbeat_timeout_seconds: int | None = Field(
        default=None,
        ge=10,
        le=24 * 3600,
        description=(
            "For clients that must not leave runs behind when they die (Airflow): the run is cancelled when the "
            "annotation task-api.io/heartbeat (an RFC 3339 time the client refreshes) is older than this."
        ),
    )
    ttl_seconds_after_finished: int | None = Field(
        default=None,
        ge=0,
        le=10 * 366 * 24 * 3600,
        description="Delete the finished pods this long after completion (the TaskRun stays).",
    )
    pending_timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        le=30 * 24 * 3600,
        description=(
            "How long the run may wait for things that may never come — a claim that does not exist, room in a "
            "ResourceQuota, a node for its pod (unscheduled, pulling its image) — before it fails (default: the "
            "operator's TASK_API_PENDING_TIMEOUT_SECONDS). Kaapana's startup_timeout_seconds."
        ),
    )
    memory_right_sizing: MemoryRightSizing | None = Field(
        default=None,
        description="Overrides the ProcessingContainer's memoryRightSizing for this run (see docs/memory.md).",
    )


class ChannelMeasurement(CrdStatusModel):
    """What the measuring step found for one input channel's scale rule."""

    channel: str = Field(description="Input channel name.")
    mode: str = Field(description="Scale rule mode (sum, max_file_size, max_item_sum).")
    bytes: int = Field(description="Measured bytes for that mode.")
    files: int = Field(default=0, description="Regular files counted.")


class OutputLocation(CrdStatusModel):
    """Where an output channel's data lives (read by downstream TaskRuns and Airflow)."""

    name: str = Field(description="Output channel name.")
    claim_name: str | None = Field(default=None, description="PVC holding the data.")
    sub_path: str | None = Field(default=None, description="Directory inside the PVC.")
    host_path: str | None = Field(default=None, description="Node directory holding the data.")
    nfs_server: str | None = Field(default=None, description="NFS server holding the data.")
    nfs_path: str | None = Field(default=None, description="Its exported path (the data is at subPath inside it).")


class UpstreamRef(CrdStatusModel):
    """An upstream TaskRun this run has seen (a later one with another uid means the original was deleted)."""

    name: str = Field(description="Upstream TaskRun name.")
    uid: str = Field(description="Its uid when first seen.")


class MemoryPeak(CrdStatusModel):
    """What one attempt really used, recorded by the node agent (``task_api.agent``) from the pod's memory cgroup.

    Only the agent writes these (``status.memory.peaks`` and ``status.memory.peak``); the operator never does.
    """

    attempt: int = Field(ge=1, description="The attempt (1 for the first pod, 2 for the first retry, ...).")
    pod: str = Field(description="The attempt's pod.")
    peak_bytes: int = Field(
        ge=0,
        description=(
            "High-water mark of the pod's memory cgroup (memory.max_usage_in_bytes on cgroup v1, memory.peak on v2), "
            "read after the containers ended: the largest memory the pod held at any moment, page cache included."
        ),
    )
    peak: str = Field(description="peakBytes as a quantity, rounded up to whole MiB (for people).")
    container_peak_bytes: int | None = Field(
        default=None,
        ge=0,
        description="The task container's own high-water mark, as last read while it ran (no sandbox, no init).",
    )
    request: str | None = Field(default=None, description="The task container's memory request in this attempt.")
    limit: str | None = Field(default=None, description="The task container's memory limit in this attempt.")
    oom_killed: bool = Field(default=False, description="The attempt ended OOMKilled (the peak is then the limit).")
    source: str = Field(description="Where the figure was read, e.g. 'cgroup v1 pod'.")
    node: str | None = Field(default=None, description="The node the agent read it on.")
    observed_at: str | None = Field(default=None, description="When the agent recorded it.")


class MemorySummary(CrdStatusModel):
    """The memory the pod was given, and why; and, from the node agent, what each attempt really used."""

    request: str | None = Field(default=None, description="Memory request.")
    limit: str | None = Field(default=None, description="Memory limit.")
    explanation: list[str] = Field(default_factory=list, description="How scale rules produced these values.")
    sized_by: str | None = Field(
        default=None,
        description="What sized this attempt: 'rules' (scale rules), 'learned' (right-sizing) or 'oom-escalation'.",
    )
    peak: str | None = Field(default=None, description="The latest recorded attempt's peak (node agent).")
    peaks: list[MemoryPeak] = Field(
        default_factory=list,
        max_length=64,
        description="Peak memory of each attempt, written by the node agent once the attempt's containers ended.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["attempt"]},
    )


class TaskRunStatus(CrdStatusModel):
    """What happened: one Succeeded condition plus details."""

    observed_generation: int | None = Field(default=None, description="The spec generation last reconciled.")
    conditions: list[Condition] = Field(default_factory=list, description="Succeeded: Unknown, True or False.")
    phase: str | None = Field(default=None, description="Pending, Running, Succeeded or Failed.")
    reason: str | None = Field(default=None, description="The Succeeded condition's reason (for kubectl).")
    template: str | None = Field(default=None, description="The task template run.")
    image: str | None = Field(default=None, description="The image run, pinned by digest.")
    image_digest: str | None = Field(default=None, description="Resolved manifest digest.")
    pod_name: str | None = Field(default=None, description="The current attempt's pod.")
    attempts: int = Field(default=0, description="Attempts started so far.")
    oom_kills: int = Field(default=0, description="Attempts that ended OOMKilled (each grows the next one's memory).")
    start_time: str | None = Field(default=None, description="When the first attempt's pod was created.")
    completion_time: str | None = Field(default=None, description="When the run finished.")
    duration: str | None = Field(default=None, description="completionTime - startTime, e.g. 1m23s.")
    exit_code: int | None = Field(default=None, description="The main container's exit code.")
    measurements: list[ChannelMeasurement] = Field(default_factory=list, description="Measured input sizes.")
    memory: MemorySummary | None = Field(default=None, description="The memory given to the pod.")
    outputs: list[OutputLocation] = Field(default_factory=list, description="Where each output channel was written.")
    inputs: list[OutputLocation] = Field(
        default_factory=list, description="Where each input channel was read from (decided before the first pod)."
    )
    upstreams: list[UpstreamRef] = Field(default_factory=list, description="fromTaskRun upstreams seen so far.")
    pod_deleted_at: str | None = Field(default=None, description="When the finished pods were removed (TTL).")
    waiting_since: str | None = Field(
        default=None,
        description="When the current bounded wait (a claim, quota) began; spec.pendingTimeoutSeconds counts from it.",
    )


class TaskRunResource(CrdModel):
    """A run of a processing container's task template, as read from the API server (parsed once, at the edge)."""

    model_config = CrdModel.model_config | {"extra": "ignore"}

    api_version: str = Field(default=API_VERSION)
    kind: str = Field(default="TaskRun")
    metadata: ObjectMeta
    spec: TaskRunSpec
    status: TaskRunStatus = Field(default_factory=TaskRunStatus)
