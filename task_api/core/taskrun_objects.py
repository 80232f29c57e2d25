"""TaskRun objects that clients create and read: the credentials Secret and the outcome. Pure.

Shared by every client of the operator — the Airflow operator and ``task-api run --mode k8s`` — so they name,
own and read things the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from task_api.spec.crd import GROUP, VERSION
from task_api.spec.crd.taskrun import TaskRunReason

__all__ = [
    "FINAL_REASONS",
    "Outcome",
    "build_credentials_secret",
    "credentials_secret_name",
    "outcome",
]

#: Reasons another try cannot fix (the spec, the image or an upstream run must change first).
FINAL_REASONS = frozenset(
    {TaskRunReason.INVALID_SPEC, TaskRunReason.UPSTREAM_FAILED, TaskRunReason.IMAGE_INSPECTION_FAILED}
)


def credentials_secret_name(taskrun: str) -> str:
    """The Secret holding the operator's registry credentials for one TaskRun (pure)."""
    return f"{taskrun}-credentials"


def build_credentials_secret(
    *, taskrun: Mapping[str, Any], username: str, password: str, labels: Mapping[str, str]
) -> dict[str, Any]:
    """A Secret with ``username`` and ``password``, owned by the TaskRun so it is deleted with it (pure)."""
    meta = taskrun["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": credentials_secret_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": dict(labels),
            "ownerReferences": [
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "TaskRun",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": False,
                    "blockOwnerDeletion": False,
                }
            ],
        },
        "stringData": {"username": username, "password": password},
    }


@dataclass(frozen=True)
class Outcome:
    """A TaskRun's state as the Airflow operator sees it."""

    finished: bool
    succeeded: bool
    reason: str
    message: str

    @property
    def retryable(self) -> bool:
        """Whether another Airflow try could help (not for an invalid spec, a failed upstream, a bad image)."""
        return not self.succeeded and self.reason not in FINAL_REASONS


def outcome(taskrun: Mapping[str, Any]) -> Outcome:
    """Read the ``Succeeded`` condition (pure)."""
    status = taskrun.get("status") or {}
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Succeeded":
            state = cond.get("status")
            return Outcome(
                finished=state in ("True", "False"),
                succeeded=state == "True",
                reason=str(cond.get("reason") or status.get("reason") or ""),
                message=str(cond.get("message") or ""),
            )
    return Outcome(finished=False, succeeded=False, reason=str(status.get("reason") or "Pending"), message="")
