"""``task-api validate``: exit codes, located messages, JSON output, bad files, offline merge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from task_api.cli.main import main
from tests.unit.spec.helpers import minimal_pc, minimal_task

ROOT = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, name: str, content: dict[str, Any] | str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


class TestExitCodes:
    def test_valid_pc(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run(capsys, "validate", write(tmp_path, "processing-container.json", minimal_pc()))
        assert code == 0
        assert "valid processing container 'pc', templates: main" in out

    def test_invalid_pc_lists_every_problem_with_path_and_position(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        document = minimal_pc(
            inputs=[{"name": "in", "mounted_path": "rel"}], outputs=[{"name": "o", "mounted_path": "/proc"}]
        )
        path = write(tmp_path, "pc.json", document)
        code, out, _ = run(capsys, "validate", path)
        assert code == 1
        lines = out.splitlines()
        assert any(
            line.startswith(f"{path}:") and ": templates[0].inputs[0].mounted_path: must be an absolute path" in line
            for line in lines
        )
        assert any("templates[0].outputs[0].mounted_path: must not be '/proc'" in line for line in lines)
        assert lines[-1] == f"{path}: invalid: 2 error(s), 0 warning(s)"

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b"", "file is empty"),
            (b'{"a": 1,}', "malformed JSON"),
            (b"\x00\x01\x02binary", "binary file"),
            (b'{"name": "\xff"}', "not UTF-8"),
            (b'{"name": "a", "name": "b", "templates": []}', "duplicate key"),
            (("[" * 5000 + "]" * 5000).encode(), "nested too deeply"),
        ],
    )
    def test_bad_files_exit_1_with_a_message(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
    ) -> None:
        code, out, err = run(capsys, "validate", "--schema", "pc", write(tmp_path, "f.json", content))
        assert code == 1
        assert message in out
        assert "Traceback" not in out + err

    def test_ten_megabyte_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = tmp_path / "big.json"
        path.write_bytes(b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'"}')
        code, out, _ = run(capsys, "validate", "--schema", "pc", path)
        assert code == 1
        assert f"file is too large (given {path.stat().st_size} bytes" in out

    def test_directory_is_a_usage_error(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, err = run(capsys, "validate", tmp_path)
        assert code == 2
        assert f"{tmp_path}: is a directory" in err
        assert out == ""

    def test_missing_file_is_a_usage_error(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        code, _, err = run(capsys, "validate", tmp_path / "nope.json")
        assert code == 2
        assert "no such file" in err

    @pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of their mode")
    def test_unreadable_file_is_a_usage_error(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = write(tmp_path, "pc.json", minimal_pc())
        path.chmod(0)
        code, _, err = run(capsys, "validate", path)
        assert code == 2
        assert "permission denied" in err

    def test_undetectable_kind_is_a_usage_error(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        code, _, err = run(capsys, "validate", write(tmp_path, "x.json", {"a": 1}))
        assert code == 2
        assert "--schema" in err

    def test_unknown_option_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as caught:
            main(["validate", "--bogus", "x"])
        assert caught.value.code == 2


class TestDetection:
    @pytest.mark.parametrize(
        ("name", "document", "kind"),
        [
            ("a.json", minimal_pc(), "pc"),
            ("a.json", minimal_task(), "task"),
            ("a.json", {"$schema": "https://task-api.io/schemas/v1/task.schema.json", "name": "x"}, "task"),
            ("processing-container.json", {"name": "x"}, "pc"),
            ("my-task.json", {"name": "x"}, "task"),
        ],
    )
    def test_kind_is_detected(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, document: dict[str, Any], kind: str
    ) -> None:
        _, out, _ = run(capsys, "validate", "--output", "json", write(tmp_path, name, document))
        assert json.loads(out)["kind"] == kind

    def test_schema_option_overrides_detection(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run(capsys, "validate", "--schema", "task", write(tmp_path, "p.json", minimal_pc()))
        assert code == 1
        assert "image: required field is missing" in out


class TestTasks:
    def test_task_with_placeholders(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("REG", "localhost:5000")
        code, out, _ = run(capsys, "validate", write(tmp_path, "task.json", minimal_task(image="{{ env.REG }}/x:1")))
        assert code == 0
        assert "merge not checked" in out

    def test_unset_placeholder_is_named(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
        code, out, _ = run(
            capsys, "validate", write(tmp_path, "task.json", minimal_task(image="{{ env.NOT_SET_ANYWHERE }}"))
        )
        assert code == 1
        assert "image: environment variable NOT_SET_ANYWHERE is not set" in out

    def test_offline_merge_with_template(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        pc = write(tmp_path, "processing-container.json", minimal_pc())
        task = write(
            tmp_path,
            "task.json",
            minimal_task(inputs=[], env=[{"name": "MODE", "value": "medium"}, {"name": "NEW", "value": "1"}]),
        )
        code, out, _ = run(capsys, "validate", task, "--template", pc)
        assert code == 1
        assert "inputs: input channel 'in' of template 'main' is not bound" in out
        assert "env[0].value: MODE: not one of the choices" in out
        assert "warning: env[1].name: NEW is not declared" in out
        # merge problems carry the task file's positions too
        assert any(line.startswith(f"{task}:") and "env[0].value" in line for line in out.splitlines())

    def test_offline_merge_ok_resolves_relative_paths(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        pc = write(tmp_path, "processing-container.json", minimal_pc())
        task = write(
            tmp_path,
            "task.json",
            minimal_task(
                inputs=[{"name": "in", "volume_source": {"host_path": "in"}}],
                outputs=[{"name": "out", "volume_source": {"host_path": "out"}}],
            ),
        )
        code, out, _ = run(capsys, "validate", task, "--template", pc)
        assert code == 0, out
        assert "merged with" in out

    def test_broken_template_file_is_reported_under_its_own_name(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        pc = write(tmp_path, "processing-container.json", "{")
        code, out, _ = run(capsys, "validate", write(tmp_path, "task.json", minimal_task()), "--template", pc)
        assert code == 1
        assert f"{pc}:1:2: malformed JSON" in out

    def test_template_option_on_a_pc_is_a_usage_error(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        pc = write(tmp_path, "processing-container.json", minimal_pc())
        code, _, err = run(capsys, "validate", pc, "--template", pc)
        assert code == 2
        assert "task files only" in err


class TestJsonOutput:
    def test_json_report(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = write(tmp_path, "pc.json", minimal_pc(inputs=[{"name": "in", "mounted_path": "rel"}]))
        code, out, _ = run(capsys, "validate", "--output", "json", path)
        report = json.loads(out)
        assert code == 1
        assert report["valid"] is False
        assert report["errors"] == 1
        (problem,) = report["problems"]
        assert problem["path"] == "templates[0].inputs[0].mounted_path"
        assert problem["file"] == str(path)
        assert isinstance(problem["line"], int) and isinstance(problem["column"], int)
        assert problem["severity"] == "error"

    def test_json_for_unreadable_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run(capsys, "validate", "--output", "json", tmp_path)
        assert code == 2
        assert json.loads(out)["error"].endswith("is a directory, not a file")


class TestProcess:
    """Through a real interpreter: the console entry, no traceback, no heavy imports."""

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "task_api.cli", *argv],
            check=False,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )

    def test_python_dash_m_validates_the_example(self) -> None:
        result = self._run("validate", "examples/01-hello-world/processing-container.json")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "valid processing container 'hello-world'" in result.stdout

    def test_no_traceback_on_bad_input(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.json"
        bad.write_bytes(b"\xff\xfe{")
        result = self._run("validate", str(bad), "--schema", "task")
        assert result.returncode == 1
        assert "Traceback" not in result.stdout + result.stderr

    def test_validate_does_not_import_heavy_clients(self) -> None:
        code = (
            "import sys; from task_api.cli.main import main; rc = main(['validate', "
            "'examples/01-hello-world/task.json', '--template', 'examples/01-hello-world/processing-container.json']); "
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('kubernetes', 'kopf', 'docker', 'airflow', 'httpx')); print('HEAVY', heavy); sys.exit(rc)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=ROOT, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "HEAVY []" in result.stdout


def test_schema_command_prints_the_published_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema", "pc")
    assert code == 0
    assert out == (ROOT / "schemas" / "processing-container.schema.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("argv", [[], ["validate"], ["schema"], ["schema", "yaml"], ["nonsense"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "usage: task-api" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.startswith("task-api ")
