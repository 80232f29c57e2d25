"""Merging a task with its template: what passes, what is refused, what only warns."""

from __future__ import annotations

import json
from typing import Any

import pytest

from task_api.core.merge import resolve
from task_api.spec import ProcessingContainer, ResolvedTask, Severity, SpecError, Task
from task_api.spec.load import parse_processing_container, parse_task


def container(**template: Any) -> ProcessingContainer:
    base: dict[str, Any] = {
        "identifier": "main",
        "description": "the template",
        "env": [
            {"name": "MODE", "value": "fast", "choices": ["fast", "slow"]},
            {"name": "COUNT", "value": "1", "type": "int"},
            {"name": "FIXED", "value": "v1", "adjustable": False},
        ],
        "inputs": [
            {
                "name": "images",
                "mounted_path": "/data/images",
                "scale_rule": {"scale_factor": 2, "type": "limit", "mode": "sum"},
            },
            {"name": "masks", "mounted_path": "/data/masks"},
        ],
        "outputs": [{"name": "out", "mounted_path": "/data/out"}, {"name": "logs", "mounted_path": "/data/logs"}],
        "command": ["run"],
        "resources": {"requests": {"memory": "100Mi", "cpu": "1"}, "limits": {"memory": "1Gi"}},
    }
    base.update(template)
    return parse_processing_container(json.dumps({"name": "pc", "templates": [base]}), source="pc.json")


def bind(name: str, path: str = "/srv/x", **extra: Any) -> dict[str, Any]:
    return {"name": name, "volume_source": {"host_path": path}, **extra}


def task(**fields: Any) -> Task:
    base: dict[str, Any] = {
        "name": "t",
        "image": "img:1",
        "taskTemplate": "main",
        "inputs": [bind("images", "/srv/images"), bind("masks", "/srv/masks")],
        "outputs": [bind("out", "/srv/out"), bind("logs", "/srv/logs")],
    }
    base.update(fields)
    return parse_task(json.dumps(base), source="task.json", environ={})


def refused(t: Task, pc: ProcessingContainer | None = None) -> dict[str, list[str]]:
    with pytest.raises(SpecError) as caught:
        resolve(t, pc if pc is not None else container(), source="task.json")
    found: dict[str, list[str]] = {}
    for problem in caught.value.errors:
        found.setdefault(problem.path, []).append(problem.message + " | " + (problem.allowed or ""))
    return found


class TestResolved:
    def test_defaults_overrides_and_order(self) -> None:
        resolved = resolve(task(env=[{"name": "COUNT", "value": 5}, {"name": "MODE", "value": "slow"}]), container())
        assert list(resolved.env.items()) == [("MODE", "slow"), ("COUNT", "5"), ("FIXED", "v1")]
        assert resolved.template == "main"
        assert resolved.template_description == "the template"
        assert resolved.command == ["run"]
        assert resolved.warnings == []

    def test_channels_are_bound_in_template_order_with_read_only_inputs(self) -> None:
        t = task(inputs=[bind("masks", "/srv/m"), bind("images", "/srv/i")])
        resolved = resolve(t, container())
        assert [(c.name, c.mounted_path, c.source.host_path, c.read_only) for c in resolved.channels] == [
            ("images", "/data/images", "/srv/i", True),
            ("masks", "/data/masks", "/srv/m", True),
            ("out", "/data/out", "/srv/out", False),
            ("logs", "/data/logs", "/srv/logs", False),
        ]
        assert [c.name for c in resolved.scaled_inputs] == ["images"]

    def test_task_scale_rule_replaces_the_templates(self) -> None:
        rule = {"scale_factor": 7, "type": "request", "mode": "max_file_size"}
        resolved = resolve(task(inputs=[bind("images", scale_rule=rule), bind("masks")]), container())
        scale = resolved.inputs[0].scale_rule
        assert scale is not None and scale.scale_factor == 7

    def test_resources_merge_key_by_key(self) -> None:
        resolved = resolve(task(resources={"limits": {"memory": "2Gi", "cpu": "2"}}), container())
        assert resolved.resources.requests == {"memory": "100Mi", "cpu": "1"}
        assert resolved.resources.limits == {"memory": "2Gi", "cpu": "2"}

    def test_command_override(self) -> None:
        assert resolve(task(command=["sh", "-c", "x"]), container()).command == ["sh", "-c", "x"]

    def test_non_adjustable_var_may_repeat_its_value(self) -> None:
        assert resolve(task(env=[{"name": "FIXED", "value": "v1"}]), container()).env["FIXED"] == "v1"

    def test_labels_and_annotations_from_config(self) -> None:
        config = {"type": "k8s", "labels": {"team": "a"}, "annotations": {"example.com/x": "y"}}
        resolved = resolve(task(config=config), container())
        assert (resolved.labels, resolved.annotations) == ({"team": "a"}, {"example.com/x": "y"})

    def test_inline_template_needs_no_container(self) -> None:
        inline = container().templates[0].model_dump(mode="json", exclude_none=True)
        resolved = resolve(task(taskTemplate=inline), None)
        assert isinstance(resolved, ResolvedTask)
        assert resolved.template == "main"

    def test_relative_host_path_is_joined_to_base_dir(self) -> None:
        t = task(inputs=[bind("images", "in/images"), bind("masks", "./m/../masks")])
        resolved = resolve(t, container(), base_dir="/home/u/task")
        assert [c.source.host_path for c in resolved.inputs] == ["/home/u/task/in/images", "/home/u/task/masks"]


