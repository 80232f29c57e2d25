"""Run records: JSON round trip, finding a record by path or ID, refusing pickles, redaction."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from task_api.runner.errors import RecordError
from task_api.runner.record import (
    REDACTED,
    RunRecord,
    find_record,
    list_records,
    read_record,
    record_name,
    redact_env,
    write_record,
)
from task_api.runner.status import Phase, RunReason, RunStatus


def record(container_id: str = "ab" * 32, **fields: object) -> RunRecord:
    base: dict[str, object] = {
        "id": container_id[:12],
        "container_id": container_id,
        "docker_host": "unix:///var/run/docker.sock",
        "created_at": "2026-01-01T00:00:00+00:00",
        "name": "t",
        "image": "img:1",
        "template": "tpl",
    }
    base.update(fields)
    return RunRecord.model_validate(base)


def test_round_trip(tmp_path: Path) -> None:
    done = RunStatus(state="exited", phase=Phase.SUCCEEDED, reason=RunReason.COMPLETED, exit_code=0)
    original = record(env={"A": "1"}, status=done)
    path = tmp_path / record_name(original.id)
    write_record(original, path)
    assert read_record(path) == original
    assert json.loads(path.read_text())["kind"] == "TaskRun"
    assert not list(tmp_path.glob(".task_run-*"))  # no temp file left behind


def test_secret_looking_env_values_are_redacted() -> None:
    env = {"PASSWORD": "hunter2", "DB_PASSWD": "x", "API_KEY": "k", "aws_secret": "s", "TOKEN": "t", "PLAIN": "ok"}
    assert redact_env(env) == {
        "PASSWORD": REDACTED, "DB_PASSWD": REDACTED, "API_KEY": REDACTED, "aws_secret": REDACTED,
        "TOKEN": REDACTED, "PLAIN": "ok",
    }  # fmt: skip


class TestReading:
    def test_a_pickle_is_refused_without_being_loaded(self, tmp_path: Path) -> None:
        marker = tmp_path / "ran"

        class Evil:
            def __reduce__(self) -> tuple[object, tuple[str]]:
                return (os.system, (f"touch {marker}",))

        path = tmp_path / "task_run-x.json"  # a pickle behind a .json name is recognised by its bytes
        path.write_bytes(pickle.dumps(Evil()))
        with pytest.raises(RecordError, match="pickle"):
            read_record(path)
        assert not marker.exists()

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("{not json", ":1:2: not a JSON run record"),
            ('{"kind": "TaskRun"}', "id: Field required — not a task-api run record"),
            ("[]", "(top level): Input should be a valid dictionary"),
        ],
    )
    def test_broken_records_name_the_file_and_the_problem(self, tmp_path: Path, content: str, message: str) -> None:
        path = tmp_path / "task_run-1.json"
        path.write_text(content)
        with pytest.raises(RecordError) as caught:
            read_record(path)
        assert str(caught.value).startswith(str(path))
        assert message in str(caught.value)

    def test_a_missing_record(self, tmp_path: Path) -> None:
        with pytest.raises(RecordError, match="no such run record"):
            read_record(tmp_path / "task_run-none.json")


class TestFinding:
    @pytest.fixture
    def folder(self, tmp_path: Path) -> Path:
        for container_id in ("abc1" + "0" * 60, "abc2" + "0" * 60, "def0" + "0" * 60):
            write_record(record(container_id), tmp_path / record_name(container_id[:12]))
        (tmp_path / "task_run-broken.json").write_text("{")
        return tmp_path

    @pytest.mark.parametrize(
        ("reference", "name"),
        [
            ("def", "task_run-def000000000.json"),
            ("abc1", "task_run-abc100000000.json"),
            ("abc2" + "0" * 60, "task_run-abc200000000.json"),
        ],
    )
    def test_by_id_or_unique_prefix(self, folder: Path, reference: str, name: str) -> None:
        assert find_record(reference, folder) == folder / name

    def test_a_path_is_taken_as_is(self, folder: Path) -> None:
        assert find_record(str(folder / "anything.json"), folder) == folder / "anything.json"

    @pytest.mark.parametrize(
        ("reference", "message"),
        [
            ("abc", "run ID 'abc' is ambiguous"),
            ("fff", "no run record with ID 'fff'"),
            ("not-an-id!", "not a run record file or a run ID"),
        ],
    )
    def test_errors(self, folder: Path, reference: str, message: str) -> None:
        with pytest.raises(RecordError, match=message):
            find_record(reference, folder)

    def test_listing_reports_unreadable_records_instead_of_failing(self, folder: Path) -> None:
        listed = list_records(folder)
        assert len(listed) == 4
        errors = [found for _, found in listed if isinstance(found, RecordError)]
        assert len(errors) == 1 and "task_run-broken.json" in str(errors[0])
