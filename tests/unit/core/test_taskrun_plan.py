"""TaskRun planning: host-path policy, workspace locations, task documents, memory growth after OOM kills."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from task_api.core.pod import ChannelVolume
from task_api.core.taskrun_plan import (
    check_host_paths,
    grown_memory,
    host_path_allowed,
    location_of_volume,
    propagated_metadata,
    task_document,
    volume_of_binding,
    volume_of_location,
    workspace_volume,
)

MIB = 1024 * 1024


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
    ],
)
def test_host_path_allowed(path: str, roots: list[str], allowed: bool) -> None:
    assert host_path_allowed(path, roots) is allowed


def test_check_host_paths_names_the_field_and_the_roots() -> None:
    spec = {"inputs": [{"name": "a", "hostPath": {"path": "/etc"}}], "outputs": []}
    (problem,) = check_host_paths(spec, [])
    assert problem.path == "spec.inputs[0].hostPath.path"
    assert "'/etc'" in problem.message and "allows no host paths" in problem.message


def test_workspace_volume_is_per_run_and_channel() -> None:
    volume = workspace_volume(claim="ws", taskrun="run", uid="abcdef0123456789", channel="out")
    assert volume == ChannelVolume(claim_name="ws", sub_path="task-api/run-abcdef01/out")


def test_locations_round_trip() -> None:
    for volume in (ChannelVolume(claim_name="c", sub_path="s/t"), ChannelVolume(host_path="/x")):
        assert volume_of_location(location_of_volume("out", volume)) == volume


def test_binding_volumes() -> None:
    assert volume_of_binding({"persistentVolumeClaim": {"claimName": "c", "subPath": "d"}}) == ChannelVolume(
        claim_name="c", sub_path="d"
    )
    assert volume_of_binding({"hostPath": {"path": "/p"}}) == ChannelVolume(host_path="/p")
    assert volume_of_binding({"fromTaskRun": {"name": "up", "output": "o"}}) is None


def test_task_document_carries_overrides() -> None:
    doc = task_document(
        name="run",
        image="img@sha256:" + "0" * 64,
        spec={
            "taskTemplate": "t",
            "env": [{"name": "A", "value": "1"}],
            "command": ["x"],
            "resources": {"limits": {"memory": "1Gi"}, "requests": {}},
        },
        input_volumes={"in": ChannelVolume(claim_name="c")},
        output_volumes={"out": ChannelVolume(host_path="/o")},
    )
    assert doc["inputs"] == [{"name": "in", "volume_source": {"persistentVolumeClaim": {"claimName": "c"}}}]
    assert doc["outputs"] == [{"name": "out", "volume_source": {"host_path": "/o"}}]
    assert doc["env"] == [{"name": "A", "value": "1"}]
    assert doc["command"] == ["x"]
    assert doc["resources"] == {"limits": {"memory": "1Gi"}}


def test_grown_memory_examples() -> None:
    assert grown_memory(100 * MIB, factor=2.0, oom_kills=1, bound=1024 * MIB) == 200 * MIB
    assert grown_memory(100 * MIB, factor=2.0, oom_kills=4, bound=1024 * MIB) == 1024 * MIB
    assert grown_memory(100 * MIB, factor=1.5, oom_kills=0, bound=1024 * MIB) == 100 * MIB


@given(
    limit=st.integers(min_value=MIB, max_value=64 * 1024 * MIB),
    factor=st.floats(min_value=1.0, max_value=16.0),
    kills=st.integers(min_value=0, max_value=10),
    bound=st.integers(min_value=MIB, max_value=128 * 1024 * MIB),
)
def test_grown_memory_is_monotonic_and_bounded(limit: int, factor: float, kills: int, bound: int) -> None:
    grown = grown_memory(limit, factor=factor, oom_kills=kills, bound=bound)
    more = grown_memory(limit, factor=factor, oom_kills=kills + 1, bound=bound)
    assert grown >= limit  # never shrinks below what failed
    assert more >= grown
    assert grown <= max(limit, bound)


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
    assert propagated_metadata(None, None) == ({}, {})
