"""Reconcile one ProcessingContainer (I/O): inspect its image (prepare), decide its status (pure,
:mod:`task_api.core.processing_containers`), write it (apply), post an event (finish)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from task_api.controller.finish import Finisher
from task_api.core.processing_containers import (
    Inspected,
    NotInspected,
    PcDecision,
    decide_processing_container,
    needs_inspection,
    ready_of,
)
from task_api.core.taskrun.changes import status_patch
from task_api.kube import KubeClient
from task_api.kube.templates import TemplateResolver, TemplateUnavailable, processing_container_path
from task_api.spec.crd.processing_container import ProcessingContainerResource


class ProcessingContainerReconciler:
    """I/O: keeps a ProcessingContainer's status in line with its image."""

    def __init__(
        self,
        *,
        kube: KubeClient,
        templates: TemplateResolver,
        finish: Finisher,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._kube = kube
        self._templates = templates
        self._finish = finish
        self._clock = clock

    async def reconcile(self, pcon: ProcessingContainerResource) -> PcDecision:
        """I/O: one pass. ``ready`` in the result is what waiting TaskRuns need to hear about."""
        if pcon.metadata.deletion_timestamp or not needs_inspection(pcon):
            return PcDecision(status=pcon.status, backoff=False, ready=ready_of(pcon))
        decision = decide_processing_container(pcon, await self._inspect(pcon), self._clock())
        delta = status_patch(pcon.status, decision.status)
        if delta:
            meta = pcon.metadata
            await self._kube.merge_patch(
                processing_container_path(meta.namespace, meta.name, "status"), {"status": delta}
            )
        if decision.note is not None:
            self._finish.post(kind="ProcessingContainer", meta=pcon.metadata, note=decision.note)
        return decision

    async def _inspect(self, pcon: ProcessingContainerResource) -> Inspected | NotInspected:
        namespace, spec = pcon.metadata.namespace, pcon.spec
        try:
            credentials = await self._templates.credentials(
                namespace, spec.image, [s.name for s in spec.image_pull_secrets]
            )
            inspection = await self._templates.inspect(spec.image, credentials, namespace=namespace)
        except TemplateUnavailable as exc:
            return NotInspected(reason=exc.cause, message=exc.message, transient=exc.transient)
        return Inspected(
            container=inspection.container,
            digest=inspection.digest,
            resolved_image=str(inspection.reference),
            source=str(inspection.source),
        )
