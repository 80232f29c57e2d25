"""The results table of the chaos suite (pure: no cluster). Rendering and the docs block replacement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.chaos import _bed
from tests.chaos.results import END, START, Row, load, record, render, replace_block


def row(scenario: str, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict(scenario=scenario, runs=10, lost=0, duplicated=0, stuck=0, recovery_s=1.25,
                                notes="ok", scale="full", seed=7, finished_at="2026-01-01T00:00:00Z")  # fmt: skip
    base.update(kw)
    return base


class TestRender:
    def test_rows_are_sorted_and_formatted(self) -> None:
        table = render({"2 b": row("2 b", recovery_s=None, notes="a|b"), "1 a": row("1 a", lost=3)})
        lines = table.splitlines()
        assert lines[2].startswith("| 1 a | full | 10 | 3 | 0 | 0 | 1.2 s | ok |")
        assert lines[3] == "| 2 b | full | 10 | 0 | 0 | 0 | — | a\\|b |"
        assert "Seeds (scale:seed): full:7" in table

    def test_empty_results_render_a_header_only(self) -> None:
        assert render({}).count("\n| ") == 1


class TestReplaceBlock:
    def test_replaces_only_between_the_markers(self) -> None:
        doc = f"head\n{START}\nold table\n{END}\ntail\n"
        assert replace_block(doc, "new\n") == f"head\n{START}\nnew\n{END}\ntail\n"

    def test_missing_markers_are_an_error(self) -> None:
        with pytest.raises(ValueError, match="markers"):
            replace_block("no markers here", "x")

    def test_the_document_carries_the_markers(self) -> None:
        doc = (Path(__file__).resolve().parents[2] / "docs" / "reliability.md").read_text()
        assert START in doc and END in doc


class TestRecord:
    def test_record_merges_rows_by_scenario(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        target = tmp_path / "results.json"
        record(Row("1 x", 5, 0, 0, 0, 2.0, "first"), target)
        record(Row("2 y", 6, 1, 0, 0, None, "second"), target)
        record(Row("1 x", 7, 0, 0, 0, 3.0, "again"), target)
        rows = load(target)
        assert sorted(rows) == ["1 x", "2 y"]
        assert rows["1 x"]["runs"] == 7 and rows["1 x"]["notes"] == "again"
        assert "| 2 y |" in target.with_suffix(".md").read_text()
        assert "[chaos] 2 y" in capsys.readouterr().out


class TestScale:
    @pytest.mark.parametrize(("env", "burst"), [("full", 200), ("ci", 60), ("", 60)])
    def test_sizes(self, monkeypatch: pytest.MonkeyPatch, env: str, burst: int) -> None:
        monkeypatch.setenv("TASK_API_CHAOS_SCALE", env)
        monkeypatch.setenv("TASK_API_CHAOS_SEED", "42")
        scale = _bed.Scale.from_env()
        assert (scale.burst, scale.kills, scale.seed) == (burst, 5, 42)

    @pytest.mark.parametrize(("name", "value"), [("TASK_API_CHAOS_SCALE", "huge"), ("TASK_API_CHAOS_SEED", "-3")])
    def test_bad_settings_name_what_is_allowed(self, monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        with pytest.raises(_bed.ChaosError, match="allowed"):
            _bed.Scale.from_env()


class TestAttempts:
    def test_one_pod_per_recorded_attempt(self) -> None:
        ledger = _bed.PodLedger.__new__(_bed.PodLedger)
        ledger.uids = {"a-a1": {"u1"}, "b-a1": {"u2", "u3"}, "c-a1": {"u4"}, "c-a2": {"u5"}}  # type: ignore[assignment]
        runs = {"a": {"status": {"attempts": 1}}, "b": {"status": {"attempts": 1}}, "c": {"status": {"attempts": 1}}}
        problems = _bed.attempts_ok(runs, ledger, ["a", "b", "c"])
        assert problems == ["b-a1: 2 different pods", "c: status says 1 attempt(s), pods seen for attempts [1, 2]"]
