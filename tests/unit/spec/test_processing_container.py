"""processing-container.json: what is accepted, and each rule with the problem it reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from task_api.spec import EnvType, ProcessingContainer, ScaleRuleMode, ScaleRuleType, SpecError
from task_api.spec.load import parse_processing_container
from tests.unit.spec.helpers import by_path, minimal_pc, pc_problems


def parse(document: dict[str, Any]) -> ProcessingContainer:
    return parse_processing_container(json.dumps(document), source="pc.json")


class TestAccepted:
    def test_minimal_file(self) -> None:
        pc = parse(minimal_pc())
        assert pc.api_version == 1
        assert pc.template("main").inputs[0].mounted_path == "/data/in"

    def test_json_numbers_and_booleans_become_their_string_form(self) -> None:
        env = [
            {"name": "N", "value": 3, "type": "int"},
            {"name": "F", "value": 1.5, "type": "float"},
            {"name": "B", "value": True, "type": "bool"},
            {"name": "C", "value": 2, "type": "int", "choices": [1, 2, 3]},
        ]
        template = parse(minimal_pc(env=env)).template("main")
        assert [(v.value, v.type) for v in template.env] == [
            ("3", EnvType.INT),
            ("1.5", EnvType.FLOAT),
            ("true", EnvType.BOOL),
            ("2", EnvType.INT),
        ]
        assert template.env[3].choices == ["1", "2", "3"]

    def test_extension_keys_and_schema_key_are_allowed_and_ignored(self) -> None:
        document = minimal_pc(**{"x-owner": {"team": "a"}})
        document["$schema"] = "https://task-api.io/schemas/v1/processing-container.schema.json"
        document["x-build"] = 7
        pc = parse(document)
        assert pc.name == "pc"

    def test_adjustable_defaults_to_true_and_type_to_string(self) -> None:
        var = parse(minimal_pc()).template("main").env[0]
        assert var.adjustable is True
        assert var.type is EnvType.STRING

    def test_resources_with_extended_and_numeric_quantities(self) -> None:
        resources = {
            "requests": {"memory": "100Mi", "cpu": 0.5, "nvidia.com/gpu": 1},
            "limits": {"memory": "1Gi", "cpu": "2", "nvidia.com/gpu": "1", "ephemeral-storage": "1Gi"},
        }
        template = parse(minimal_pc(resources=resources)).template("main")
        assert template.resources is not None
        assert template.resources.requests == {"memory": "100Mi", "cpu": "0.5", "nvidia.com/gpu": "1"}

    def test_kaapana_scale_rule_form(self) -> None:
        rule = {"scale_factor": 100, "type": "limit", "mode": "max_item_sum", "target_glob": "*.nrrd"}
        channel = parse(minimal_pc(inputs=[{"name": "in", "mounted_path": "/d", "scale_rule": rule}]))
        scale = channel.template("main").inputs[0].scale_rule
        assert scale is not None
        assert (scale.type, scale.mode, scale.target_glob, scale.target_dir) == (
            ScaleRuleType.LIMIT,
            ScaleRuleMode.MAX_ITEM_SUM,
            "*.nrrd",
            "",
        )
        assert (scale.formula.factor, scale.formula.exponent) == (Decimal(100), Decimal(1))

    @pytest.mark.parametrize(
        ("complexity", "factor", "exponent"),
        [("2*n", "2", "1"), ("n**2", "1", "2"), ("1.5*n**1.2", "1.5", "1.2"), (" n ", "1", "1"), ("n*3", "3", "1")],
    )
    def test_complexity_strings_are_parsed(self, complexity: str, factor: str, exponent: str) -> None:
        for rule in (complexity, {"complexity": complexity, "type": "request", "mode": "sum"}):
            pc = parse(minimal_pc(inputs=[{"name": "in", "mounted_path": "/d", "scale_rule": rule}]))
            scale = pc.template("main").inputs[0].scale_rule
            assert scale is not None
            assert (str(scale.formula.factor), str(scale.formula.exponent)) == (factor, exponent)

    def test_target_dir_is_normalised(self) -> None:
        rule = {"scale_factor": 1, "type": "limit", "mode": "sum", "target_dir": "./a//b/"}
        pc = parse(minimal_pc(inputs=[{"name": "in", "mounted_path": "/d", "scale_rule": rule}]))
        scale = pc.template("main").inputs[0].scale_rule
        assert scale is not None and scale.target_dir == "a/b"

    def test_template_lookup_lists_what_exists(self) -> None:
        pc = parse(minimal_pc())
        with pytest.raises(SpecError) as caught:
            pc.template("mian")
        problem = caught.value.problems[0]
        assert "did you mean 'main'" in problem.message
        assert problem.allowed == '"main"'


def _env(value: Any, **extra: Any) -> dict[str, Any]:
    return minimal_pc(env=[{"name": "V", "value": value, **extra}])


def _inputs(*channels: dict[str, Any]) -> dict[str, Any]:
    return minimal_pc(inputs=list(channels), outputs=[])


def _rule(**rule: Any) -> dict[str, Any]:
    return _inputs({"name": "in", "mounted_path": "/d", "scale_rule": rule})


# (case id, document factory, JSON path of the problem, fragment of the message, fragment of "allowed")
REFUSED: list[tuple[str, Callable[[], dict[str, Any]], str, str, str | None]] = [
    (
        "unknown top-level key",
        lambda: {**minimal_pc(), "descripton": "x"},
        "descripton",
        "did you mean 'description'",
        "x-",
    ),
    ("no templates", lambda: {"name": "a", "templates": []}, "templates", "at least 1", None),
    ("missing name", lambda: {"templates": minimal_pc()["templates"]}, "name", "required", None),
    ("api_version 2", lambda: {**minimal_pc(), "api_version": 2}, "api_version", "unsupported", "1"),
    (
        "duplicate identifiers",
        lambda: {"name": "a", "templates": minimal_pc()["templates"] * 2},
        "templates[1].identifier",
        "duplicate template identifier",
        None,
    ),
    (
        "bad env name",
        lambda: minimal_pc(env=[{"name": "1A", "value": ""}]),
        "templates[0].env[0].name",
        "environment variable name",
        "letters",
    ),
    ("int type", lambda: _env("x", type="int"), "templates[0].env[0].value", "not an integer", "whole number"),
    ("float type", lambda: _env("nan", type="float"), "templates[0].env[0].value", "finite", None),
    ("bool type", lambda: _env("yes", type="bool"), "templates[0].env[0].value", "not a boolean", "true"),
    (
        "value outside choices",
        lambda: _env("c", choices=["a", "b"]),
        "templates[0].env[0].value",
        "choices",
        '"a", "b"',
    ),
    (
        "choice of wrong type",
        lambda: _env("1", type="int", choices=["1", "x"]),
        "templates[0].env[0].choices[1]",
        "not an integer",
        None,
    ),
    (
        "unknown env type",
        lambda: _env("1", type="number"),
        "templates[0].env[0].type",
        "not an allowed value",
        "'string'",
    ),
    (
        "duplicate env",
        lambda: minimal_pc(env=[{"name": "A", "value": ""}] * 2),
        "templates[0].env[1].name",
        "duplicate",
        None,
    ),
    (
        "relative mount",
        lambda: _inputs({"name": "in", "mounted_path": "data"}),
        "templates[0].inputs[0].mounted_path",
        "absolute",
        None,
    ),
    (
        "dot-dot mount",
        lambda: _inputs({"name": "in", "mounted_path": "/data/../etc"}),
        "templates[0].inputs[0].mounted_path",
        "'..'",
        None,
    ),
    (
        "unnormalised mount",
        lambda: _inputs({"name": "in", "mounted_path": "/data//in/"}),
        "templates[0].inputs[0].mounted_path",
        "normalised",
        None,
    ),
    (
        "root mount",
        lambda: _inputs({"name": "in", "mounted_path": "/"}),
        "templates[0].inputs[0].mounted_path",
        "'/'",
        None,
    ),
    (
        "proc mount",
        lambda: _inputs({"name": "in", "mounted_path": "/proc"}),
        "templates[0].inputs[0].mounted_path",
        "'/proc'",
        None,
    ),
    (
        "below sys",
        lambda: _inputs({"name": "in", "mounted_path": "/sys/fs"}),
        "templates[0].inputs[0].mounted_path",
        "'/sys'",
        None,
    ),
    (
        "dev mount",
        lambda: _inputs({"name": "in", "mounted_path": "/dev"}),
        "templates[0].inputs[0].mounted_path",
        "'/dev'",
        None,
    ),
    (
        "overlapping channels",
        lambda: minimal_pc(outputs=[{"name": "out", "mounted_path": "/data/in/sub"}]),
        "templates[0].outputs[0].mounted_path",
        "overlaps inputs[0]",
        None,
    ),
    (
        "same channel name in inputs and outputs",
        lambda: minimal_pc(outputs=[{"name": "in", "mounted_path": "/data/out"}]),
        "templates[0].outputs[0].name",
        "duplicate channel name",
        None,
    ),
    (
        "bad channel name",
        lambda: _inputs({"name": "a b", "mounted_path": "/d"}),
        "templates[0].inputs[0].name",
        "not a valid name",
        None,
    ),
    (
        "scale rule on output",
        lambda: minimal_pc(
            outputs=[
                {"name": "out", "mounted_path": "/o", "scale_rule": {"scale_factor": 1, "type": "limit", "mode": "sum"}}
            ]
        ),
        "templates[0].outputs[0].scale_rule",
        "input channels only",
        None,
    ),
    (
        "bad quantity",
        lambda: minimal_pc(resources={"limits": {"memory": "1 GB"}}),
        "templates[0].resources.limits.memory",
        "not a Kubernetes quantity",
        "Mi",
    ),
    (
        "negative quantity",
        lambda: minimal_pc(resources={"limits": {"cpu": "-1"}}),
        "templates[0].resources.limits.cpu",
        "negative",
        None,
    ),
    (
        "unknown resource",
        lambda: minimal_pc(resources={"limits": {"memroy": "1Gi"}}),
        "templates[0].resources.limits.memroy",
        "did you mean 'memory'",
        "nvidia.com/gpu",
    ),
    (
        "limit below request",
        lambda: minimal_pc(resources={"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}),
        "templates[0].resources.limits.memory",
        "below the request",
        "≥ 2Gi",
    ),
    (
        "fractional gpu",
        lambda: minimal_pc(resources={"limits": {"nvidia.com/gpu": "0.5"}}),
        "templates[0].resources.limits.nvidia.com/gpu",
        "whole numbers",
        None,
    ),
    (
        "gpu limit differs from request",
        lambda: minimal_pc(resources={"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "2"}}),
        "templates[0].resources.limits.nvidia.com/gpu",
        "must equal its request",
        None,
    ),
    (
        "unknown resources key",
        lambda: minimal_pc(resources={"limit": {}}),
        "templates[0].resources.limit",
        "did you mean 'limits'",
        None,
    ),
    ("command not strings", lambda: minimal_pc(command="run.sh"), "templates[0].command", "must be an array", None),
    (
        "unknown mode",
        lambda: _rule(scale_factor=1, type="limit", mode="summ"),
        "templates[0].inputs[0].scale_rule.mode",
        "not an allowed value",
        "'sum'",
    ),
    (
        "unknown rule type",
        lambda: _rule(scale_factor=1, type="limits", mode="sum"),
        "templates[0].inputs[0].scale_rule.type",
        "not an allowed value",
        "'request'",
    ),
    (
        "zero factor",
        lambda: _rule(scale_factor=0, type="limit", mode="sum"),
        "templates[0].inputs[0].scale_rule.scale_factor",
        "greater than 0",
        None,
    ),
    (
        "factor and complexity",
        lambda: _rule(scale_factor=1, complexity="n", type="limit", mode="sum"),
        "templates[0].inputs[0].scale_rule",
        "exactly one",
        None,
    ),
    (
        "neither factor nor complexity",
        lambda: _rule(type="limit", mode="sum"),
        "templates[0].inputs[0].scale_rule",
        "exactly one",
        None,
    ),
    (
        "complexity is code",
        lambda: _rule(complexity="__import__('os')", type="limit", mode="sum"),
        "templates[0].inputs[0].scale_rule.complexity",
        "not a complexity formula",
        "n**2",
    ),
    (
        "complexity exponent too big",
        lambda: _rule(complexity="n**4", type="limit", mode="sum"),
        "templates[0].inputs[0].scale_rule.complexity",
        "out of range",
        None,
    ),
    (
        "bad regex",
        lambda: _rule(scale_factor=1, type="limit", mode="sum", target_regex="(["),
        "templates[0].inputs[0].scale_rule.target_regex",
        "regular expression",
        None,
    ),
    (
        "glob with slash",
        lambda: _rule(scale_factor=1, type="limit", mode="sum", target_glob="a/*.dcm"),
        "templates[0].inputs[0].scale_rule.target_glob",
        "file-name pattern",
        None,
    ),
    (
        "absolute target_dir",
        lambda: _rule(scale_factor=1, type="limit", mode="sum", target_dir="/x"),
        "templates[0].inputs[0].scale_rule.target_dir",
        "relative",
        None,
    ),
    (
        "escaping target_dir",
        lambda: _rule(scale_factor=1, type="limit", mode="sum", target_dir="a/../.."),
        "templates[0].inputs[0].scale_rule.target_dir",
        "'..'",
        None,
    ),
]


@pytest.mark.parametrize(
    ("document", "path", "message", "allowed"),
    [pytest.param(doc, path, msg, allowed, id=case) for case, doc, path, msg, allowed in REFUSED],
)
def test_refused_with_a_located_problem(
    document: Callable[[], dict[str, Any]], path: str, message: str, allowed: str | None
) -> None:
    problems = by_path(pc_problems(document()))
    assert path in problems, f"expected a problem at {path}, got {list(problems)}"
    problem = problems[path]
    assert message in problem.message
    if allowed is not None:
        assert problem.allowed is not None and allowed in problem.allowed
    assert problem.line is not None and problem.column is not None


def test_every_problem_is_reported_at_once() -> None:
    document = minimal_pc(
        env=[{"name": "A", "value": "x", "type": "int"}],
        inputs=[{"name": "in", "mounted_path": "relative"}],
        outputs=[{"name": "out", "mounted_path": "/proc"}],
        resources={"limits": {"memory": "lots"}},
        extra_field=1,
    )
    paths = {p.path for p in pc_problems(document)}
    assert {
        "templates[0].env[0].value",
        "templates[0].inputs[0].mounted_path",
        "templates[0].outputs[0].mounted_path",
        "templates[0].resources.limits.memory",
        "templates[0].extra_field",
    } <= paths


def test_cross_field_checks_run_even_when_a_field_is_bad() -> None:
    # An invalid env var must not hide two overlapping channels in the same template.
    document = minimal_pc(
        env=[{"name": "A", "value": "x", "type": "int"}],
        outputs=[{"name": "out", "mounted_path": "/data/in"}],
    )
    paths = {p.path for p in pc_problems(document)}
    assert {"templates[0].env[0].value", "templates[0].outputs[0].mounted_path"} <= paths


def test_line_and_column_point_at_the_value() -> None:
    text = (
        '{\n  "name": "pc",\n  "templates": [\n    {"identifier": "main",\n'
        '     "inputs": [{"name": "in", "mounted_path": "rel"}]}\n  ]\n}\n'
    )
    problem = by_path(pc_problems(text))["templates[0].inputs[0].mounted_path"]
    assert (problem.line, problem.column) == (5, 48)
    assert text.splitlines()[4][47:].startswith('"rel"')


def test_unknown_key_points_at_the_key() -> None:
    text = '{"name": "pc",\n "templates": [{"identifier": "main", "comand": ["x"]}]}'
    problem = by_path(pc_problems(text))["templates[0].comand"]
    assert (problem.line, problem.column) == (2, 39)
    assert "did you mean 'command'" in problem.message


def test_direct_model_validation_without_the_loader_still_refuses() -> None:
    # Other layers (the operator) may call model_validate directly; the rules must still hold there.
    with pytest.raises(ValueError, match="overlaps"):
        ProcessingContainer.model_validate(minimal_pc(outputs=[{"name": "out", "mounted_path": "/data/in"}]))
    with pytest.raises(ValueError, match="Extra inputs"):
        ProcessingContainer.model_validate({**minimal_pc(), "nope": 1})
