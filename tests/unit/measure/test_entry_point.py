"""``python -m task_api.measure``: the measuring pod's program, run as a real subprocess on real trees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from task_api.measure.__main__ import (
    ENV_REQUEST,
    ENV_TERMINATION_LOG,
    TERMINATION_LIMIT,
    parse_request,
    termination_message,
)
from task_api.measure.errors import BadMeasureRequest
from task_api.spec.resolved import Measurement
from task_api.spec.scale_rule import ScaleRuleMode
from tests.unit.measure.conftest import TreeSpec

SUM = {"scale_factor": 10, "type": "limit", "mode": "sum"}


def run_entry(
    *args: str, env: dict[str, str] | None = None, termination_log: Path | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in (ENV_REQUEST, ENV_TERMINATION_LOG)}
    environ.update(env or {})
    # Point the termination log at a temp file; /dev/termination-log does not exist outside a pod.
    environ[ENV_TERMINATION_LOG] = str(termination_log) if termination_log else "/nonexistent/termination-log"
    return subprocess.run(
        [sys.executable, "-m", "task_api.measure", *args],
        capture_output=True,
        text=True,
        env=environ,
        check=False,
        timeout=120,
    )


class TestSuccess:
    def test_prints_and_records_measurements_in_request_order(
        self, tree: Callable[[TreeSpec], Path], tmp_path: Path
    ) -> None:
        first = tree({"a.dcm": 10, "sub/b.dcm": 30, "c.txt": 5})
        second = tree({"i1/x": 3, "i2/y": 4, "i2/z": 4})
        log = tmp_path / "termination-log"
        log.write_text("")
        request = [
            {"channel": "scans", "path": str(first), "rule": {**SUM, "target_glob": "*.dcm"}},
            {"channel": "items", "path": str(second), "rule": {**SUM, "mode": "max_item_sum"}},
        ]
        done = run_entry(json.dumps(request), termination_log=log)
        assert done.returncode == 0, done.stderr
        expected = [
            {"channel": "scans", "mode": "sum", "measured_bytes": 40, "files_counted": 2},
            {
                "channel": "items",
                "mode": "max_item_sum",
                "measured_bytes": 8,
                "files_counted": 3,
                "items_counted": 2,
                "largest": "i2",
            },
        ]
        assert json.loads(done.stdout) == expected
        assert json.loads(log.read_text()) == expected
        assert done.stderr == ""

    def test_reads_the_request_from_the_environment(self, tree: Callable[[TreeSpec], Path]) -> None:
        root = tree({"f": 7})
        request = json.dumps([{"channel": "c", "path": str(root), "rule": SUM}])
        done = run_entry(env={ENV_REQUEST: request})
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)[0]["measured_bytes"] == 7

    def test_the_output_is_parsed_back_into_measurements(self, tree: Callable[[TreeSpec], Path]) -> None:
        root = tree({"d/f": 9})
        rule = {**SUM, "mode": "max_file_size"}
        done = run_entry(json.dumps([{"channel": "c", "path": str(root), "rule": rule}]))
        parsed = [Measurement.model_validate(item) for item in json.loads(done.stdout)]
        assert parsed == [
            Measurement(
                channel="c",
                mode=ScaleRuleMode.MAX_FILE_SIZE,
                measured_bytes=9,
                files_counted=1,
                largest="d/f",
            )
        ]


class TestBadRequests:
    @pytest.mark.parametrize(
        ("request_text", "message"),
        [
            ("not json", "the request is not JSON"),
            ('{"channel": "c"}', "the request must be a JSON list, given dict"),
            ("[1]", "request[0]: must be an object, given int"),
            ('[{"channel": "c", "path": "/x", "rule": {}, "extra": 1}]', "request[0]: unknown field 'extra'"),
            ('[{"channel": "", "path": "/x", "rule": {}}]', "request[0].channel: must be a non-empty string"),
            (
                '[{"channel": "c", "path": "rel", "rule": {}}]',
                "request[0].path: must be an absolute path, given 'rel'",
            ),
            (
                '[{"channel":"c","path":"/x","rule":{"scale_factor":1,"type":"limt","mode":"sum"}}]',
                "request[0].rule.type: Input should be 'request' or 'limit' (given 'limt')",
            ),
            (
                '[{"channel":"c","path":"/x","rule":{"scale_factor":1,"type":"limit","mode":"avg"}}]',
                "request[0].rule.mode:",
            ),
        ],
    )
    def test_parse_request_names_the_field(self, request_text: str, message: str) -> None:
        with pytest.raises(BadMeasureRequest) as caught:
            parse_request(request_text)
        assert message in str(caught.value)

    def test_a_bad_request_exits_2_with_one_line(self, tmp_path: Path) -> None:
        log = tmp_path / "termination-log"
        log.write_text("")
        done = run_entry('[{"channel": "c"}]', termination_log=log)
        assert done.returncode == 2
        assert done.stdout == ""
        assert done.stderr.count("\n") == 1
        assert done.stderr.startswith("task-api measure: request[0].path: must be an absolute path")
        assert log.read_text() == done.stderr.strip()

    @pytest.mark.parametrize(
        ("args", "env", "message"),
        [
            ((), {}, "no request: pass it as the argument or in TASK_API_MEASURE_REQUEST"),
            (("[]", "[]"), {}, "expected one argument (the request), given 2"),
        ],
    )
    def test_usage_errors(self, args: tuple[str, ...], env: dict[str, str], message: str) -> None:
        done = run_entry(*args, env=env)
        assert (done.returncode, done.stderr) == (2, f"task-api measure: {message}\n")

    def test_a_failed_measurement_exits_1(self, tree: Callable[[TreeSpec], Path]) -> None:
        root = tree({"file": 1})
        done = run_entry(json.dumps([{"channel": "c", "path": str(root / "file"), "rule": SUM}]))
        assert done.returncode == 1
        assert done.stderr == f"task-api measure: input channel 'c', {root / 'file'}: is not a directory\n"


class TestTerminationMessage:
    def _measurements(self, count: int, path_length: int) -> list[Measurement]:
        largest = "d/" * (path_length // 2)
        mode = ScaleRuleMode.MAX_FILE_SIZE
        return [
            Measurement(channel=f"c{i}", mode=mode, measured_bytes=i, files_counted=1, largest=largest)
            for i in range(count)
        ]

    def test_small_results_fit_whole(self) -> None:
        data: list[dict[str, Any]] = json.loads(termination_message(self._measurements(3, 20)) or "null")
        assert all("largest" in item for item in data)

    def test_long_paths_are_dropped_before_anything_else(self) -> None:
        text = termination_message(self._measurements(10, 600))
        assert text is not None and len(text.encode()) <= TERMINATION_LIMIT
        data = json.loads(text)
        assert [item["channel"] for item in data] == [f"c{i}" for i in range(10)]
        assert all("largest" not in item for item in data)

    def test_too_many_measurements_do_not_fit(self) -> None:
        assert termination_message(self._measurements(200, 0)) is None
