"""Where a TaskRun's channels live: bindings to volumes, the host-path policy, the workspace, recorded locations.
Pure.

A binding names storage the Kubernetes way (a claim and a subPath, or a host path); the pod builder wants a
:class:`~task_api.core.pod.ChannelVolume`; the status records an :class:`~task_api.spec.crd.OutputLocation` that
downstream runs and Airflow read back. These functions convert between the three.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from task_api.core.host_paths import HostPathRefused, check_host_path
from task_api.core.pod import ChannelVolume
from task_api.spec.crd.keys import NOT_PROPAGATED_ANNOTATION_PREFIXES
from task_api.spec.crd.taskrun import InputBinding, OutputBinding, OutputLocation, TaskRunSpec
from task_api.spec.errors import Problem

__all__ = [
    "WORKSPACE_PREFIX",
    "host_path_allowed",
    "host_path_problems",
    "location_of_volume",
    "propagated_metadata",
    "volume_of_binding",
    "volume_of_location",
    "workspace_volume",
]

#: Unbound outputs go to ``<workspace claim>/task-api/<run>-<uid8>/<channel>``.
WORKSPACE_PREFIX = "task-api"


def host_path_allowed(path: str, roots: Sequence[str], *, read_only: bool = True) -> bool:
    """Pure: whether a TaskRun may mount ``path`` (:func:`~task_api.core.host_paths.check_host_path`'s verdict)."""
    try:
        check_host_path(path, roots=roots, read_only=read_only)
    except HostPathRefused:
        return False
    return True


def host_path_problems(spec: TaskRunSpec, roots: Sequence[str]) -> list[Problem]:
    """Pure: every hostPath binding checked by the host path policy (:mod:`task_api.core.host_paths`): inputs must
    be absolute, normal, printable paths under an allowed root (there are none unless the admin adds some); outputs
    are never host paths. Each refusal names the field (``spec.outputs[0].hostPath.path``)."""
    problems = []
    sides: tuple[tuple[str, bool, Sequence[InputBinding | OutputBinding]], ...] = (
        ("inputs", True, spec.inputs),
        ("outputs", False, spec.outputs),
    )
    for side, read_only, bindings in sides:
        for index, binding in enumerate(bindings):
            if binding.host_path is None:
                continue
            try:
                check_host_path(binding.host_path.path, roots=roots, read_only=read_only)
            except HostPathRefused as refused:
                problems.append(
                    Problem(
                        path=f"spec.{side}[{index}].hostPath.path",
                        message=refused.message,
                        given=refused.given,
                        allowed=refused.allowed,
                    )
                )
    return problems


def workspace_volume(*, claim: str, taskrun: str, uid: str, channel: str) -> ChannelVolume:
    """Pure: where an unbound output goes — the workspace claim, under a per-run, per-channel subPath.

    The uid keeps a re-created TaskRun of the same name from writing into the old run's folder.
    """
    return ChannelVolume(claim_name=claim, sub_path=f"{WORKSPACE_PREFIX}/{taskrun}-{uid[:8]}/{channel}")


def volume_of_binding(binding: InputBinding | OutputBinding) -> ChannelVolume | None:
    """Pure: a binding's own volume (None for ``fromTaskRun``, which names another run's output)."""
    if binding.persistent_volume_claim is not None:
        pvc = binding.persistent_volume_claim
        return ChannelVolume(claim_name=pvc.claim_name, sub_path=pvc.sub_path or None, read_only=bool(pvc.read_only))
    if binding.host_path is not None:
        return ChannelVolume(host_path=binding.host_path.path)
    if binding.nfs is not None:
        nfs = binding.nfs
        return ChannelVolume(
            nfs_server=nfs.server, nfs_path=nfs.path, sub_path=nfs.sub_path or None, read_only=bool(nfs.read_only)
        )
    return None


def volume_of_location(location: OutputLocation) -> ChannelVolume | None:
    """Pure: a recorded location (``status.outputs[]``/``status.inputs[]``) as a volume."""
    if location.claim_name:
        return ChannelVolume(claim_name=location.claim_name, sub_path=location.sub_path or None)
    if location.host_path:
        return ChannelVolume(host_path=location.host_path)
    if location.nfs_server and location.nfs_path:
        return ChannelVolume(nfs_server=location.nfs_server, nfs_path=location.nfs_path, sub_path=location.sub_path)
    return None


def location_of_volume(name: str, volume: ChannelVolume) -> OutputLocation:
    """Pure: the recorded location of a channel's volume."""
    return OutputLocation(
        name=name,
        claim_name=volume.claim_name,
        sub_path=volume.sub_path if volume.claim_name or volume.nfs_server else None,
        host_path=volume.host_path,
        nfs_server=volume.nfs_server,
        nfs_path=volume.nfs_path,
    )


def propagated_metadata(
    labels: Mapping[str, str], annotations: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Pure: the TaskRun's labels and annotations its pods carry too (as Tekton does), so network policies,
    cost reports and log collectors that select pods by label see the run's (Kaapana's DAGs rely on it).
    The operator's own labels are set after these and win."""
    kept = {k: v for k, v in annotations.items() if not k.startswith(NOT_PROPAGATED_ANNOTATION_PREFIXES)}
    return dict(labels), kept
