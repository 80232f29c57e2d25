"""An asynchronous Kubernetes REST client that speaks plain JSON dictionaries (I/O).

Why not the official client: it is synchronous, and its generated models cost more CPU than the operator's
whole reconcile. The API is small and stable; the few verbs the project needs fit in one class.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from task_api.kube.access import ClusterAccess
from task_api.kube.errors import KubeApiError

JSON = dict[str, Any]


def resource_path(
    *,
    group: str,
    version: str,
    plural: str,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """Pure: the REST path of a collection or an object (core group when ``group`` is empty)."""
    parts = ["/api", version] if not group else ["/apis", group, version]
    if namespace is not None:
        parts += ["namespaces", quote(namespace, safe="")]
    parts.append(plural)
    if name is not None:
        parts.append(quote(name, safe=""))
    if subresource is not None:
        parts.append(subresource)
    return "/".join(parts)


def core_path(plural: str, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
    """Pure: a path in the core (``v1``) group."""
    return resource_path(group="", version="v1", plural=plural, namespace=namespace, name=name, subresource=sub)


class KubeClient:
    """I/O: a few REST verbs against one API server. Use as an async context manager, or call ``aclose``."""

    def __init__(
        self,
        access: ClusterAccess,
        *,
        timeout: float = 30.0,
        max_connections: int = 64,
        user_agent: str = "task-api",
        transport: httpx.AsyncBaseTransport | None = None,
        http2: bool = False,
    ) -> None:
        """``transport`` replaces the network (tests pass a fake API server, ``tests/fakes/kube_api.py``).

        ``http2``: one multiplexed connection, a third of HTTP/1.1's client CPU per request (bench/scale_client.py)
        — for the operator's request rate. Off for the other clients: kube-apiserver closes an HTTP/2 connection
        (GOAWAY) when it refuses a credential, and the retry with a refreshed exec-plugin credential then fails
        with a protocol error on it; HTTP/1.1 takes a new connection."""
        self.access = access
        self._options: dict[str, Any] = {
            **access.httpx_options(verify=transport is None),  # server, TLS, proxy, refreshed credentials
            "transport": transport,
            "http2": http2 and transport is None,
            "timeout": timeout,
            "limits": httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            "headers": {"User-Agent": user_agent, "Accept": "application/json"},
        }
        self._http = httpx.AsyncClient(**self._options)
        self._retired: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        for task in list(self._retired):
            task.cancel()

    def _renew_after_protocol_error(self, failed: httpx.AsyncClient) -> None:
        """Replace the connection pool a protocol error left in a broken state (an HTTP/2 connection whose state
        machine failed kept failing every later request on it: the operator lost its Lease and never read it
        again). Once per failed pool, however many requests saw the error."""
        if self._http is not failed or self._options["transport"] is not None:
            return
        self._http = httpx.AsyncClient(**self._options)
        task = asyncio.get_running_loop().create_task(failed.aclose())
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> JSON:
        """I/O: one request; the decoded JSON body, or :class:`KubeApiError` (never a raw httpx error)."""
        what = f"{method} {path}"
        content = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        http = self._http
        try:
            response = await http.request(
                method,
                path,
                content=content,
                params=params,
                headers=self._headers(content_type if content is not None else None),
            )
        except httpx.TimeoutException:
            raise KubeApiError(f"{what}: the API server did not answer in time", transient=True) from None
        except httpx.ProtocolError as exc:
            self._renew_after_protocol_error(http)
            raise KubeApiError(f"{what}: cannot reach the API server ({type(exc).__name__})", transient=True) from None
        except httpx.TransportError as exc:
            raise KubeApiError(f"{what}: cannot reach the API server ({type(exc).__name__})", transient=True) from None
        try:
            decoded = response.json() if response.content else {}
        except ValueError:
            decoded = {}
        if response.status_code >= 400:
            raise KubeApiError.from_response(response.status_code, decoded, what=what)
        return decoded if isinstance(decoded, dict) else {"items": decoded}

    async def get(self, path: str) -> JSON:
        return await self.request("GET", path)

    async def list_items(self, path: str, *, label_selector: str | None = None) -> list[JSON]:
        params = {"labelSelector": label_selector} if label_selector else None
        items = (await self.request("GET", path, params=params)).get("items") or []
        return [item for item in items if isinstance(item, dict)]

    async def create(self, path: str, body: Mapping[str, Any]) -> JSON:
        return await self.request("POST", path, body=dict(body))

    async def merge_patch(self, path: str, patch: Mapping[str, Any]) -> JSON:
        return await self.request("PATCH", path, body=dict(patch), content_type="application/merge-patch+json")

    async def delete(
        self, path: str, *, propagation: str = "Background", grace_seconds: int | None = None, uid: str | None = None
    ) -> JSON:
        """``uid``: delete only that very object (a namesake made since it was read gets 409 Conflict)."""
        options: dict[str, Any] = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": propagation,
        }
        if grace_seconds is not None:
            options["gracePeriodSeconds"] = grace_seconds
        if uid is not None:
            options["preconditions"] = {"uid": uid}
        return await self.request("DELETE", path, body=options)
