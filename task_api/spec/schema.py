"""The published JSON Schemas (Draft 2020-12) of processing-container.json and task.json.

They are generated from the models, then adjusted where the models accept more than pydantic can describe:
the ``$schema`` key editors use, the bare-string spelling of a scale rule. ``schemas/`` holds the generated
files (``make schemas`` rewrites them; a test fails when they drift from the models).

Pure: returns dictionaries; writing files is the CLI's job.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Literal

from task_api.spec.processing_container import ProcessingContainer
from task_api.spec.scale_rule import COMPLEXITY_PATTERN
from task_api.spec.task import Task

__all__ = ["SCHEMA_FILES", "SCHEMA_IDS", "SchemaKind", "json_schema", "schema_text"]

SchemaKind = Literal["pc", "task"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_IDS: dict[SchemaKind, str] = {
    "pc": "https://task-api.io/schemas/v1/processing-container.schema.json",
    "task": "https://task-api.io/schemas/v1/task.schema.json",
}
#: File names under ``schemas/``.
SCHEMA_FILES: dict[SchemaKind, str] = {
    "pc": "processing-container.schema.json",
    "task": "task.schema.json",
}
_TITLES: dict[SchemaKind, str] = {
    "pc": "processing-container.json (task-api)",
    "task": "task.json (task-api)",
}


def _add_complexity_string(schema: dict[str, Any]) -> None:
    # Models turn "2*n" into a ScaleRule before validation, which pydantic's generator cannot see.
    for definition in schema.get("$defs", {}).values():
        rule = definition.get("properties", {}).get("scale_rule")
        if rule is None or "anyOf" not in rule:
            continue
        if not any(option.get("$ref", "").endswith("/ScaleRule") for option in rule["anyOf"]):
            continue
        rule["anyOf"].insert(
            1,
            {
                "type": "string",
                "pattern": COMPLEXITY_PATTERN,
                "description": "Shorthand for {complexity: …, type: limit, mode: sum}",
            },
        )


#: Fields whose models turn JSON null into the default (Kaapana's models declare them Optional).
_NULL_MEANS_DEFAULT: dict[str, tuple[str, ...]] = {
    "ScaleRule": ("target_dir", "target_regex", "target_glob"),
    "Resources": ("requests", "limits"),
    "DockerConfig": ("labels",),
    "K8sConfig": ("labels", "annotations", "imagePullSecrets"),
    "": ("inputs", "outputs", "env"),  # the task itself
}


def _allow_null(schema: dict[str, Any], *, top: str) -> None:
    # Pydantic describes the type after the BeforeValidator ran; the file may still say null.
    for name, fields in _NULL_MEANS_DEFAULT.items():
        definition = schema if name == "" and top == "task" else schema.get("$defs", {}).get(name)
        if definition is None or (name == "" and top != "task"):
            continue
        for field_name in fields:
            prop = definition.get("properties", {}).get(field_name)
            if prop is None or "anyOf" in prop:
                continue
            kept = {k: prop.pop(k) for k in ("title", "default", "description") if k in prop}
            definition["properties"][field_name] = {"anyOf": [prop, {"type": "null"}], **kept}


def _add_env_type_spellings(schema: dict[str, Any]) -> None:
    # EnvType reads Kaapana's "boolean" as "bool" (its _missing_ hook), which pydantic's generator cannot see.
    env_type = schema.get("$defs", {}).get("EnvType")
    if env_type is not None and "boolean" not in env_type["enum"]:
        env_type["enum"].append("boolean")
        env_type["description"] += ' "boolean" is read as "bool".'


def json_schema(kind: SchemaKind) -> dict[str, Any]:
    """The JSON Schema of a processing-container.json (``pc``) or a task.json (``task``) (pure)."""
    model = ProcessingContainer if kind == "pc" else Task
    generated = copy.deepcopy(model.model_json_schema(mode="validation"))
    _add_complexity_string(generated)
    _allow_null(generated, top=kind)
    _add_env_type_spellings(generated)
    properties = {
        "$schema": {
            "type": "string",
            "description": f"Optional: {SCHEMA_IDS[kind]} lets editors complete and check the file.",
        },
        **generated.pop("properties", {}),
    }
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_IDS[kind],
        "title": _TITLES[kind],
        **{k: v for k, v in generated.items() if k not in ("title",)},
        "properties": properties,
    }


def schema_text(kind: SchemaKind) -> str:
    """The schema as the text stored in ``schemas/`` (sorted-free, indented, newline-terminated) (pure)."""
    return json.dumps(json_schema(kind), indent=2, ensure_ascii=False) + "\n"
