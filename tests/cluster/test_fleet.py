"""The fleet bed's smoke test: kwok's fake nodes, the Stages of ``hack/testbed/kwok/stages.yaml`` and the operator
(a host process under its own ServiceAccount) work together — what ``make bench-scale`` relies on (docs/scaling.md).

One TaskRun each: one succeeds; one fails with the exit code its annotation asks for; one is OOMKilled twice and
retried with doubled memory; one has a scale rule, so a measuring pod reports the Stage's measurement first and
the memory is sized from it. Every pod lands on a fake node. Takes seconds once the fleet bed is up (about 15 s
to bring it up on an idle machine); the bed is taken down again when this test brought it up.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fixtures.fleet import (
    KWOK_EXIT_CODE,
    KWOK_RESULT,
    KWOK_RUN_TIME,
    FleetBed,
    FleetError,
    OperatorProcess,
    build_fleet_image,
    fleet_down,
    fleet_up,
    install_operator_identity,
)
from tests.fixtures.testbed import dockerconfigjson

pytestmark = [pytest.mark.cluster, pytest.mark.docker]

PULL_SECRET = "fleet-registry"
#: What kwok's measuring Stage reports for every channel (hack/testbed/kwok/stages.yaml, @MEASURE_BYTES@).
MEASURED_BYTES = 52428800


@dataclass(frozen=True)
class Fleet:
    bed: FleetBed
    image: str
    namespace: str
    operator: OperatorProcess


def _running_bed() -> FleetBed | None:
    try:
        return FleetBed.load()
    except FleetError:
        return None


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    was_up = _running_bed() is not None
    bed = fleet_up(nodes=None if was_up else 3)
    operator: OperatorProcess | None = None
    namespace = f"fleet-smoke-{secrets.token_hex(3)}"
    try:
        image = build_fleet_image(bed, tag="smoke")
        kubeconfig = install_operator_identity(bed, token_hours=1)
        bed.kubectl_run("create", "namespace", namespace)
        payload = dockerconfigjson(bed.registry, bed.registry_user, bed.registry_password).decode()
        bed.kubectl_run(
            "create", "secret", "generic", PULL_SECRET, "-n", namespace, "--type=kubernetes.io/dockerconfigjson",
            f"--from-literal=.dockerconfigjson={payload}",
        )  # fmt: skip
        for claim in ("task-api-workspace", "inputs"):
            _claim(bed, namespace, claim)
        operator = OperatorProcess(bed, kubeconfig, measure_image=f"{bed.registry}/task-api/operator:smoke",
                                   namespaces=[namespace])  # fmt: skip
        operator.start()
        yield Fleet(bed=bed, image=image, namespace=namespace, operator=operator)
    finally:
        if operator is not None:
            operator.stop()
        bed.kubectl_run("delete", "namespace", namespace, "--wait=false", check=False)
        if not was_up:
            fleet_down()


def _claim(bed: FleetBed, namespace: str, name: str) -> None:
    """A claim Bound to a hostPath volume (nothing mounts it: kwok's pods do not run)."""
    pv = f"{namespace}-{name}"
    manifests = [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": bed.storage_class,
                "persistentVolumeReclaimPolicy": "Delete",
                "hostPath": {"path": f"/nonexistent/{pv}"},
                "claimRef": {"namespace": namespace, "name": name},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": bed.storage_class,
                "resources": {"requests": {"storage": "1Gi"}},
                "volumeName": pv,
            },
        },
    ]
    bed.kubectl_run("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests}))


def _taskrun(fleet: Fleet, name: str, *, template: str = "work", annotations: dict[str, str], **spec: Any) -> None:
    body = {
        "apiVersion": "task-api.io/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": name, "namespace": fleet.namespace, "annotations": annotations},
        "spec": {"image": fleet.image, "imagePullSecrets": [{"name": PULL_SECRET}], "taskTemplate": template, **spec},
    }
    fleet.bed.kubectl_run("create", "-f", "-", input=json.dumps(body))


def _final(fleet: Fleet, names: list[str], timeout: float = 120) -> dict[str, dict[str, Any]]:
    """The TaskRuns once every one is final; fails with their statuses when they are not by ``timeout``."""
    deadline = time.monotonic() + timeout
    runs: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        listed = json.loads(fleet.bed.kubectl_run("get", "taskruns", "-n", fleet.namespace, "-o", "json").stdout)
        runs = {r["metadata"]["name"]: r for r in listed["items"] if r["metadata"]["name"] in names}
        if len(runs) == len(names) and all(
            (r.get("status") or {}).get("phase") in ("Succeeded", "Failed") for r in runs.values()
        ):
            return runs
        time.sleep(0.5)
    states = {n: (r.get("status") or {}).get("reason") for n, r in runs.items()}
    pytest.fail(f"TaskRuns not final after {timeout:.0f} s: {states}; operator log: {fleet.operator.log_path}")


def test_fake_nodes_run_task_pods_to_each_outcome_the_stages_allow(fleet: Fleet) -> None:
    quick = {KWOK_RUN_TIME: "1s"}
    _taskrun(fleet, "ok", annotations=quick)
    _taskrun(fleet, "fails", annotations={**quick, KWOK_RESULT: "Failed", KWOK_EXIT_CODE: "3"})
    _taskrun(
        fleet,
        "oom",
        annotations={**quick, KWOK_RESULT: "OOMKilled"},
        retries={"limit": 1, "memoryFactor": 2},
    )
    _taskrun(
        fleet,
        "scaled",
        template="scaled",
        annotations=quick,
        inputs=[{"name": "in", "persistentVolumeClaim": {"claimName": "inputs", "subPath": "data"}}],
    )
    runs = _final(fleet, ["ok", "fails", "oom", "scaled"])
    status = {name: run["status"] for name, run in runs.items()}

    assert (status["ok"]["reason"], status["ok"]["exitCode"]) == ("Succeeded", 0)
    assert (status["fails"]["reason"], status["fails"]["exitCode"]) == ("Failed", 3)
    # Killed for memory twice (both kills counted, as in-process): the retry ran with the limit doubled (64Mi x 2).
    assert (status["oom"]["reason"], status["oom"]["attempts"], status["oom"]["oomKills"]) == ("OOMKilled", 2, 2)
    assert status["oom"]["memory"]["limit"] == "128Mi"
    # The measuring pod's report (kwok's Stage) sized the memory: 2 x 50 MiB x 1.1 headroom.
    assert status["scaled"]["reason"] == "Succeeded"
    assert status["scaled"]["measurements"] == [{"channel": "in", "mode": "sum", "bytes": MEASURED_BYTES, "files": 12}]
    assert status["scaled"]["memory"]["limit"] == "110Mi"

    pods = json.loads(fleet.bed.kubectl_run("get", "pods", "-n", fleet.namespace, "-o", "json").stdout)["items"]
    nodes = {p["metadata"]["name"]: p["spec"].get("nodeName", "") for p in pods}
    assert {"ok-a1", "fails-a1", "oom-a1", "oom-a2", "scaled-a1"} <= set(nodes)
    assert all(node.startswith("kwok-node-") for node in nodes.values()), nodes
