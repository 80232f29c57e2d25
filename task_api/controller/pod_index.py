"""The operator's pods as the pod watch last showed them, by the TaskRun that owns them. No I/O.

Kept from the watch so most reconciles need no GET: a pass looks up its run's pods here. Each pod is held as an
:class:`~task_api.core.taskrun.observed_pods.ObservedPod` (a few hundred bytes), never as the whole object.
"""

from __future__ import annotations

from collections import defaultdict

from task_api.core.taskrun.observed_pods import ObservedPod

#: A TaskRun by namespace and name.
RunKey = tuple[str, str]


class PodIndex:
    """Pods by owning TaskRun (namespace and name: a deleted namesake's pods land under the same key, and the
    uid they carry tells them apart)."""

    def __init__(self) -> None:
        self._by_run: defaultdict[RunKey, dict[str, ObservedPod]] = defaultdict(dict)

    def __len__(self) -> int:
        return sum(len(pods) for pods in self._by_run.values())

    def seen(self, pod: ObservedPod) -> RunKey | None:
        """Record a pod from a watch event; its run's key, or None when no TaskRun controls it."""
        if not pod.owner_name:
            return None
        key = (pod.namespace, pod.owner_name)
        self._by_run[key][pod.name] = pod
        return key

    def created(self, pod: ObservedPod) -> None:
        """Record a pod from the answer to its own create request — unless the watch already brought that pod
        (same uid): under load the watch's ADDED and MODIFIED events can be handled before the create's answer,
        and that answer, the pod's first version, would then overwrite a newer state (a pod already Succeeded
        seen as Pending again; its run then waited for events that had come and gone — 11 of 10,000 runs in a
        fleet burst)."""
        if not pod.owner_name:
            return
        known = self._by_run.get((pod.namespace, pod.owner_name), {}).get(pod.name)
        if known is not None and known.uid == pod.uid:
            return
        self.seen(pod)

    def gone(self, pod: ObservedPod) -> RunKey | None:
        """Forget a deleted pod; its run's key, or None when no TaskRun controlled it."""
        if not pod.owner_name:
            return None
        key = (pod.namespace, pod.owner_name)
        pods = self._by_run.get(key)
        if pods is not None:
            pods.pop(pod.name, None)
            if not pods:
                del self._by_run[key]
        return key

    def forget(self, key: RunKey) -> None:
        """Drop a finished run's pods (nothing decides on them any more; memory stays flat)."""
        self._by_run.pop(key, None)

    def of_run(self, key: RunKey) -> tuple[ObservedPod, ...]:
        """The pods owned by the TaskRun named ``key``, as last seen."""
        return tuple(self._by_run.get(key, {}).values())
