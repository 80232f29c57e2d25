"""Kaapana's CLI spellings parse to the same meaning as task-api's own (the commands run in tests/integration)."""

from __future__ import annotations

import argparse

import pytest

from task_api.cli.main import build_parser, main


def parse(*argv: str) -> argparse.Namespace:
    parser, _ = build_parser()
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(
    ("kaapana", "ours"),
    [
        (["logs", "task_run-abc.json", "--watch"], ["logs", "task_run-abc.json", "--follow"]),
        (["logs", "task_run-abc.json", "--no-watch"], ["logs", "task_run-abc.json"]),
        (["run", "task.json", "--monitor-memory"], ["run", "task.json", "--monitor-memory"]),
        (["run", "task.json", "--mode", "k8s", "--no-watch"], ["run", "task.json", "--mode", "k8s"]),
        (
            ["processing-container", "reg/dummy:1", "--mode", "docker"],
            ["processing-container", "reg/dummy:1", "--local"],
        ),
    ],
)
def test_same_meaning(kaapana: list[str], ours: list[str]) -> None:
    theirs, mine = vars(parse(*kaapana)), vars(parse(*ours))
    # --mode on processing-container is the spelling itself; run decides by it.
    if kaapana[0] == "processing-container":
        assert theirs.pop("mode") == "docker" and mine.pop("mode") is None
        assert theirs.pop("local") is False and mine.pop("local") is True
    assert theirs == mine


def test_check_task_run_watches_by_default_as_kaapana_does() -> None:
    args = parse("check-task-run", "task_run-abc.json")
    assert (args.command, args.run, args.watch) == ("check-task-run", "task_run-abc.json", True)
    assert parse("check-task-run", "task_run-abc.json", "--no-watch").watch is False


def test_processing_container_mode_k8s_and_local_together_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["processing-container", "127.0.0.1:1/x:1", "--mode", "k8s", "--local"]) == 2
    assert "--mode k8s reads the registry; --local reads the Docker engine" in capsys.readouterr().err


def test_an_unknown_mode_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse("processing-container", "reg/x:1", "--mode", "kubernetes")
    assert exited.value.code == 2
    assert "invalid choice: 'kubernetes'" in capsys.readouterr().err
