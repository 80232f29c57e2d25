"""A fake Kubernetes API server behind an httpx transport (in the style of httpx's ``MockTransport``), for running
the reconciler in-process in milliseconds. It serves the verbs the operator uses — GET, LIST with label selectors,
POST, JSON merge PATCH (with the resourceVersion precondition, on objects and their ``status`` subresource) and
DELETE — over a dict of objects, and lets a test inject what a real cluster cannot produce on purpose: a crash of the
operator right after a given write, a concurrent edit, an object of the same name left by someone else.

It is a fake of the API's *storage semantics*, never a stand-in for the real cluster: the e2e and chaos suites
run against the real test bed.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

JSON = dict[str, Any]
#: (api prefix, namespace, plural) — "/api/v1" or "/apis/<group>/<version>".
Collection = tuple[str, str, str]

_PATH = re.compile(
    r"^(?P<prefix>/api/v1|/apis/[^/]+/[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<plural>[^/]+)"
    r"(?:/(?P<name>[^/]+)(?:/(?P<sub>status))?)?$"
)


class OperatorCrashed(Exception):
    """Raised into the operator's call right after a write was stored: the process died before it saw the answer."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _selected(obj: JSON, selector: str | None) -> bool:
    if not selector:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


@dataclass
class FakeApiServer:
    """Objects by collection and name; every write bumps a global resourceVersion, as etcd's revision does."""

    objects: dict[Collection, dict[str, JSON]] = field(default_factory=dict)
    #: Every request as "METHOD path" (with "?labelSelector=…" for lists), in order.
    requests: list[str] = field(default_factory=list)
    #: Names of objects successfully created, per plural, in order (a second create of a name never succeeds).
    created: dict[str, list[str]] = field(default_factory=dict)
    #: Crash the operator right after this many writes were stored (None: never).
    crash_after_writes: int | None = None
    #: Called before a write is applied (method, path, body); may change the store to race the operator.
    before_write: Callable[[str, str, Any], None] | None = None
    #: Called after every stored change with (event type, plural, object): a watch, in-process.
    on_change: Callable[[str, str, JSON], None] | None = None
    #: A ResourceQuota on pods per namespace: creates beyond it are refused with the API server's 403.
    pod_quota: int | None = None
    #: The most pods that ever existed at once in a namespace (to check a quota was honoured).
    peak_pods: int = 0
    _writes: int = 0
    _revision: itertools.count[int] = field(default_factory=lambda: itertools.count(100))

    # ------------------------------------------------------------------ direct access for tests

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def put(self, prefix: str, namespace: str, plural: str, obj: JSON) -> JSON:
        """Store an object as if someone else created it."""
        stored = self._stamp(copy.deepcopy(obj), namespace)
        self.objects.setdefault((prefix, namespace, plural), {})[stored["metadata"]["name"]] = stored
        self._notify("ADDED", plural, stored)
        return stored

    def get(self, prefix: str, namespace: str, plural: str, name: str) -> JSON | None:
        found: JSON | None = self.objects.get((prefix, namespace, plural), {}).get(name)
        return found

    def update(self, prefix: str, namespace: str, plural: str, name: str, patch: JSON) -> JSON:
        """Change an object as another client would (the kubelet, a user): a new resourceVersion."""
        key = (prefix, namespace, plural)
        obj: JSON = merge_patch(self.objects[key][name], patch)
        obj["metadata"]["resourceVersion"] = str(next(self._revision))
        self.objects[key][name] = obj
        self._notify("MODIFIED", plural, obj)
        return obj

    def remove(self, prefix: str, namespace: str, plural: str, name: str) -> None:
        obj = self.objects.get((prefix, namespace, plural), {}).pop(name, None)
        if obj is not None:
            self._notify("DELETED", plural, obj)

    def items(self, prefix: str, namespace: str, plural: str) -> list[JSON]:
        return list(self.objects.get((prefix, namespace, plural), {}).values())

    # ------------------------------------------------------------------ the HTTP side

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        selector = request.url.params.get("labelSelector")
        self.requests.append(f"{request.method} {path}" + (f"?labelSelector={selector}" if selector else ""))
        if path == "/version":
            return self._json(200, {"major": "1", "minor": "34"})
        match = _PATH.match(path)
        if match is None:
            return self._status(404, "NotFound", f"no route {path}")
        key = (match["prefix"], match["ns"], match["plural"])
        name, sub = match["name"], match["sub"]
        body: JSON = json.loads(request.content) if request.content else {}
        if request.method in ("POST", "PATCH", "DELETE") and self.before_write is not None:
            self.before_write(request.method, path, body)
        if request.method == "GET":
            return self._get(key, name, selector)
        if request.method == "POST" and name is None:
            response = self._create(key, body)
        elif request.method == "PATCH" and name is not None:
            response = self._patch(key, name, sub, body)
        elif request.method == "DELETE" and name is not None:
            response = self._delete(key, name)
        else:
            return self._status(405, "MethodNotAllowed", f"{request.method} {path}")
        if response.status_code < 300:
            self._writes += 1
            if self.crash_after_writes is not None and self._writes >= self.crash_after_writes:
                self.crash_after_writes = None
                raise OperatorCrashed(f"operator died after write {self._writes}: {request.method} {path}")
        return response

    def _get(self, key: Collection, name: str | None, selector: str | None) -> httpx.Response:
        if name is None:
            items = [o for o in self.objects.get(key, {}).values() if _selected(o, selector)]
            return self._json(200, {"kind": "List", "items": copy.deepcopy(items)})
        obj = self.objects.get(key, {}).get(name)
        if obj is None:
            return self._status(404, "NotFound", f'{key[2]} "{name}" not found')
        return self._json(200, copy.deepcopy(obj))

    def _create(self, key: Collection, body: JSON) -> httpx.Response:
        name = body["metadata"]["name"]
        store = self.objects.setdefault(key, {})
        if name in store:
            return self._status(409, "AlreadyExists", f'{key[2]} "{name}" already exists')
        if key[2] == "pods" and self.pod_quota is not None and len(store) >= self.pod_quota:
            used = len(store)
            message = (
                f'pods "{name}" is forbidden: exceeded quota: pod-count, requested: pods=1, '
                f"used: pods={used}, limited: pods={self.pod_quota}"
            )
            return self._status(403, "Forbidden", message)
        obj = self._stamp(copy.deepcopy(body), key[1])
        if key[2] == "pods":
            obj.setdefault("status", {"phase": "Pending"})
        store[name] = obj
        self.created.setdefault(key[2], []).append(name)
        if key[2] == "pods":
            self.peak_pods = max(self.peak_pods, len(store))
        self._notify("ADDED", key[2], obj)
        return self._json(201, copy.deepcopy(obj))

    def _patch(self, key: Collection, name: str, sub: str | None, patch: JSON) -> httpx.Response:
        obj = self.objects.get(key, {}).get(name)
        if obj is None:
            return self._status(404, "NotFound", f'{key[2]} "{name}" not found')
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != obj["metadata"]["resourceVersion"]:
            return self._status(409, "Conflict", "the object has been modified; please apply your changes")
        if sub == "status":
            changed = merge_patch(obj, {"status": patch.get("status")}) if "status" in patch else copy.deepcopy(obj)
        else:
            changed = merge_patch(obj, {k: v for k, v in patch.items() if k != "status"})
        changed["metadata"]["resourceVersion"] = str(next(self._revision))
        if sub is None and changed.get("spec") != obj.get("spec"):
            changed["metadata"]["generation"] = int(obj["metadata"].get("generation") or 1) + 1
        self.objects[key][name] = changed
        self._notify("MODIFIED", key[2], changed)
        return self._json(200, copy.deepcopy(changed))

    def _delete(self, key: Collection, name: str) -> httpx.Response:
        obj = self.objects.get(key, {}).pop(name, None)
        if obj is None:
            return self._status(404, "NotFound", f'{key[2]} "{name}" not found')
        self._notify("DELETED", key[2], obj)
        return self._json(200, {"kind": "Status", "status": "Success"})

    # ------------------------------------------------------------------ helpers

    def _stamp(self, obj: JSON, namespace: str) -> JSON:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", namespace)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        meta.setdefault("generation", 1)
        meta["resourceVersion"] = str(next(self._revision))
        return obj

    def _notify(self, event: str, plural: str, obj: JSON) -> None:
        if self.on_change is not None:
            self.on_change(event, plural, copy.deepcopy(obj))

    @staticmethod
    def _json(code: int, body: JSON) -> httpx.Response:
        return httpx.Response(code, json=body)

    @staticmethod
    def _status(code: int, reason: str, message: str) -> httpx.Response:
        return httpx.Response(code, json={"kind": "Status", "status": "Failure", "reason": reason, "message": message})
