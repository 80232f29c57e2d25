"""A TaskRun attempt's memory: the template's static values, raised by scale rules from the measured inputs, grown
after OOM kills. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from task_api.core.memory_usage import InputSize, Observation
from task_api.core.rightsize import RightSizingSettings, rightsize
from task_api.core.scale import compute_resources
from task_api.spec import Measurement, ResolvedTask
from task_api.spec.crd.taskrun import MemorySummary, RetryPolicy
from task_api.spec.quantity import format_bytes_quantity, parse_quantity
from task_api.spec.scale_rule import ScaleRule

__all__ = ["MemoryPlan", "grown_memory", "plan_memory"]

_MIB = 1024 * 1024
#: How many lines of the computation the status keeps (a long explanation would bloat every status write).
_EXPLANATION_LINES = 20


@dataclass(frozen=True)
class MemoryPlan:
    """Requests and limits of an attempt's task container, and how they came about."""

    requests: dict[str, str]
    limits: dict[str, str]
    explanation: list[str] = field(default_factory=list)
    #: "rules", "learned" (right-sizing) or "oom-escalation"; None when right-sizing is off.
    sized_by: str | None = None

    def summary(self, recorded: MemorySummary | None = None) -> MemorySummary:
        """Pure: what ``status.memory`` records; the node agent's peaks in ``recorded`` are kept as they are."""
        return MemorySummary(
            request=self.requests.get("memory"),
            limit=self.limits.get("memory"),
            explanation=self.explanation[:_EXPLANATION_LINES],
            sized_by=self.sized_by,
            peak=recorded.peak if recorded else None,
            peaks=list(recorded.peaks) if recorded else [],
        )


def grown_memory(limit_bytes: int, *, factor: float, oom_kills: int, bound: int) -> int:
    """Pure: the memory after ``oom_kills`` OOM kills, multiplied by ``factor`` each time, capped at ``bound``
    (never below what failed), rounded up to whole MiB so the quantity reads well in kubectl."""
    grown = int(limit_bytes * (factor**oom_kills))
    grown = -(-grown // _MIB) * _MIB
    return max(limit_bytes, min(grown, bound))


def plan_memory(
    task: ResolvedTask,
    measurements: Sequence[tuple[ScaleRule, Measurement]],
    *,
    oom_kills: int,
    retry: RetryPolicy | None,
    max_memory_bytes: int,
    right_sizing: RightSizingSettings | None = None,
    history: Sequence[Observation] = (),
) -> MemoryPlan:
    """Pure: the attempt's resources: the scale rules (or, when enabled and learned, the rule right-sizing learned
    from earlier runs' peaks), grown after OOM kills. Raises ValueError when ``retry.maxMemory`` is not a
    quantity."""
    computed = compute_resources(static=task.resources, measurements=measurements, upper_bound=max_memory_bytes)
    requests = {k: str(v) for k, v in computed.requests.items()}
    limits = {k: str(v) for k, v in computed.limits.items()}
    explanation = list(computed.explanation)
    sized_by = None
    if right_sizing is not None and right_sizing.enabled:
        sized = rightsize(
            settings=right_sizing,
            rules_request=_bytes(requests.get("memory")),
            rules_limit=_bytes(limits.get("memory")),
            history=history,
            inputs=[InputSize(m.channel, m.mode.value, m.measured_bytes) for _, m in measurements],
            static_request=_bytes(task.resources.requests.get("memory")),
            static_limit=_bytes(task.resources.limits.get("memory")),
            oom_kills=oom_kills,
            upper_bound=max_memory_bytes,
        )
        for key, value in (("request", requests), ("limit", limits)):
            if key in sized.quantities():
                value["memory"] = sized.quantities()[key]
        explanation += sized.explanation
        sized_by = sized.sized_by
    if oom_kills and "memory" in limits:
        policy = retry or RetryPolicy()
        bound = max_memory_bytes
        if policy.max_memory:
            bound = min(bound, int(parse_quantity(policy.max_memory)))
        growth = f"x {policy.memory_factor}^{oom_kills}"
        before = int(parse_quantity(limits["memory"]))
        grown = grown_memory(before, factor=policy.memory_factor, oom_kills=oom_kills, bound=bound)
        limits["memory"] = format_bytes_quantity(grown)
        explanation.append(
            f"after {oom_kills} OOM kill(s): limit {format_bytes_quantity(before)} {growth}"
            f" → {limits['memory']} (bound {format_bytes_quantity(bound)})"
        )
        if "memory" in requests:
            # The request grows with the limit: a pod that needed more than its request was OOM-killed as much
            # for landing on a node short of memory as for its limit.
            asked = int(parse_quantity(requests["memory"]))
            raised = min(grown, grown_memory(asked, factor=policy.memory_factor, oom_kills=oom_kills, bound=bound))
            requests["memory"] = format_bytes_quantity(raised)
            explanation.append(f"request {format_bytes_quantity(asked)} {growth} → {requests['memory']}")
    return MemoryPlan(requests=requests, limits=limits, explanation=explanation, sized_by=sized_by)


def _bytes(quantity: object) -> int | None:
    return None if quantity is None else int(parse_quantity(str(quantity)))
