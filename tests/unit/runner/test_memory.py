"""Peak memory: finding the cgroup's high-water mark, and judging scale rules against the peak (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from task_api.runner.memory import RuleCheck, advise, cgroup_peak_file, computed_for, human_bytes
from task_api.spec.resolved import Measurement
from task_api.spec.scale_rule import ScaleRule, ScaleRuleMode

MIB = 1024**2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12:memory:/docker/abc\n11:cpu,cpuacct:/docker/abc\n", "/r/memory/docker/abc/memory.max_usage_in_bytes"),
        ("4:cpu,memory:/x/y\n", "/r/memory/x/y/memory.max_usage_in_bytes"),
        ("0::/system.slice/docker-abc.scope\n", "/r/system.slice/docker-abc.scope/memory.peak"),
        ("", None),
        ("garbage", None),
    ],
)
def test_cgroup_peak_file(text: str, expected: str | None) -> None:
    found = cgroup_peak_file(text, root=Path("/r"))
    assert (str(found) if found else None) == expected


def check(factor: float, measured: int, *, kind: str = "limit") -> RuleCheck:
    rule = ScaleRule.model_validate({"scale_factor": factor, "type": kind, "mode": "sum"})
    measurement = Measurement(channel="in", mode=ScaleRuleMode.SUM, measured_bytes=measured, files_counted=1)
    return RuleCheck(rule=rule, measurement=measurement, computed_bytes=computed_for(rule, measurement))


def test_computed_for_applies_headroom_and_rounding() -> None:
    # 2 x 10 MiB = 20 MiB, x1.1 = 22 MiB (already whole MiB)
    assert check(2, 10 * MIB).computed_bytes == 22 * MIB


def test_a_rule_that_covers_the_peak() -> None:
    lines = advise(peak_bytes=11 * MIB, oom_killed=False, limit_bytes=22 * MIB, checks=[check(2, 10 * MIB)])
    assert lines == [
        (False, "peak memory: 11.0Mi (50 % of the 22.0Mi limit)"),
        (False, "input 'in': the rule's 22.0Mi limit covers the peak (50 % used)"),
    ]


def test_an_under_provisioning_rule_gets_a_suggested_factor() -> None:
    lines = advise(peak_bytes=45 * MIB, oom_killed=False, limit_bytes=64 * MIB, checks=[check(2, 10 * MIB)])
    warning, text = lines[1]
    assert warning is True
    assert "under-provisions" in text and "computed 22.0Mi" in text and "peaked at 45.0Mi" in text
    assert "suggest scale_factor ≥ 4.5" in text  # 45 MiB / 10 MiB


def test_an_oom_kill_says_the_need_is_above_the_limit() -> None:
    lines = advise(peak_bytes=32 * MIB, oom_killed=True, limit_bytes=32 * MIB, checks=[check(1, 8 * MIB)])
    assert any(w and "OOMKilled" in t for w, t in lines)
    rule_line = lines[-1][1]
    assert "needed more than 32.0Mi" in rule_line and "suggest scale_factor ≥ 4" in rule_line


def test_no_peak() -> None:
    assert advise(peak_bytes=None, oom_killed=False, limit_bytes=None, checks=[])[0][0] is True


def test_nothing_measured() -> None:
    lines = advise(peak_bytes=MIB, oom_killed=False, limit_bytes=None, checks=[check(2, 0)])
    assert lines[-1] == (False, "input 'in': nothing measured, the rule added no memory")


@pytest.mark.parametrize(("value", "text"), [(None, "-"), (512, "512B"), (1536, "1.5Ki"), (3 * MIB, "3.0Mi")])
def test_human_bytes(value: int | None, text: str) -> None:
    assert human_bytes(value) == text
