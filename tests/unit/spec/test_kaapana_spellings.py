"""What Kaapana's files and guide write that task-api reads with the same meaning (docs/compat.md).

- env ``type: "boolean"`` is ``bool``;
- a channel's ``input: {host_path: ...}`` is the deprecated spelling of ``volume_source`` (a warning);
- an empty optional config value, or a placeholder naming an unset variable there, means "not set" (a warning for
  the placeholder), while a required value keeps its clear error.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from task_api.cli.main import main
from task_api.spec import EnvType, K8sConfig, Problem, Severity, Task
from task_api.spec.load import parse_processing_container, parse_task
from task_api.spec.schema import json_schema
from tests.unit.spec.helpers import by_path, minimal_pc, minimal_task, pc_problems, task_problems


def parse(document: dict[str, Any], environ: dict[str, str] | None = None) -> tuple[Task, list[Problem]]:
    warnings: list[Problem] = []
    task = parse_task(json.dumps(document, indent=2), source="task.json", environ=environ or {}, warnings=warnings)
    return task, warnings


class TestBooleanType:
    def test_boolean_is_bool(self) -> None:
        pc = parse_processing_container(
            json.dumps(minimal_pc(env=[{"name": "DEBUG", "value": "false", "type": "boolean"}])), source="pc.json"
        )
        assert pc.templates[0].env[0].type is EnvType.BOOL

    def test_a_boolean_value_is_still_checked(self) -> None:
        problems = by_path(pc_problems(minimal_pc(env=[{"name": "DEBUG", "value": "maybe", "type": "boolean"}])))
        assert problems["templates[0].env[0].value"].message == "not a boolean"

    def test_other_spellings_stay_errors(self) -> None:
        problems = by_path(pc_problems(minimal_pc(env=[{"name": "N", "value": "1", "type": "integer"}])))
        assert problems["templates[0].env[0].type"].message == "not an allowed value"

    def test_the_published_schema_allows_it(self) -> None:
        assert "boolean" in json_schema("pc")["$defs"]["EnvType"]["enum"]


class TestInputSpelling:
    def test_input_reads_as_volume_source_with_a_warning(self) -> None:
        guide = minimal_task(inputs=[{"name": "in", "input": {"host_path": "/srv/in"}}])
        task, warnings = parse(guide)
        assert task.inputs[0].volume_source.host_path == "/srv/in"
        (warning,) = warnings
        assert warning.severity is Severity.WARNING
        assert warning.path == "inputs[0].input"
        assert "write 'volume_source' instead of 'input'" in warning.message
        text = json.dumps(guide, indent=2)
        assert warning.line is not None and '"input"' in text.splitlines()[warning.line - 1]

    def test_both_spellings_are_an_error(self) -> None:
        both = minimal_task(
            outputs=[{"name": "out", "input": {"host_path": "/a"}, "volume_source": {"host_path": "/b"}}]
        )
        problem = by_path(task_problems(both))["outputs[0].input"]
        assert problem.severity is Severity.ERROR
        assert "which is given too: remove 'input'" in problem.message

    def test_its_content_is_validated_like_volume_source(self) -> None:
        bad = minimal_task(inputs=[{"name": "in", "input": {"host_path": "/a", "nfs": {"server": "s", "path": "/"}}}])
        problem = by_path(task_problems(bad))["inputs[0].input"]  # where the file has it
        assert problem.message == "give exactly one kind of volume"
        nested = minimal_task(inputs=[{"name": "in", "input": {"host_path": ""}}])
        assert "inputs[0].input.host_path" in by_path(task_problems(nested))

    def test_validate_prints_the_warning_and_accepts_the_file(
        self, tmp_path: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "task.json"
        path.write_text(json.dumps(minimal_task(outputs=[{"name": "out", "input": {"host_path": "/srv/o"}}]), indent=2))
        assert main(["validate", str(path)]) == 0
        out = capsys.readouterr().out
        assert f"{path}:16:7: warning: outputs[0].input: deprecated spelling" in out
        assert "1 warning(s)" in out


K8S = {"type": "k8s", "namespace": "{{ env.namespace }}", "registryUsername": "{{ env.user }}",
       "registryPassword": "{{ env.password }}", "registryUrl": "{{ env.registry }}"}  # fmt: skip


class TestEmptyMeansUnset:
    def test_unset_placeholders_in_optional_fields_leave_them_unset(self) -> None:
        task, warnings = parse(minimal_task(config=K8S))
        assert isinstance(task.config, K8sConfig)
        config = task.config
        assert (config.namespace, config.registryUrl, config.registryUsername, config.registryPassword) == (None,) * 4
        assert sorted(w.path for w in warnings) == [
            "config.namespace",
            "config.registryPassword",
            "config.registryUrl",
            "config.registryUsername",
        ]
        assert all(w.severity is Severity.WARNING for w in warnings)
        namespace = next(w for w in warnings if w.path == "config.namespace")
        assert namespace.message == "environment variable namespace is not set: this optional field is left unset"

    def test_set_placeholders_still_fill(self) -> None:
        task, warnings = parse(minimal_task(config=K8S), {"namespace": "team-a", "registry": "localhost:5000"})
        assert isinstance(task.config, K8sConfig)
        assert (task.config.namespace, task.config.registryUrl) == ("team-a", "localhost:5000")
        assert {w.path for w in warnings} == {"config.registryPassword", "config.registryUsername"}

    def test_explicit_empty_strings_mean_unset(self) -> None:
        config = {"type": "k8s", "namespace": "", "registryUrl": " ", "imagePullPolicy": ""}
        task, warnings = parse(minimal_task(config=config))
        assert isinstance(task.config, K8sConfig)
        assert (task.config.namespace, task.config.registryUrl, task.config.imagePullPolicy) == (None, None, None)
        assert warnings == []

    def test_a_wrong_value_is_still_refused(self) -> None:
        problem = by_path(task_problems(minimal_task(config={"type": "k8s", "namespace": "Team_A"})))[
            "config.namespace"
        ]
        assert problem.message == "not a Kubernetes name (DNS label)"

    def test_a_placeholder_that_leaves_text_is_still_an_error(self) -> None:
        config = {"type": "k8s", "registryUrl": "{{ env.registry }}/project"}
        problem = by_path(task_problems(minimal_task(config=config)))["config.registryUrl"]
        assert problem.message == "environment variable registry is not set"

    def test_a_required_value_keeps_its_clear_error(self) -> None:
        task = minimal_task(image="{{ env.registry }}/dummy:latest")
        task["outputs"] = [{"name": "out", "volume_source": {"host_path": "{{ env.output_dir }}"}}]
        problems = by_path(task_problems(task))
        assert problems["image"].message == "environment variable registry is not set"
        assert problems["outputs[0].volume_source.host_path"].message == "environment variable output_dir is not set"
        assert problems["outputs[0].volume_source.host_path"].allowed == "export output_dir before running"

    def test_one_of_a_credential_pair_is_still_an_error(self) -> None:
        config = {"type": "k8s", "registryUsername": "kaapana", "registryPassword": "{{ env.password }}"}
        problem = by_path(task_problems(minimal_task(config=config)))["config.registryPassword"]
        assert problem.message == "registryUsername and registryPassword go together"
