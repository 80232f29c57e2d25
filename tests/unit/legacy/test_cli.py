"""``task-api legacy init``: what it writes, how it refuses bad answers, and that the example was made with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from task_api.cli.main import main
from task_api.core.legacy import MARKER_ENV, layout_of
from task_api.spec.load import parse_processing_container

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "05-legacy"
BASE = ["legacy", "init", "--name", "old", "--in-dir", "dcm", "--out-dir", "seg"]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_writes_a_valid_file_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run([*BASE, "--mode", "workflow", "--stage", "link", "--env", "A=1", "--form", "B=2",
                           "--command", '["/bin/sh", "/run.sh"]'], capsys)  # fmt: skip
    assert code == 0, err
    container = parse_processing_container(out, source="stdout")
    template = container.template("default")
    env = {v.name: v.value for v in template.env}
    layout = layout_of(env)
    assert layout is not None
    assert (layout.mode.value, layout.stage.value, layout.workflow_form) == ("workflow", "link", {"B": "b"})
    assert (env["A"], env["B"]) == ("1", "2")
    assert template.command == ["/bin/sh", "/run.sh"]


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (["--env", "WORKFLOW_DIR=/x"], ["env[0]", "set by the migration itself", '"WORKFLOW_DIR"']),
        (["--in-dir", "a/b"], ["operator_in_dir", "one directory name"]),
        (["--describe", "NOPE=x"], ["--describe", "not declared", "NOPE"]),
        (["--command", "[1, 2"], ["--command", "not JSON"]),
        (["--command", '"sh"'], ["--command", "non-empty JSON list of strings"]),
        (["--conf", "/nonexistent/conf.json"], ["/nonexistent/conf.json", "cannot read --conf"]),
    ],
)
def test_bad_answers_are_named_without_traceback(
    extra: list[str], fragments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run([*BASE, *extra], capsys)
    assert code == 1
    assert out == ""
    for fragment in fragments:
        assert fragment in err, err
    assert "Traceback" not in err


def test_a_bad_conf_file_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "conf.json"
    conf.write_text('{\n  "a": 1,\n  oops\n}\n')
    code, _, err = _run([*BASE, "--conf", str(conf)], capsys)
    assert code == 1
    assert f"{conf}:3:3: " in err and "not JSON" in err
    conf.write_text("[1]")
    code, _, err = _run([*BASE, "--conf", str(conf)], capsys)
    assert code == 1 and "must be a JSON object" in err and "given a JSON list" in err


def test_does_not_overwrite_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "processing-container.json"
    target.write_text("keep me")
    code, _, err = _run([*BASE, "-o", str(target)], capsys)
    assert code == 1 and "exists; not overwritten" in err
    assert target.read_text() == "keep me"
    code, _, err = _run([*BASE, "-o", str(target), "--force"], capsys)
    assert code == 0, err
    assert MARKER_ENV in target.read_text()


def test_the_example_was_migrated_with_the_command(tmp_path: Path) -> None:
    """examples/05-legacy/processing-container.json is exactly what its migrate.sh makes."""
    target = tmp_path / "pc.json"
    env = {**os.environ, "TASK_API": f"{sys.executable} -m task_api.cli"}
    subprocess.run([str(EXAMPLE / "migrate.sh"), str(target)], env=env, check=True, capture_output=True)
    assert json.loads(target.read_text()) == json.loads((EXAMPLE / "processing-container.json").read_text())
