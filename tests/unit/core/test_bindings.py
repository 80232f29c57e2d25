"""Channels, volumes and recorded locations; the host-path policy; what pods inherit from their TaskRun."""

from __future__ import annotations

import pytest

from task_api.core.pod import ChannelVolume
from task_api.core.taskrun.bindings import (
    host_path_allowed,
    host_path_problems,
    location_of_volume,
    propagated_metadata,
    volume_of_binding,
    volume_of_location,
    workspace_volume,
)
from task_api.spec.crd import InputBinding, OutputBinding, TaskRunSpec


@pytest.mark.parametrize(
    ("path", "roots", "allowed"),
    [
        ("/data/in", ["/data"], True),
        ("/data", ["/data"], True),
        ("/database", ["/data"], False),  # a prefix of the name is not a parent directory
        ("/data/../etc", ["/data"], False),
        ("/data/./x", ["/data"], False),
        ("/etc/passwd", ["/data"], False),
        ("/data/in", [], False),  # no roots: no host paths at all
        ("relative", ["/data"], False),
        ("/data/a\u202eb", ["/data"], False),  # a bidi override
        ("/data/e\u0301", ["/data"], False),  # not NFC
        ("/data/" + "n" * 256, ["/data"], False),  # a component longer than NAME_MAX
        ("/data/in/", ["/data"], False),
    ],
)
def test_host_path_allowed(path: str, roots: list[str], allowed: bool) -> None:
    assert host_path_allowed(path, roots) is allowed


def test_host_path_problems_name_the_field_the_path_and_the_roots() -> None:
    spec = TaskRunSpec.model_validate(
        {"image": "i", "taskTemplate": "t", "inputs": [{"name": "a", "hostPath": {"path": "/etc"}}]}
    )
    (problem,) = host_path_problems(spec, [])
    assert problem.path == "spec.inputs[0].hostPath.path"
    assert problem.given == "'/etc'"
    assert "TASK_API_ALLOWED_HOST_PATH_ROOTS is empty" in (problem.allowed or "")
    assert host_path_problems(spec, ["/etc"]) == []


@pytest.mark.parametrize(
    ("side", "path", "words"),
    [
        ("outputs", "/data/out", "outputs cannot go to host paths"),
        ("inputs", "/data/a\u202eb", "U+202E"),
        ("inputs", "/data/e\u0301", "normal form NFC"),
        ("inputs", "/data/" + "n" * 256, "longer than 255 bytes"),
        ("inputs", "/database/x", "not under an allowed root"),
    ],
)
def test_host_path_problems_refuse_outputs_and_odd_paths(side: str, path: str, words: str) -> None:
    spec = TaskRunSpec.model_validate(
        {"image": "i", "taskTemplate": "t", side: [{"name": "a", "hostPath": {"path": path}}]}
    )
    (problem,) = host_path_problems(spec, ["/data"])
    assert problem.path == f"spec.{side}[0].hostPath.path"
    assert words in problem.format()


def test_workspace_volume_is_per_run_and_channel() -> None:
    volume = workspace_volume(claim="ws", taskrun="run", uid="abcdef0123456789", channel="out")
    assert volume == ChannelVolume(claim_name="ws", sub_path="task-api/run-abcdef01/out")


def test_locations_round_trip() -> None:
    for volume in (
        ChannelVolume(claim_name="c", sub_path="s/t"),
        ChannelVolume(claim_name="c"),
        ChannelVolume(host_path="/x"),
    ):
        assert volume_of_location(location_of_volume("out", volume)) == volume


def test_binding_volumes() -> None:
    pvc = InputBinding.model_validate({"name": "a", "persistentVolumeClaim": {"claimName": "c", "subPath": "d"}})
    assert volume_of_binding(pvc) == ChannelVolume(claim_name="c", sub_path="d")
    host = OutputBinding.model_validate({"name": "a", "hostPath": {"path": "/p"}})
    assert volume_of_binding(host) == ChannelVolume(host_path="/p")
    upstream = InputBinding.model_validate({"name": "a", "fromTaskRun": {"name": "up", "output": "o"}})
    assert volume_of_binding(upstream) is None


def test_pods_carry_the_taskruns_labels_and_annotations_but_not_kubectls_or_ours() -> None:
    labels, annotations = propagated_metadata(
        {"network-access-ctp": "true", "team": "a"},
        {
            "kubectl.kubernetes.io/last-applied-configuration": "{...}",
            "task-api.io/heartbeat": "2026-01-01T00:00:00Z",
            "example.org/cost-centre": "42",
        },
    )
    assert labels == {"network-access-ctp": "true", "team": "a"}
    assert annotations == {"example.org/cost-centre": "42"}
    assert propagated_metadata({}, {}) == ({}, {})
