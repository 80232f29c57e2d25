"""compute_resources: worked examples of the rules in docs/scale-rules.md."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from task_api.core.scale import MIB, compute_resources, rule_demand
from task_api.spec import Measurement, Resources, ScaleRule, ScaleRuleMode

GIB = 1024 * MIB


def rule(kind: str = "limit", mode: str = "sum", **extra: Any) -> ScaleRule:
    fields: dict[str, Any] = {"type": kind, "mode": mode, **extra}
    if "complexity" not in fields:
        fields.setdefault("scale_factor", 2)
    return ScaleRule.model_validate(fields)


def measured(size: int, channel: str = "in", mode: str = "sum", **extra: Any) -> Measurement:
    return Measurement(channel=channel, mode=ScaleRuleMode(mode), measured_bytes=size, files_counted=3, **extra)


def static(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> Resources:
    return Resources(requests=requests or {}, limits=limits or {})


@pytest.mark.parametrize(
    ("scale_rule", "size", "demand"),
    [
        (rule(scale_factor=2), 100, Decimal(200)),
        (rule(scale_factor=0.5), 100, Decimal(50)),
        (rule(complexity="2*n"), 3 * MIB, Decimal(6 * MIB)),
        (rule(complexity="n**2"), 4 * MIB, Decimal(16 * MIB)),
        (rule(complexity="n**2"), MIB // 2, Decimal(MIB // 4)),
        (rule(scale_factor=2), 0, Decimal(0)),
    ],
)
def test_rule_demand(scale_rule: ScaleRule, size: int, demand: Decimal) -> None:
    assert rule_demand(scale_rule, size) == demand


def test_limit_rule_raises_the_limit_with_headroom_rounded_up_to_mib() -> None:
    result = compute_resources(
        static=static({"memory": "100Mi"}, {"memory": "500Mi"}),
        measurements=[(rule(scale_factor=10), measured(100 * MIB))],
    )
    # 10 x 100 MiB = 1000 MiB, x1.1 = 1100 MiB
    assert result.limits == {"memory": "1100Mi"}
    assert result.requests == {"memory": "100Mi"}
    assert (result.memory_request_bytes, result.memory_limit_bytes) == (100 * MIB, 1100 * MIB)


def test_rules_never_lower_static_values() -> None:
    result = compute_resources(
        static=static({"memory": "1Gi"}, {"memory": "2Gi"}),
        measurements=[(rule("limit", scale_factor=1), measured(MIB)), (rule("request", scale_factor=1), measured(MIB))],
    )
    assert result.requests == {"memory": "1Gi"}
    assert result.limits == {"memory": "2Gi"}  # original spelling kept when unchanged


def test_request_rule_above_the_limit_lifts_the_limit() -> None:
    result = compute_resources(
        static=static({"memory": "100Mi"}, {"memory": "200Mi"}),
        measurements=[(rule("request", scale_factor=1), measured(1000 * MIB))],
    )
    assert result.requests == {"memory": "1100Mi"}
    assert result.limits == {"memory": "1100Mi"}
    assert any("limit raised to the request" in line for line in result.explanation)


def test_largest_rule_wins_per_type() -> None:
    result = compute_resources(
        static=None,
        measurements=[
            (rule("limit", scale_factor=1), measured(10 * MIB, "a")),
            (rule("limit", scale_factor=1), measured(30 * MIB, "b")),
            (rule("request", scale_factor=1), measured(5 * MIB, "c")),
        ],
    )
    assert result.limits == {"memory": "33Mi"}
    assert result.requests == {"memory": "6Mi"}


def test_upper_bound_caps_scaled_values_but_not_static_ones() -> None:
    result = compute_resources(
        static=static(limits={"memory": "8Gi"}),
        measurements=[(rule(scale_factor=1000), measured(GIB))],
        upper_bound=4 * GIB,
    )
    assert result.limits == {"memory": "8Gi"}
    capped = compute_resources(
        static=None, measurements=[(rule(scale_factor=1000), measured(GIB))], upper_bound=4 * GIB
    )
    assert capped.limits == {"memory": "4Gi"}
    assert any("capped" in line for line in capped.explanation)


def test_empty_input_adds_nothing() -> None:
    result = compute_resources(static=None, measurements=[(rule(), measured(0, target_missing=True))])
    assert (result.requests, result.limits) == ({}, {})
    assert result.memory_limit_bytes is None
    assert "target missing" in result.explanation[0]


def test_other_resources_pass_through() -> None:
    result = compute_resources(
        static=static({"cpu": "500m", "nvidia.com/gpu": "1"}, {"cpu": "2", "nvidia.com/gpu": "1"}),
        measurements=[(rule(), measured(MIB))],
    )
    assert result.requests == {"cpu": "500m", "nvidia.com/gpu": "1"}
    assert result.limits == {"cpu": "2", "nvidia.com/gpu": "1", "memory": "3Mi"}


def test_explanation_names_channel_mode_and_formula() -> None:
    result = compute_resources(
        static=static({"memory": "10Mi"}),
        measurements=[
            (rule(mode="max_item_sum", scale_factor=3), measured(MIB, "moving", "max_item_sum", largest="p1"))
        ],
    )
    text = "\n".join(result.explanation)
    assert "static memory: request 10Mi" in text
    assert "moving (max_item_sum, largest p1)" in text
    assert "3 x bytes" in text
    assert "= 4Mi for the limit" in text
    # The scaled limit (4Mi) is below the static request (10Mi), so the limit is lifted to it.
    assert text.splitlines()[-1] == "memory: request 10Mi, limit 10Mi"


@pytest.mark.parametrize(("headroom", "upper"), [(Decimal("0.9"), GIB), (Decimal(1), 0)])
def test_bad_parameters_are_refused(headroom: Decimal, upper: int) -> None:
    with pytest.raises(ValueError):
        compute_resources(static=None, measurements=[], headroom=headroom, upper_bound=upper)
