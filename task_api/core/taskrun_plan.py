"""From a TaskRun to the pieces of its pod: bindings, host-path policy, output locations, memory. Pure.

The operator turns a TaskRun into the same ``task.json`` shape the CLI reads (:func:`task_document`), so one
merge function (:func:`task_api.core.merge.resolve`) checks both — every rule about channels, env choices and
adjustability is enforced in one place.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from task_api.core.pod import ChannelVolume

WORKSPACE_PREFIX = "task-api"


@dataclass(frozen=True)
class PlanProblem:
    """A TaskRun problem found before merging (path in the TaskRun, message)."""

    path: str
    message: str


def host_path_allowed(path: str, roots: Sequence[str]) -> bool:
    """Pure: whether ``path`` (absolute) lies under one of the administrator's allowed roots."""
    normal = posixpath.normpath(path)
    if normal != path.rstrip("/") or not normal.startswith("/"):
        return False
    return any(normal == root or normal.startswith(root.rstrip("/") + "/") for root in roots)


def workspace_volume(*, claim: str, taskrun: str, uid: str, channel: str) -> ChannelVolume:
    """Pure: where an unbound output goes — the workspace claim, under a per-run, per-channel subPath.

    The uid keeps a re-created TaskRun of the same name from writing into the old run's folder.
    """
    return ChannelVolume(claim_name=claim, sub_path=f"{WORKSPACE_PREFIX}/{taskrun}-{uid[:8]}/{channel}")


def volume_of_binding(binding: Mapping[str, Any]) -> ChannelVolume | None:
    """Pure: a TaskRun input/output binding's own volume (None for ``fromTaskRun``)."""
    pvc = binding.get("persistentVolumeClaim")
    if pvc:
        return ChannelVolume(claim_name=pvc["claimName"], sub_path=pvc.get("subPath") or None)
    host = binding.get("hostPath")
    if host:
        return ChannelVolume(host_path=host["path"])
    return None


def volume_of_location(location: Mapping[str, Any]) -> ChannelVolume | None:
    """Pure: an upstream TaskRun's ``status.outputs[]`` entry as a volume."""
    if location.get("claimName"):
        return ChannelVolume(claim_name=location["claimName"], sub_path=location.get("subPath") or None)
    if location.get("hostPath"):
        return ChannelVolume(host_path=location["hostPath"])
    return None


def location_of_volume(name: str, volume: ChannelVolume) -> dict[str, Any]:
    """Pure: the ``status.outputs[]`` entry for an output channel."""
    out: dict[str, Any] = {"name": name}
    if volume.claim_name:
        out["claimName"] = volume.claim_name
        if volume.sub_path:
            out["subPath"] = volume.sub_path
    if volume.host_path:
        out["hostPath"] = volume.host_path
    return out


def volume_source_document(volume: ChannelVolume) -> dict[str, Any]:
    """Pure: a volume in task.json's ``volume_source`` form."""
    if volume.claim_name:
        doc: dict[str, Any] = {"persistentVolumeClaim": {"claimName": volume.claim_name}}
        if volume.sub_path:
            doc["subPath"] = volume.sub_path
        return doc
    return {"host_path": volume.host_path}


def check_host_paths(spec: Mapping[str, Any], roots: Sequence[str]) -> list[PlanProblem]:
    """Pure: every hostPath binding must lie under an allowed root (there are none unless the admin adds some)."""
    problems = []
    for side in ("inputs", "outputs"):
        for index, binding in enumerate(spec.get(side) or []):
            host = (binding.get("hostPath") or {}).get("path")
            if host is not None and not host_path_allowed(host, roots):
                allowed = ", ".join(roots) if roots else "none (the operator allows no host paths)"
                problems.append(
                    PlanProblem(
                        f"spec.{side}[{index}].hostPath.path",
                        f"host path {host!r} is not under an allowed root; allowed roots: {allowed}",
                    )
                )
    return problems


def task_document(
    *,
    name: str,
    image: str,
    spec: Mapping[str, Any],
    input_volumes: Mapping[str, ChannelVolume],
    output_volumes: Mapping[str, ChannelVolume],
) -> dict[str, Any]:
    """Pure: the task.json document equivalent to a TaskRun whose channels are resolved to volumes."""
    doc: dict[str, Any] = {
        "name": name,
        "image": image,
        "taskTemplate": spec["taskTemplate"],
        "inputs": [{"name": n, "volume_source": volume_source_document(v)} for n, v in input_volumes.items()],
        "outputs": [{"name": n, "volume_source": volume_source_document(v)} for n, v in output_volumes.items()],
        "env": [{"name": e["name"], "value": e["value"]} for e in spec.get("env") or []],
    }
    if spec.get("command") is not None:
        doc["command"] = list(spec["command"])
    resources = spec.get("resources")
    if resources:
        doc["resources"] = {k: dict(v) for k, v in resources.items() if v}
    return doc


#: Annotations never copied from a TaskRun to its pods: kubectl's bookkeeping, and the operator's own keys.
_NOT_PROPAGATED_PREFIXES = ("kubectl.kubernetes.io/", "task-api.io/")


def propagated_metadata(
    labels: Mapping[str, str] | None, annotations: Mapping[str, str] | None
) -> tuple[dict[str, str], dict[str, str]]:
    """Pure: the TaskRun's labels and annotations its pods carry too (as Tekton does), so network policies,
    cost reports and log collectors that select pods by label see the run's (Kaapana's DAGs rely on it).
    The operator's own labels are set after these and win."""
    kept = {k: v for k, v in (annotations or {}).items() if not k.startswith(_NOT_PROPAGATED_PREFIXES)}
    return dict(labels or {}), kept


def grown_memory(limit_bytes: int, *, factor: float, oom_kills: int, bound: int) -> int:
    """Pure: the memory after ``oom_kills`` OOM kills, multiplied by ``factor`` each time, capped at ``bound``."""
    grown = int(limit_bytes * (factor**oom_kills))
    # Round up to whole MiB, so the quantity reads well in kubectl.
    mib = 1024 * 1024
    grown = -(-grown // mib) * mib
    return max(limit_bytes, min(grown, bound))
