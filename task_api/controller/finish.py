"""Finish a pass: the events and metrics its change of status calls for, derived once (I/O: posts in the
background, never slowing or failing the pass)."""

from __future__ import annotations

from task_api.controller.metrics import Metrics
from task_api.core.taskrun.changes import events, finished_reason
from task_api.core.taskrun.decision import Note
from task_api.kube.events import EventRecorder
from task_api.spec.crd.common import API_VERSION, ObjectMeta
from task_api.spec.crd.taskrun import TaskRunStatus


class Finisher:
    """I/O: reports what passes changed."""

    def __init__(self, *, events: EventRecorder, metrics: Metrics) -> None:
        self._events = events
        self._metrics = metrics

    def finish(
        self, *, kind: str, meta: ObjectMeta, before: TaskRunStatus, after: TaskRunStatus, notes: tuple[Note, ...]
    ) -> None:
        """I/O: post the pass's events and count a finished run."""
        for note in events(before, after, notes):
            self.post(kind=kind, meta=meta, note=note)
        reason = finished_reason(before, after)
        if reason is not None:
            self._metrics.finished.labels(reason=reason).inc()

    async def drain(self) -> None:
        """I/O: wait for the events still being posted."""
        await self._events.drain()

    def post(self, *, kind: str, meta: ObjectMeta, note: Note) -> None:
        """I/O (background): one event about an object."""
        involved = {
            "apiVersion": API_VERSION,
            "kind": kind,
            "metadata": {
                "name": meta.name,
                "namespace": meta.namespace,
                "uid": meta.uid,
                "resourceVersion": meta.resource_version,
            },
        }
        self._events.record_soon(involved, type_=note.type, reason=note.reason, message=note.message)
