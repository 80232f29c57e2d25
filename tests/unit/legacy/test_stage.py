"""Staging the legacy layout on a real filesystem (no Docker): the layout, links, copies, conf.json, errors,
and the init container's program."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from task_api.core.legacy import MARKER_ENV, LegacyError, LegacyLayout, LegacyMode, LegacyReason, StageKind
from task_api.legacy.stage import list_elements, main, stage


def _layout(tmp: Path, **changes: object) -> LegacyLayout:
    fields: dict[str, object] = {
        "workflow_dir": str(tmp / "kaapana" / "run"),
        "operator_in_dir": "in-dir",
        "operator_out_dir": "out-dir",
        "run_id": "run",
        "input": "input",
        "input_path": str(tmp / "mnt" / "in"),
        "output": "output",
        "output_path": str(tmp / "mnt" / "out"),
        "workflow_form": {"THRESHOLD": "threshold"},
    }
    fields.update(changes)
    return LegacyLayout.model_validate(fields)


def _input(root: Path) -> Path:
    for element, files in {"e1": {"a.txt": "aaa", "sub/b.txt": "bb"}, "e2": {"c.txt": "c"}}.items():
        for name, text in files.items():
            path = root / element / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    (root / ".hidden").write_text("skipped")
    return root


class TestStage:
    def test_copy_builds_the_legacy_layout_and_links_outputs(self, tmp_path: Path) -> None:
        layout = _layout(tmp_path)
        source = _input(Path(layout.input_path))
        workflow, output = Path(layout.workflow_dir), Path(layout.output_path)
        env = {"THRESHOLD": "4", "TASK_API_LEGACY_CONF": '{"label": "x"}'}
        report = stage(layout, env, workflow_root=workflow, input_root=source, output_root=output)
        assert report.elements == ["e1", "e2"]
        batch = workflow / "batch"
        assert (batch / "e1" / "in-dir" / "sub" / "b.txt").read_text() == "bb"
        assert not (batch / "e1" / "in-dir").is_symlink()
        # The copy is writable by anyone (the legacy image may run as any user and may move its inputs).
        assert os.stat(batch / "e1" / "in-dir" / "a.txt").st_mode & 0o222 == 0o222
        # What the legacy code writes to <element>/$OPERATOR_OUT_DIR lands in the output channel as <element>/.
        (batch / "e2" / "out-dir" / "result.txt").write_text("done")
        assert (output / "e2" / "result.txt").read_text() == "done"
        assert os.readlink(batch / "e2" / "out-dir") == f"{layout.output_path}/e2"
        conf = json.loads((workflow / "conf" / "conf.json").read_text())
        assert conf == {"label": "x", "workflow_form": {"threshold": "4"}}
        assert sorted(p.name for p in output.iterdir()) == ["e1", "e2"]

    def test_link_mode_links_into_the_input_without_copying(self, tmp_path: Path) -> None:
        layout = _layout(tmp_path, stage=StageKind.LINK)
        source = _input(Path(layout.input_path))
        workflow = Path(layout.workflow_dir)
        stage(layout, {}, workflow_root=workflow, input_root=source, output_root=Path(layout.output_path))
        link = workflow / "batch" / "e1" / "in-dir"
        assert link.is_symlink() and os.readlink(link) == f"{layout.input_path}/e1"
        assert (link / "a.txt").read_text() == "aaa"

    def test_workflow_mode(self, tmp_path: Path) -> None:
        layout = _layout(tmp_path, mode=LegacyMode.WORKFLOW)
        source = _input(Path(layout.input_path))
        workflow, output = Path(layout.workflow_dir), Path(layout.output_path)
        output.mkdir(parents=True)
        report = stage(layout, {}, workflow_root=workflow, input_root=source, output_root=output)
        assert report.elements == []
        assert (workflow / "in-dir" / "e1" / "a.txt").read_text() == "aaa"
        (workflow / "out-dir" / "all.txt").write_text("x")
        assert (output / "all.txt").read_text() == "x"
        assert (workflow / "batch").is_dir()

    def test_a_file_at_the_batch_level_is_refused_naming_it(self, tmp_path: Path) -> None:
        root = _input(tmp_path / "in")
        (root / "stray.dcm").write_text("x")
        with pytest.raises(LegacyError) as caught:
            list_elements(root, channel="input", mode=LegacyMode.PER_ELEMENT)
        assert caught.value.reason is LegacyReason.INPUT_LAYOUT
        message = str(caught.value)
        assert '"stray.dcm"' in message and "inputs.input" in message and str(root) in message
        # In workflow mode the same input is fine: it is read as a whole.
        assert list_elements(root, channel="input", mode=LegacyMode.WORKFLOW) == []

    def test_an_existing_layout_is_not_silently_merged(self, tmp_path: Path) -> None:
        layout = _layout(tmp_path)
        source = _input(Path(layout.input_path))
        args = {"workflow_root": Path(layout.workflow_dir), "input_root": source,
                "output_root": Path(layout.output_path)}  # fmt: skip
        stage(layout, {}, **args)
        with pytest.raises(LegacyError) as caught:
            stage(layout, {}, **args)
        assert caught.value.reason is LegacyReason.STAGING_FAILED
        assert "already exists" in str(caught.value)


class TestInitContainerProgram:
    def test_stages_from_its_environment(self, tmp_path: Path) -> None:
        layout = _layout(tmp_path)
        _input(Path(layout.input_path))
        log = tmp_path / "termination-log"
        env = {MARKER_ENV: layout.to_env_value(), "TASK_API_TERMINATION_LOG": str(log)}
        assert main([], env) == 0
        assert (Path(layout.batches_input_dir) / "e1" / "in-dir" / "a.txt").exists()
        assert not log.exists()

    @pytest.mark.parametrize(
        ("env", "code", "fragment"),
        [
            ({}, 2, "no TASK_API_LEGACY layout"),
            ({MARKER_ENV: "{oops"}, 2, "env.TASK_API_LEGACY: not JSON"),
        ],
    )
    def test_bad_environment(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], env: dict[str, str], code: int, fragment: str
    ) -> None:
        log = tmp_path / "termination-log"
        assert main([], {**env, "TASK_API_TERMINATION_LOG": str(log)}) == code
        err = capsys.readouterr().err
        assert err.startswith("task-api legacy stage: ") and fragment in err
        assert "Traceback" not in err
        assert log.read_text() == err

    def test_unreadable_input_fails_with_exit_1(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        layout = _layout(tmp_path)  # the input directory does not exist
        log = tmp_path / "termination-log"
        assert main([], {MARKER_ENV: layout.to_env_value(), "TASK_API_TERMINATION_LOG": str(log)}) == 1
        assert "cannot list the input" in capsys.readouterr().err
