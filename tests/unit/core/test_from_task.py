"""task.json → TaskRun for `task-api run --mode k8s`: what carries over, and what cannot run on Kubernetes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from task_api.core.taskrun.from_task import host_paths, taskrun_from_task, taskrun_name
from task_api.spec.crd.taskrun import TaskRunResource
from task_api.spec.errors import SpecError
from task_api.spec.load import parse_task
from task_api.spec.task import Task

COMPAT = Path(__file__).resolve().parents[3].parent / "shared" / "compat" / "kaapana"


def task(doc: Mapping[str, Any]) -> Task:
    return parse_task(json.dumps(doc), source="task.json", environ={})


BASE: dict[str, Any] = {"name": "Hello run", "image": "reg:5000/hello:1", "taskTemplate": "checksum"}


def test_pvc_bindings_env_command_resources_and_config_carry_over() -> None:
    doc = {
        **BASE,
        "inputs": [{"name": "in", "volume_source": {"persistentVolumeClaim": {"claimName": "data"}, "subPath": "x"}}],
        "outputs": [{"name": "out", "volume_source": {"persistentVolumeClaim": {"claimName": "res"}}}],
        "env": [{"name": "ALGORITHM", "value": "md5"}],
        "command": ["sh", "-c", "true"],
        "resources": {"limits": {"memory": "1Gi"}},
        "config": {"type": "k8s", "imagePullSecrets": ["regcred"], "labels": {"team": "a"}},
    }
    body, warnings = taskrun_from_task(task(doc), name="hello-run-abc123", namespace="ns", source="task.json")
    assert warnings == []
    assert body["metadata"] == {"name": "hello-run-abc123", "namespace": "ns", "labels": {"team": "a"}}
    assert body["spec"] == {
        "image": "reg:5000/hello:1",
        "taskTemplate": "checksum",
        "inputs": [{"name": "in", "persistentVolumeClaim": {"claimName": "data", "subPath": "x"}}],
        "outputs": [{"name": "out", "persistentVolumeClaim": {"claimName": "res"}}],
        "env": [{"name": "ALGORITHM", "value": "md5"}],
        "command": ["sh", "-c", "true"],
        "resources": {"limits": {"memory": "1Gi"}},
        "imagePullSecrets": [{"name": "regcred"}],
    }


def test_credentials_become_a_secret_reference() -> None:
    body, _ = taskrun_from_task(task(BASE), name="n", namespace="ns", source="t", credentials_secret="n-credentials")
    assert body["spec"]["registryCredentialsSecret"] == {"name": "n-credentials"}


def test_relative_host_paths_and_inline_templates_are_errors_naming_the_field() -> None:
    doc = {
        **BASE,
        "taskTemplate": {"identifier": "t", "inputs": [], "outputs": [], "env": []},
        "inputs": [{"name": "in", "volume_source": {"host_path": "data/in"}}],
    }
    with pytest.raises(SpecError) as err:
        taskrun_from_task(task(doc), name="n", namespace="ns", source="task.json")
    paths = [p.path for p in err.value.errors]
    assert paths == ["taskTemplate", "inputs[0].volume_source.host_path"]


def test_absolute_host_paths_pass_through_for_the_operator_to_judge() -> None:
    doc = {**BASE, "inputs": [{"name": "in", "volume_source": {"host_path": "/srv/in"}}]}
    body, _ = taskrun_from_task(task(doc), name="n", namespace="ns", source="t")
    assert host_paths(body) == ["/srv/in"]


def test_kaapana_downstream_task_converts_with_a_warning_for_its_binding_scale_rule() -> None:
    text = (COMPAT / "task-downstream.json").read_text()
    env = {"registryUrl": "reg:5000", "output_dir": "/data", "namespace": "ns", "registryUsername": "u",
           "registryPassword": "p"}  # fmt: skip
    parsed = parse_task(text, source="task-downstream.json", environ=env)
    body, warnings = taskrun_from_task(parsed, name="n", namespace="ns", source="task-downstream.json")
    assert [w.path for w in warnings] == ["inputs[0].scale_rule"]
    assert host_paths(body) == ["/data/dummy/channel1", "/data/dummy/channel2"]
    assert "p" not in json.dumps(body["spec"].get("env", []))


@pytest.mark.parametrize("name", ["Hello run", "x" * 100, "___", "Ünïcode task"])
def test_names_are_dns_labels(name: str) -> None:
    made = taskrun_name(name, unique="1")
    assert len(made) <= 63
    assert made == made.lower() and made[0].isalnum() and made[-1].isalnum()
    assert taskrun_name(name, unique="2") != made


def test_nfs_bindings_and_read_only_claims_carry_over() -> None:
    doc = {
        **BASE,
        "inputs": [
            {"name": "in", "volume_source": {"nfs": {"server": "nfs.example", "path": "/exports"}, "subPath": "a"}},
            {"name": "atlas", "volume_source": {"persistentVolumeClaim": {"claimName": "atlas", "readOnly": True}}},
        ],
        "outputs": [{"name": "out", "volume_source": {"nfs": {"server": "10.0.0.9", "path": "/results"}}}],
        "config": {"type": "k8s", "imagePullPolicy": "Always"},
    }
    body, _ = taskrun_from_task(task(doc), name="n", namespace="ns", source="t")
    assert body["spec"]["inputs"] == [
        {"name": "in", "nfs": {"server": "nfs.example", "path": "/exports", "subPath": "a"}},
        {"name": "atlas", "persistentVolumeClaim": {"claimName": "atlas", "readOnly": True}},
    ]
    assert body["spec"]["outputs"] == [{"name": "out", "nfs": {"server": "10.0.0.9", "path": "/results"}}]
    assert body["spec"]["imagePullPolicy"] == "Always"
    TaskRunResource.model_validate(body)  # the CRD's model accepts it


@pytest.mark.parametrize("kind", ["persistentVolumeClaim", "nfs"])
def test_an_output_on_a_read_only_volume_is_an_error(kind: str) -> None:
    volume = {"claimName": "res"} if kind == "persistentVolumeClaim" else {"server": "s", "path": "/e"}
    doc = {**BASE, "outputs": [{"name": "out", "volume_source": {kind: {**volume, "readOnly": True}}}]}
    with pytest.raises(SpecError) as err:
        taskrun_from_task(task(doc), name="n", namespace="ns", source="t")
    assert [p.path for p in err.value.errors] == [f"outputs[0].volume_source.{kind}.readOnly"]
