"""Which task pods the agent follows, what their cgroups said, and when an attempt's peak is final. Pure.

The agent feeds this the pods its watch sees (:meth:`Tracker.observe`, :meth:`Tracker.deleted`) and what each cgroup
read gave (:meth:`Tracker.reading`); :meth:`Tracker.ready` names the attempts whose peak is final and can be written:

* the task container has **terminated** (the pod's status says so) and a read of the pod's cgroup **after** that was
  seen — the containers are dead, so the pod's high-water mark can no longer rise; or
* the pod's cgroup is **gone** (the kubelet removed it) after it had been read, and the pod is terminated or deleted:
  the last read stands. The pod's cgroup outlives its containers by about two seconds on the test bed (measured:
  the container's cgroup goes within 0.2 s of its exit, the pod's 2.3 s later), which is why the agent reads the
  pod's mark, not only the container's.

:func:`peak_entry` and :func:`merge_peaks` build what goes into ``status.memory``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from task_api.agent.cgroups import PodReading

__all__ = [
    "LABEL_ATTEMPT",
    "LABEL_ROLE",
    "LABEL_TASKRUN",
    "LABEL_TASKRUN_UID",
    "MAIN_CONTAINER",
    "TASK_POD_SELECTOR",
    "PodIdentity",
    "Tracked",
    "Tracker",
    "identify",
    "merge_peaks",
    "peak_entry",
]

# The task pod's labels and main container (task_api.core.pod; repeated so the agent imports nothing heavy).
LABEL_TASKRUN = "task-api.io/taskrun"
LABEL_TASKRUN_UID = "task-api.io/taskrun-uid"
LABEL_ATTEMPT = "task-api.io/attempt"
LABEL_ROLE = "task-api.io/role"
MAIN_CONTAINER = "task"
TASK_POD_SELECTOR = f"{LABEL_ROLE}=task,{LABEL_TASKRUN},{LABEL_TASKRUN_UID},{LABEL_ATTEMPT}"
#: At most this many attempts are kept in status.memory.peaks (the CRD's bound); retries allow 11.
MAX_PEAKS = 64
MIB = 1024**2
#: Polls a vanished cgroup waits for the watch to say its pod ended before the peak is written anyway.
GONE_TICKS = 100


@dataclass(frozen=True)
class PodIdentity:
    """A task pod as the operator made it: its TaskRun and attempt."""

    uid: str
    namespace: str
    name: str
    taskrun: str
    taskrun_uid: str
    attempt: int


def identify(pod: Mapping[str, Any]) -> PodIdentity | None:
    """The pod's TaskRun and attempt, or None unless it is a task pod **controlled by** that TaskRun (pure).

    The labels alone are not trusted (a TaskRun's own labels are copied to its pods): the pod's controller owner
    reference must be the TaskRun the labels name, with the same uid.
    """
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    if labels.get(LABEL_ROLE) != "task":
        return None
    taskrun, taskrun_uid, attempt = labels.get(LABEL_TASKRUN), labels.get(LABEL_TASKRUN_UID), labels.get(LABEL_ATTEMPT)
    if not (taskrun and taskrun_uid and isinstance(attempt, str) and attempt.isdigit() and int(attempt) >= 1):
        return None
    owners = [
        ref
        for ref in meta.get("ownerReferences") or []
        if ref.get("controller")
        and ref.get("kind") == "TaskRun"
        and str(ref.get("apiVersion", "")).startswith("task-api.io/")
    ]
    if len(owners) != 1 or owners[0].get("uid") != taskrun_uid or owners[0].get("name") != taskrun:
        return None
    if not meta.get("uid") or not meta.get("namespace") or not meta.get("name"):
        return None
    return PodIdentity(
        uid=str(meta["uid"]),
        namespace=str(meta["namespace"]),
        name=str(meta["name"]),
        taskrun=str(taskrun),
        taskrun_uid=str(taskrun_uid),
        attempt=int(attempt),
    )


def _main_container_resources(pod: Mapping[str, Any]) -> tuple[str | None, str | None]:
    for container in (pod.get("spec") or {}).get("containers") or []:
        if container.get("name") == MAIN_CONTAINER:
            resources = container.get("resources") or {}
            request = (resources.get("requests") or {}).get("memory")
            limit = (resources.get("limits") or {}).get("memory")
            return (str(request) if request else None, str(limit) if limit else None)
    return None, None


def _main_status(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == MAIN_CONTAINER:
            return dict(status)
    return None


@dataclass
class Tracked:
    """What the agent knows about one task pod."""

    pod: PodIdentity
    qos: str
    request: str | None = None
    limit: str | None = None
    main_id: str | None = None
    terminated: bool = False
    oom_killed: bool = False
    deleted: bool = False
    pod_peak: int | None = None
    container_peaks: dict[str, int] = field(default_factory=dict)
    #: A read of the pod's cgroup happened after the task container was seen terminated: the mark is final.
    read_after_end: bool = False
    cgroup_gone: bool = False
    done: bool = False
    #: Reads since the end was seen that found no cgroup and had nothing read before (agent started too late).
    gone_reads: int = 0
    #: Polls since the cgroup went away while the watch has not said the pod ended (a missed event).
    gone_ticks: int = 0

    @property
    def container_peak(self) -> int | None:
        return self.container_peaks.get(self.main_id) if self.main_id else None

    @property
    def peak(self) -> int | None:
        values = [v for v in (self.pod_peak, self.container_peak) if v is not None]
        return max(values) if values else None


class Tracker:
    """Pure: the agent's view of the task pods on its node."""

    def __init__(self) -> None:
        self.pods: dict[str, Tracked] = {}

    def observe(self, pod: Mapping[str, Any]) -> None:
        """A pod as the watch delivered it (added or modified)."""
        identity = identify(pod)
        if identity is None:
            return
        tracked = self.pods.get(identity.uid)
        status = pod.get("status") or {}
        if tracked is None:
            request, limit = _main_container_resources(pod)
            tracked = Tracked(
                pod=identity, qos=str(status.get("qosClass") or "Burstable"), request=request, limit=limit
            )
            self.pods[identity.uid] = tracked
        elif status.get("qosClass"):
            tracked.qos = str(status["qosClass"])
        main = _main_status(pod)
        if main is not None:
            container_id = str(main.get("containerID") or "")
            if "://" in container_id:
                tracked.main_id = container_id.split("://", 1)[1]
            terminated = (main.get("state") or {}).get("terminated")
            if terminated is not None and not tracked.terminated:
                tracked.terminated = True
                tracked.oom_killed = terminated.get("reason") == "OOMKilled"
        if status.get("phase") in ("Succeeded", "Failed") and not tracked.terminated and main is None:
            tracked.terminated = True  # ended before its container ever started (image pull failure and the like)

    def deleted(self, pod: Mapping[str, Any]) -> None:
        """The watch saw the pod deleted: its containers are stopped, what was read is all there will be."""
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        tracked = self.pods.get(uid)
        if tracked is not None:
            tracked.deleted = True
            tracked.terminated = True

    def to_read(self) -> list[Tracked]:
        """The pods whose cgroups should be read now."""
        return [t for t in self.pods.values() if not t.done and not t.cgroup_gone]

    def reading(self, uid: str, reading: PodReading, *, ended_before_read: bool) -> None:
        """Fold one read of a pod's cgroups in. ``ended_before_read``: the pod was already terminated when it began."""
        tracked = self.pods.get(uid)
        if tracked is None:
            return
        if not reading.present:
            if tracked.pod_peak is not None:
                tracked.cgroup_gone = True
            elif ended_before_read:
                tracked.gone_reads += 1
            return
        if reading.pod_peak is not None:
            tracked.pod_peak = max(tracked.pod_peak or 0, reading.pod_peak)
        for cid, value in reading.containers.items():
            tracked.container_peaks[cid] = max(tracked.container_peaks.get(cid, 0), value)
        if ended_before_read:
            tracked.read_after_end = True

    def tick(self) -> None:
        """One poll went by: count how long gone cgroups have waited for the watch to report their pod's end."""
        for tracked in self.pods.values():
            if tracked.cgroup_gone and not tracked.terminated:
                tracked.gone_ticks += 1

    def ready(self) -> list[Tracked]:
        """Attempts whose peak is final and not yet written.

        A cgroup gone for ``GONE_TICKS`` polls counts as ended even without word from the watch (a deletion missed
        during a relist); the OOM flag is then unknown (False).
        """
        return [
            t
            for t in self.pods.values()
            if not t.done
            and t.peak is not None
            and ((t.terminated and (t.read_after_end or t.cgroup_gone)) or t.gone_ticks >= GONE_TICKS)
        ]

    def unobservable(self) -> list[Tracked]:
        """Ended pods whose cgroup was never seen (they finished before the agent could read them)."""
        return [t for t in self.pods.values() if not t.done and t.peak is None and t.gone_reads >= 2]

    def forget_deleted(self) -> None:
        """Drop pods that are deleted and settled (the watch will not mention them again)."""
        for uid in [u for u, t in self.pods.items() if t.deleted and (t.done or t.peak is None)]:
            del self.pods[uid]


def _quantity_mib_up(value: int) -> str:
    return f"{max(1, math.ceil(value / MIB))}Mi"


def peak_entry(tracked: Tracked, *, node: str, source: str, now: str) -> dict[str, Any]:
    """The ``status.memory.peaks`` entry for a finished attempt (pure)."""
    peak = int(tracked.peak or 0)
    entry: dict[str, Any] = {
        "attempt": tracked.pod.attempt,
        "pod": tracked.pod.name,
        "peakBytes": peak,
        "peak": _quantity_mib_up(peak),
        "oomKilled": tracked.oom_killed,
        "source": f"{source} pod",
        "node": node,
        "observedAt": now,
    }
    if tracked.container_peak is not None:
        entry["containerPeakBytes"] = tracked.container_peak
    if tracked.request:
        entry["request"] = tracked.request
    if tracked.limit:
        entry["limit"] = tracked.limit
    return entry


def merge_peaks(existing: Sequence[Mapping[str, Any]], entry: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """``existing`` with ``entry`` in its attempt's place, sorted; None when the entry is already there (pure).

    Idempotent: an agent restarted after writing finds its entry and writes nothing. A larger figure for the same
    attempt replaces a smaller one (a second agent that read later), never the other way round.
    """
    kept: list[dict[str, Any]] = []
    for item in existing:
        if not isinstance(item, Mapping):
            continue
        if item.get("attempt") == entry["attempt"]:
            if isinstance(item.get("peakBytes"), int) and item["peakBytes"] >= entry["peakBytes"]:
                return None
            continue
        kept.append(dict(item))
    kept.append(dict(entry))
    kept.sort(key=lambda item: int(item.get("attempt") or 0))
    return kept[-MAX_PEAKS:]
