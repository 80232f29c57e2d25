"""Build the Pods the operator creates, as plain dictionaries. Pure: no I/O, deterministic for the same inputs.

Following Tekton's split (resolve → build → create), the controller first resolves everything a Pod needs into a
:class:`PodPlan`, then this module turns the plan into a manifest. Golden tests compare whole manifests.

Every pod is locked down the same way: no privilege escalation, every capability dropped, the RuntimeDefault seccomp
profile, no service-account token and no service links, ``restartPolicy: Never`` (retries are new attempts, made
by the operator, each with its own pod), and input channels mounted read-only. Host paths are only ever read-only
inputs: an existing directory (``type: Directory``), mounted recursively read-only where the node can.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from task_api.core.names import MAX_NAME, bounded_name, label_value, slug
from task_api.spec.crd.common import API_VERSION
from task_api.spec.crd.keys import (
    ANNOTATION_TEMPLATE,
    LABEL_ATTEMPT,
    LABEL_MANAGED_BY,
    LABEL_ROLE,
    LABEL_TASKRUN,
    LABEL_TASKRUN_UID,
    MANAGER,
    ROLE_MEASURE,
    ROLE_TASK,
)

MAIN_CONTAINER = "task"
MEASURE_CONTAINER = "measure"
MEASURE_MOUNT_ROOT = "/measure"

#: A pure function that takes a built pod and returns it changed (e.g. the legacy staging step); the builder
#: applies them in order, so what an image kind adds stays out of the common builder.
PodTransformer = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Owner:
    """The TaskRun a pod belongs to (for names, labels and the ownerReference)."""

    name: str
    namespace: str
    uid: str
    api_version: str = API_VERSION
    kind: str = "TaskRun"

    def reference(self, *, controller: bool = True) -> dict[str, Any]:
        """Pure: an ownerReference to the TaskRun, so the object goes when the run goes. ``controller``: the run
        also manages it (its pods, the operator's Secrets), not only owns it (a client's credentials Secret)."""
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": controller,
            "blockOwnerDeletion": controller,
        }


@dataclass(frozen=True)
class ChannelVolume:
    """Where one channel's data lives, in Kubernetes terms: a PVC, an NFS export (each + subPath) or a host directory.

    ``read_only``: the volume itself is read-only whatever its channels do (a claim or export bound ``readOnly``).
    """

    claim_name: str | None = None
    sub_path: str | None = None
    host_path: str | None = None
    nfs_server: str | None = None
    nfs_path: str | None = None
    read_only: bool = False

    def volume_source(self, *, read_only: bool) -> dict[str, Any]:
        """Pure: the pod volume source for this location."""
        read_only = read_only or self.read_only
        if self.claim_name is not None:
            return {"persistentVolumeClaim": {"claimName": self.claim_name, "readOnly": read_only}}
        if self.nfs_server is not None and self.nfs_path is not None:
            return {"nfs": {"server": self.nfs_server, "path": self.nfs_path, "readOnly": read_only}}
        if self.host_path is None:
            raise ValueError("a channel volume needs a claim, an NFS export or a host path")
        if not read_only:
            # A writable node directory lets one run plant links that lead the next out of its root
            # (task_api/core/host_paths.py): the reconciler refuses such runs before a pod is built.
            raise ValueError("host paths are read-only inputs; outputs go to claims")
        # An existing directory: nothing is created on the node.
        return {"hostPath": {"path": self.host_path, "type": "Directory"}}


@dataclass(frozen=True)
class ChannelMount:
    """One channel of the task: its name, where the container sees it, and its volume."""

    name: str
    mounted_path: str
    volume: ChannelVolume
    read_only: bool


@dataclass(frozen=True)
class RunAs:
    """The non-root identity a task container runs with: its uid and gid, and the pod's ``fsGroup`` (volumes
    that support ownership management are made group-writable for it, so outputs on claims stay writable)."""

    user: int
    group: int
    fs_group: int


@dataclass(frozen=True)
class SecretKey:
    """A key of a Secret in the pod's namespace, which the kubelet reads into an env var (the operator never does)."""

    name: str
    key: str


@dataclass(frozen=True)
class PodPlan:
    """Everything the task pod of one attempt needs, resolved."""

    owner: Owner
    attempt: int
    image: str
    command: Sequence[str] | None
    env: Sequence[tuple[str, str]]
    mounts: Sequence[ChannelMount]
    requests: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, str] = field(default_factory=dict)
    image_pull_secrets: Sequence[str] = ()
    active_deadline_seconds: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    template: str = ""
    image_pull_policy: str = "IfNotPresent"
    #: None only where the administrator allows root and the run asks for it: the image's own user then.
    run_as: RunAs | None = None
    #: Variables whose value the pod reads from a Secret (``valueFrom.secretKeyRef``) instead of ``env``'s.
    secret_env: Mapping[str, SecretKey] = field(default_factory=dict)


