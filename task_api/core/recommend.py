"""Learn a scale rule from what runs really used: the rule that covers every observed peak and wastes least. Pure.

A scale rule as the operator applies it (docs/scale-rules.md) gives, for a measured input size n,

    value(n) = max(base, ceil_MiB(factor x n x 1.1))

where ``base`` is the template's static memory and 1.1 the operator's own headroom. Given observations
(n_i, peak_i), :func:`fit` finds the base B and slope s (= factor x 1.1) that

* **cover** every peak with the stated headroom H: ``max(B, s x n_i) >= H x peak_i`` for every i, and
* **waste least**: the sum over runs of ``max(B, s x n_i) - peak_i`` is smallest.

For a fixed B the smallest covering slope is ``max(H x peak_i / n_i)`` over the runs B alone does not cover, and a
larger one only wastes more; the optimum B is therefore 0 (or the floor) or one of the targets ``H x peak_i``.
:func:`fit` walks those candidates from the largest down, keeping the slope as a running maximum and the waste as a
prefix sum over the sizes, in O(N log N); :func:`fit_brute_force` tries every candidate directly (the tests check
that both agree). Arithmetic is exact (fractions), so "covers every peak" is a fact, not a rounding accident.

:func:`recommend` turns the best fit into a rule an author can write down — ``scale_factor`` rounded **up** to three
significant digits, the base rounded **up** to whole MiB — and checks that rule with the operator's own
:func:`~task_api.core.scale.compute_resources` against every observation.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction

from task_api.core.scale import DEFAULT_HEADROOM, MIB, compute_resources
from task_api.spec import Measurement, Resources, ScaleRule

__all__ = [
    "DEFAULT_COVER_HEADROOM",
    "Fit",
    "Point",
    "Recommendation",
    "fit",
    "fit_brute_force",
    "recommend",
    "round_factor_up",
    "rule_value",
]

#: How far above every observed peak a recommended rule must stay (the report's ``--headroom``).
DEFAULT_COVER_HEADROOM = Decimal("1.1")
_SIGNIFICANT = 3
#: The largest scale_factor a processing-container.json accepts (task_api.spec.scale_rule).
MAX_SCALE_FACTOR = Decimal(10**6)


@dataclass(frozen=True)
class Point:
    """One observation for the fit: the measured input size and the memory it needed (bytes)."""

    size: int
    need: int
    #: The attempt was OOM-killed: ``need`` is the limit it was killed at, a lower bound of the real need.
    lower_bound: bool = False


@dataclass(frozen=True)
class Fit:
    """The exact optimum: value(n) = max(base, slope x n) in bytes; ``waste`` is the summed value - need."""

    base: Fraction
    slope: Fraction
    waste: Fraction


def _targets(points: Sequence[Point], headroom: Fraction) -> list[Fraction]:
    return [headroom * p.need for p in points]


def _cost(points: Sequence[Point], base: Fraction, slope: Fraction) -> Fraction:
    return sum((max(base, slope * p.size) - p.need for p in points), Fraction(0))


def fit_brute_force(points: Sequence[Point], *, headroom: Fraction, floor: int = 0) -> Fit | None:
    """The same optimum as :func:`fit` by trying every candidate base directly, O(N²) (pure; the tests' yardstick)."""
    if not points:
        return None
    targets = _targets(points, headroom)
    best: Fit | None = None
    for base in sorted({Fraction(floor), *(t for t in targets if t > floor)}, reverse=True):
        uncovered = [(t, p) for t, p in zip(targets, points, strict=True) if t > base]
        if any(p.size <= 0 for _, p in uncovered):
            continue
        slope = max((t / p.size for t, p in uncovered), default=Fraction(0))
        cost = _cost(points, base, slope)
        if best is None or cost <= best.waste:
            best = Fit(base=base, slope=slope, waste=cost)
    return best


def fit(points: Sequence[Point], *, headroom: Fraction, floor: int = 0) -> Fit | None:
    """The base and slope that cover every point's need x ``headroom`` and waste least; None without points (pure).

    ``floor`` is the smallest base allowed (right-sizing never goes below the template's static memory).
    """
    if not points:
        return None
    if headroom < 1:
        raise ValueError(f"headroom must be ≥ 1 (given {headroom})")
    sizes = sorted(p.size for p in points)
    prefix = [0]
    for size in sizes:
        prefix.append(prefix[-1] + size)
    needs = sum(p.need for p in points)
    ranked = sorted(zip(_targets(points, headroom), (p.size for p in points), strict=True), reverse=True)
    candidates = sorted({Fraction(floor), *(t for t, _ in ranked if t > floor)}, reverse=True)

    best: Fit | None = None
    slope = Fraction(0)
    zero_size_uncovered = False
    taken = 0  # ranked[:taken] are the points whose target lies above the current base
    for base in candidates:
        while taken < len(ranked) and ranked[taken][0] > base:
            target, size = ranked[taken]
            if size <= 0:
                zero_size_uncovered = True
            else:
                slope = max(slope, target / size)
            taken += 1
        if zero_size_uncovered:
            break  # a point with no input can only be covered by the base, and lower bases follow
        # Sum of max(base, slope x n): base for the sizes up to base / slope, slope x n above.
        if slope == 0:
            total = base * len(sizes)
        else:
            cut = bisect.bisect_right(sizes, base / slope)
            total = base * cut + slope * (prefix[-1] - prefix[cut])
        cost = total - needs
        # On a tie the smaller base wins: it extrapolates to small inputs without reserving a fixed amount.
        if best is None or cost <= best.waste:
            best = Fit(base=base, slope=slope, waste=cost)
    return best


def round_factor_up(value: Fraction, digits: int = _SIGNIFICANT) -> Decimal:
    """``value`` rounded up to ``digits`` significant digits, as a Decimal (pure): 2.0931 → 2.10."""
    if value <= 0:
        return Decimal(0)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    exponent = math.floor(exact.log10()) - digits + 1
    quantum = Decimal(1).scaleb(exponent)
    rounded = (exact / quantum).to_integral_value(rounding=ROUND_CEILING) * quantum
    # Decimal division may have rounded ``exact`` down by one unit in its last place: never fall below the value.
    while Fraction(rounded) < value:
        rounded += quantum
    return rounded.normalize() if rounded == rounded.to_integral_value() else rounded


def _mib_up(value: Fraction) -> int:
    return math.ceil(value / MIB) * MIB if value > 0 else 0


def rule_value(*, scale_factor: Decimal | None, base_bytes: int, rule_type: str, mode: str, size: int) -> int:
    """What the operator computes for ``size`` under a rule ``scale_factor`` with static ``base_bytes`` (pure).

    The operator's own function does the computing, so a recommendation is checked against exactly what a run
    sized by it would get (headroom 1.1, whole MiB).
    """
    key = "requests" if rule_type == "request" else "limits"
    static = Resources(**{key: {"memory": f"{base_bytes // MIB}Mi"}}) if base_bytes > 0 else None
    pairs: list[tuple[ScaleRule, Measurement]] = []
    if scale_factor is not None and scale_factor > 0:
        rule = ScaleRule(scale_factor=float(scale_factor), type=rule_type, mode=mode)
        measured = Measurement(channel="in", mode=mode, measured_bytes=size, files_counted=0)
        pairs.append((rule, measured))
    result = compute_resources(static=static, measurements=pairs)
    value = result.memory_request_bytes if rule_type == "request" else result.memory_limit_bytes
    return int(value or 0)


@dataclass(frozen=True)
class Recommendation:
    """A scale rule learned from observations, ready to write into a processing-container.json."""

    channel: str | None
    mode: str | None
    rule_type: str
    #: None: no rule is needed, the static memory alone covers every peak.
    scale_factor: Decimal | None
    base_bytes: int
    headroom: Decimal
    points: int
    lower_bounds: int
    min_size: int
    max_size: int
    #: Summed (value - peak) over the observations under this rule, and under what the runs really got.
    waste_bytes: int
    #: Every observation, run through the operator's computation, is covered with the headroom.
    covers_all: bool

    def value_for(self, size: int) -> int:
        """Memory this rule gives an input of ``size`` bytes (pure)."""
        return rule_value(
            scale_factor=self.scale_factor,
            base_bytes=self.base_bytes,
            rule_type=self.rule_type,
            mode=self.mode or "sum",
            size=size,
        )

    def scale_rule(self) -> dict[str, object] | None:
        """The ``scale_rule`` object of the template's input channel (None when no rule is needed)."""
        if self.scale_factor is None or self.mode is None:
            return None
        return {"scale_factor": float(self.scale_factor), "type": self.rule_type, "mode": self.mode}

    def static_resources(self) -> dict[str, dict[str, str]]:
        """The template's static ``resources`` memory that goes with the rule."""
        key = "requests" if self.rule_type == "request" else "limits"
        return {key: {"memory": f"{self.base_bytes // MIB}Mi"}} if self.base_bytes else {}

    def describe(self) -> str:
        """One line for people."""
        base = f"{self.base_bytes // MIB}Mi" if self.base_bytes else "none"
        if self.scale_factor is None:
            return f"static {self.rule_type} {base}, no scale rule needed"
        return (
            f"{self.channel}: scale_factor {self.scale_factor} (mode {self.mode}, type {self.rule_type}), "
            f"static {self.rule_type} {base}"
        )


def recommend(
    predictors: Mapping[tuple[str, str], Sequence[Point]] | Sequence[Point],
    *,
    headroom: Decimal = DEFAULT_COVER_HEADROOM,
    rule_type: str = "limit",
    floor: int = 0,
) -> Recommendation | None:
    """The scale rule that covers every observed need x ``headroom`` and wastes least (pure).

    ``predictors`` maps each (channel, mode) measured for **every** observation to the points under it; the one
    whose best rule wastes least wins. A bare sequence of points means "no measured input": the result is then a
    static value alone. ``floor`` is the smallest static base allowed. None without points.
    """
    cover = Fraction(headroom)
    operator_headroom = Fraction(DEFAULT_HEADROOM)
    if not isinstance(predictors, Mapping):
        flat = list(predictors)
        if not flat:
            return None
        predictors = {("", ""): flat}
    best: tuple[Fraction, Recommendation] | None = None
    for (channel, mode), points in sorted(predictors.items()):
        if not points:
            continue
        found = fit(points, headroom=cover, floor=floor)
        if found is None:
            continue
        has_input = bool(mode) and found.slope > 0
        factor = round_factor_up(found.slope / operator_headroom) if has_input else None
        base = _mib_up(found.base)
        if factor is not None and factor > MAX_SCALE_FACTOR:
            # Beyond what a scale rule may say (tiny inputs with large needs): the size explains nothing here.
            factor, base, has_input = None, 0, False
        if not has_input and base == 0:
            base = _mib_up(max(cover * p.need for p in points))
        candidate = Recommendation(
            channel=channel or None,
            mode=mode or None,
            rule_type=rule_type,
            scale_factor=factor,
            base_bytes=base,
            headroom=headroom,
            points=len(points),
            lower_bounds=sum(p.lower_bound for p in points),
            min_size=min(p.size for p in points),
            max_size=max(p.size for p in points),
            waste_bytes=0,
            covers_all=False,
        )
        values = [candidate.value_for(p.size) for p in points]
        waste = sum(v - p.need for v, p in zip(values, points, strict=True))
        covers = all(Fraction(v) >= cover * p.need for v, p in zip(values, points, strict=True))
        candidate = Recommendation(**{**candidate.__dict__, "waste_bytes": waste, "covers_all": covers})
        key = Fraction(waste)
        if best is None or key < best[0]:
            best = (key, candidate)
    return best[1] if best else None
