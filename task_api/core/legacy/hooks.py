"""The two hooks that run a legacy image: the Docker runner's container config and the operator's pod
transformer. Pure."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from task_api.core.legacy.layout import (
    SCRATCH_VOLUME,
    STAGE_CONTAINER,
    LegacyLayout,
    layout_of,
    legacy_env,
)
from task_api.core.pod import PodTransformer, restricted_security_context
from task_api.spec.crd.keys import ANNOTATION_LEGACY


def adapt_container_config(
    config: Mapping[str, Any], *, layout: LegacyLayout, workflow_host_dir: str
) -> dict[str, Any]:
    """The Docker runner's create body with the staged scratch directory bind-mounted at WORKFLOW_DIR (pure).

    The legacy env vars are set from the layout (they already are, non-adjustable, in a migrated template; this
    keeps them consistent even for a hand-edited one).
    """
    adapted = copy.deepcopy(dict(config))
    host = adapted.setdefault("HostConfig", {})
    host.setdefault("Mounts", []).append(
        {"Type": "bind", "Source": workflow_host_dir, "Target": layout.workflow_dir, "ReadOnly": False}
    )
    adapted["Env"] = _with_env([str(e) for e in adapted.get("Env") or []], legacy_env(layout))
    adapted.setdefault("Labels", {})["io.task-api.legacy-workflow-dir"] = workflow_host_dir
    return adapted


def _with_env(entries: list[str], values: Mapping[str, str]) -> list[str]:
    kept = [e for e in entries if e.split("=", 1)[0] not in values]
    return kept + [f"{name}={value}" for name, value in values.items()]


def adapt_task_pod(
    manifest: Mapping[str, Any],
    *,
    stage_image: str,
    stage_pull_secrets: Sequence[str] = (),
) -> dict[str, Any]:
    """The operator's hook: a task pod of a legacy template gets a staging init container (pure).

    Returns ``manifest`` unchanged (the same object) when its task container carries no :data:`MARKER_ENV`.
    Otherwise adds an ``emptyDir`` scratch volume mounted at WORKFLOW_DIR in both containers and an init container
    running ``python3 -m task_api.legacy.stage`` from ``stage_image`` (the operator's image: the legacy image may
    have no shell or ``cp``) with the task's env and mounts. The init container runs as the task container's
    non-root user when it has one (the pod's ``fsGroup`` makes claims writable for it); only a run allowed to run
    as root gets a root init container (every capability dropped), which can write into output directories the
    kubelet created as root. What it creates it makes writable for any user, since the legacy image may run as
    anyone.
    Call :func:`check_task` first: a malformed marker raises :class:`LegacyError` here too.
    """
    spec = manifest.get("spec") or {}
    containers = spec.get("containers") or []
    if not containers:
        return dict(manifest)
    main = containers[0]
    env = {e["name"]: e.get("value", "") for e in main.get("env") or [] if "name" in e}
    layout = layout_of(env, source=str((manifest.get("metadata") or {}).get("name", "pod")))
    if layout is None:
        return manifest  # type: ignore[return-value]
    pod = copy.deepcopy(dict(manifest))
    pod_spec = pod["spec"]
    task = pod_spec["containers"][0]
    contract = legacy_env(layout)
    # The contract's values win, in place; every other entry stays as it was (one read from a Secret keeps its
    # valueFrom).
    entries = [
        {"name": e["name"], "value": contract[e["name"]]} if e.get("name") in contract else dict(e)
        for e in main.get("env") or []
    ]
    seen = {e.get("name") for e in entries}
    task["env"] = [*entries, *({"name": n, "value": v} for n, v in contract.items() if n not in seen)]
    scratch_mount = {"name": SCRATCH_VOLUME, "mountPath": layout.workflow_dir}
    task["volumeMounts"] = [*task.get("volumeMounts", []), scratch_mount]
    pod_spec["volumes"] = [*pod_spec.get("volumes", []), {"name": SCRATCH_VOLUME, "emptyDir": {}}]
    stage = {
        "name": STAGE_CONTAINER,
        "image": stage_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", "-m", "task_api.legacy.stage"],
        "env": copy.deepcopy(task["env"]),
        "volumeMounts": copy.deepcopy(task["volumeMounts"]),
        "securityContext": _stage_security_context(task.get("securityContext") or {}),
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    pod_spec["initContainers"] = [*pod_spec.get("initContainers", []), stage]
    if stage_pull_secrets:
        have = [s["name"] for s in pod_spec.get("imagePullSecrets", [])]
        names = list(dict.fromkeys([*have, *stage_pull_secrets]))
        pod_spec["imagePullSecrets"] = [{"name": n} for n in names]
    pod.setdefault("metadata", {}).setdefault("annotations", {})[ANNOTATION_LEGACY] = layout.mode.value
    return pod


def _stage_security_context(task_context: Mapping[str, Any]) -> dict[str, Any]:
    """Pure: the staging container runs as the task's non-root user, or as root when the task may (see above)."""
    if task_context.get("runAsNonRoot"):
        return {
            **restricted_security_context(
                run_as_user=task_context.get("runAsUser"), run_as_group=task_context.get("runAsGroup")
            ),
            "runAsNonRoot": True,
        }
    return restricted_security_context(run_as_user=0, run_as_group=0)


def stage_transformer(*, stage_image: str, stage_pull_secrets: Sequence[str] = ()) -> PodTransformer:
    """Pure: :func:`adapt_task_pod` as a transformer for :func:`task_api.core.pod.build_task_pod`."""

    def transform(pod: dict[str, Any]) -> dict[str, Any]:
        return dict(adapt_task_pod(pod, stage_image=stage_image, stage_pull_secrets=stage_pull_secrets))

    return transform
