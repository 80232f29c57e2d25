"""Every field Kaapana's generated schemas define is a field we know, in the matching place.

Kaapana's ``ProcessingContainer.schema.json`` and ``Task.schema.json`` (in shared/compat/kaapana) are references,
not documents to validate. Since we refuse unknown keys, a field Kaapana accepts but we do not know would break
a Kaapana file; this test walks Kaapana's definitions and checks ours have each property.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from task_api.spec.schema import json_schema

KAAPANA = Path(__file__).resolve().parents[3].parent / "shared" / "compat" / "kaapana"

# Kaapana definition -> our definitions ("" is the document itself).
PC_MAP = {
    "": [""],
    "TaskTemplate": ["TaskTemplate"],
    "TaskTemplateEnv": ["EnvVar"],
    "IOMount": ["InputChannel", "OutputChannel"],
    "ScaleRule": ["ScaleRule"],
    "Resources": ["Resources"],
}
TASK_MAP = {
    "": [""],
    "IOVolume": ["ChannelBinding"],
    "HostPathVolume": ["VolumeSource"],
    "BaseEnv": ["TaskEnv"],
    "DockerConfig": ["DockerConfig"],
    "BaseConfig": ["DockerConfig", "K8sConfig"],
    **{k: v for k, v in PC_MAP.items() if k},
}


def _properties(schema: dict[str, Any], name: str) -> set[str]:
    definition = schema if name == "" else schema["$defs"][name]
    return set(definition.get("properties", {}))


@pytest.mark.parametrize(
    ("kaapana_file", "ours", "mapping"),
    [("ProcessingContainer.schema.json", "pc", PC_MAP), ("Task.schema.json", "task", TASK_MAP)],
)
def test_every_kaapana_field_is_known(kaapana_file: str, ours: str, mapping: dict[str, list[str]]) -> None:
    theirs = json.loads((KAAPANA / kaapana_file).read_text(encoding="utf-8"))
    mine = json_schema("pc" if ours == "pc" else "task")
    for their_name in ["", *sorted(theirs.get("$defs", {}))]:
        if their_name in ("ScaleRuleType", "ScaleRuleMode"):
            continue  # enums, checked below
        assert their_name in mapping, f"Kaapana defines {their_name}: map it to our models"
        for our_name in mapping[their_name]:
            missing = _properties(theirs, their_name) - _properties(mine, our_name)
            assert not missing, (
                f"Kaapana's {their_name or 'document'} has {missing}, our {our_name or 'document'} lacks them"
            )


@pytest.mark.parametrize("enum", ["ScaleRuleType", "ScaleRuleMode"])
def test_scale_rule_enums_match(enum: str) -> None:
    theirs = json.loads((KAAPANA / "ProcessingContainer.schema.json").read_text(encoding="utf-8"))["$defs"][enum]
    mine = json_schema("pc")["$defs"][enum]
    assert set(theirs["enum"]) == set(mine["enum"])
