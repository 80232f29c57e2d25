"""The published JSON Schemas: generated from the models, never drifting, usable by editors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from task_api.spec.load import validate_processing_container, validate_task
from task_api.spec.schema import SCHEMA_FILES, SCHEMA_IDS, SchemaKind, json_schema, schema_text
from tests.unit.spec.helpers import minimal_pc, minimal_task

ROOT = Path(__file__).resolve().parents[3]
KINDS: list[SchemaKind] = ["pc", "task"]


@pytest.mark.parametrize("kind", KINDS)
def test_published_schema_matches_the_models(kind: SchemaKind) -> None:
    published = (ROOT / "schemas" / SCHEMA_FILES[kind]).read_text(encoding="utf-8")
    assert published == schema_text(kind), f"schemas/{SCHEMA_FILES[kind]} is stale: run `make schemas`"


@pytest.mark.parametrize("kind", KINDS)
def test_schema_is_draft_2020_12_with_an_id(kind: SchemaKind) -> None:
    schema = json_schema(kind)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_IDS[kind]
    jsonschema.Draft202012Validator.check_schema(schema)


def _validator(kind: SchemaKind) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json_schema(kind))


@pytest.mark.parametrize(
    ("kind", "document"),
    [
        ("pc", {**minimal_pc(), "$schema": SCHEMA_IDS["pc"], "x-note": 1}),
        ("pc", minimal_pc(inputs=[{"name": "in", "mounted_path": "/d", "scale_rule": "1.5*n**1.2"}])),
        ("task", {**minimal_task(), "$schema": SCHEMA_IDS["task"]}),
        ("task", minimal_task(config={"type": "k8s", "registryUsername": "u", "registryPassword": "p"})),
        ("task", minimal_task(taskTemplate=minimal_pc()["templates"][0])),
    ],
)
def test_valid_documents_satisfy_the_schema(kind: SchemaKind, document: dict[str, Any]) -> None:
    errors = list(_validator(kind).iter_errors(document))
    assert errors == []


@pytest.mark.parametrize(
    ("kind", "document"),
    [
        ("pc", {**minimal_pc(), "descripton": "typo"}),
        ("pc", {"name": "x", "templates": []}),
        ("pc", minimal_pc(env=[{"name": "1A", "value": "x"}])),
        ("task", {**minimal_task(), "config": {"type": "slurm"}}),
        ("task", {k: v for k, v in minimal_task().items() if k != "image"}),
    ],
)
def test_schema_refuses_what_the_models_refuse(kind: SchemaKind, document: dict[str, Any]) -> None:
    assert list(_validator(kind).iter_errors(document)) != []


@pytest.mark.parametrize("name", ["processing-container.json", "task.json", "task-compress.json"])
def test_example_files_satisfy_the_published_schemas(name: str) -> None:
    kind: SchemaKind = "pc" if name.startswith("processing") else "task"
    document = json.loads((ROOT / "examples" / "01-hello-world" / name).read_text(encoding="utf-8"))
    assert document["$schema"] == SCHEMA_IDS[kind]
    assert list(_validator(kind).iter_errors(document)) == []


@pytest.mark.parametrize(
    ("kind", "document"),
    [
        ("pc", minimal_pc(resources={"requests": None, "limits": {"memory": "1Gi"}})),
        (
            "pc",
            minimal_pc(
                inputs=[
                    {
                        "name": "in",
                        "mounted_path": "/d",
                        "scale_rule": {"scale_factor": 1, "type": "limit", "mode": "sum", "target_dir": None},
                    }
                ]
            ),
        ),
        ("task", minimal_task(env=None, config={"type": "k8s", "labels": None})),
    ],
)
def test_nulls_the_models_accept_are_in_the_schema(kind: SchemaKind, document: dict[str, Any]) -> None:
    # Kaapana's models declare these Optional, so real files may carry null; models and schema must agree.
    (validate_processing_container if kind == "pc" else validate_task)(document, source="x")
    assert list(_validator(kind).iter_errors(document)) == []
