"""The learned scale rule: covers every need with the headroom, wastes least, and is what the operator computes."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from task_api.core.recommend import (
    Point,
    fit,
    fit_brute_force,
    recommend,
    round_factor_up,
    rule_value,
)

MIB = 1024**2
H = Fraction(11, 10)


@pytest.mark.parametrize(
    ("points", "floor", "base", "slope"),
    [
        # Need proportional to size: no base, the slope is the ratio times the headroom.
        ([Point(10 * MIB, 20 * MIB), Point(40 * MIB, 80 * MIB)], 0, 0, Fraction(22, 10)),
        # Same need whatever the size: a base alone wastes nothing, a slope would.
        ([Point(10 * MIB, 30 * MIB), Point(40 * MIB, 30 * MIB)], 0, 33 * MIB, 0),
        # A base for small inputs and a slope for large ones: the base covers the small run exactly.
        (
            [Point(1 * MIB, 16 * MIB), Point(50 * MIB, 100 * MIB), Point(100 * MIB, 200 * MIB)],
            0,
            Fraction(176, 10) * MIB,
            Fraction(22, 10),
        ),
        # The floor keeps the base at least that high.
        ([Point(10 * MIB, 20 * MIB), Point(40 * MIB, 80 * MIB)], 64 * MIB, 64 * MIB, Fraction(22, 10)),
        # A run without measured input can only be covered by the base.
        ([Point(0, 10 * MIB), Point(40 * MIB, 80 * MIB)], 0, 11 * MIB, Fraction(22, 10)),
    ],
)
def test_fit_table(points: list[Point], floor: int, base: Fraction, slope: Fraction) -> None:
    found = fit(points, headroom=H, floor=floor)
    assert found is not None
    assert (found.base, found.slope) == (base, slope)
    assert found == fit_brute_force(points, headroom=H, floor=floor)


def test_fit_of_nothing_is_none() -> None:
    assert fit([], headroom=H) is None
    assert recommend({}) is None
    assert recommend([]) is None


def test_headroom_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="headroom"):
        fit([Point(1, 1)], headroom=Fraction(9, 10))


points_strategy = st.lists(
    st.builds(Point, size=st.integers(0, 10**9), need=st.integers(1, 10**9)), min_size=1, max_size=25
)


@settings(max_examples=300, deadline=None)
@given(points=points_strategy, floor=st.integers(0, 10**9), headroom=st.sampled_from([Fraction(1), H, Fraction(3, 2)]))
def test_fit_is_the_brute_force_optimum_and_covers_everything(
    points: list[Point], floor: int, headroom: Fraction
) -> None:
    fast = fit(points, headroom=headroom, floor=floor)
    slow = fit_brute_force(points, headroom=headroom, floor=floor)
    assert (fast.waste if fast else None) == (slow.waste if slow else None)
    assert fast is not None  # the largest target as base always covers everything
    assert fast.base >= floor
    for p in points:
        assert max(fast.base, fast.slope * p.size) >= headroom * p.need


@settings(max_examples=200, deadline=None)
@given(
    points=st.lists(st.builds(Point, size=st.integers(1, 10**10), need=st.integers(1, 10**10)), min_size=1, max_size=15)
)
def test_the_rounded_rule_still_covers_every_need_in_the_operators_own_computation(points: list[Point]) -> None:
    rec = recommend({("in", "sum"): points})
    assert rec is not None and rec.covers_all
    for p in points:
        assert rec.value_for(p.size) >= Fraction(11, 10) * p.need


def test_the_cheapest_predictor_wins() -> None:
    # max_file_size explains the need exactly (2x); sum is noise.
    by_file = [Point(10 * MIB, 20 * MIB), Point(30 * MIB, 60 * MIB), Point(50 * MIB, 100 * MIB)]
    by_sum = [Point(90 * MIB, 20 * MIB), Point(40 * MIB, 60 * MIB), Point(60 * MIB, 100 * MIB)]
    rec = recommend({("in", "max_file_size"): by_file, ("in", "sum"): by_sum})
    assert rec is not None
    assert (rec.channel, rec.mode, rec.scale_factor, rec.base_bytes) == ("in", "max_file_size", Decimal(2), 0)
    assert rec.scale_rule() == {"scale_factor": 2.0, "type": "limit", "mode": "max_file_size"}
    assert rec.static_resources() == {}
    assert rec.waste_bytes == sum(rec.value_for(p.size) - p.need for p in by_file)


def test_a_static_value_when_nothing_was_measured() -> None:
    rec = recommend([Point(0, 30 * MIB), Point(0, 50 * MIB)], rule_type="request")
    assert rec is not None
    assert rec.scale_factor is None and rec.scale_rule() is None
    assert rec.base_bytes == 55 * MIB
    assert rec.static_resources() == {"requests": {"memory": "55Mi"}}
    assert rec.describe() == "static request 55Mi, no scale rule needed"


def test_lower_bounds_are_counted() -> None:
    rec = recommend({("in", "sum"): [Point(10 * MIB, 20 * MIB, lower_bound=True), Point(20 * MIB, 40 * MIB)]})
    assert rec is not None and rec.lower_bounds == 1 and rec.points == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(20931, 10000), Decimal("2.10")),
        (Fraction(2), Decimal("2")),
        (Fraction(1, 3), Decimal("0.334")),
        (Fraction(123456, 1), Decimal("1.24E+5")),
        (Fraction(0), Decimal(0)),
    ],
)
def test_round_factor_up(value: Fraction, expected: Decimal) -> None:
    got = round_factor_up(value)
    assert got == expected and Fraction(got) >= value


@pytest.mark.parametrize(
    ("factor", "base", "rule_type", "size", "expected"),
    [
        (Decimal(2), 0, "limit", 10 * MIB, 22 * MIB),  # 2 x 10 MiB x 1.1 headroom
        (Decimal(2), 64 * MIB, "limit", 10 * MIB, 64 * MIB),  # the base wins
        (None, 64 * MIB, "request", 10 * MIB, 64 * MIB),  # static only
        (Decimal("0.5"), 0, "request", 3 * MIB + 1, 2 * MIB),  # rounded up to whole MiB
    ],
)
def test_rule_value_is_the_operators_computation(
    factor: Decimal | None, base: int, rule_type: str, size: int, expected: int
) -> None:
    assert rule_value(scale_factor=factor, base_bytes=base, rule_type=rule_type, mode="sum", size=size) == expected
