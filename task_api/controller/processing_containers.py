"""Reconcile one ProcessingContainer (I/O): inspect its image and publish the templates, digest and Ready.

Transient registry failures (unreachable, timeouts, 5xx) leave ``Ready=Unknown`` with the reason and are retried
with backoff; permanent ones (not found, unauthorized, no or invalid processing-container.json) set
``Ready=False`` for this generation and wait for the spec to change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from task_api.controller.templates import TemplateResolver, TemplateUnavailable
from task_api.core.taskrun_status import kstatus_conditions, now_rfc3339
from task_api.kube import KubeClient
from task_api.kube.client import resource_path
from task_api.kube.events import EventRecorder
from task_api.spec.crd import GROUP, VERSION


@dataclass
class PcResult:
    backoff: bool = False
    ready: bool | None = None


def pc_path(namespace: str, name: str, sub: str | None = None) -> str:
    return resource_path(
        group=GROUP,
        version=VERSION,
        plural="processingcontainers",
        namespace=namespace,
        name=name,
        subresource=sub,
    )


def ready_condition(status: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """Pure: the Ready condition of a ProcessingContainer status."""
    for cond in (status or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond  # type: ignore[no-any-return]
    return None


class ProcessingContainerReconciler:
    """I/O: keeps a ProcessingContainer's status in line with its image."""

    def __init__(
        self,
        *,
        kube: KubeClient,
        templates: TemplateResolver,
        events: EventRecorder,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kube = kube
        self.templates = templates
        self.events = events
        self.clock = clock

    async def reconcile(self, body: Mapping[str, Any]) -> PcResult:
        meta = body["metadata"]
        if meta.get("deletionTimestamp"):
            return PcResult()
        status = body.get("status") or {}
        generation = meta.get("generation")
        ready = ready_condition(status)
        if status.get("observedGeneration") == generation and ready and ready.get("status") in ("True", "False"):
            return PcResult(ready=ready.get("status") == "True")
        spec = body["spec"]
        secrets = [s["name"] for s in spec.get("imagePullSecrets") or []]
        try:
            credentials = await self.templates.credentials(meta["namespace"], spec["image"], secrets)
            inspection = await self.templates.inspect(spec["image"], credentials)
        except TemplateUnavailable as exc:
            state = "Unknown" if exc.transient else "False"
            await self._write(body, state, exc.reason, exc.message, observedGeneration=generation)
            if not exc.transient:
                await self.events.record(body, type_="Warning", reason=exc.reason, message=exc.message[:500])
            return PcResult(backoff=exc.transient, ready=False if not exc.transient else None)
        container = inspection.container
        digest = inspection.digest
        templates = [t.model_dump(mode="json", exclude_none=True, by_alias=True) for t in container.templates]
        await self._write(
            body,
            "True",
            "Inspected",
            f"read {len(templates)} template(s) from {inspection.source}",
            observedGeneration=generation,
            digest=digest,
            shortDigest=digest.split(":", 1)[-1][:12],
            resolvedImage=str(inspection.reference),
            templateNames=",".join(t.identifier for t in container.templates),
            templates=templates,
            name=container.name,
            description=container.description,
        )
        await self.events.record(
            body,
            type_="Normal",
            reason="Inspected",
            message=f"{len(templates)} template(s), digest {digest[:19]}",
        )
        return PcResult(ready=True)

    async def _write(self, body: Mapping[str, Any], state: str, reason: str, message: str, **fields: Any) -> None:
        old = ready_condition(body.get("status")) or {}
        stamp = now_rfc3339(self.clock())
        condition = {
            "type": "Ready",
            "status": state,
            "reason": reason,
            "message": message[:2000],
            "lastTransitionTime": old.get("lastTransitionTime") if old.get("status") == state else stamp,
        }
        meta = body["metadata"]
        await self.kube.merge_patch(
            pc_path(meta["namespace"], meta["name"], "status"),
            {"status": {"conditions": [condition, *kstatus_conditions(condition)], **fields}},
        )
