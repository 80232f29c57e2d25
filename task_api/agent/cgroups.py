"""Finding a pod's memory cgroup on the node and reading its high-water marks.

The kubelet puts every pod under ``kubepods`` below its cgroup root (``--cgroup-root``, ``/`` unless set):

=====================  ==================================================================================
cgroup v1, cgroupfs    ``<mount>/memory/<root>/kubepods/[burstable|besteffort/]pod<uid>/<container id>/``
cgroup v1, systemd     ``<mount>/memory/<root>/kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice/``
cgroup v2, cgroupfs    ``<mount>/<root>/kubepods/[burstable|besteffort/]pod<uid>/<container id>/``
cgroup v2, systemd     ``<mount>/<root>/kubepods.slice/...`` as for v1 (container scopes ``cri-containerd-<id>.scope``)
=====================  ==================================================================================

(Guaranteed pods sit directly under ``kubepods``; in a systemd uid the dashes become underscores.) The kernel keeps a
high-water mark per cgroup: ``memory.max_usage_in_bytes`` on v1, ``memory.peak`` on v2 (Linux ≥ 5.19). It only
rises while the cgroup exists, so one read after a spike, however short, still sees it.

:func:`pod_dir_candidates` and :func:`container_id_of` are pure; :class:`CgroupReader` reads the file system.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "CgroupLayout",
    "CgroupReader",
    "PodReading",
    "container_id_of",
    "detect_layout",
    "pod_dir_candidates",
]

V1_PEAK = "memory.max_usage_in_bytes"
V2_PEAK = "memory.peak"


@dataclass(frozen=True)
class CgroupLayout:
    """Where the memory hierarchy is mounted, and which version it is."""

    version: int
    #: The directory holding the memory controller's tree (``<mount>/memory`` on v1, ``<mount>`` on v2).
    memory_root: Path

    @property
    def peak_file(self) -> str:
        return V1_PEAK if self.version == 1 else V2_PEAK


def detect_layout(mount: Path) -> CgroupLayout | None:
    """I/O: the cgroup version under ``mount`` (the host's /sys/fs/cgroup), None when neither is there."""
    if (mount / "memory" / V1_PEAK).is_file():
        return CgroupLayout(1, mount / "memory")
    if (mount / "cgroup.controllers").is_file():
        return CgroupLayout(2, mount)
    return None


def _qos_dir(qos: str) -> str | None:
    lowered = qos.lower()
    return None if lowered == "guaranteed" else lowered


def pod_dir_candidates(memory_root: Path, cgroup_root: str, uid: str, qos: str) -> list[Path]:
    """Pure: the directories the pod's memory cgroup may be in, cgroupfs layout first, then systemd's."""
    base = memory_root / cgroup_root.strip("/") if cgroup_root.strip("/") else memory_root
    tier = _qos_dir(qos)
    cgroupfs = base / "kubepods" / tier / f"pod{uid}" if tier else base / "kubepods" / f"pod{uid}"
    under = uid.replace("-", "_")
    if tier:
        systemd = base / "kubepods.slice" / f"kubepods-{tier}.slice" / f"kubepods-{tier}-pod{under}.slice"
    else:
        systemd = base / "kubepods.slice" / f"kubepods-pod{under}.slice"
    return [cgroupfs, systemd]


def container_id_of(directory_name: str) -> str:
    """Pure: the container ID a container cgroup's directory stands for (``cri-containerd-<id>.scope`` → id)."""
    name = directory_name
    for suffix in (".scope",):
        name = name.removesuffix(suffix)
    for prefix in ("cri-containerd-", "crio-", "docker-"):
        name = name.removeprefix(prefix)
    return name


@dataclass
class PodReading:
    """One read of a pod's cgroups: the pod's mark and each container's (by container ID)."""

    present: bool
    pod_peak: int | None = None
    containers: dict[str, int] = field(default_factory=dict)


def _read_int(path: Path) -> int | None:
    try:
        with open(path, "rb") as handle:
            return int(handle.read().strip() or b"0")
    except (OSError, ValueError):
        return None


class CgroupReader:
    """I/O: reads the high-water marks of pods' memory cgroups under a host cgroup mount."""

    def __init__(self, mount: Path, cgroup_root: str = "/") -> None:
        self.mount = mount
        self.cgroup_root = cgroup_root
        self._layout: CgroupLayout | None = None
        self._dirs: dict[str, Path] = {}

    @property
    def layout(self) -> CgroupLayout | None:
        if self._layout is None:
            self._layout = detect_layout(self.mount)
        return self._layout

    def kubepods_present(self) -> bool:
        """Whether a kubepods tree exists under the configured root (a misconfigured root finds nothing)."""
        layout = self.layout
        if layout is None:
            return False
        base = layout.memory_root / self.cgroup_root.strip("/")
        return (base / "kubepods").is_dir() or (base / "kubepods.slice").is_dir()

    def source(self) -> str:
        layout = self.layout
        return f"cgroup v{layout.version}" if layout else "cgroup (none found)"

    def _pod_dir(self, uid: str, qos: str) -> Path | None:
        known = self._dirs.get(uid)
        if known is not None:
            return known
        layout = self.layout
        if layout is None:
            return None
        for candidate in pod_dir_candidates(layout.memory_root, self.cgroup_root, uid, qos):
            if candidate.is_dir():
                self._dirs[uid] = candidate
                return candidate
        return None

    def forget(self, uid: str) -> None:
        self._dirs.pop(uid, None)

    def read(self, uid: str, qos: str) -> PodReading:
        """I/O: the pod's and its containers' marks now; ``present`` False once the pod's cgroup is gone."""
        layout = self.layout
        directory = self._pod_dir(uid, qos)
        if layout is None or directory is None:
            return PodReading(present=False)
        pod_peak = _read_int(directory / layout.peak_file)
        if pod_peak is None:
            return PodReading(present=False)
        containers: dict[str, int] = {}
        try:
            entries = list(os.scandir(directory))
        except OSError:
            entries = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                value = _read_int(Path(entry.path) / layout.peak_file)
                if value is not None:
                    containers[container_id_of(entry.name)] = value
        return PodReading(present=True, pod_peak=pod_peak, containers=containers)
