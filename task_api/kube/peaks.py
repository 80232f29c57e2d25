"""Record an attempt's peak memory in its TaskRun's ``status.memory`` (I/O, asyncio): the node agent's one write.

The write is a JSON merge patch of ``status.memory.peaks`` and ``status.memory.peak`` on the status subresource,
with the resourceVersion it was computed from as a precondition:

* it **cannot clobber** the operator: a merge patch replaces only the keys it names, and the operator never writes
  these two; the operator writes ``status.memory`` as an object with ``request``/``limit``/``explanation``, which a
  merge patch merges key by key, so it **cannot clobber** the peaks either;
* two agents (an attempt on another node) cannot lose each other's entry: the precondition makes the second one
  read again and merge (:func:`task_api.agent.tracker.merge_peaks`), up to a few times;
* a TaskRun deleted and re-created under the same name is never written: the uid must match the pod's owner.

The operator's own status writes carry a resourceVersion precondition too; one that races this write gets a
Conflict and reconciles again on the fresh object (its normal path), so nothing is lost on either side.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from task_api.kube.client import KubeClient, resource_path
from task_api.kube.errors import Conflict, NotFound

__all__ = ["record_peak"]

GROUP, VERSION = "task-api.io", "v1alpha1"

Merge = Callable[[Sequence[Mapping[str, Any]], Mapping[str, Any]], list[dict[str, Any]] | None]


def _path(namespace: str, name: str, sub: str | None = None) -> str:
    return resource_path(group=GROUP, version=VERSION, plural="taskruns", namespace=namespace, name=name,
                         subresource=sub)  # fmt: skip


async def record_peak(
    kube: KubeClient,
    *,
    namespace: str,
    name: str,
    uid: str,
    entry: Mapping[str, Any],
    merge: Merge,
    attempts: int = 5,
) -> str:
    """I/O: add ``entry`` to the TaskRun's ``status.memory.peaks``. Returns what happened, for the log:
    ``written``, ``present`` (already there), ``gone`` (deleted or re-created), or ``conflict`` (gave up)."""
    for attempt in range(attempts):
        try:
            run = await kube.get(_path(namespace, name))
        except NotFound:
            return "gone"
        meta = run.get("metadata") or {}
        if meta.get("uid") != uid:
            return "gone"
        memory = (run.get("status") or {}).get("memory") or {}
        merged = merge(memory.get("peaks") or [], entry)
        if merged is None:
            return "present"
        latest = max(merged, key=lambda item: int(item.get("attempt") or 0))
        patch = {
            "metadata": {"resourceVersion": meta.get("resourceVersion")},
            "status": {"memory": {"peaks": merged, "peak": latest.get("peak")}},
        }
        try:
            await kube.merge_patch(_path(namespace, name, "status"), patch)
            return "written"
        except Conflict:
            await asyncio.sleep(0.05 * (attempt + 1))
        except NotFound:
            return "gone"
    return "conflict"
