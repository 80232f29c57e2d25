"""Kaapana's pc_models as its DAGs use them: same names, fields and defaults; clear errors; task-api's checks."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from task_api.processing_container import pc_models
from task_api.spec import EnvType, SpecError

# Kaapana's task_api.processing_container.pc_models (lib/task_api, 0.6 line): class -> {field: default}
# ("required" for fields without a default).
KAAPANA: dict[str, dict[str, Any]] = {
    "BaseEnv": {"name": "required", "value": "required"},
    "TaskTemplateEnv": {"name": "required", "value": "required", "choices": None, "description": None},
    "Resources": {"limits": None, "requests": None},
    "ScaleRule": {
        "scale_factor": "required",
        "type": "required",
        "mode": "required",
        "target_dir": "",
        "target_regex": ".*",
        "target_glob": "*",
    },
    "IOBase": {"name": "required", "scale_rule": None},
    "IOMount": {"name": "required", "scale_rule": None, "mounted_path": "required", "description": None},
    "BaseTask": {"command": None, "resources": None},
    "TaskTemplate": {
        "command": None,
        "resources": None,
        "identifier": "required",
        "description": "required",
        "inputs": "required",
        "outputs": "required",
        "env": "required",
    },
    "ProcessingContainer": {"name": "required", "description": "required", "api_version": 1, "templates": "required"},
}


@pytest.mark.parametrize("name", sorted(KAAPANA))
def test_fields_and_defaults_match_kaapanas(name: str) -> None:
    model: type[BaseModel] = getattr(pc_models, name)
    ours = {field: "required" if info.is_required() else info.default for field, info in model.model_fields.items()}
    assert ours == KAAPANA[name]


def test_enums_match_kaapanas() -> None:
    assert {m.name: m.value for m in pc_models.ScaleRuleType} == {"limit": "limit", "request": "request"}
    assert [m.name for m in pc_models.ScaleRuleMode] == ["sum", "max_file_size", "max_item_sum"]


def test_what_dags_construct() -> None:
    env = pc_models.BaseEnv(name="PACS_PORT", value="11112")
    assert (env.name, env.value) == ("PACS_PORT", "11112")
    assert pc_models.BaseEnv(name="N", value=5).value == "5"  # kept as its string form, as in files
    assert pc_models.BaseEnv(name="B", value=True).value == "true"
    resources = pc_models.Resources(limits={"memory": "4Gi"})
    assert resources.model_dump(exclude_none=True) == {"limits": {"memory": "4Gi"}}
    rule = pc_models.ScaleRule(scale_factor=25, type="limit", mode=pc_models.ScaleRuleMode.sum)
    assert rule.type is pc_models.ScaleRuleType.limit


def test_a_whole_processing_container_checks_against_task_apis_rules() -> None:
    pc = pc_models.ProcessingContainer(
        name="dummy",
        description="d",
        templates=[
            pc_models.TaskTemplate(
                identifier="downstream",
                description="",
                inputs=[pc_models.IOMount(name="channel1", mounted_path="/home/downstream/channel1")],
                outputs=[],
                env=[pc_models.TaskTemplateEnv(name="TIME_SLEEP", value="5", choices=[])],
                resources=pc_models.Resources(limits={"memory": "50Mi"}),
            )
        ],
    )
    ours = pc.to_spec()
    template = ours.template("downstream")
    assert template.inputs[0].mounted_path == "/home/downstream/channel1"
    assert template.env[0].type is EnvType.STRING
    assert template.resources is not None and template.resources.limits == {"memory": "50Mi"}


def test_task_apis_stricter_rules_apply_in_to_spec() -> None:
    template = pc_models.TaskTemplate(
        identifier="t",
        description="",
        inputs=[pc_models.IOMount(name="in", mounted_path="/data")],
        outputs=[pc_models.IOMount(name="out", mounted_path="/data/out")],
        env=[],
    )
    with pytest.raises(SpecError) as caught:
        template.to_spec()
    assert "outputs[0].mounted_path: overlaps inputs[0]" in str(caught.value)
    assert str(caught.value).startswith("pc_models.TaskTemplate('t'): ")


class TestErrors:
    def test_unknown_keyword_is_an_error_naming_it(self) -> None:
        with pytest.raises(pc_models.PcModelError) as caught:
            typo: dict[str, Any] = {"name": "A", "valeu": "1"}
            pc_models.BaseEnv(**typo)
        assert str(caught.value) == (
            "pc_models.BaseEnv(...): value: required argument is missing\n"
            "pc_models.BaseEnv(...): valeu: BaseEnv has no field 'valeu' (given \"1\")"
        )

    def test_it_is_a_value_error_too(self) -> None:
        with pytest.raises(ValueError, match="api_version: unsupported api_version"):
            pc_models.ProcessingContainer(name="x", description="d", api_version=2, templates=[])

    def test_secret_values_are_not_shown(self) -> None:
        with pytest.raises(pc_models.PcModelError) as caught:
            pc_models.BaseEnv(name="DB_PASSWORD", value=["hunter2"])
        assert "hunter2" not in str(caught.value)
        assert "value: " in str(caught.value) and "<redacted>" in str(caught.value)

    def test_nested_problems_have_their_path(self) -> None:
        with pytest.raises(pc_models.PcModelError) as caught:
            pc_models.IOMount(
                name="in", mounted_path="/in", scale_rule={"scale_factor": 2, "type": "max", "mode": "sum"}
            )
        (problem,) = caught.value.problems
        assert problem.path == "scale_rule.type"
        assert problem.given == '"max"'
