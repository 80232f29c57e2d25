"""Builders for the reconciler's inputs: TaskRuns, their templates, worlds and observed pods (no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from task_api.core.pod import measure_pod_name, task_pod_name
from task_api.core.taskrun.observed_pods import ObservedPod, Phase, PodOutcome
from task_api.core.taskrun.world import Policy, TemplateSource, World
from task_api.spec import ProcessingContainer
from task_api.spec.crd import TaskRunReason as R
from task_api.spec.crd import TaskRunResource

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
CREATED = "2026-01-01T11:59:00Z"
UID = "0f6c1b5e-1111-2222-3333-444455556666"
NAME = "hello"
NS = "team-a"
IMAGE = "reg.example/hello@sha256:" + "a" * 64

CONTAINER = ProcessingContainer.model_validate(
    {
        "name": "hello-world",
        "templates": [
            {
                "identifier": "checksum",
                "env": [
                    {"name": "ALGORITHM", "value": "sha256", "choices": ["sha256", "sha512"]},
                    {"name": "FIXED", "value": "1", "adjustable": False},
                ],
                "inputs": [{"name": "in", "mounted_path": "/data/in"}],
                "outputs": [{"name": "out", "mounted_path": "/data/out"}],
                "command": ["/bin/sh", "/opt/checksum.sh"],
                "resources": {"requests": {"memory": "16Mi"}, "limits": {"memory": "64Mi"}},
            },
            {
                "identifier": "scaled",
                "inputs": [
                    {
                        "name": "in",
                        "mounted_path": "/data/in",
                        "scale_rule": {"scale_factor": 2, "type": "limit", "mode": "sum"},
                    },
                    {
                        "name": "more",
                        "mounted_path": "/data/more",
                        "scale_rule": {"scale_factor": 1, "type": "request", "mode": "max_file_size"},
                    },
                ],
                "outputs": [{"name": "out", "mounted_path": "/data/out"}],
                "resources": {"requests": {"memory": "16Mi"}, "limits": {"memory": "64Mi"}},
            },
        ],
    }
)

SOURCE = TemplateSource(container=CONTAINER, image=IMAGE, digest="sha256:" + "a" * 64, pull_secrets=("pull",))
POLICY = Policy(measure_image="reg.example/operator:1", measure_image_pull_secrets=("op-pull",))

PVC_IN = {"name": "in", "persistentVolumeClaim": {"claimName": "data", "subPath": "input"}}


def run(
    spec: dict[str, Any] | None = None,
    *,
    status: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
) -> TaskRunResource:
    """A TaskRun as the API server returns it; ``spec`` replaces the defaults key by key."""
    body = {
        "apiVersion": "task-api.io/v1alpha1",
        "kind": "TaskRun",
        "metadata": {
            "name": NAME,
            "namespace": NS,
            "uid": UID,
            "generation": 1,
            "resourceVersion": "10",
            "creationTimestamp": CREATED,
            **(meta or {}),
        },
        "spec": {"image": "reg.example/hello:1", "taskTemplate": "checksum", "inputs": [PVC_IN], **(spec or {})},
        "status": status or {},
    }
    return TaskRunResource.model_validate(body)


def world(**fields: Any) -> World:
    """A world where the template was read (as SOURCE) unless ``template`` says otherwise."""
    return World(**{"template": SOURCE, **fields})


def pod(
    attempt: int = 1,
    phase: Phase = Phase.RUNNING,
    reason: R = R.RUNNING,
    message: str = "",
    *,
    exit_code: int | None = None,
    owner_uid: str = UID,
    deleting: bool = False,
) -> ObservedPod:
    return ObservedPod(
        name=task_pod_name(NAME, attempt),
        namespace=NS,
        uid=f"pod-{attempt}",
        owner_name=NAME,
        owner_uid=owner_uid,
        role="task",
        attempt=attempt,
        deleting=deleting,
        outcome=PodOutcome(phase, reason, message, exit_code=exit_code),
    )


def measure_pod(phase: Phase, message: str = "") -> ObservedPod:
    reason = {Phase.SUCCEEDED: R.SUCCEEDED, Phase.FAILED: R.FAILED}.get(phase, R.MEASURING)
    return ObservedPod(
        name=measure_pod_name(NAME),
        namespace=NS,
        uid="measure-pod",
        owner_name=NAME,
        owner_uid=UID,
        role="measure",
        attempt=None,
        deleting=False,
        outcome=PodOutcome(phase, reason, message),
    )


def measured(*items: tuple[str, str, int]) -> str:
    """The measuring pod's termination message for (channel, mode, bytes) items."""
    return json.dumps([{"channel": c, "mode": m, "measured_bytes": b, "files_counted": 1} for c, m, b in items])


def finished_status(reason: str = "Succeeded", **extra: Any) -> dict[str, Any]:
    state = "True" if reason == "Succeeded" else "False"
    return {
        "conditions": [{"type": "Succeeded", "status": state, "reason": reason, "message": "m"}],
        "reason": reason,
        "phase": "Succeeded" if state == "True" else "Failed",
        "observedGeneration": 1,
        "podName": task_pod_name(NAME, 1),
        "attempts": 1,
        "startTime": "2026-01-01T11:59:10Z",
        "completionTime": "2026-01-01T11:59:50Z",
        **extra,
    }


def resolving_status(message: str) -> dict[str, Any]:
    """A run that has not started: its image could not be read yet, for ``message``."""
    return {
        "conditions": [{"type": "Succeeded", "status": "Unknown", "reason": "ResolvingImage", "message": message}],
        "reason": "ResolvingImage",
        "phase": "Pending",
        "observedGeneration": 1,
    }


def running_status(**extra: Any) -> dict[str, Any]:
    return {
        "conditions": [{"type": "Succeeded", "status": "Unknown", "reason": "Pending", "message": "pod created"}],
        "reason": "Pending",
        "phase": "Pending",
        "observedGeneration": 1,
        "podName": task_pod_name(NAME, 1),
        "attempts": 1,
        "startTime": "2026-01-01T11:59:10Z",
        "memory": {"request": "16Mi", "limit": "64Mi"},
        **extra,
    }
