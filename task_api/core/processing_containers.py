"""A ProcessingContainer's status from what its image's inspection found. Pure.

Transient registry failures (unreachable, time-outs, 5xx) leave ``Ready=Unknown`` and are looked at again with
backoff; permanent ones (not found, unauthorized, no or invalid processing-container.json) set ``Ready=False`` for
this generation and wait for the spec to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from task_api.core.taskrun.conditions import find_condition, kstatus_conditions
from task_api.core.taskrun.decision import Note
from task_api.core.times import format_rfc3339
from task_api.spec import ProcessingContainer
from task_api.spec.crd.common import Condition, ConditionStatus
from task_api.spec.crd.keys import CONDITION_READY
from task_api.spec.crd.processing_container import ProcessingContainerResource, ProcessingContainerStatus

__all__ = [
    "Inspected",
    "NotInspected",
    "PcDecision",
    "decide_processing_container",
    "needs_inspection",
    "ready_of",
]

_MESSAGE = 2000


@dataclass(frozen=True)
class Inspected:
    """The image was read: its processing container, digest, the image pinned by that digest, and where the file
    was found (for the message)."""

    container: ProcessingContainer
    digest: str
    resolved_image: str
    source: str


@dataclass(frozen=True)
class NotInspected:
    """The image could not be read: the reason (``ImageNotFound``, ``RegistryUnreachable``, …) and whether it may
    pass by itself."""

    reason: str
    message: str
    transient: bool


@dataclass(frozen=True)
class PcDecision:
    """The new status; whether to look again with backoff; Ready as now known (None: not decided); an event."""

    status: ProcessingContainerStatus
    backoff: bool
    ready: bool | None
    note: Note | None = None


def needs_inspection(pcon: ProcessingContainerResource) -> bool:
    """Pure: whether this generation's image still has to be read (no final Ready for it yet)."""
    ready = find_condition(pcon.status.conditions, CONDITION_READY)
    final = ready is not None and ready.status in ("True", "False")
    return not (final and pcon.status.observed_generation == pcon.metadata.generation)


def ready_of(pcon: ProcessingContainerResource) -> bool | None:
    """Pure: True/False when Ready is final, else None."""
    ready = find_condition(pcon.status.conditions, CONDITION_READY)
    return None if ready is None or ready.status == "Unknown" else ready.status == "True"


def decide_processing_container(
    pcon: ProcessingContainerResource, found: Inspected | NotInspected, now: datetime
) -> PcDecision:
    """Pure: the status after an inspection attempt."""
    status = pcon.status.model_copy(deep=True)
    status.observed_generation = pcon.metadata.generation
    if isinstance(found, NotInspected):
        state = ConditionStatus.UNKNOWN if found.transient else ConditionStatus.FALSE
        status.conditions = _conditions(pcon.status, state, found.reason, found.message, now)
        note = None if found.transient else Note("Warning", found.reason, found.message[:500])
        return PcDecision(status=status, backoff=found.transient, ready=None if found.transient else False, note=note)
    container = found.container
    templates: list[dict[str, Any]] = [
        t.model_dump(mode="json", exclude_none=True, by_alias=True) for t in container.templates
    ]
    message = f"read {len(templates)} template(s) from {found.source}"
    status.conditions = _conditions(pcon.status, ConditionStatus.TRUE, "Inspected", message, now)
    status.digest = found.digest
    status.short_digest = found.digest.split(":", 1)[-1][:12]
    status.resolved_image = found.resolved_image
    status.template_names = ",".join(t.identifier for t in container.templates)
    status.templates = templates
    status.name = container.name
    status.description = container.description
    note = Note("Normal", "Inspected", f"{len(templates)} template(s), digest {found.digest[:19]}")
    return PcDecision(status=status, backoff=False, ready=True, note=note)


def _conditions(
    before: ProcessingContainerStatus, state: ConditionStatus, reason: str, message: str, now: datetime
) -> list[Condition]:
    old = find_condition(before.conditions, CONDITION_READY)
    stamp = format_rfc3339(now)
    ready = Condition(
        type=CONDITION_READY,
        status=state,
        reason=reason,
        message=message[:_MESSAGE],
        last_transition_time=old.last_transition_time if old and old.status == state.value else stamp,
    )
    return [ready, *kstatus_conditions(ready)]
