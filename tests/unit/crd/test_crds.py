"""The CRDs in crds/ are generated from the models: they must not drift, and they must be structural."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from task_api.spec.crd.generate import all_crds

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", sorted(all_crds()))
def test_committed_crd_matches_the_models(name: str) -> None:
    committed = yaml.safe_load((ROOT / "crds" / name).read_text())
    assert committed == all_crds()[name], f"crds/{name} drifted from the models: run `make crds`"


def walk(node: Any, path: str = "") -> list[str]:
    """Structural-schema violations: every node typed (or int-or-string / preserve-unknown), no $ref/anyOf."""
    problems = []
    if isinstance(node, dict):
        if "$ref" in node or "anyOf" in node or "allOf" in node:
            problems.append(f"{path}: $ref/anyOf/allOf")
        if not (node.get("type") or node.get("x-kubernetes-int-or-string")):
            problems.append(f"{path}: no type")
        if "properties" in node and "additionalProperties" in node:
            problems.append(f"{path}: properties with additionalProperties")
        for key, sub in (node.get("properties") or {}).items():
            problems += walk(sub, f"{path}.{key}")
        if isinstance(node.get("items"), dict):
            problems += walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            problems += walk(node["additionalProperties"], f"{path}{{}}")
    return problems


@pytest.mark.parametrize("name", sorted(all_crds()))
def test_schemas_are_structural(name: str) -> None:
    schema = all_crds()[name]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert walk(schema) == []


def test_short_names_clash_with_nothing_known() -> None:
    taken = {
        "pc",
        "tr",
        "pr",
        "po",
        "pv",
        "pvc",
        "ns",
        "no",
        "svc",
        "cm",
        "ev",
        "ep",
        "sa",
        "rs",
        "rc",
        "ds",
        "deploy",
        "sts",
        "hpa",
        "ing",
        "pdb",
        "netpol",
        "sc",
        "crd",
        "csr",
        "cs",
        "limits",
        "quota",
        "t",
        "p",
        "ct",
        "ctr",
    }
    for crd in all_crds().values():
        names = crd["spec"]["names"]
        assert not set(names["shortNames"]) & taken
        assert names["categories"] == ["task-api"]


def test_taskrun_spec_carries_cel_rules_and_descriptions() -> None:
    schema = all_crds()["task-api.io_taskruns.yaml"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = schema["properties"]["spec"]
    rules = [r["rule"] for r in spec["x-kubernetes-validations"]]
    assert "has(self.processingContainerRef) != has(self.image)" in rules
    assert spec["properties"]["inputs"]["x-kubernetes-list-map-keys"] == ["name"]
    assert spec["properties"]["inputs"]["items"]["properties"]["name"]["description"]