class TestWarnings:
    def test_undeclared_env_var_is_passed_through_with_a_warning(self) -> None:
        resolved = resolve(task(env=[{"name": "EXTRA", "value": "1"}]), container())
        assert resolved.env["EXTRA"] == "1"
        (warning,) = resolved.warnings
        assert warning.severity is Severity.WARNING
        assert warning.path == "env[0].name"
        assert "not declared" in warning.message

    def test_unbound_output_warns(self) -> None:
        resolved = resolve(task(outputs=[bind("out")]), container())
        (warning,) = resolved.warnings
        assert warning.path == "outputs"
        assert "'logs' is not bound" in warning.message
        assert [c.name for c in resolved.outputs] == ["out"]


REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    ("non-adjustable override", {"env": [{"name": "FIXED", "value": "v2"}]}, "env[0].value", "not adjustable"),
    ("value outside choices", {"env": [{"name": "MODE", "value": "medium"}]}, "env[0].value", "not one of the choices"),
    ("wrong type", {"env": [{"name": "COUNT", "value": "many"}]}, "env[0].value", "not an integer"),
    (
        "unknown input channel",
        {"inputs": [bind("images"), bind("masks"), bind("imgaes")]},
        "inputs[2].name",
        "no input channel 'imgaes' (did you mean 'images'?)",
    ),
    (
        "output bound as input",
        {"inputs": [bind("images"), bind("masks"), bind("out")]},
        "inputs[2].name",
        "bind it under outputs",
    ),
    (
        "unknown output channel",
        {"outputs": [bind("out"), bind("logs"), bind("extra")]},
        "outputs[2].name",
        "no output channel 'extra'",
    ),
    (
        "input bound as output",
        {"outputs": [bind("out"), bind("logs"), bind("masks")]},
        "outputs[2].name",
        "bind it under inputs",
    ),
    ("unbound input", {"inputs": [bind("images")]}, "inputs", "'masks' of template 'main' is not bound"),
    (
        "scale rule on output",
        {"outputs": [bind("out", scale_rule="2*n"), bind("logs")]},
        "outputs[0].scale_rule",
        "input channels only",
    ),
    (
        "limit below merged request",
        {"resources": {"limits": {"memory": "50Mi"}}},
        "resources.limits.memory",
        "below the request",
    ),
    (
        "relative host path without base",
        {"inputs": [bind("images", "rel"), bind("masks")]},
        "inputs[0].volume_source.host_path",
        "relative host_path",
    ),
]


@pytest.mark.parametrize(("fields", "path", "message"), [pytest.param(f, p, m, id=c) for c, f, p, m in REFUSED])
def test_refused(fields: dict[str, Any], path: str, message: str) -> None:
    found = refused(task(**fields))
    assert path in found, f"expected a problem at {path}, got {found}"
    assert any(message in m for m in found[path]), found[path]


def test_channel_problems_list_the_channels_the_template_has() -> None:
    found = refused(task(inputs=[bind("images"), bind("masks"), bind("nope")]))
    assert any(m.endswith("| images, masks") for m in found["inputs[2].name"])


def test_every_merge_problem_is_reported_at_once() -> None:
    t = task(
        env=[{"name": "FIXED", "value": "x"}, {"name": "MODE", "value": "?"}],
        inputs=[bind("images")],
        outputs=[bind("out"), bind("logs"), bind("zzz")],
    )
    assert set(refused(t)) == {"env[0].value", "env[1].value", "inputs", "outputs[2].name"}


def test_template_by_name_needs_a_container() -> None:
    with pytest.raises(SpecError) as caught:
        resolve(task(), None)
    assert caught.value.problems[0].path == "taskTemplate"


def test_unknown_template_lists_the_ones_there_are() -> None:
    with pytest.raises(SpecError) as caught:
        resolve(task(taskTemplate="other"), container())
    assert caught.value.problems[0].allowed == '"main"'


def test_secret_looking_env_values_are_not_echoed() -> None:
    pc = container(env=[{"name": "DB_PASSWORD", "value": "x", "adjustable": False}])
    with pytest.raises(SpecError) as caught:
        resolve(task(env=[{"name": "DB_PASSWORD", "value": "hunter2"}]), pc)
    assert "hunter2" not in str(caught.value)
