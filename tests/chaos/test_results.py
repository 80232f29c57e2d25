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

    def test_counts_that_do_not_apply_render_as_a_dash(self) -> None:
        table = render({"8 s": row("8 s", lost=None, duplicated=None, stuck=None, recovery_s=None)})
        assert "| 8 s | full | 10 | — | — | — | — |" in table

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


class TestTally:
    def test_lost_duplicated_and_stuck_from_the_pod_watch(self) -> None:
        uids = {
            "ok-a1": {"u1"},
            "twice-a1": {"u2", "u3"},  # created again: a duplicate
            "extra-a1": {"u4"},
            "extra-a2": {"u5"},  # an attempt the status does not record: a duplicate
            "retried-a1": {"u6"},
            "retried-a2": {"u7"},
            "other-pod": {"u8"},  # not a run's pod
        }
        done = {
            "status": {"attempts": 1, "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded"}]}
        }
        runs = {
            "ok": done,
            "twice": done,
            "extra": done,
            "retried": {**done, "status": {**done["status"], "attempts": 2}},
            "nopod": done,  # Succeeded, but no pod ever seen: lost
            "running": {"status": {"attempts": 1, "reason": "Running"}},  # not final, and its pod never seen
            "deleted-on-purpose": None,
        }
        present = {k: v for k, v in runs.items() if v is not None}
        names = [*runs, "vanished"]
        counted = _bed.tally(present, uids, names, gone=["deleted-on-purpose"])
        assert (counted.lost, counted.duplicated, counted.stuck) == (3, 2, 1), counted.problems
        assert any(p.startswith("twice-a1: 2 different pods") for p in counted.problems)
        assert any(p.startswith("vanished: missing") for p in counted.problems)

    def test_a_clean_burst_counts_nothing(self) -> None:
        done = {
            "status": {"attempts": 1, "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded"}]}
        }
        runs = {f"r{i}": done for i in range(5)}
        counted = _bed.tally(runs, {f"r{i}-a1": {f"u{i}"} for i in range(5)}, list(runs))
        assert (counted.lost, counted.duplicated, counted.stuck, counted.problems) == (0, 0, 0, ())

    def test_runs_that_never_needed_a_pod_are_not_lost(self) -> None:
        failed = {"status": {"conditions": [{"type": "Succeeded", "status": "False", "reason": "InvalidSpec"}]}}
        counted = _bed.tally({"bad": failed}, {}, ["bad"])
        assert (counted.lost, counted.duplicated, counted.stuck) == (0, 0, 0)


class TestPodEnded:
    @pytest.mark.parametrize(
        ("status", "ended"),
        [
            ({"phase": "Succeeded"}, True),
            ({"phase": "Failed"}, True),
            ({"phase": "Running", "containerStatuses": [{"state": {"terminated": {"exitCode": 0}}}]}, True),
            ({"phase": "Running", "containerStatuses": [{"state": {"running": {}}}]}, False),
            ({"phase": "Pending"}, False),
        ],
    )
    def test_phase_or_every_container_terminated(self, status: dict[str, Any], ended: bool) -> None:
        assert _bed.pod_ended({"status": status}) is ended


class TestMetrics:
    def test_parse_metric_sums_matching_series(self) -> None:
        text = (
            "# HELP task_api_leader 1 while this replica leads.\n"
            "task_api_leader 1.0\n"
            'task_api_reconciles_total{kind="TaskRun",result="ok"} 7.0\n'
            'task_api_reconciles_total{kind="TaskRun",result="requeue"} 3.0\n'
            'task_api_reconciles_total{kind="ProcessingContainer",result="ok"} 2.0\n'
        )
        assert _bed.parse_metric(text, "task_api_leader") == 1.0
        assert _bed.parse_metric(text, "task_api_reconciles_total") == 12.0
        assert _bed.parse_metric(text, "task_api_reconciles_total", kind="TaskRun") == 10.0
        assert _bed.parse_metric(text, "task_api_workqueue_depth") is None

    @pytest.mark.parametrize(
        ("identity", "pod"),
        [("task-api-operator-7d9f-abcde-0a1b2c", "task-api-operator-7d9f-abcde"), ("laptop", "laptop")],
    )
    def test_holder_pod(self, identity: str, pod: str) -> None:
        assert _bed.holder_pod(identity) == pod
