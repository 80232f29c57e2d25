"""What the operator's pods say about their runs. Pure (one function per pod kind, as Tekton's pod/status.go).

The operator never keeps whole pods: the pod watch turns each into an :class:`ObservedPod` at the edge
(:func:`observe_pod`) — who owns it, which attempt, whether it is going away, and its :class:`PodOutcome` — and the
reconciler decides on those. The reasons are :class:`task_api.spec.crd.TaskRunReason` values. Two Kubernetes
subtleties are handled here so no caller has to know them:

* a process killed for memory may be a *child* of the container's main process, which can then exit 0; the
  container's ``terminated.reason == "OOMKilled"`` wins over its exit code;
* ``activeDeadlineSeconds`` (the TaskRun's timeout) ends a pod with ``status.reason == "DeadlineExceeded"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from task_api.spec.crd.keys import LABEL_ATTEMPT, LABEL_ROLE, ROLE_MEASURE
from task_api.spec.crd.taskrun import TaskRunReason

#: Waiting reasons that no amount of waiting fixes: the run fails at once.
PERMANENT_WAITING_REASONS = frozenset(
    {"InvalidImageName", "CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
)
#: Waiting reasons shown to the user while the pod is pending (it may still recover, e.g. a registry outage).
IMAGE_WAITING_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull"})

_MESSAGE_LIMIT = 1024


class Phase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class PodOutcome:
    """The run's state as far as one pod tells it."""

    phase: Phase
    reason: TaskRunReason
    message: str = ""
    exit_code: int | None = None
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.phase in (Phase.SUCCEEDED, Phase.FAILED)


def _main_container_status(pod: Mapping[str, Any], container: str) -> Mapping[str, Any]:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            return status  # type: ignore[no-any-return]
    return {}


