"""container_config(): how a resolved task becomes the engine's create body (pure, table-driven)."""

from __future__ import annotations

from typing import Any

import pytest

from task_api.runner.plan import LABEL_MANAGED, LABEL_TASK, LABEL_TEMPLATE, container_config, may_access, numeric_user
from task_api.spec.processing_container import Resources
from task_api.spec.resolved import ComputedResources, ResolvedChannel, ResolvedTask
from task_api.spec.task import VolumeSource

MIB = 1024**2


def task(**overrides: Any) -> ResolvedTask:
    fields: dict[str, Any] = {
        "name": "t",
        "image": "img:1",
        "template": "tpl",
        "env": {"A": "1", "B": "two words"},
        "command": ["/bin/sh", "-c", "echo hi"],
        "inputs": [
            ResolvedChannel(name="in", mounted_path="/data/in", source=VolumeSource(host_path="/h/in"), read_only=True)
        ],
        "outputs": [
            ResolvedChannel(
                name="out", mounted_path="/data/out", source=VolumeSource(host_path="/h/out"), read_only=False
            )
        ],
        "labels": {"team": "x"},
    }
    fields.update(overrides)
    return ResolvedTask(**fields)


def computed(
    requests: dict[str, str], limits: dict[str, str], req: int | None = None, lim: int | None = None
) -> ComputedResources:
    return ComputedResources(
        resources=Resources(requests=requests, limits=limits), memory_request_bytes=req, memory_limit_bytes=lim
    )


PATHS = {"in": "/h/in", "out": "/h/out"}


def test_mounts_env_command_labels_and_user() -> None:
    plan = container_config(task(), image="img:1", resources=computed({}, {}), host_paths=PATHS, user="1000:1000")
    config = plan.config
    assert config["Image"] == "img:1"
    assert config["Env"] == ["A=1", "B=two words"]
    assert config["Entrypoint"] == ["/bin/sh", "-c", "echo hi"]
    assert config["Cmd"] is None  # the image's CMD must not be appended to a replaced entrypoint
    assert config["User"] == "1000:1000"
    assert config["HostConfig"]["Mounts"] == [
        {"Type": "bind", "Source": "/h/in", "Target": "/data/in", "ReadOnly": True},
        {"Type": "bind", "Source": "/h/out", "Target": "/data/out", "ReadOnly": False},
    ]
    assert config["Labels"] == {"team": "x", LABEL_MANAGED: "task-api", LABEL_TASK: "t", LABEL_TEMPLATE: "tpl"}
    assert config["Tty"] is False and plan.notes == []


@pytest.mark.parametrize("command", [None, []], ids=["none", "empty"])
def test_no_command_keeps_the_images_own_and_no_user_keeps_the_images_user(command: list[str] | None) -> None:
    # An empty command is no command, as in a pod (the kubelet runs the image's ENTRYPOINT and CMD).
    config = container_config(
        task(command=command), image="i", resources=computed({}, {}), host_paths=PATHS, user=None
    ).config
    assert "Entrypoint" not in config and "Cmd" not in config and "User" not in config


def test_nfs_channels_are_volumes_of_the_local_driver() -> None:
    nfs_in = VolumeSource.model_validate({"nfs": {"server": "nfs.example", "path": "/exports/"}, "subPath": "a/b"})
    nfs_out = VolumeSource.model_validate({"nfs": {"server": "10.0.0.9", "path": "/"}})
    resolved = task(
        inputs=[ResolvedChannel(name="in", mounted_path="/data/in", source=nfs_in, read_only=True)],
        outputs=[ResolvedChannel(name="out", mounted_path="/data/out", source=nfs_out, read_only=False)],
    )
    mounts = container_config(resolved, image="i", resources=computed({}, {}), host_paths={}, user=None).config[
        "HostConfig"
    ]["Mounts"]

    def driver(options: dict[str, str]) -> dict[str, Any]:
        return {"NoCopy": True, "DriverConfig": {"Name": "local", "Options": {"type": "nfs", **options}}}

    assert mounts == [
        {"Type": "volume", "Target": "/data/in",
         "VolumeOptions": driver({"o": "addr=nfs.example,ro", "device": ":/exports/a/b"})},
        {"Type": "volume", "Target": "/data/out", "VolumeOptions": driver({"o": "addr=10.0.0.9,rw", "device": ":/"})},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        (computed({}, {}), {}),
        (computed({}, {"memory": "64Mi"}), {"Memory": 64 * MIB, "MemorySwap": 64 * MIB}),
        (computed({"memory": "16Mi"}, {}), {"MemoryReservation": 16 * MIB}),
        # Scale rules' results (in bytes) win over the text, which is only their rendering.
        (computed({"memory": "16Mi"}, {"memory": "88Mi"}, req=16 * MIB, lim=88 * MIB),
         {"Memory": 88 * MIB, "MemorySwap": 88 * MIB, "MemoryReservation": 16 * MIB}),
        (computed({}, {"memory": "1.5Gi"}), {"Memory": 1536 * MIB, "MemorySwap": 1536 * MIB}),
        (computed({}, {"cpu": "1500m"}), {"NanoCpus": 1_500_000_000}),
        (computed({}, {"cpu": "2"}), {"NanoCpus": 2_000_000_000}),
        (computed({"cpu": "100m"}, {}), {"CpuShares": 102}),
        (computed({"cpu": "1m"}, {}), {"CpuShares": 2}),  # the kubelet's minimum
        (computed({}, {"nvidia.com/gpu": "2"}),
         {"DeviceRequests": [{"Driver": "nvidia", "Count": 2, "Capabilities": [["gpu"]]}]}),
        (computed({"nvidia.com/gpu": "1"}, {}),
         {"DeviceRequests": [{"Driver": "nvidia", "Count": 1, "Capabilities": [["gpu"]]}]}),
    ],
)  # fmt: skip
def test_resources(resources: ComputedResources, expected: dict[str, Any]) -> None:
    host = container_config(task(), image="i", resources=resources, host_paths=PATHS, user=None).config["HostConfig"]
    applied = {k: v for k, v in host.items() if k not in ("Mounts", "NetworkMode", "SecurityOpt", "CapDrop")}
    assert applied == expected


