"""Pod construction: whole manifests compared with golden files, plus the security properties checked directly."""

from __future__ import annotations

import re

import pytest

from task_api.core.names import bounded_name
from task_api.core.pod import (
    ChannelMount,
    ChannelVolume,
    MeasureItem,
    Owner,
    PodPlan,
    RunAs,
    SecretKey,
    build_measure_pod,
    build_task_pod,
    measure_pod_name,
    task_pod_name,
)
from tests.unit.core.golden_support import assert_golden

OWNER = Owner(name="hello", namespace="team-a", uid="0f6c1b5e-1111-2222-3333-444455556666")

NFS_A = ChannelVolume(nfs_server="nfs.example", nfs_path="/exports", sub_path="a")
NFS_B = ChannelVolume(nfs_server="nfs.example", nfs_path="/exports", sub_path="b")

PLANS = {
    "minimal": PodPlan(owner=OWNER, attempt=1, image="reg/hello@sha256:" + "a" * 64, command=None, env=[], mounts=[]),
    "pvc-and-workspace": PodPlan(
        owner=OWNER,
        attempt=2,
        image="127.0.0.1:5000/hello:1",
        command=["sh", "-c", "sha256sum /data/in/* > /data/out/sums"],
        env=[("MODE", "fast"), ("LEVEL", "3")],
        mounts=[
            ChannelMount("in", "/data/in", ChannelVolume(claim_name="data", sub_path="inputs/a"), read_only=True),
            ChannelMount(
                "out",
                "/data/out",
                ChannelVolume(claim_name="task-api-workspace", sub_path="task-api/hello-0f6c1b5e/out"),
                read_only=False,
            ),
        ],
        requests={"memory": "64Mi", "cpu": "100m"},
        limits={"memory": "128Mi"},
        image_pull_secrets=("hello-registry",),
        active_deadline_seconds=600,
        labels={"team": "a"},
        annotations={"note": "x"},
        template="checksum",
        run_as=RunAs(user=1000, group=1000, fs_group=1000),
    ),
    "nfs-and-read-only-claim": PodPlan(
        owner=OWNER,
        attempt=1,
        image="hello:latest",
        command=None,
        env=[],
        mounts=[
            ChannelMount("in", "/in", NFS_A, read_only=True),
            ChannelMount("ref", "/ref", ChannelVolume(claim_name="atlas", read_only=True), read_only=True),
            ChannelMount("out", "/out", NFS_B, read_only=False),
        ],
        image_pull_policy="Always",
    ),
    "host-paths": PodPlan(
        owner=OWNER,
        attempt=1,
        image="hello:latest",
        command=["true"],
        env=[],
        mounts=[
            ChannelMount("in", "/in", ChannelVolume(host_path="/srv/data/in"), read_only=True),
            ChannelMount("out_1", "/out", ChannelVolume(claim_name="results", sub_path="out"), read_only=False),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(PLANS))
def test_task_pod_matches_golden(name: str) -> None:
    assert_golden(f"task-pod-{name}", build_task_pod(PLANS[name]))


@pytest.mark.parametrize("name", sorted(PLANS))
def test_task_pod_is_locked_down(name: str) -> None:
    pod = build_task_pod(PLANS[name])
    spec = pod["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["privileged"] is False
    owner = pod["metadata"]["ownerReferences"][0]
    assert owner["uid"] == OWNER.uid and owner["controller"] is True


def test_inputs_are_read_only_and_outputs_writable() -> None:
    pod = build_task_pod(PLANS["pvc-and-workspace"])
    mounts = {m["mountPath"]: m for m in pod["spec"]["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert mounts["/data/in"]["readOnly"] is True
    assert volumes[mounts["/data/in"]["name"]]["persistentVolumeClaim"]["readOnly"] is True
    assert mounts["/data/out"]["readOnly"] is False
    assert volumes[mounts["/data/out"]["name"]]["persistentVolumeClaim"]["readOnly"] is False


def test_a_non_root_plan_runs_as_its_uid_and_makes_claims_group_writable() -> None:
    pod = build_task_pod(PLANS["pvc-and-workspace"])
    security = pod["spec"]["containers"][0]["securityContext"]
    assert (security["runAsNonRoot"], security["runAsUser"], security["runAsGroup"]) == (True, 1000, 1000)
    assert pod["spec"]["securityContext"]["fsGroup"] == 1000
    assert pod["spec"]["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"


def test_a_root_plan_keeps_the_images_user() -> None:
    pod = build_task_pod(PLANS["minimal"])  # run_as=None: the reconciler allowed root for this run
    security = pod["spec"]["containers"][0]["securityContext"]
    assert "runAsUser" not in security and "runAsNonRoot" not in security
    assert "fsGroup" not in pod["spec"]["securityContext"]
    assert security["allowPrivilegeEscalation"] is False and security["capabilities"] == {"drop": ["ALL"]}


def test_env_from_a_secret_names_the_key_and_never_a_value() -> None:
    plan = PodPlan(
        owner=OWNER,
        attempt=1,
        image="hello:latest",
        command=None,
        env=[("MODE", "template-default"), ("LEVEL", "3")],
        mounts=[],
        secret_env={"MODE": SecretKey("token", "value"), "EXTRA": SecretKey("other", "k")},
    )
    env = build_task_pod(plan)["spec"]["containers"][0]["env"]
    assert env == [
        {"name": "MODE", "valueFrom": {"secretKeyRef": {"name": "token", "key": "value"}}},
        {"name": "LEVEL", "value": "3"},
        {"name": "EXTRA", "valueFrom": {"secretKeyRef": {"name": "other", "key": "k"}}},
    ]
    assert "template-default" not in str(build_task_pod(plan))


def test_host_path_inputs_must_exist_and_are_recursively_read_only() -> None:
    pod = build_task_pod(PLANS["host-paths"])
    (host,) = [v for v in pod["spec"]["volumes"] if "hostPath" in v]
    assert host["hostPath"]["type"] == "Directory"  # never DirectoryOrCreate: nothing is made on the node
    (mount,) = [m for m in pod["spec"]["containers"][0]["volumeMounts"] if m["name"] == host["name"]]
    assert mount["readOnly"] is True and mount["recursiveReadOnly"] == "IfPossible"
    claim_mounts = [m for m in pod["spec"]["containers"][0]["volumeMounts"] if m["name"] != host["name"]]
    assert all("recursiveReadOnly" not in m for m in claim_mounts)


def test_a_writable_host_path_is_never_built() -> None:
    plan = PodPlan(
        owner=OWNER,
        attempt=1,
        image="hello:latest",
        command=None,
        env=[],
        mounts=[ChannelMount("out", "/out", ChannelVolume(host_path="/srv/data/out"), read_only=False)],
    )
    with pytest.raises(ValueError, match="host paths are read-only inputs"):
        build_task_pod(plan)


def test_measure_pod_mounts_everything_read_only_and_runs_as_non_root() -> None:
    pod = build_measure_pod(
        owner=OWNER,
        image="127.0.0.1:5000/task-api/operator:dev",
        items=[
            MeasureItem("in", ChannelVolume(claim_name="data", sub_path="x"), {"mode": "sum", "scale_factor": 2}),
            MeasureItem("other", ChannelVolume(host_path="/srv/other"), {"mode": "max_file_size"}),
        ],
    )
    assert_golden("measure-pod", pod)
    (container,) = pod["spec"]["containers"]
    assert all(m["readOnly"] for m in container["volumeMounts"])
    assert container["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["volumes"][0]["persistentVolumeClaim"]["readOnly"] is True
    assert pod["metadata"]["name"] == measure_pod_name("hello")


@pytest.mark.parametrize(
    ("base", "suffix"),
    [("hello", "a1"), ("x" * 80, "a12"), ("a-very-long-name-" * 5, "measure"), ("y" * 253, "registry")],
)
def test_bounded_names_fit_and_stay_distinct(base: str, suffix: str) -> None:
    name = bounded_name(base, suffix)
    assert len(name) <= 63
    assert name.endswith(f"-{suffix}")
    assert bounded_name(base + "z", suffix) != name


def test_pod_names_are_deterministic_per_attempt() -> None:
    assert task_pod_name("run", 1) == task_pod_name("run", 1)
    assert task_pod_name("run", 1) != task_pod_name("run", 2)


def test_channels_on_one_claim_share_one_volume() -> None:
    # The kubelet hangs a pod whose volumes name the same claim twice; chains read and write one workspace claim.
    plan = PodPlan(
        owner=OWNER,
        attempt=1,
        image="img",
        command=None,
        env=[],
        mounts=[
            ChannelMount("in", "/in", ChannelVolume(claim_name="ws", sub_path="up/out"), read_only=True),
            ChannelMount("out", "/out", ChannelVolume(claim_name="ws", sub_path="me/out"), read_only=False),
            ChannelMount("ref", "/ref", ChannelVolume(claim_name="refs"), read_only=True),
        ],
    )
    pod = build_task_pod(plan)
    volumes = pod["spec"]["volumes"]
    assert [v["persistentVolumeClaim"] for v in volumes] == [
        {"claimName": "ws", "readOnly": False},
        {"claimName": "refs", "readOnly": True},
    ]
    mounts = pod["spec"]["containers"][0]["volumeMounts"]
    assert [(m["name"], m["readOnly"], m.get("subPath")) for m in mounts] == [
        (volumes[0]["name"], True, "up/out"),
        (volumes[0]["name"], False, "me/out"),
        (volumes[1]["name"], True, None),
    ]


@pytest.mark.parametrize("path", ["/data/grüße", "/data/数据", "/data/٣", "/data/a b", "/data/" + "x" * 300])
def test_volume_names_are_dns_labels_whatever_the_host_path(path: str) -> None:
    plan = PodPlan(
        owner=OWNER, attempt=1, image="i", command=None, env=[],
        mounts=[ChannelMount("in", "/in", ChannelVolume(host_path=path), read_only=True)],
    )  # fmt: skip
    (volume,) = build_task_pod(plan)["spec"]["volumes"]
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", volume["name"]) and len(volume["name"]) <= 63


def test_long_taskrun_names_sharing_a_prefix_get_different_labels() -> None:
    base = "a" * 50
    first = build_task_pod(PodPlan(owner=Owner(base + "-first", "ns", "u1"), attempt=1, image="i", command=None,
                                   env=[], mounts=[]))  # fmt: skip
    second = build_task_pod(PodPlan(owner=Owner(base + "-second", "ns", "u2"), attempt=1, image="i", command=None,
                                    env=[], mounts=[]))  # fmt: skip
    one, two = (p["metadata"]["labels"]["task-api.io/taskrun"] for p in (first, second))
    assert one != two
    assert len(one) <= 63 and len(two) <= 63
