"""What runs were given and what they really used, per image digest and template. Pure.

An :class:`Observation` is one attempt: the measured input sizes, the memory request and limit it ran with, the peak
the node agent (``status.memory.peaks``, Kubernetes) or the Docker runner (the run record) recorded, and whether it
was OOM-killed. :func:`observations_from_taskrun` reads them from a TaskRun object (a plain dictionary as the API
server returns it); :func:`group_report` summarises one image digest and template and asks
:func:`task_api.core.recommend.recommend` for the rule that would have covered every peak.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from task_api.core.recommend import DEFAULT_COVER_HEADROOM, Point, Recommendation, recommend
from task_api.spec.quantity import parse_quantity

__all__ = [
    "GroupReport",
    "InputSize",
    "Observation",
    "group_observations",
    "group_report",
    "observations_from_taskrun",
    "quantity_bytes",
]


@dataclass(frozen=True)
class InputSize:
    """One input channel's size as its scale rule measured it."""

    channel: str
    mode: str
    bytes: int


@dataclass(frozen=True)
class Observation:
    """One attempt of one run: sizes in, memory given, memory used."""

    image: str
    template: str
    run: str
    attempt: int
    inputs: tuple[InputSize, ...] = ()
    request_bytes: int | None = None
    limit_bytes: int | None = None
    peak_bytes: int | None = None
    oom_killed: bool = False
    #: The type of the rule that sized the run ("request" or "limit"), when known.
    rule_type: str | None = None

    @property
    def reserved_bytes(self) -> int | None:
        """What the scheduler set aside: the request, or the limit when only that is set (Kubernetes' default)."""
        return self.request_bytes if self.request_bytes is not None else self.limit_bytes

    @property
    def waste_bytes(self) -> int | None:
        """Reserved minus peak (negative: the run used more than it reserved)."""
        if self.reserved_bytes is None or self.peak_bytes is None:
            return None
        return self.reserved_bytes - self.peak_bytes

    @property
    def need_bytes(self) -> int | None:
        """What the run needed: the peak, or for an OOM kill at least the limit it was killed at."""
        if self.peak_bytes is None:
            return None
        if self.oom_killed and self.limit_bytes is not None:
            return max(self.peak_bytes, self.limit_bytes)
        return self.peak_bytes


def quantity_bytes(text: object) -> int | None:
    """A memory quantity as whole bytes, None when absent or unreadable (pure)."""
    if text is None or text == "":
        return None
    try:
        return int(parse_quantity(str(text)))
    except (ValueError, ArithmeticError):
        return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def observations_from_taskrun(taskrun: Mapping[str, Any]) -> list[Observation]:
    """Every attempt of a TaskRun with its recorded peak; attempts the agent did not record have ``peak_bytes`` None.

    Malformed parts (a hand-edited status) are skipped rather than trusted.
    """
    meta = taskrun.get("metadata") or {}
    spec = taskrun.get("spec") or {}
    status = taskrun.get("status") or {}
    run = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    image = str(status.get("imageDigest") or status.get("image") or spec.get("image") or "")
    template = str(status.get("template") or spec.get("taskTemplate") or "")
    inputs = tuple(
        InputSize(channel=str(m.get("channel")), mode=str(m.get("mode")), bytes=int(m["bytes"]))
        for m in status.get("measurements") or []
        if isinstance(m, Mapping) and _int(m.get("bytes")) is not None
    )
    memory = status.get("memory") or {}
    peaks = {
        int(p["attempt"]): p
        for p in memory.get("peaks") or []
        if isinstance(p, Mapping) and _int(p.get("attempt")) and _int(p.get("peakBytes")) is not None
    }
    attempts = max([_int(status.get("attempts")) or 0, *peaks])
    # compute_resources ends each rule's explanation line with "for the request" or "for the limit".
    said = {t for line in memory.get("explanation") or [] for t in ("request", "limit") if f"for the {t}" in str(line)}
    rule_type = said.pop() if len(said) == 1 else None
    out = []
    for attempt in range(1, attempts + 1):
        peak = peaks.get(attempt)
        if peak is not None:
            request, limit = quantity_bytes(peak.get("request")), quantity_bytes(peak.get("limit"))
            used: int | None = int(peak["peakBytes"])
            oom = bool(peak.get("oomKilled"))
        else:
            # Only the latest attempt's memory is in status.memory; earlier unrecorded attempts stay unknown.
            latest = attempt == attempts
            request = quantity_bytes(memory.get("request")) if latest else None
            limit = quantity_bytes(memory.get("limit")) if latest else None
            used, oom = None, latest and status.get("reason") == "OOMKilled"
        out.append(
            Observation(
                image=image,
                template=template,
                run=run,
                attempt=attempt,
                inputs=inputs,
                request_bytes=request,
                limit_bytes=limit,
                peak_bytes=used,
                oom_killed=oom,
                rule_type=rule_type,
            )
        )
    return out


