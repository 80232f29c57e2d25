"""Automatic right-sizing and the operator's memory metrics: the decisions, without the I/O. Pure.

Right-sizing (off unless a ProcessingContainer or TaskRun enables ``memoryRightSizing``) replaces the memory the
scale rules computed by what the rule learned from earlier runs of the same image digest and template gives for
this run's measured input (:func:`rightsize`). It never goes below the template's static memory, applies only once
enough runs have a recorded peak, and after an OOM kill hands back to the scale rules with the usual growth. Every
decision is said in the explanation lines that go to ``status.memory.explanation``.

:func:`usage_samples` turns a TaskRun's recorded peaks into the figures the operator exports to Prometheus
(requested vs peak per template).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from task_api.core.memory_usage import InputSize, Observation, group_report, quantity_bytes
from task_api.spec.quantity import format_bytes_quantity

__all__ = [
    "RightSizingSettings",
    "Sized",
    "UsageSample",
    "effective_settings",
    "image_repository",
    "rightsize",
    "usage_samples",
]


@dataclass(frozen=True)
class RightSizingSettings:
    """``memoryRightSizing`` as it applies to one run (the TaskRun's replaces the ProcessingContainer's)."""

    enabled: bool = False
    min_runs: int = 5
    headroom: Decimal = Decimal("1.2")


def effective_settings(
    processing_container_spec: Mapping[str, Any] | None, taskrun_spec: Mapping[str, Any]
) -> RightSizingSettings:
    """The TaskRun's ``memoryRightSizing`` if it has one, else its ProcessingContainer's, else off (pure)."""
    raw = taskrun_spec.get("memoryRightSizing")
    if raw is None and processing_container_spec is not None:
        raw = processing_container_spec.get("memoryRightSizing")
    if not isinstance(raw, Mapping):
        return RightSizingSettings()
    return RightSizingSettings(
        enabled=bool(raw.get("enabled", False)),
        min_runs=int(raw.get("minRuns", 5)),
        headroom=Decimal(str(raw.get("headroom", "1.2"))),
    )


@dataclass(frozen=True)
class Sized:
    """The memory an attempt gets, what decided it, and the lines saying why."""

    request_bytes: int | None
    limit_bytes: int | None
    #: "rules", "learned" or "oom-escalation" (status.memory.sizedBy).
    sized_by: str
    explanation: tuple[str, ...]

    def quantities(self) -> dict[str, str]:
        """``{"request": ..., "limit": ...}`` as binary quantities, for the pod and status.memory."""
        out = {}
        if self.request_bytes is not None:
            out["request"] = format_bytes_quantity(self.request_bytes)
        if self.limit_bytes is not None:
            out["limit"] = format_bytes_quantity(self.limit_bytes)
        return out


def _fmt(value: int | None) -> str:
    return "unset" if value is None else format_bytes_quantity(value)


def rightsize(
    *,
    settings: RightSizingSettings,
    rules_request: int | None,
    rules_limit: int | None,
    history: Sequence[Observation],
    inputs: Sequence[InputSize],
    static_request: int | None,
    static_limit: int | None,
    oom_kills: int,
    upper_bound: int,
) -> Sized:
    """This attempt's memory: the scale rules' values, or the learned rule's when right-sizing applies (pure).

    ``rules_request``/``rules_limit`` are what :func:`task_api.core.scale.compute_resources` gave; ``history`` the
    observations of earlier runs of the same image digest and template; ``inputs`` this run's measurements;
    ``static_*`` the template's static memory (merged with the TaskRun's overrides), the floor; ``oom_kills`` this
    run's OOM kills so far; ``upper_bound`` the operator's ``TASK_API_MAX_MEMORY``.
    """
    rules = Sized(rules_request, rules_limit, "rules", ())
    if not settings.enabled:
        return rules
    if oom_kills > 0:
        return Sized(
            rules_request,
            rules_limit,
            "oom-escalation",
            (f"right-sizing: after {oom_kills} OOM kill(s) the scale rules and the retry growth size this attempt",),
        )
    usable = [obs for obs in history if obs.need_bytes]
    if len(usable) < settings.min_runs:
        return Sized(
            rules_request,
            rules_limit,
            "rules",
            (
                f"right-sizing: {len(usable)} of {settings.min_runs} runs with a recorded peak so far; "
                "the scale rules apply",
            ),
        )
    rule_type = "limit" if rules_limit is not None or rules_request is None else "request"
    floor = (static_limit if rule_type == "limit" else static_request) or 0
    report = group_report(usable, headroom=settings.headroom, floor=floor)
    rec = report.recommendation
    if rec is None:
        return rules
    size = 0
    if rec.channel is not None:
        measured = next((i for i in inputs if (i.channel, i.mode) == (rec.channel, rec.mode)), None)
        if measured is None:
            return Sized(
                rules_request,
                rules_limit,
                "rules",
                (
                    f"right-sizing: the learned rule reads {rec.channel} ({rec.mode}), which this run did not "
                    "measure; the scale rules apply",
                ),
            )
        size = measured.bytes
    value = max(min(rec.value_for(size), upper_bound), floor)
    request, limit = rules_request, rules_limit
    if rule_type == "limit":
        limit = value
        if request is not None and request > value:
            request = value
    else:
        request = value
        if limit is not None and limit < value:
            limit = value
    ruled = rules_limit if rule_type == "limit" else rules_request
    lines = (
        f"right-sizing: learned from {len(usable)} runs of this image and template: {rec.describe()} "
        f"(covers every peak x{settings.headroom})",
        f"right-sizing: {size} bytes measured -> {format_bytes_quantity(value)} for the {rule_type} "
        f"(the scale rules gave {_fmt(ruled)}; never below the static {_fmt(floor or None)})",
        f"memory: request {_fmt(request)}, limit {_fmt(limit)}",
    )
    return Sized(request, limit, "learned", lines)


def image_repository(image: str) -> str:
    """The image's registry and repository without tag or digest: a metric label of bounded cardinality (pure)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: name.rfind(":")]
    return name


@dataclass(frozen=True)
class UsageSample:
    """One attempt's requested and peak memory, for the operator's Prometheus metrics."""

    uid: str
    attempt: int
    template: str
    image: str
    requested_bytes: int | None
    limit_bytes: int | None
    peak_bytes: int
    oom_killed: bool


def usage_samples(taskrun: Mapping[str, Any]) -> list[UsageSample]:
    """Every attempt of the TaskRun that has a recorded peak, keyed for counting once by (uid, attempt) (pure)."""
    meta = taskrun.get("metadata") or {}
    spec = taskrun.get("spec") or {}
    status = taskrun.get("status") or {}
    template = str(status.get("template") or spec.get("taskTemplate") or "")
    image = image_repository(str(status.get("image") or spec.get("image") or ""))
    out = []
    for peak in (status.get("memory") or {}).get("peaks") or []:
        if not isinstance(peak, Mapping) or not isinstance(peak.get("peakBytes"), int):
            continue
        request = quantity_bytes(peak.get("request"))
        limit = quantity_bytes(peak.get("limit"))
        out.append(
            UsageSample(
                uid=str(meta.get("uid", "")),
                attempt=int(peak.get("attempt") or 0),
                template=template,
                image=image,
                requested_bytes=request if request is not None else limit,
                limit_bytes=limit,
                peak_bytes=int(peak["peakBytes"]),
                oom_killed=bool(peak.get("oomKilled")),
            )
        )
    return out
