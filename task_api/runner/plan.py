"""Turn a resolved task and its computed resources into the Docker engine's container configuration.

The mapping mirrors what the Kubernetes operator builds for a pod, so a task behaves the same in both places:

* ``command`` replaces the image's entrypoint (Kubernetes' ``command``), and the image's ``CMD`` is then not
  used; no command, or an empty one (``[]``, which a pod treats as none), runs the image's own entrypoint and command;
* inputs are bind mounts, read-only; outputs read-write. Bind *mounts* (not ``Binds``) are used because the
  engine refuses a missing source instead of silently creating it as root. A channel bound to an NFS export is a
  volume of the engine's ``local`` driver that mounts it (as a pod's ``nfs`` volume does on its node);
* ``limits.memory`` is the memory limit (swap disabled: ``MemorySwap`` = limit, as in a pod),
  ``requests.memory`` the soft reservation; ``limits.cpu`` caps CPU time (``NanoCpus``), ``requests.cpu``
  sets the relative weight (``CpuShares``, 1024 per CPU as the kubelet computes it);
* ``nvidia.com/gpu`` becomes a device request for that many GPUs; other extended resources and
  ``ephemeral-storage`` have no Docker equivalent and are reported as notes;
* the container runs as ``user`` (by default the invoking user's ``uid:gid``, so outputs are not owned by root;
  when that is root, ``65534:65534``: root only when asked), with **no capabilities** (``CapDrop: ALL``) but the
  ones the task or ``--cap-add`` names, and ``no-new-privileges`` (setuid programs gain nothing), as the
  operator's pods run;
* labels: the task's own, plus ``io.task-api.*`` labels naming the task and the template.

Pure: builds dictionaries, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

from task_api.spec.quantity import parse_quantity
from task_api.spec.resolved import ComputedResources, ResolvedChannel, ResolvedTask

__all__ = [
    "GPU_RESOURCE",
    "LABEL_MANAGED",
    "LABEL_TASK",
    "LABEL_TEMPLATE",
    "UNPRIVILEGED_USER",
    "ContainerPlan",
    "container_config",
    "may_access",
    "numeric_user",
]

GPU_RESOURCE = "nvidia.com/gpu"
LABEL_MANAGED = "io.task-api.managed-by"
LABEL_TASK = "io.task-api.task"
LABEL_TEMPLATE = "io.task-api.template"
MANAGED_BY = "task-api"
_IGNORED = ("ephemeral-storage",)
#: Who a container runs as when the invoking user is root and nobody asked for root: nobody:nogroup.
UNPRIVILEGED_USER = "65534:65534"


@dataclass(frozen=True)
class ContainerPlan:
    """The engine's create body plus notes on settings that have no Docker equivalent."""

    config: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _whole_bytes(text: str) -> int:
    return int(parse_quantity(text).to_integral_value(rounding=ROUND_CEILING))


def _cpu_resources(requests: Mapping[str, str], limits: Mapping[str, str]) -> dict[str, int]:
    host: dict[str, int] = {}
    if "cpu" in limits:
        host["NanoCpus"] = int((parse_quantity(limits["cpu"]) * Decimal(10**9)).to_integral_value(ROUND_CEILING))
    if "cpu" in requests:
        # The kubelet's formula: shares = milliCPU * 1024 / 1000, at least 2.
        milli = parse_quantity(requests["cpu"]) * 1000
        host["CpuShares"] = max(2, int(milli * 1024 / 1000))
    return host


def _gpus(requests: Mapping[str, str], limits: Mapping[str, str]) -> list[dict[str, Any]]:
    text = limits.get(GPU_RESOURCE) or requests.get(GPU_RESOURCE)
    if text is None:
        return []
    count = int(parse_quantity(text))
    if count <= 0:
        return []
    return [{"Driver": "nvidia", "Count": count, "Capabilities": [["gpu"]]}]


def nfs_mount(channel: ResolvedChannel) -> dict[str, Any]:
    """The mount of a channel bound to an NFS export: an anonymous volume of the engine's ``local`` driver that
    mounts ``server:path[/subPath]`` (removed with the container). Pure."""
    source = channel.source
    assert source.nfs is not None
    read_only = channel.read_only or source.nfs.readOnly
    device = source.nfs.path.rstrip("/") + (f"/{source.subPath}" if source.subPath else "")
    options = {
        "type": "nfs",
        "o": f"addr={source.nfs.server},{'ro' if read_only else 'rw'}",
        "device": f":{device or '/'}",
    }
    # The engine refuses ReadOnly on an anonymous volume; an input's export is mounted read-only ("ro") instead, so
    # the kernel refuses writes to it just the same.
    return {
        "Type": "volume",
        "Target": channel.mounted_path,
        "VolumeOptions": {"NoCopy": True, "DriverConfig": {"Name": "local", "Options": options}},
    }