@pytest.mark.parametrize(
    ("limits", "note"),
    [
        ({"ephemeral-storage": "1Gi"}, "resource 'ephemeral-storage' is not applied (no Docker equivalent)"),
        ({"example.com/fpga": "1"}, "resource 'example.com/fpga' is not applied (an extended resource"),
    ],
)
def test_resources_docker_cannot_apply_are_noted(limits: dict[str, str], note: str) -> None:
    plan = container_config(task(), image="i", resources=computed({}, limits), host_paths=PATHS, user=None)
    assert len(plan.notes) == 1
    assert plan.notes[0].replace(" by the Docker runner", "").startswith(note)


def test_channels_without_a_host_path_are_not_mounted() -> None:
    plan = container_config(task(), image="i", resources=computed({}, {}), host_paths={"in": "/h/in"}, user=None)
    assert [m["Target"] for m in plan.config["HostConfig"]["Mounts"]] == ["/data/in"]


class TestLockedDown:
    def test_no_new_privileges_and_no_capabilities_by_default(self) -> None:
        host = container_config(task(), image="i", resources=computed({}, {}), host_paths=PATHS, user=None).config
        assert host["HostConfig"]["SecurityOpt"] == ["no-new-privileges:true"]
        assert host["HostConfig"]["CapDrop"] == ["ALL"]
        assert "CapAdd" not in host["HostConfig"]

    def test_capabilities_come_back_one_by_one(self) -> None:
        plan = container_config(
            task(),
            image="i",
            resources=computed({}, {}),
            host_paths=PATHS,
            user="0:0",
            capabilities=["FOWNER", "CHOWN"],
        )
        assert plan.config["HostConfig"]["CapAdd"] == ["CHOWN", "FOWNER"]
        assert plan.config["HostConfig"]["CapDrop"] == ["ALL"]


@pytest.mark.parametrize(
    ("user", "expected"),
    [("1000:100", (1000, 100)), ("0", (0, None)), ("0:0", (0, 0)), ("root", None), (None, None), ("1:x", None)],
)
def test_numeric_user(user: str | None, expected: tuple[int, int | None] | None) -> None:
    assert numeric_user(user) == expected


@pytest.mark.parametrize(
    ("mode", "owner", "group", "uid", "gid", "write", "allowed"),
    [
        (0o755, 0, 0, 0, 0, True, True),  # root's own directory
        (0o755, 1000, 1000, 0, 0, True, False),  # root without CAP_DAC_OVERRIDE obeys the bits
        (0o755, 1000, 1000, 65534, 65534, False, True),  # others may read
        (0o750, 1000, 1000, 65534, 65534, False, False),
        (0o770, 1000, 100, 65534, 100, True, True),  # by group
        (0o077, 1000, 100, 1000, 100, True, False),  # the owner's bits apply to the owner, whatever others get
        (0o777, 1000, 1000, 4321, None, True, True),
    ],
)
def test_may_access(mode: int, owner: int, group: int, uid: int, gid: int | None, write: bool, allowed: bool) -> None:
    assert may_access(mode=mode, owner=owner, group=group, uid=uid, gid=gid, write=write) is allowed


def test_dac_override_passes_everything() -> None:
    assert may_access(mode=0o700, owner=1, group=1, uid=2, gid=2, write=True, dac_override=True)
