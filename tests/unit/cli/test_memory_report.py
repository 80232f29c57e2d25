"""``task-api memory report`` on run records: the table, the recommendation, JSON and the chart; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from task_api.cli._chart import Series, scatter_chart
from task_api.cli.main import main
from task_api.runner.memory import observation_from_record
from task_api.runner.record import read_record, write_record
from task_api.runner.status import Phase, RunReason, RunStatus
from tests.unit.runner.test_record import record

MIB = 1024**2


def write_runs(directory: Path, sizes: list[int], *, factor: float = 2.0) -> None:
    for index, size in enumerate(sizes):
        cid = f"{index:02x}" * 32
        status = RunStatus(
            state="exited",
            phase=Phase.SUCCEEDED,
            reason=RunReason.COMPLETED,
            exit_code=0,
            peak_memory_bytes=int(factor * size * MIB) + MIB,
        )
        run = record(
            cid,
            image_id="sha256:" + "f" * 64,
            template="read-all",
            limits={"memory": f"{4 * size + 16}Mi"},
            measurements=[{"channel": "in", "mode": "sum", "measured_bytes": size * MIB, "files_counted": 4}],
            scale_rules={"in": {"scale_factor": 4, "type": "limit", "mode": "sum"}},
            status=status,
        )
        write_record(run, directory / f"task_run-{cid[:12]}.json")


def test_observation_from_a_record(tmp_path: Path) -> None:
    write_runs(tmp_path, [8])
    (path,) = tmp_path.glob("task_run-*.json")
    obs = observation_from_record(read_record(path), run=str(path))
    assert (obs.template, obs.limit_bytes, obs.peak_bytes, obs.rule_type) == ("read-all", 48 * MIB, 17 * MIB, "limit")
    assert obs.inputs[0].bytes == 8 * MIB and obs.waste_bytes == 31 * MIB


def test_json_recommends_a_rule_covering_every_peak(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_runs(tmp_path, [1, 4, 16, 32])
    assert main(["memory", "report", "--records", str(tmp_path), "--output", "json"]) == 0
    (group,) = json.loads(capsys.readouterr().out)["groups"]
    assert (group["template"], group["runs"], group["attemptsWithPeak"]) == ("read-all", 4, 4)
    rec = group["recommendation"]
    assert rec["coversEveryPeak"] is True
    assert rec["scaleRule"]["mode"] == "sum" and rec["scaleRule"]["type"] == "limit"
    assert rec["scaleRule"]["scale_factor"] < 4  # the runs' rule was twice too generous
    assert rec["wasteBytes"] < group["wasteBytes"]


def test_text_has_the_table_the_rule_and_the_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_runs(tmp_path, [1, 4, 16, 32])
    assert main(["memory", "report", "--records", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "template read-all" in out and "4 run(s), 4 attempt(s), 4 with a recorded peak, 0 OOM kill(s)" in out
    assert "recommended rule (covers every peak x1.1" in out
    assert '"scale_rule": {"scale_factor":' in out
    assert "* peak" in out and ". recommended rule" in out and "input size (MiB)" in out


def test_nothing_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["memory", "report", "--records", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == "no runs found"


def test_a_missing_directory_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["memory", "report", "--records", str(tmp_path / "nope")]) == 1
    assert f"{tmp_path / 'nope'}: not a directory" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0.5", "x", "10"])
def test_a_bad_headroom_is_a_usage_error(tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["memory", "report", "--records", str(tmp_path), "--headroom", value])
    assert exited.value.code == 2
    assert f"{value!r} is not allowed (allowed: a factor from 1 to 4" in capsys.readouterr().err


def test_chart_places_points_on_shared_axes() -> None:
    lines = scatter_chart([Series("a", "*", [(0, 0), (10, 100)]), Series("b", "o", [(10, 50)])], width=11, height=5)
    grid = [line.split("|", 1)[1] for line in lines if "|" in line]
    assert grid[0] == "          *"  # (10, 100): top right
    assert grid[-1] == "*"  # (0, 0): bottom left
    assert grid[2].rstrip() == "          o"  # (10, 50): middle row
    assert lines[-1] == "* a  o b"
    assert scatter_chart([Series("empty", ".", [])]) == []
