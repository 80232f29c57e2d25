"""task.json → a TaskRun, for ``task-api run --mode k8s``. Pure.

The same file that runs with Docker runs on Kubernetes, as far as Kubernetes can honour it: channels bound to
PersistentVolumeClaims or NFS exports (with ``subPath`` and ``readOnly``) or to host paths (which the operator
refuses unless its administrator allows the root), env, command and resources overrides, pull secrets and policy,
labels and annotations. What a TaskRun cannot express is an error that says so, before anything is created.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from task_api.core.names import unique_name
from task_api.spec.crd.common import API_VERSION
from task_api.spec.errors import Problem, Severity, SpecError
from task_api.spec.task import ChannelBinding, K8sConfig, Task


def taskrun_name(task_name: str, *, unique: str) -> str:
    """Pure: a DNS-1123 name from the task's name plus a unique suffix (≤ 63 characters)."""
    return unique_name(task_name, unique=unique, fallback="task")


def _binding(side: str, index: int, binding: ChannelBinding, problems: list[Problem]) -> dict[str, Any] | None:
    where = f"{side}[{index}].volume_source"
    source = binding.volume_source
    if binding.scale_rule is not None:
        problems.append(
            Problem(
                f"{side}[{index}].scale_rule",
                "a scale rule in a task binding is not applied on Kubernetes: the template's rules are",
                severity=Severity.WARNING,
            )
        )
    if source.persistentVolumeClaim is not None or source.nfs is not None:
        if source.persistentVolumeClaim is not None:
            kind = "persistentVolumeClaim"
            bound: dict[str, Any] = {"claimName": source.persistentVolumeClaim.claimName}
            read_only = source.persistentVolumeClaim.readOnly
        else:
            assert source.nfs is not None
            kind = "nfs"
            bound = {"server": source.nfs.server, "path": source.nfs.path}
            read_only = source.nfs.readOnly
        if source.subPath:
            bound["subPath"] = source.subPath
        if read_only:
            if side == "outputs":
                problems.append(
                    Problem(
                        f"{where}.{kind}.readOnly",
                        "an output channel is written to: its volume cannot be bound readOnly",
                        given="true",
                        allowed="false, or bind the channel as an input",
                    )
                )
                return None
            bound["readOnly"] = True
        return {"name": binding.name, kind: bound}
    host = source.host_path or ""  # the only kind left
    if not host.startswith("/"):
        problems.append(
            Problem(
                f"{where}.host_path",
                "a host path on Kubernetes names a directory on the node and must be absolute",
                given=repr(host),
                allowed="an absolute path under a root the operator allows, or a persistentVolumeClaim",
            )
        )
        return None
    return {"name": binding.name, "hostPath": {"path": host}}


def taskrun_from_task(
    task: Task,
    *,
    name: str,
    namespace: str,
    source: str,
    credentials_secret: str | None = None,
) -> tuple[dict[str, Any], list[Problem]]:
    """Pure: the TaskRun for ``task`` and the warnings; raises :class:`SpecError` for what cannot run there."""
    problems: list[Problem] = []
    if not isinstance(task.taskTemplate, str):
        problems.append(
            Problem(
                "taskTemplate",
                "an inline template cannot run on Kubernetes: the operator reads templates from the image's "
                "/processing-container.json",
                allowed="a template identifier",
            )
        )
    spec: dict[str, Any] = {"image": task.image, "taskTemplate": task.template_identifier}
    inputs = [_binding("inputs", i, b, problems) for i, b in enumerate(task.inputs)]
    outputs = [_binding("outputs", i, b, problems) for i, b in enumerate(task.outputs)]
    if any(b is not None for b in inputs):
        spec["inputs"] = [b for b in inputs if b is not None]
    if any(b is not None for b in outputs):
        spec["outputs"] = [b for b in outputs if b is not None]
    if task.env:
        spec["env"] = [{"name": e.name, "value": e.value} for e in task.env]
    if task.command is not None:
        spec["command"] = list(task.command)
    if task.resources is not None:
        resources = {k: dict(v) for k, v in (("requests", task.resources.requests), ("limits", task.resources.limits))}
        spec["resources"] = {k: v for k, v in resources.items() if v}
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    config = task.config
    if isinstance(config, K8sConfig):
        if config.imagePullSecrets:
            spec["imagePullSecrets"] = [{"name": s} for s in config.imagePullSecrets]
        if config.imagePullPolicy:
            spec["imagePullPolicy"] = config.imagePullPolicy
        if config.labels:
            metadata["labels"] = dict(config.labels)
        if config.annotations:
            metadata["annotations"] = dict(config.annotations)
    if credentials_secret is not None:
        spec["registryCredentialsSecret"] = {"name": credentials_secret}
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        raise SpecError(source, problems)
    return {"apiVersion": API_VERSION, "kind": "TaskRun", "metadata": metadata, "spec": spec}, problems


def host_paths(taskrun: Mapping[str, Any]) -> Sequence[str]:
    """Pure: the host paths a TaskRun binds (the CLI checks them against the operator's allowed roots)."""
    spec = taskrun.get("spec") or {}
    return [b["hostPath"]["path"] for side in ("inputs", "outputs") for b in spec.get(side) or [] if b.get("hostPath")]
