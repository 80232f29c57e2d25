"""List and watch a collection, the way client-go's reflector does (I/O, asyncio).

:func:`list_and_watch` lists the collection (with the selectors given), hands every object to ``on_event`` as
``ADDED``, then watches from the list's resourceVersion, with bookmarks; when the watch ends it resumes from the
last version seen, and when the API server answers 410 Gone (that version was compacted) it lists again. Transient
failures back off exponentially up to 30 s. It returns only when cancelled.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from task_api.kube.access import ClusterAccess
from task_api.kube.errors import KubeApiError

__all__ = ["list_and_watch"]

log = logging.getLogger(__name__)

Handler = Callable[[str, Mapping[str, Any]], None]


class _Gone(Exception):
    """The watch's resourceVersion is too old: list again."""


async def _list(http: httpx.AsyncClient, path: str, params: dict[str, str], headers: dict[str, str]) -> Any:
    response = await http.get(path, params=params, headers=headers)
    body = response.json() if response.content else {}
    if response.status_code >= 400:
        raise KubeApiError.from_response(response.status_code, body, what=f"GET {path}")
    return body


async def _watch(
    http: httpx.AsyncClient,
    path: str,
    params: dict[str, str],
    headers: dict[str, str],
    *,
    version: str,
    on_event: Handler,
) -> str:
    query = {**params, "watch": "1", "allowWatchBookmarks": "true", "resourceVersion": version,
             "timeoutSeconds": "300"}  # fmt: skip
    async with http.stream("GET", path, params=query, headers=headers) as response:
        if response.status_code == 410:
            raise _Gone()
        if response.status_code >= 400:
            body = await response.aread()
            try:
                decoded = json.loads(body) if body else {}
            except ValueError:
                decoded = {}
            raise KubeApiError.from_response(response.status_code, decoded, what=f"WATCH {path}")
        async for line in response.aiter_lines():
            if not line.strip():
                continue
            event = json.loads(line)
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise _Gone()
                raise KubeApiError(f"WATCH {path}: {obj.get('message', 'error event')}", transient=True)
            version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                on_event(str(kind), obj)
    return version


async def list_and_watch(
    access: ClusterAccess,
    path: str,
    on_event: Handler,
    *,
    field_selector: str | None = None,
    label_selector: str | None = None,
    user_agent: str = "task-api",
    on_relist: Callable[[], None] | None = None,
) -> None:
    """I/O: feed ``on_event(type, object)`` with the collection at ``path`` and every change to it, until cancelled.

    ``on_relist`` is called before each full list's objects are delivered (the receiver may then drop what it
    knew: a deletion may have been missed).
    """
    params = {k: v for k, v in (("fieldSelector", field_selector), ("labelSelector", label_selector)) if v}
    timeout = httpx.Timeout(30.0, read=330.0)
    delay = 0.5
    async with httpx.AsyncClient(
        base_url=access.server, verify=access.ssl_context(), timeout=timeout, headers={"User-Agent": user_agent}
    ) as http:
        version: str | None = None
        while True:
            token = access.bearer_token()
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            try:
                if version is None:
                    listed = await _list(http, path, params, headers)
                    if on_relist is not None:
                        on_relist()
                    for item in listed.get("items") or []:
                        on_event("ADDED", item)
                    version = str((listed.get("metadata") or {}).get("resourceVersion") or "0")
                version = await _watch(http, path, params, headers, version=version, on_event=on_event)
                delay = 0.5
            except _Gone:
                version = None
            except (KubeApiError, httpx.HTTPError, ValueError) as exc:
                if isinstance(exc, KubeApiError) and not exc.transient and exc.status not in (401, 403):
                    raise
                log.warning("watch %s: %s; retrying in %.1f s", path, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
