"""Apply a decision: create and delete objects, then write the status (I/O, writes only).

Order matters (see :mod:`task_api.core.taskrun.decision`): creations, then the status write with the
resourceVersion the decision was made on (a decision made on a stale view fails with Conflict and is made again on
fresh data, never written), then the clean-up the new status made safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass

from task_api.controller.metrics import Metrics
from task_api.controller.pod_index import PodIndex
from task_api.core.taskrun.changes import status_patch
from task_api.core.taskrun.decision import (
    Action,
    CreatePod,
    CreateSecret,
    Decision,
    DeletePod,
    DeleteRunPods,
    DeleteSecret,
)
from task_api.core.taskrun.observed_pods import observe_pod
from task_api.kube import AlreadyExists, Conflict, KubeApiError, KubeClient, NotFound
from task_api.kube.client import core_path
from task_api.kube.taskruns import taskrun_path
from task_api.spec.crd.keys import LABEL_TASKRUN_UID
from task_api.spec.crd.taskrun import TaskRunResource


class CreateRefused(Exception):
    """Creating an object of the decision failed for a reason that waiting will not fix by itself (RBAC,
    admission, quota, a name held by another object). The run's status must say so: see
    :func:`task_api.core.taskrun.decide.refused`."""

    def __init__(self, kind: str, name: str, message: str, *, status: int = 0, foreign: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name
        self.message = message
        self.status = status
        self.foreign = foreign


@dataclass(frozen=True)
class Applied:
    """The result of a status write: the run as it now is on the server (None: nothing was written)."""

    run: TaskRunResource | None


class Applier:
    """I/O: carries out decisions for TaskRuns."""

    def __init__(self, *, kube: KubeClient, metrics: Metrics, pods: PodIndex) -> None:
        self._kube = kube
        self._metrics = metrics
        # Pods this operator creates are filed at once, not when the watch reports them: a pass that comes before
        # that event (woken by the run's own status write) then finds the pod instead of creating it again.
        self._pods = pods

    async def apply(self, run: TaskRunResource, decision: Decision) -> Applied:
        """I/O: actions, status, clean-up. Raises Conflict (stale decision), :class:`CreateRefused`, or a transient
        :class:`~task_api.kube.KubeApiError` (the work loop backs off)."""
        for action in decision.actions:
            await self._do(run, action)
        written = await self._write_status(run, decision)
        for action in decision.cleanup:
            await self._do(run, action)
        return written

    async def _write_status(self, run: TaskRunResource, decision: Decision) -> Applied:
        delta = status_patch(run.status, decision.status)
        if not delta:
            return Applied(run=None)
        meta = run.metadata
        patch: dict[str, object] = {"status": delta}
        if meta.resource_version:
            patch["metadata"] = {"resourceVersion": meta.resource_version}
        updated = await self._kube.merge_patch(taskrun_path(meta.namespace, meta.name, "status"), patch)
        version = str((updated.get("metadata") or {}).get("resourceVersion") or "")
        new_meta = meta.model_copy(update={"resource_version": version or meta.resource_version})
        return Applied(run=run.model_copy(update={"metadata": new_meta, "status": decision.status}))

    async def _do(self, run: TaskRunResource, action: Action) -> None:
        namespace = run.metadata.namespace
        if isinstance(action, CreatePod):
            created = await self._create(run, "pods", action.name, action.manifest)
            self._pods.created(observe_pod(created))
            self._metrics.pods_created.labels(role=action.role).inc()
        elif isinstance(action, CreateSecret):
            await self._create(run, "secrets", action.name, action.manifest)
        elif isinstance(action, DeletePod):
            await self._delete(core_path("pods", namespace, action.name))
        elif isinstance(action, DeleteSecret):
            await self._delete_own(run, "secrets", action.name)
        elif isinstance(action, DeleteRunPods):
            selector = f"{LABEL_TASKRUN_UID}={action.uid}"
            for pod in await self._kube.list_items(core_path("pods", namespace), label_selector=selector):
                await self._delete(core_path("pods", namespace, str(pod["metadata"]["name"])))

    async def _create(
        self, run: TaskRunResource, plural: str, name: str, manifest: Mapping[str, object]
    ) -> Mapping[str, object]:
        """Create; an object of that name that this run owns counts as created (an earlier pass made it and
        stopped before recording it); one that another object owns is refused. The object as it now is."""
        namespace = run.metadata.namespace
        try:
            return await self._kube.create(core_path(plural, namespace), manifest)
        except AlreadyExists:
            existing = await self._kube.get(core_path(plural, namespace, name))
            owners = (existing.get("metadata") or {}).get("ownerReferences") or []
            if not any(o.get("uid") == run.metadata.uid for o in owners):
                raise CreateRefused(
                    plural, name, f"{plural[:-1]} {name} exists and belongs to another object", foreign=True
                ) from None
            return existing
        except KubeApiError as exc:
            if exc.transient:
                raise
            raise CreateRefused(plural, name, str(exc), status=exc.status) from None

    async def _delete(self, path: str) -> None:
        with suppress(NotFound):
            await self._kube.delete(path)

    async def _delete_own(self, run: TaskRunResource, plural: str, name: str) -> None:
        """Delete the object only if this run owns it — a Secret a tenant made under the run's Secret name stays —
        and only the very object read (a uid precondition: one made in between is not touched)."""
        namespace = run.metadata.namespace
        try:
            existing = await self._kube.get(core_path(plural, namespace, name))
        except NotFound:
            return
        meta = existing.get("metadata") or {}
        if not any(o.get("uid") == run.metadata.uid for o in meta.get("ownerReferences") or []):
            return
        with suppress(NotFound, Conflict):
            await self._kube.delete(core_path(plural, namespace, name), uid=str(meta.get("uid") or "") or None)
