"""Errors raised by the Kubernetes adapter.

The tree::

    TaskApiError
    └── KubeApiError            (status code, reason and message from the API's Status object)
        ├── NotFound            404
        ├── AlreadyExists       409 with reason AlreadyExists
        ├── Conflict            409 otherwise (resourceVersion conflicts)
        ├── Forbidden           403
        └── Invalid             422 (admission or schema validation refused the object)

``KubeApiError.transient`` says whether trying again later can help (5xx, 429, connection failures).
"""

from __future__ import annotations

from typing import Any

from task_api.spec.errors import TaskApiError


class KubeApiError(TaskApiError):
    """The API server refused a request or could not be reached."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "", transient: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.transient = transient

    @classmethod
    def from_response(cls, status: int, body: Any, *, what: str) -> KubeApiError:
        """Pure: build the right subclass from a response status and its decoded body."""
        reason = ""
        message = ""
        if isinstance(body, dict):
            reason = str(body.get("reason") or "")
            message = str(body.get("message") or "")
        text = f"{what}: {message or reason or f'HTTP {status}'}"
        kind: type[KubeApiError]
        if status == 404:
            kind = NotFound
        elif status == 409 and reason == "AlreadyExists":
            kind = AlreadyExists
        elif status == 409:
            kind = Conflict
        elif status == 403:
            kind = Forbidden
        elif status == 422:
            kind = Invalid
        else:
            kind = KubeApiError
        transient = status >= 500 or status == 429
        return kind(text, status=status, reason=reason, transient=transient)


class NotFound(KubeApiError):
    """The object does not exist."""


class AlreadyExists(KubeApiError):
    """An object with that name already exists."""


class Conflict(KubeApiError):
    """The object changed since it was read."""


class Forbidden(KubeApiError):
    """RBAC or admission forbids the request."""


class Invalid(KubeApiError):
    """The API server rejected the object as invalid (schema, CEL rules, admission)."""
