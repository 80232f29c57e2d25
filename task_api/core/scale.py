"""Compute memory requests and limits from scale rules and measured input sizes.

The semantics are written down in ``docs/scale-rules.md``; in short, for each (rule, measurement) pair:

1. demand = ``factor * n ** exponent`` where n is the measured size in MiB (a ``scale_factor`` rule has
   exponent 1, so its demand is simply ``scale_factor`` x bytes);
2. scaled = demand x ``headroom``, rounded **up** to a whole ``step`` (1 MiB), then capped at ``upper_bound``;
3. the request is the largest of the static request and every ``type: request`` rule's scaled value; the
   limit likewise over ``type: limit`` rules. Rules only ever raise a value, never lower it;
4. if the request ends above the limit, the limit is raised to the request.

The result never drops below the static values, never exceeds ``max(upper_bound, static values)``, grows
with the measured sizes, and keeps limits ≥ requests (property tests check all four).

Pure: the measuring is :mod:`task_api.measure`'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from task_api.spec import (
    ComputedResources,
    Measurement,
    Resources,
    ScaleRule,
    ScaleRuleType,
    format_bytes_quantity,
    parse_quantity,
)
from task_api.spec.quantity import round_up_bytes

__all__ = [
    "DEFAULT_HEADROOM",
    "DEFAULT_STEP",
    "DEFAULT_UPPER_BOUND",
    "MIB",
    "ComputedResources",
    "compute_resources",
    "rule_demand",
]

MIB = 1024**2
#: Kaapana adds 10 % to what the rules ask for; so do we (but only to the scaled part, see docs).
DEFAULT_HEADROOM = Decimal("1.1")
#: Results are whole MiB: readable in ``kubectl describe`` and stable against tiny size changes.
DEFAULT_STEP = MIB
#: A scaled value never exceeds this unless the template's static value already does.
DEFAULT_UPPER_BOUND = 64 * 1024**3


def rule_demand(rule: ScaleRule, measured_bytes: int) -> Decimal:
    """Memory in bytes a rule asks for, before headroom and rounding (pure)."""
    formula = rule.formula
    if measured_bytes <= 0:
        return Decimal(0)
    if formula.exponent == 1:
        return formula.factor * measured_bytes
    mib = Decimal(measured_bytes) / MIB
    return formula.factor * (mib**formula.exponent) * MIB


def _static_bytes(values: dict[str, str], key: str) -> int | None:
    text = values.get(key)
    if text is None:
        return None
    return round_up_bytes(parse_quantity(text), step=1)


def compute_resources(
    *,
    static: Resources | None,
    measurements: Sequence[tuple[ScaleRule, Measurement]],
    headroom: Decimal = DEFAULT_HEADROOM,
    upper_bound: int = DEFAULT_UPPER_BOUND,
    step: int = DEFAULT_STEP,
) -> ComputedResources:
    """Final requests/limits: the static ``Resources`` raised by the rules' scaled demands (pure).

    ``measurements`` pairs each rule with what was measured for it. Resources other than memory pass through
    unchanged. ``explanation`` says, line by line, how the memory values came about.
    """
    if headroom < 1:
        raise ValueError(f"headroom must be ≥ 1 (given {headroom})")
    if upper_bound <= 0 or step <= 0:
        raise ValueError("upper_bound and step must be positive")
    base = static or Resources()
    requests = dict(base.requests)
    limits = dict(base.limits)
    static_request = _static_bytes(requests, "memory")
    static_limit = _static_bytes(limits, "memory")
    lines: list[str] = []
    if static_request is not None or static_limit is not None:
        lines.append(f"static memory: request {requests.get('memory', 'unset')}, limit {limits.get('memory', 'unset')}")
    request, limit = static_request, static_limit
    for rule, measured in measurements:
        demand = rule_demand(rule, measured.measured_bytes)
        what = f"{measured.channel} ({measured.mode.value}"
        if measured.largest:
            what += f", largest {measured.largest}"
        if measured.target_missing:
            what += ", target missing"
        what += f"): {measured.measured_bytes} bytes in {measured.files_counted} files"
        if demand <= 0:
            lines.append(f"{what} -> no demand")
            continue
        scaled = min(round_up_bytes(demand * headroom, step=step), upper_bound)
        capped = " (capped at the upper bound)" if scaled == upper_bound else ""
        lines.append(
            f"{what} -> {rule.describe()} = {int(demand)} bytes, x{headroom} headroom, rounded up"
            f" = {format_bytes_quantity(scaled)}{capped} for the {rule.type.value}"
        )
        if rule.type is ScaleRuleType.REQUEST:
            request = scaled if request is None else max(request, scaled)
        else:
            limit = scaled if limit is None else max(limit, scaled)
    if request is not None and limit is not None and request > limit:
        lines.append(f"limit raised to the request ({format_bytes_quantity(request)}) so that limit ≥ request")
        limit = request
    if request is not None and request != static_request:
        requests["memory"] = format_bytes_quantity(request)
    if limit is not None and limit != static_limit:
        limits["memory"] = format_bytes_quantity(limit)
    if request is not None or limit is not None:
        lines.append(f"memory: request {requests.get('memory', 'unset')}, limit {limits.get('memory', 'unset')}")
    return ComputedResources(
        resources=Resources.model_construct(requests=requests, limits=limits),
        memory_request_bytes=request,
        memory_limit_bytes=limit,
        explanation=lines,
    )