def group_observations(observations: Iterable[Observation]) -> dict[tuple[str, str], list[Observation]]:
    """Observations by (image digest, template), in a stable order (pure)."""
    groups: dict[tuple[str, str], list[Observation]] = {}
    for obs in observations:
        groups.setdefault((obs.image, obs.template), []).append(obs)
    return dict(sorted(groups.items()))


@dataclass(frozen=True)
class GroupReport:
    """One image digest and template: what its runs got and used, and the rule that would have fitted."""

    image: str
    template: str
    runs: int
    attempts: int
    with_peak: int
    oom_kills: int
    observations: tuple[Observation, ...]
    reserved_total: int
    peak_total: int
    waste_total: int
    recommendation: Recommendation | None
    #: Why there is no recommendation, or what to keep in mind about it.
    notes: tuple[str, ...] = field(default=())

    @property
    def input_range(self) -> tuple[int, int] | None:
        """Smallest and largest measured input (the recommended predictor's, else the first channel's)."""
        sizes = [size for obs in self.observations if (size := self.size_of(obs)) is not None]
        return (min(sizes), max(sizes)) if sizes else None

    def size_of(self, obs: Observation) -> int | None:
        """The observation's size under the recommendation's predictor (else its first measured channel)."""
        rec = self.recommendation
        for size in obs.inputs:
            if rec is None or rec.channel is None or (size.channel, size.mode) == (rec.channel, rec.mode):
                return size.bytes
        return None


def _predictors(usable: Sequence[Observation]) -> dict[tuple[str, str], list[Point]]:
    common: set[tuple[str, str]] | None = None
    for obs in usable:
        keys = {(i.channel, i.mode) for i in obs.inputs}
        common = keys if common is None else common & keys
    out: dict[tuple[str, str], list[Point]] = {}
    for key in sorted(common or ()):
        out[key] = [
            Point(
                size=next(i.bytes for i in obs.inputs if (i.channel, i.mode) == key),
                need=int(obs.need_bytes or 0),
                lower_bound=obs.oom_killed,
            )
            for obs in usable
        ]
    return out


def group_report(
    observations: Sequence[Observation],
    *,
    headroom: Decimal = DEFAULT_COVER_HEADROOM,
    floor: int = 0,
) -> GroupReport:
    """Summarise one group's observations and recommend a rule covering every need x ``headroom`` (pure)."""
    first = observations[0] if observations else Observation(image="", template="", run="", attempt=1)
    usable = [obs for obs in observations if obs.need_bytes is not None and obs.need_bytes > 0]
    with_waste = [obs for obs in usable if obs.waste_bytes is not None]
    notes: list[str] = []
    recommendation: Recommendation | None = None
    if not usable:
        notes.append("no attempt has a recorded peak yet: nothing to learn from")
    else:
        rule_type = next((obs.rule_type for obs in usable if obs.rule_type), None)
        if rule_type is None:
            # Without a rule type on record: the limit, unless runs set a request of their own (Kubernetes copies a
            # lone limit into the request, so request == limit says nothing).
            own_request = any(o.request_bytes is not None and o.request_bytes != o.limit_bytes for o in usable)
            rule_type = "request" if own_request else "limit"
        predictors = _predictors(usable)
        recommendation = recommend(
            predictors if predictors else [Point(size=0, need=int(o.need_bytes or 0)) for o in usable],
            headroom=headroom,
            rule_type=rule_type,
            floor=floor,
        )
        if not predictors:
            notes.append("no input of these runs was measured (no scale rule): the recommendation is a static value")
        if len(usable) < 3:
            notes.append(f"only {len(usable)} observation(s): collect more before trusting the rule")
        oom = sum(obs.oom_killed for obs in usable)
        if oom:
            notes.append(
                f"{oom} attempt(s) were OOM-killed: their need is taken as the limit they were killed at, a lower bound"
            )
        if recommendation is not None and recommendation.max_size > recommendation.min_size:
            notes.append(
                "fitted on inputs from "
                f"{recommendation.min_size} to {recommendation.max_size} bytes; beyond that it is extrapolated"
            )
    return GroupReport(
        image=first.image,
        template=first.template,
        runs=len({obs.run for obs in observations}),
        attempts=len(observations),
        with_peak=sum(obs.peak_bytes is not None for obs in observations),
        oom_kills=sum(obs.oom_killed for obs in observations),
        observations=tuple(observations),
        reserved_total=sum(int(obs.reserved_bytes or 0) for obs in with_waste),
        peak_total=sum(int(obs.peak_bytes or 0) for obs in with_waste),
        waste_total=sum(int(obs.waste_bytes or 0) for obs in with_waste),
        recommendation=recommendation,
        notes=tuple(notes),
    )
