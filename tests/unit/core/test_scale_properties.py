"""Properties of compute_resources over random rules, sizes and static values (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from task_api.core.scale import MIB, compute_resources
from task_api.spec import (
    Measurement,
    Resources,
    ScaleRule,
    ScaleRuleMode,
    format_bytes_quantity,
    parse_quantity,
)

GIB = 1024 * MIB
BOUND = 16 * GIB

rules = st.builds(
    lambda kind, factor, exponent, use_complexity: ScaleRule.model_validate(
        {"type": kind, "mode": "sum", "complexity": f"{factor}*n**{exponent}"}
        if use_complexity
        else {"type": kind, "mode": "sum", "scale_factor": factor}
    ),
    st.sampled_from(["request", "limit"]),
    st.integers(min_value=1, max_value=200),
    st.sampled_from(["1", "1.2", "2"]),
    st.booleans(),
)
sizes = st.integers(min_value=0, max_value=64 * GIB)
static_mib = st.none() | st.integers(min_value=1, max_value=8 * 1024)


@st.composite
def statics(draw: Any) -> Resources:
    request = draw(static_mib)
    limit = draw(static_mib)
    if request is not None and limit is not None and limit < request:
        request, limit = limit, request
    requests = {} if request is None else {"memory": format_bytes_quantity(request * MIB)}
    limits = {} if limit is None else {"memory": format_bytes_quantity(limit * MIB)}
    return Resources(requests=requests, limits=limits)


def compute(static: Resources, pairs: list[tuple[ScaleRule, int]]) -> tuple[int | None, int | None]:
    measurements = [
        (rule, Measurement(channel=f"c{i}", mode=ScaleRuleMode.SUM, measured_bytes=size, files_counted=1))
        for i, (rule, size) in enumerate(pairs)
    ]
    result = compute_resources(static=static, measurements=measurements, upper_bound=BOUND)
    return result.memory_request_bytes, result.memory_limit_bytes


def static_bytes(static: Resources) -> tuple[int | None, int | None]:
    req = static.requests.get("memory")
    lim = static.limits.get("memory")
    return (None if req is None else int(parse_quantity(req)), None if lim is None else int(parse_quantity(lim)))


@settings(max_examples=300, deadline=None)
@given(statics(), st.lists(st.tuples(rules, sizes), max_size=4), st.data())
def test_monotonic_in_size(static: Resources, pairs: list[tuple[ScaleRule, int]], data: Any) -> None:
    grown = [(rule, size + data.draw(st.integers(min_value=0, max_value=GIB))) for rule, size in pairs]
    before, after = compute(static, pairs), compute(static, grown)
    for small, big in zip(before, after, strict=True):
        assert (small or 0) <= (big or 0)


@settings(max_examples=300, deadline=None)
@given(statics(), st.lists(st.tuples(rules, sizes), max_size=4))
def test_never_below_static_never_above_bound_limits_at_least_requests(
    static: Resources, pairs: list[tuple[ScaleRule, int]]
) -> None:
    request, limit = compute(static, pairs)
    static_request, static_limit = static_bytes(static)
    if static_request is not None:
        assert request is not None and request >= static_request
    if static_limit is not None:
        assert limit is not None and limit >= static_limit
    cap = max(BOUND, static_request or 0, static_limit or 0)
    assert (request or 0) <= cap
    assert (limit or 0) <= cap
    if request is not None and limit is not None:
        assert limit >= request
    for value in (request, limit):
        if value is not None and value not in (static_request, static_limit):
            assert value % MIB == 0  # scaled values are whole MiB
