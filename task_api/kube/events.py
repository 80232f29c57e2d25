"""Kubernetes Events about task-api objects (I/O): what ``kubectl describe taskrun`` shows under Events.

Recording an event must never fail a reconcile: errors are logged and swallowed. Messages are built by the
operator from reasons and names only; registry credentials never reach them.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from task_api.core.times import format_micro_rfc3339, format_rfc3339
from task_api.kube.client import KubeClient, core_path
from task_api.kube.errors import KubeApiError

log = logging.getLogger(__name__)

_MAX_MESSAGE = 1024


class EventRecorder:
    """Posts core/v1 Events for an involved object."""

    def __init__(self, kube: KubeClient, *, component: str = "task-api-operator", concurrency: int = 4) -> None:
        self._kube = kube
        self._component = component
        self._gate = asyncio.Semaphore(concurrency)
        self._pending: set[asyncio.Task[None]] = set()

    def record_soon(self, obj: Mapping[str, Any], *, type_: str, reason: str, message: str) -> None:
        """I/O in the background: post the Event without making the caller wait for it (events are for people;
        a reconcile should not be slowed by them)."""
        snapshot = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": dict(obj["metadata"])}

        async def post() -> None:
            async with self._gate:
                await self.record(snapshot, type_=type_, reason=reason, message=message)

        task = asyncio.get_running_loop().create_task(post())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """I/O: wait for the events still being posted (before the client closes, so none is cut off)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def record(self, obj: Mapping[str, Any], *, type_: str, reason: str, message: str) -> None:
        """I/O: post one Event (``type_`` is Normal or Warning)."""
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        now = datetime.now(UTC)
        stamp, micro = format_rfc3339(now), format_micro_rfc3339(now)
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta.get('name', 'object')[:200]}.{uuid.uuid4().hex[:12]}",
                "namespace": namespace,
            },
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": meta.get("name"),
                "namespace": namespace,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:_MAX_MESSAGE],
            "type": type_,
            "source": {"component": self._component},
            "reportingComponent": self._component,
            "reportingInstance": self._component,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "eventTime": micro,
            "action": reason,
            "count": 1,
        }
        try:
            await self._kube.create(core_path("events", namespace), event)
        except KubeApiError as exc:
            log.warning("could not record event %s on %s/%s: %s", reason, namespace, meta.get("name"), exc)
