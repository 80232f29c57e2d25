"""examples/01-hello-world validates with the CLI (building and running it is tested with Docker elsewhere)."""

from __future__ import annotations

from pathlib import Path

import pytest

from task_api.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "01-hello-world"


def test_processing_container_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLE / "processing-container.json")]) == 0
    assert "templates: checksum, compress" in capsys.readouterr().out


@pytest.mark.parametrize("task", ["task.json", "task-compress.json"])
def test_tasks_merge_with_the_template(task: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", str(EXAMPLE / task), "--template", str(EXAMPLE / "processing-container.json")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "warning" not in out


def test_example_has_input_data_and_a_scratch_dockerfile() -> None:
    dockerfile = (EXAMPLE / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM scratch" in dockerfile
    assert '["/bin/busybox", "--install", "-s", "/bin"]' in dockerfile
    assert sorted(p.name for p in (EXAMPLE / "input").rglob("*") if p.is_file()) == [
        "about.txt",
        "hello.txt",
        "numbers.csv",
    ]