def _cut(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _MESSAGE_LIMIT else "…" + text[-_MESSAGE_LIMIT:]


def outcome_from_pod(pod: Mapping[str, Any], *, container: str = "task") -> PodOutcome:
    """Pure: the outcome of a task pod."""
    status = pod.get("status") or {}
    phase = status.get("phase") or "Pending"
    cstatus = _main_container_status(pod, container)
    state = cstatus.get("state") or {}
    terminated = state.get("terminated") or (cstatus.get("lastState") or {}).get("terminated")
    started_at = status.get("startTime")

    if status.get("reason") == "DeadlineExceeded":
        return PodOutcome(
            Phase.FAILED,
            TaskRunReason.TIMED_OUT,
            _cut(status.get("message") or "the run exceeded its timeout"),
            exit_code=(terminated or {}).get("exitCode"),
            started_at=started_at,
            finished_at=(terminated or {}).get("finishedAt"),
        )
    if terminated:
        exit_code = terminated.get("exitCode")
        finished_at = terminated.get("finishedAt")
        if terminated.get("reason") == "OOMKilled":
            return PodOutcome(
                Phase.FAILED,
                TaskRunReason.OOM_KILLED,
                f"the container ran out of memory (exit code {exit_code})",
                exit_code=exit_code,
                started_at=started_at,
                finished_at=finished_at,
            )
        if exit_code == 0 and phase != "Failed":
            return PodOutcome(
                Phase.SUCCEEDED,
                TaskRunReason.SUCCEEDED,
                "",
                0,
                started_at=started_at,
                finished_at=finished_at,
            )
        detail = terminated.get("message") or terminated.get("reason") or ""
        message = f"the container exited with code {exit_code}" + (f": {_cut(detail)}" if detail else "")
        return PodOutcome(
            Phase.FAILED,
            TaskRunReason.FAILED,
            message,
            exit_code,
            started_at=started_at,
            finished_at=finished_at,
        )
    if phase == "Failed":
        init_failure = _failed_init_container(pod)
        if init_failure:
            return PodOutcome(Phase.FAILED, TaskRunReason.FAILED, init_failure, started_at=started_at)
        reason = status.get("reason") or "PodFailed"
        return PodOutcome(
            Phase.FAILED,
            TaskRunReason.FAILED,
            _cut(f"{reason}: {status.get('message') or 'the pod failed'}"),
            started_at=started_at,
        )
    if phase == "Succeeded":
        return PodOutcome(Phase.SUCCEEDED, TaskRunReason.SUCCEEDED, "", 0, started_at=started_at)
    waiting = state.get("waiting") or {}
    waiting_reason = waiting.get("reason") or ""
    if waiting_reason in PERMANENT_WAITING_REASONS:
        return PodOutcome(
            Phase.FAILED,
            TaskRunReason.FAILED,
            _cut(f"{waiting_reason}: {waiting.get('message') or ''}"),
            started_at=started_at,
        )
    if "running" in state:  # the key says it; its startedAt may be missing
        return PodOutcome(Phase.RUNNING, TaskRunReason.RUNNING, "", started_at=started_at)
    if waiting_reason in IMAGE_WAITING_REASONS:
        return PodOutcome(
            Phase.PENDING,
            TaskRunReason.PENDING,
            _cut(f"{waiting_reason}: {waiting.get('message') or 'cannot pull the image'}"),
            started_at=started_at,
        )
    message = ""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            message = _cut(f"{condition.get('reason', 'Unschedulable')}: {condition.get('message', '')}")
    if not message and waiting_reason:
        message = waiting_reason
    return PodOutcome(Phase.PENDING, TaskRunReason.PENDING, message, started_at=started_at)


def _failed_init_container(pod: Mapping[str, Any]) -> str:
    """Pure: "init container X exited with code N: message" for the first init container that failed, or ""."""
    for cstatus in (pod.get("status") or {}).get("initContainerStatuses") or []:
        terminated = (cstatus.get("state") or {}).get("terminated") or {}
        if terminated and terminated.get("exitCode") not in (0, None):
            detail = terminated.get("message") or terminated.get("reason") or ""
            text = f"init container {cstatus.get('name')} exited with code {terminated.get('exitCode')}"
            return _cut(text + (f": {detail}" if detail else ""))
    return ""


def measure_outcome(pod: Mapping[str, Any]) -> PodOutcome:
    """Pure: the measuring pod's outcome; its message is the termination message (the JSON it reported, or its
    error)."""
    status = pod.get("status") or {}
    cstatus = _main_container_status(pod, "measure")
    terminated = (cstatus.get("state") or {}).get("terminated") or {}
    message = str(terminated.get("message") or "")
    if terminated:
        ok = terminated.get("exitCode") == 0
        return PodOutcome(
            Phase.SUCCEEDED if ok else Phase.FAILED,
            TaskRunReason.SUCCEEDED if ok else TaskRunReason.FAILED,
            message,
            exit_code=terminated.get("exitCode"),
        )
    phase = status.get("phase") or "Pending"
    if phase == "Failed":
        text = str(status.get("message") or status.get("reason") or "the measuring pod failed")
        return PodOutcome(Phase.FAILED, TaskRunReason.FAILED, text)
    if phase == "Running":
        return PodOutcome(Phase.RUNNING, TaskRunReason.MEASURING, "")
    return PodOutcome(Phase.PENDING, TaskRunReason.MEASURING, _scheduling_message(status))


def _scheduling_message(status: Mapping[str, Any]) -> str:
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return _cut(f"{condition.get('reason', 'Unschedulable')}: {condition.get('message', '')}")
    return ""


@dataclass(frozen=True)
class ObservedPod:
    """What the operator keeps of one of its pods (a few hundred bytes, however large the pod)."""

    name: str
    namespace: str
    uid: str
    #: The controlling TaskRun (from ownerReferences); "" when the pod has none.
    owner_name: str
    owner_uid: str
    #: ``task`` or ``measure`` (the ``task-api.io/role`` label).
    role: str
    #: A task pod's attempt (the ``task-api.io/attempt`` label), else None.
    attempt: int | None
    #: The pod has a deletionTimestamp: it is going away.
    deleting: bool
    outcome: PodOutcome
    #: When the pod was created (RFC 3339; how long it has been pending counts from here).
    created_at: str | None = None


def observe_pod(pod: Mapping[str, Any]) -> ObservedPod:
    """Pure: the operator's view of a pod as the API server returned it."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    owner: Mapping[str, Any] = next((r for r in meta.get("ownerReferences") or [] if r.get("controller")), {})
    role = str(labels.get(LABEL_ROLE) or "")
    attempt = str(labels.get(LABEL_ATTEMPT) or "")
    return ObservedPod(
        name=str(meta.get("name") or ""),
        namespace=str(meta.get("namespace") or ""),
        uid=str(meta.get("uid") or ""),
        owner_name=str(owner.get("name") or "") if owner.get("kind") == "TaskRun" else "",
        owner_uid=str(owner.get("uid") or "") if owner.get("kind") == "TaskRun" else "",
        role=role,
        attempt=int(attempt) if attempt.isdigit() else None,
        deleting=bool(meta.get("deletionTimestamp")),
        outcome=measure_outcome(pod) if role == ROLE_MEASURE else outcome_from_pod(pod),
        created_at=meta.get("creationTimestamp"),
    )