def task_pod_name(taskrun: str, attempt: int) -> str:
    """Pure: the deterministic pod name of an attempt (a restart of the operator finds it instead of adding one)."""
    return bounded_name(taskrun, f"a{attempt}")


def measure_pod_name(taskrun: str) -> str:
    """Pure: the deterministic name of the measuring pod."""
    return bounded_name(taskrun, "measure")


def _base_labels(owner: Owner, role: str) -> dict[str, str]:
    return {
        LABEL_MANAGED_BY: MANAGER,
        LABEL_TASKRUN: label_value(owner.name),
        LABEL_TASKRUN_UID: owner.uid,
        LABEL_ROLE: role,
    }


def restricted_security_context(*, run_as_user: int | None = None, run_as_group: int | None = None) -> dict[str, Any]:
    """Pure: the security context of every container the operator creates (Pod Security "restricted" apart from
    the user): no privilege escalation, every capability dropped, RuntimeDefault seccomp."""
    context: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if run_as_user is not None:
        context["runAsUser"] = run_as_user
    if run_as_group is not None:
        context["runAsGroup"] = run_as_group
    return context


def _env(env: Sequence[tuple[str, str]], secret_env: Mapping[str, SecretKey]) -> list[dict[str, Any]]:
    """Pure: the container's env in ``env``'s order; a variable taken from a Secret names its key, never a value."""
    entries: list[dict[str, Any]] = []
    for name, value in env:
        ref = secret_env.get(name)
        if ref is None:
            entries.append({"name": name, "value": value})
        else:
            entries.append({"name": name, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}})
    named = {name for name, _ in env}
    entries += [
        {"name": n, "valueFrom": {"secretKeyRef": {"name": r.name, "key": r.key}}}
        for n, r in secret_env.items()
        if n not in named
    ]
    return entries


def _task_security_context(run_as: RunAs | None) -> dict[str, Any]:
    """Pure: the task container's security context — non-root with ``run_as``'s ids (set on the container, not the
    pod, so a staging init container keeps its own), else the image's user (root allowed)."""
    if run_as is None:
        return restricted_security_context()
    return {
        **restricted_security_context(run_as_user=run_as.user, run_as_group=run_as.group),
        "runAsNonRoot": True,
    }


def _pod_shell(*, name: str, owner: Owner, labels: Mapping[str, str], annotations: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": owner.namespace,
            "labels": dict(labels),
            "annotations": dict(annotations),
            "ownerReferences": [owner.reference()],
        },
    }


def _common_pod_spec() -> dict[str, Any]:
    return {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
    }


def _volume_key(volume: ChannelVolume) -> tuple[str, str]:
    if volume.claim_name is not None:
        return ("pvc", volume.claim_name)
    if volume.nfs_server is not None:
        return ("nfs", f"{volume.nfs_server}:{volume.nfs_path}")
    return ("host", volume.host_path or "")


def _dns_part(text: str) -> str:
    """A readable piece of a volume name: ``[a-z0-9-]`` only (``str.isalnum`` would let ``ü`` or ``٣`` through, and
    the API server refuses such a name)."""
    return slug(text) or "x"


