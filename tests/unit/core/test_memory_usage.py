"""Observations from TaskRuns, the per-group report, right-sizing decisions and metric samples (pure)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from task_api.core.memory_usage import (
    InputSize,
    Observation,
    group_observations,
    group_report,
    observations_from_taskrun,
    quantity_bytes,
)
from task_api.core.rightsize import (
    RightSizingSettings,
    effective_settings,
    image_repository,
    rightsize,
    usage_samples,
)

MIB = 1024**2
DIGEST = "sha256:" + "a" * 64


def taskrun(name: str, size: int, peaks: list[dict[str, Any]], **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": name, "uid": f"uid-{name}"},
        "spec": {"taskTemplate": "read-all", "processingContainerRef": {"name": "pc"}},
        "status": {
            "template": "read-all",
            "image": f"127.0.0.1:5016/examples/memory@{DIGEST}",
            "imageDigest": DIGEST,
            "attempts": len(peaks) or 1,
            "measurements": [{"channel": "in", "mode": "sum", "bytes": size, "files": 3}],
            "memory": {"limit": "64Mi", "explanation": ["..."], "peaks": peaks},
            **status,
        },
    }


def peak(attempt: int, used: int, *, limit: str = "64Mi", oom: bool = False) -> dict[str, Any]:
    return {
        "attempt": attempt,
        "pod": f"p-a{attempt}",
        "peakBytes": used,
        "peak": "x",
        "limit": limit,
        "oomKilled": oom,
        "source": "cgroup v1 pod",
    }


class TestObservations:
    def test_each_recorded_attempt_with_what_it_was_given(self) -> None:
        run = taskrun("r", 10 * MIB, [peak(1, 40 * MIB, limit="32Mi", oom=True), peak(2, 30 * MIB, limit="48Mi")])
        first, second = observations_from_taskrun(run)
        assert (first.attempt, first.limit_bytes, first.peak_bytes, first.oom_killed) == (1, 32 * MIB, 40 * MIB, True)
        assert (second.attempt, second.limit_bytes, second.peak_bytes) == (2, 48 * MIB, 30 * MIB)
        assert first.inputs == (InputSize("in", "sum", 10 * MIB),)
        assert (first.image, first.template, first.run) == (DIGEST, "read-all", "ns/r")
        # OOM: the need is at least the limit it was killed at; the waste is what was reserved beyond the peak.
        assert first.need_bytes == 40 * MIB and second.need_bytes == 30 * MIB
        assert second.waste_bytes == 18 * MIB

    def test_an_unrecorded_attempt_is_kept_without_a_peak(self) -> None:
        run = taskrun("r", MIB, [], reason="OOMKilled")
        (only,) = observations_from_taskrun(run)
        assert only.peak_bytes is None and only.limit_bytes == 64 * MIB and only.oom_killed

    def test_malformed_entries_are_skipped(self) -> None:
        run = taskrun("r", MIB, [{"attempt": "x"}, {"attempt": 1, "peakBytes": "big"}, "junk"], attempts=1)  # type: ignore[list-item]
        (only,) = observations_from_taskrun(run)
        assert only.peak_bytes is None

    @pytest.mark.parametrize(
        ("explanation", "requested", "expected"),
        [
            (["in (sum): 1 bytes in 1 files -> ... = 2Mi for the request"], "64Mi", "request"),
            (["in (sum): 1 bytes in 1 files -> ... = 2Mi for the limit"], "64Mi", "limit"),
            ([], "64Mi", "limit"),  # request == limit: Kubernetes copied the limit
            ([], "16Mi", "request"),
        ],
    )
    def test_the_rule_type_from_the_explanation_or_the_values(
        self, explanation: list[str], requested: str, expected: str
    ) -> None:
        run = taskrun("r", MIB, [{**peak(1, 8 * MIB), "request": requested}])
        run["status"]["memory"]["explanation"] = explanation
        report = group_report(observations_from_taskrun(run))
        assert report.recommendation is not None and report.recommendation.rule_type == expected

    def test_request_is_what_was_reserved_when_set(self) -> None:
        obs = Observation(image="i", template="t", run="r", attempt=1, request_bytes=10, limit_bytes=50, peak_bytes=4)
        assert (obs.reserved_bytes, obs.waste_bytes) == (10, 6)

    @pytest.mark.parametrize(("text", "value"), [("64Mi", 64 * MIB), ("1G", 10**9), (None, None), ("junk", None)])
    def test_quantity_bytes(self, text: str | None, value: int | None) -> None:
        assert quantity_bytes(text) == value


class TestGroupReport:
    def test_recommends_a_rule_covering_every_peak(self) -> None:
        runs = [taskrun(f"r{i}", s * MIB, [peak(1, 2 * s * MIB + MIB)]) for i, s in enumerate((5, 10, 20, 40))]
        obs = [o for r in runs for o in observations_from_taskrun(r)]
        ((key, group),) = group_observations(obs).items()
        assert key == (DIGEST, "read-all")
        report = group_report(group, headroom=Decimal("1.1"))
        rec = report.recommendation
        assert rec is not None and rec.covers_all
        assert (rec.channel, rec.mode, rec.rule_type) == ("in", "sum", "limit")
        for o in group:
            assert rec.value_for(o.inputs[0].bytes) >= Decimal("1.1") * int(o.peak_bytes or 0)
        assert (report.runs, report.attempts, report.with_peak, report.oom_kills) == (4, 4, 4, 0)
        assert report.waste_total == sum(64 * MIB - int(o.peak_bytes or 0) for o in group)
        assert report.input_range == (5 * MIB, 40 * MIB)
        assert rec.waste_bytes < report.waste_total

    def test_nothing_to_learn_without_peaks(self) -> None:
        report = group_report(observations_from_taskrun(taskrun("r", MIB, [])))
        assert report.recommendation is None
        assert report.notes == ("no attempt has a recorded peak yet: nothing to learn from",)

    def test_few_runs_and_oom_kills_are_noted(self) -> None:
        obs = observations_from_taskrun(taskrun("r", MIB, [peak(1, 64 * MIB, oom=True), peak(2, 70 * MIB)]))
        report = group_report(obs)
        assert report.oom_kills == 1
        assert any("OOM-killed" in n for n in report.notes)
        assert any("only 2 observation" in n for n in report.notes)


def history(n: int) -> list[Observation]:
    return [
        Observation(
            image=DIGEST,
            template="t",
            run=f"r{i}",
            attempt=1,
            inputs=(InputSize("in", "sum", s * MIB),),
            limit_bytes=256 * MIB,
            peak_bytes=2 * s * MIB,
        )
        for i, s in enumerate([8, 16, 32, 64, 96][:n])
    ]


class TestRightSize:
    ON = RightSizingSettings(enabled=True, min_runs=5, headroom=Decimal("1.2"))
    common: dict[str, Any] = {  # noqa: RUF012
        "rules_request": None,
        "rules_limit": 256 * MIB,
        "inputs": [InputSize("in", "sum", 20 * MIB)],
        "static_request": None,
        "static_limit": 16 * MIB,
        "upper_bound": 16 * 1024 * MIB,
    }

    def test_off_by_default(self) -> None:
        got = rightsize(settings=RightSizingSettings(), history=history(5), oom_kills=0, **self.common)
        assert (got.limit_bytes, got.sized_by, got.explanation) == (256 * MIB, "rules", ())

    def test_uses_the_learned_rule_once_enough_runs_exist(self) -> None:
        got = rightsize(settings=self.ON, history=history(5), oom_kills=0, **self.common)
        assert got.sized_by == "learned"
        assert got.limit_bytes is not None and 48 * MIB <= got.limit_bytes < 256 * MIB  # 2 x 20 MiB x 1.2, rounded
        assert got.explanation[0].startswith("right-sizing: learned from 5 runs")
        assert got.quantities() == {"limit": f"{got.limit_bytes // MIB}Mi"}

    def test_not_before_min_runs(self) -> None:
        got = rightsize(settings=self.ON, history=history(4), oom_kills=0, **self.common)
        assert got.sized_by == "rules" and got.limit_bytes == 256 * MIB
        assert "4 of 5 runs" in got.explanation[0]

    def test_never_below_the_static_minimum(self) -> None:
        tiny = {**self.common, "inputs": [InputSize("in", "sum", 1)], "static_limit": 100 * MIB}
        got = rightsize(settings=self.ON, history=history(5), oom_kills=0, **tiny)
        assert got.limit_bytes == 100 * MIB

    def test_after_an_oom_kill_the_rules_and_escalation_take_over(self) -> None:
        got = rightsize(settings=self.ON, history=history(5), oom_kills=1, **self.common)
        assert (got.limit_bytes, got.sized_by) == (256 * MIB, "oom-escalation")

    def test_unmeasured_predictor_falls_back_to_the_rules(self) -> None:
        other = {**self.common, "inputs": [InputSize("other", "sum", MIB)]}
        got = rightsize(settings=self.ON, history=history(5), oom_kills=0, **other)
        assert got.sized_by == "rules" and "did not measure" in got.explanation[0]

    def test_a_request_rule_keeps_the_limit_above_it(self) -> None:
        req = {**self.common, "rules_request": 256 * MIB, "rules_limit": None, "static_limit": None}
        got = rightsize(settings=self.ON, history=history(5), oom_kills=0, **req)
        assert got.sized_by == "learned" and got.limit_bytes is None and got.request_bytes is not None

    @pytest.mark.parametrize(
        ("pc", "tr", "expected"),
        [
            (None, {}, RightSizingSettings()),
            ({"memoryRightSizing": {"enabled": True}}, {}, RightSizingSettings(enabled=True)),
            (
                {"memoryRightSizing": {"enabled": True}},
                {"memoryRightSizing": {"enabled": False, "minRuns": 2}},
                RightSizingSettings(enabled=False, min_runs=2),
            ),
            (
                None,
                {"memoryRightSizing": {"enabled": True, "headroom": 1.5}},
                RightSizingSettings(enabled=True, headroom=Decimal("1.5")),
            ),
        ],
    )
    def test_effective_settings(self, pc: dict[str, Any] | None, tr: dict[str, Any], expected: Any) -> None:
        assert effective_settings(pc, tr) == expected


def test_usage_samples_per_recorded_attempt() -> None:
    run = taskrun("r", MIB, [peak(1, 40 * MIB, limit="32Mi", oom=True), peak(2, 30 * MIB, limit="48Mi")])
    first, second = usage_samples(run)
    assert (first.uid, first.attempt, first.template, first.image) == (
        "uid-r",
        1,
        "read-all",
        "127.0.0.1:5016/examples/memory",
    )
    assert (first.requested_bytes, first.peak_bytes, first.oom_killed) == (32 * MIB, 40 * MIB, True)
    assert (second.requested_bytes, second.peak_bytes) == (48 * MIB, 30 * MIB)


@pytest.mark.parametrize(
    ("image", "repo"),
    [
        ("reg:5000/a/b:tag", "reg:5000/a/b"),
        ("reg:5000/a/b@sha256:ff", "reg:5000/a/b"),
        ("reg:5000/a/b:t@sha256:ff", "reg:5000/a/b"),
        ("busybox", "busybox"),
    ],
)
def test_image_repository(image: str, repo: str) -> None:
    assert image_repository(image) == repo