def container_config(
    task: ResolvedTask,
    *,
    image: str,
    resources: ComputedResources,
    host_paths: Mapping[str, str],
    user: str | None,
    extra_labels: Mapping[str, str] | None = None,
    capabilities: Sequence[str] = (),
) -> ContainerPlan:
    """The create body for ``task`` (pure).

    ``host_paths`` maps channel names to the host directories bound for them (the runner has checked them).
    ``user`` is ``"uid:gid"`` (or a name the image knows), None for the image's own user. ``capabilities`` are
    added back after every one is dropped (validated names, without ``CAP_``).
    """
    notes: list[str] = []
    requests = dict(resources.resources.requests)
    limits = dict(resources.resources.limits)
    mounts = [
        {
            "Type": "bind",
            "Source": host_paths[channel.name],
            "Target": channel.mounted_path,
            "ReadOnly": channel.read_only,
        }
        if channel.name in host_paths
        else nfs_mount(channel)
        for channel in task.channels
        if channel.name in host_paths or channel.source.nfs is not None
    ]
    host: dict[str, Any] = {
        "Mounts": mounts,
        "NetworkMode": "bridge",
        # As the operator's pods: nothing gained through setuid binaries, no capability unless named.
        "SecurityOpt": ["no-new-privileges:true"],
        "CapDrop": ["ALL"],
    }
    if capabilities:
        host["CapAdd"] = sorted(set(capabilities))
    if resources.memory_limit_bytes is not None or "memory" in limits:
        limit = resources.memory_limit_bytes or _whole_bytes(limits["memory"])
        host["Memory"] = limit
        host["MemorySwap"] = limit  # no swap beyond the limit, as in a pod
    if resources.memory_request_bytes is not None or "memory" in requests:
        host["MemoryReservation"] = resources.memory_request_bytes or _whole_bytes(requests["memory"])
    host.update(_cpu_resources(requests, limits))
    devices = _gpus(requests, limits)
    if devices:
        host["DeviceRequests"] = devices
    for name in sorted(set(requests) | set(limits)):
        if name in ("memory", "cpu", GPU_RESOURCE):
            continue
        why = "no Docker equivalent" if name in _IGNORED else "an extended resource Docker does not schedule"
        notes.append(f"resource {name!r} is not applied by the Docker runner ({why})")
    labels = {
        **task.labels,
        **(extra_labels or {}),
        LABEL_MANAGED: MANAGED_BY,
        LABEL_TASK: task.name[:255],
        LABEL_TEMPLATE: task.template,
    }
    config: dict[str, Any] = {
        "Image": image,
        "Env": [f"{name}={value}" for name, value in task.env.items()],
        "Labels": labels,
        "HostConfig": host,
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
        "Tty": False,
        "OpenStdin": False,
    }
    if task.command:  # an empty command is no command, as in a pod
        config["Entrypoint"] = list(task.command)
        config["Cmd"] = None
    if user:
        config["User"] = user
    return ContainerPlan(config=config, notes=notes)


def numeric_user(user: str | None) -> tuple[int, int | None] | None:
    """``"1000:1000"`` -> ``(1000, 1000)``, ``"1000"`` -> ``(1000, None)``; a name or None -> None (pure)."""
    if not user:
        return None
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()):
        return None
    return int(uid), int(gid) if gid else None


def may_access(
    *, mode: int, owner: int, group: int, uid: int, gid: int | None, write: bool, dac_override: bool = False
) -> bool:
    """Whether ``uid:gid`` may read-and-enter (or write-and-enter) a directory with ``mode``, owned by
    ``owner:group`` (pure). Without ``CAP_DAC_OVERRIDE`` — dropped — root obeys the permission bits too."""
    if dac_override:
        return True
    need = 0o3 if write else 0o5  # w+x or r+x
    if uid == owner:
        return (mode >> 6) & need == need
    if gid is not None and gid == group:
        return (mode >> 3) & need == need
    return mode & need == need