def shared_volumes(mounts: Sequence[ChannelMount]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pure: one pod volume per distinct claim, NFS export or host directory, and one volumeMount per channel.

    Why shared: the kubelet hangs a pod in ContainerCreating when two of its volumes name the same claim, and
    chained runs often read one folder of the workspace claim while writing another. Read-only-ness is then
    enforced per mount (a read-only bind mount); the volume itself is read-only only if every mount of it is.
    """
    keys: dict[tuple[str, str], str] = {}
    read_only: dict[tuple[str, str], bool] = {}
    sources: dict[tuple[str, str], ChannelVolume] = {}
    volume_mounts: list[dict[str, Any]] = []
    for channel in mounts:
        key = _volume_key(channel.volume)
        if key not in keys:
            keys[key] = f"v{len(keys)}-{_dns_part(key[1].rsplit('/', 1)[-1])}"[:MAX_NAME].rstrip("-")
            sources[key] = channel.volume
            read_only[key] = True
        mount_read_only = channel.read_only or channel.volume.read_only
        read_only[key] = read_only[key] and mount_read_only
        mount: dict[str, Any] = {"name": keys[key], "mountPath": channel.mounted_path, "readOnly": mount_read_only}
        if channel.volume.host_path is not None and mount_read_only:
            # Mounts below the node directory (an administrator's bind mount) are read-only too where the kubelet
            # and runtime can make them so (Linux 5.12+, a runtime with recursive read-only mounts).
            mount["recursiveReadOnly"] = "IfPossible"
        if channel.volume.sub_path:
            mount["subPath"] = channel.volume.sub_path
        volume_mounts.append(mount)
    volumes = [{"name": name, **sources[key].volume_source(read_only=read_only[key])} for key, name in keys.items()]
    return volumes, volume_mounts


def build_task_pod(plan: PodPlan, *, transformers: Sequence[PodTransformer] = ()) -> dict[str, Any]:
    """Pure: the pod of one attempt of a TaskRun, then each of ``transformers`` applied in order."""
    volumes, mounts = shared_volumes(plan.mounts)
    container: dict[str, Any] = {
        "name": MAIN_CONTAINER,
        "image": plan.image,
        "imagePullPolicy": plan.image_pull_policy,
        "env": _env(plan.env, plan.secret_env),
        "volumeMounts": mounts,
        "securityContext": _task_security_context(plan.run_as),
        # A short reason for the user when the container fails: the tail of its log, as Kubernetes can do.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if plan.command:
        container["command"] = list(plan.command)
    resources: dict[str, Any] = {}
    if plan.requests:
        resources["requests"] = dict(plan.requests)
    if plan.limits:
        resources["limits"] = dict(plan.limits)
    if resources:
        container["resources"] = resources
    labels = {**plan.labels, **_base_labels(plan.owner, ROLE_TASK), LABEL_ATTEMPT: str(plan.attempt)}
    annotations = {**plan.annotations, ANNOTATION_TEMPLATE: plan.template}
    pod = _pod_shell(
        name=task_pod_name(plan.owner.name, plan.attempt),
        owner=plan.owner,
        labels=labels,
        annotations=annotations,
    )
    spec = _common_pod_spec()
    if plan.run_as is not None:
        # Only where ownership differs: a large claim is not walked again by every pod that mounts it.
        spec["securityContext"].update({"fsGroup": plan.run_as.fs_group, "fsGroupChangePolicy": "OnRootMismatch"})
    spec["containers"] = [container]
    spec["volumes"] = volumes
    if plan.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in plan.image_pull_secrets]
    if plan.active_deadline_seconds is not None:
        spec["activeDeadlineSeconds"] = plan.active_deadline_seconds
    pod["spec"] = spec
    for transform in transformers:
        pod = transform(pod)
    return pod


@dataclass(frozen=True)
class MeasureItem:
    """One scale rule to measure: the channel, its volume and the rule (as the JSON the measuring code reads)."""

    channel: str
    volume: ChannelVolume
    rule: Mapping[str, Any]


def build_measure_pod(
    *,
    owner: Owner,
    image: str,
    items: Sequence[MeasureItem],
    image_pull_secrets: Sequence[str] = (),
    deadline_seconds: int = 600,
) -> dict[str, Any]:
    """Pure: a short-lived pod that mounts the input volumes read-only and measures them with the operator image.

    It reports through its termination message (``/dev/termination-log``), so the operator needs no ``pods/log``
    right to read the result.
    """
    channel_mounts = [
        ChannelMount(item.channel, f"{MEASURE_MOUNT_ROOT}/{index}", item.volume, read_only=True)
        for index, item in enumerate(items)
    ]
    volumes, mounts = shared_volumes(channel_mounts)
    request = [
        {"channel": item.channel, "path": mount.mounted_path, "rule": dict(item.rule)}
        for item, mount in zip(items, channel_mounts, strict=True)
    ]
    container = {
        "name": MEASURE_CONTAINER,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", "-m", "task_api.measure", json.dumps(request, separators=(",", ":"))],
        "volumeMounts": mounts,
        "securityContext": {
            **restricted_security_context(run_as_user=65532),
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
        },
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "terminationMessagePolicy": "File",
    }
    labels = _base_labels(owner, ROLE_MEASURE)
    pod = _pod_shell(name=measure_pod_name(owner.name), owner=owner, labels=labels, annotations={})
    spec = _common_pod_spec()
    spec["containers"] = [container]
    spec["volumes"] = volumes
    spec["activeDeadlineSeconds"] = deadline_seconds
    if image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in image_pull_secrets]
    pod["spec"] = spec
    return pod
