"""Kubernetes Events about task-api objects (I/O): what ``kubectl describe taskrun`` shows under Events.

Recording an event must never fail a reconcile: errors are logged and swallowed. Messages are built by the
operator from reasons and names only; registry credentials never reach them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from task_api.kube.client import KubeClient, core_path
from task_api.kube.errors import KubeApiError

log = logging.getLogger(__name__)

_MAX_MESSAGE = 1024


class EventRecorder:
    """Posts core/v1 Events for an involved object."""

    def __init__(self, kube: KubeClient, *, component: str = "task-api-operator") -> None:
        self._kube = kube
        self._component = component

    async def record(self, obj: Mapping[str, Any], *, type_: str, reason: str, message: str) -> None:
        """I/O: post one Event (``type_`` is Normal or Warning)."""
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        micro = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
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
