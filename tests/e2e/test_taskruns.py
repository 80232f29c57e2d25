"""TaskRun behaviour on the test bed with real pods: sizing, failures, retries, cancellation, deletion, secrets."""

from __future__ import annotations

import base64
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import Namespace, Operator, condition

pytestmark = pytest.mark.cluster

MIB = 1024 * 1024
UP_AND_OUT = {"claimName": "c", "subPath": "../up"}


def taskrun(name: str, image: str, template: str, **spec: object) -> str:
    body = {
        "apiVersion": "task-api.io/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": name},
        "spec": {"image": image, "imagePullSecrets": [{"name": "task-api-registry"}], "taskTemplate": template, **spec},
    }
    return json.dumps(body)


@pytest.fixture
def hello(example_image: Callable[[str], str]) -> str:
    return example_image("01-hello-world")


def test_scale_rule_sets_memory_as_documented(run_ns: Namespace, make_pvc: Callable[..., Path], hello: str) -> None:
    # compress: scale_factor 2, type limit, mode sum over every file; static limit 64Mi (docs/scale-rules.md):
    # limit = max(static, ceil_MiB(2 x bytes x 1.1)).
    data = make_pvc(run_ns.name, "data")
    (data / "in").mkdir()
    sizes = [37 * MIB + 123, 5 * MIB, 4096]
    for index, size in enumerate(sizes):
        (data / "in" / f"part{index}.bin").write_bytes(os.urandom(size))
    run_ns.apply(
        taskrun(
            "sized",
            hello,
            "compress",
            inputs=[{"name": "in", "persistentVolumeClaim": {"claimName": "data", "subPath": "in"}}],
            env=[{"name": "LEVEL", "value": "1"}],
        )
    )
    run = run_ns.wait_finished("sized", timeout=240)
    assert condition(run)["status"] == "True", run["status"]
    total = sum(sizes)
    assert run["status"]["measurements"] == [{"channel": "in", "mode": "sum", "bytes": total, "files": 3}]
    expected_mib = max(64, math.ceil(2 * total * 1.1 / MIB))
    assert run["status"]["memory"]["limit"] == f"{expected_mib}Mi"
    pod = run_ns.get("pod", run["status"]["podName"])
    assert pod["spec"]["containers"][0]["resources"]["limits"]["memory"] == f"{expected_mib}Mi"


def test_inputs_are_read_only_and_pods_locked_down(
    run_ns: Namespace, make_pvc: Callable[..., Path], hello: str
) -> None:
    data = make_pvc(run_ns.name, "data")
    (data / "in").mkdir()
    (data / "in" / "keep.txt").write_text("original\n")
    run_ns.apply(
        taskrun(
            "tamper",
            hello,
            "checksum",
            inputs=[{"name": "in", "persistentVolumeClaim": {"claimName": "data", "subPath": "in"}}],
            command=["sh", "-c", "echo changed > /data/in/keep.txt"],
        )
    )
    run = run_ns.wait_finished("tamper")
    assert condition(run)["reason"] == "Failed"
    assert run["status"]["exitCode"] != 0
    assert "Read-only file system" in condition(run)["message"]
    assert (data / "in" / "keep.txt").read_text() == "original\n"
    spec = run_ns.get("pod", run["status"]["podName"])["spec"]
    assert spec["automountServiceAccountToken"] is False
    security = spec["containers"][0]["securityContext"]
    assert security["allowPrivilegeEscalation"] is False and security["capabilities"]["drop"] == ["ALL"]


def test_oom_killed_run_is_retried_with_more_memory(run_ns: Namespace, hello: str) -> None:
    run_ns.apply(
        taskrun(
            "hungry",
            hello,
            "compress",
            inputs=[{"name": "in", "persistentVolumeClaim": {"claimName": "task-api-workspace"}}],
            # tail keeps the whole line in memory: ~60 MiB, killed under 32Mi and 48Mi, fits in 72Mi.
            command=["sh", "-c", "head -c 60m /dev/zero | tail > /dev/null"],
            resources={"limits": {"memory": "32Mi"}, "requests": {"memory": "16Mi"}},
            retries={"limit": 3, "memoryFactor": 1.5},
        )
    )
    run = run_ns.wait_finished("hungry", timeout=240)
    assert condition(run)["status"] == "True", run["status"]
    assert run["status"]["oomKills"] >= 1
    assert run["status"]["attempts"] == run["status"]["oomKills"] + 1
    limits = [
        run_ns.get("pod", f"hungry-a{attempt}")["spec"]["containers"][0]["resources"]["limits"]["memory"]
        for attempt in range(1, run["status"]["attempts"] + 1)
    ]
    assert limits[0] == "32Mi"
    assert [int(x[:-2]) for x in limits] == sorted(int(x[:-2]) for x in limits)  # grows
    reasons = [e["reason"] for e in run_ns.events("hungry")]
    assert "Retrying" in reasons


def test_oom_without_retries_is_reported_as_oomkilled(run_ns: Namespace, hello: str) -> None:
    run_ns.apply(
        taskrun(
            "oom",
            hello,
            "compress",
            inputs=[{"name": "in", "persistentVolumeClaim": {"claimName": "task-api-workspace"}}],
            command=["sh", "-c", "head -c 80m /dev/zero | tail > /dev/null"],
            resources={"limits": {"memory": "24Mi"}},
        )
    )
    run = run_ns.wait_finished("oom")
    assert (condition(run)["status"], condition(run)["reason"]) == ("False", "OOMKilled")


def test_pod_deleted_by_hand_fails_the_run(run_ns: Namespace, hello: str) -> None:
    run_ns.apply(
        taskrun(
            "doomed",
            hello,
            "compress",
            inputs=[{"name": "in", "persistentVolumeClaim": {"claimName": "task-api-workspace"}}],
            command=["sleep", "600"],
        )
    )
    run_ns.wait_reason("doomed", "Running")
    run_ns.kubectl("delete", "pod", "doomed-a1", "--wait=false")
    run = run_ns.wait_finished("doomed", timeout=120)
    assert condition(run)["reason"] == "PodDeleted"


def test_cancel_stops_the_pod(run_ns: Namespace, hello: str) -> None:
    run_ns.apply(
        taskrun(
            "stopme",
            hello,
            "compress",
            inputs=[{"name": "in", "persistentVolumeClaim": {"claimName": "task-api-workspace"}}],
            command=["sleep", "600"],
        )
    )
    run_ns.wait_reason("stopme", "Running")
    run_ns.kubectl("patch", "taskrun", "stopme", "--type=merge", "-p", '{"spec": {"cancelled": true}}')
    run = run_ns.wait_finished("stopme")
    assert condition(run)["reason"] == "Cancelled"
    deadline = time.monotonic() + 60
    while run_ns.kubectl("get", "pod", "stopme-a1", check=False).returncode == 0:
        assert time.monotonic() < deadline, "the cancelled run's pod is still there"
        time.sleep(0.5)


def test_timeout_ends_the_run(run_ns: Namespace, hello: str) -> None:
    run_ns.apply(
        taskrun(
            "late",
            hello,
            "compress",
            inputs=[{"name": "in", "persistentVolumeClaim": {"claimName": "task-api-workspace"}}],
            command=["sh", "-c", "trap 'exit 143' TERM; sleep 600 & wait"],
            timeoutSeconds=3,
        )
    )
    run = run_ns.wait_finished("late", timeout=120)
    assert condition(run)["reason"] == "TimedOut"


def test_invalid_specs_end_invalid_with_the_reason(run_ns: Namespace, hello: str) -> None:
    cases = {
        "wrong-channel": (
            taskrun("wrong-channel", hello, "checksum",
                    inputs=[{"name": "nope", "persistentVolumeClaim": {"claimName": "task-api-workspace"}}]),
            "no input channel 'nope'",
        ),
        "fixed-env": (
            taskrun("fixed-env", hello, "compress",
                    inputs=[{"name": "in", "persistentVolumeClaim": {"claimName": "task-api-workspace"}}],
                    env=[{"name": "ARCHIVE_NAME", "value": "other.tgz"}]),
            "ARCHIVE_NAME",
        ),
        "bad-choice": (
            taskrun("bad-choice", hello, "checksum",
                    inputs=[{"name": "in", "persistentVolumeClaim": {"claimName": "task-api-workspace"}}],
                    env=[{"name": "ALGORITHM", "value": "crc32"}]),
            "crc32",
        ),
        "host-path": (
            taskrun("host-path", hello, "checksum", inputs=[{"name": "in", "hostPath": {"path": "/etc"}}]),
            "not under an allowed root",
        ),
        "unknown-template": (taskrun("unknown-template", hello, "checksums"), "did you mean 'checksum'"),
    }  # fmt: skip
    for manifest, _ in cases.values():
        run_ns.apply(manifest)
    for name, (_, needle) in cases.items():
        run = run_ns.wait_finished(name, timeout=60)
        cond = condition(run)
        assert (cond["status"], cond["reason"]) == ("False", "InvalidSpec"), (name, cond)
        assert needle in cond["message"], (name, cond["message"])
        assert run_ns.kubectl("get", "pods", "-o", "name").stdout.count(f"pod/{name}-") == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"taskTemplate": "t"}, "set exactly one of processingContainerRef and image"),
        ({"image": "x", "taskTemplate": "t", "timeoutSeconds": 0}, "greater than or equal to 1"),
        (
            {"image": "x", "taskTemplate": "t", "inputs": [{"name": "a", "persistentVolumeClaim": UP_AND_OUT}]},
            "subPath must not contain a '..' segment",
        ),
        (
            {"image": "x", "taskTemplate": "t", "inputs": [{"name": "a"}]},
            "an input needs exactly one of persistentVolumeClaim, hostPath, fromTaskRun or nfs",
        ),
        ({"image": "x", "taskTemplate": "t", "env": [{"name": "1BAD", "value": "v"}]}, "should match"),
    ],
)  # fmt: skip
def test_bad_taskruns_are_rejected_at_admission(run_ns: Namespace, spec: dict[str, object], message: str) -> None:
    body = {"apiVersion": "task-api.io/v1alpha1", "kind": "TaskRun", "metadata": {"name": "rejected"}, "spec": spec}
    done = run_ns.kubectl("apply", "-f", "-", input=json.dumps(body), check=False)
    assert done.returncode != 0
    assert message in done.stderr
    assert run_ns.kubectl("get", "taskrun", "rejected", check=False).returncode != 0


def test_registry_secret_is_owned_and_never_leaks(run_ns: Namespace, operator: Operator, hello: str) -> None:
    testbed = run_ns.testbed
    password = testbed.registry_password
    run_ns.kubectl(
        "create", "secret", "generic", "creds",
        f"--from-literal=username={testbed.registry_user}", f"--from-literal=password={password}",
    )  # fmt: skip
    run_ns.kubectl("label", "secret", "creds", "task-api.io/registry-credentials=true")  # the opt-in
    body = json.loads(
        taskrun(
            "private",
            hello,
            "compress",
            inputs=[{"name": "in", "persistentVolumeClaim": {"claimName": "task-api-workspace"}}],
        )
    )
    del body["spec"]["imagePullSecrets"]
    body["spec"]["registryCredentialsSecret"] = {"name": "creds"}
    run_ns.apply(json.dumps(body))
    run = run_ns.wait_finished("private")
    assert condition(run)["status"] == "True", run["status"]
    # The pod pulled with the run's own registry Secret, which went when the run finished.
    pod = run_ns.get("pod", "private-a1")
    assert {"name": "private-registry"} in pod["spec"]["imagePullSecrets"]
    deadline = time.monotonic() + 30
    while run_ns.kubectl("get", "secret", "private-registry", check=False).returncode == 0:
        assert time.monotonic() < deadline, "the per-run registry Secret outlived the run"
        time.sleep(0.5)
    encoded = base64.b64encode(password.encode()).decode()
    everything = json.dumps(run) + run_ns.kubectl("get", "events", "-o", "json").stdout + operator.logs()
    assert password not in everything and encoded not in everything
    # Deleting the run removes its pod (garbage collection of owned objects).
    run_ns.kubectl("delete", "taskrun", "private")
    deadline = time.monotonic() + 90
    while run_ns.kubectl("get", "pod", "private-a1", check=False).returncode == 0:
        assert time.monotonic() < deadline, "owned pod not garbage-collected"
        time.sleep(0.5)


def test_ttl_removes_the_finished_pod_and_keeps_the_run(run_ns: Namespace, hello: str) -> None:
    run_ns.apply(
        taskrun(
            "brief",
            hello,
            "compress",
            inputs=[{"name": "in", "persistentVolumeClaim": {"claimName": "task-api-workspace"}}],
            ttlSecondsAfterFinished=2,
        )
    )
    run = run_ns.wait_finished("brief")
    assert condition(run)["status"] == "True"
    deadline = time.monotonic() + 60
    while run_ns.kubectl("get", "pod", "brief-a1", check=False).returncode == 0:
        assert time.monotonic() < deadline, "the pod outlived its TTL"
        time.sleep(0.5)
    kept = run_ns.get("taskrun", "brief")
    assert condition(kept)["status"] == "True" and kept["status"]["podDeletedAt"]


def test_processing_container_status_and_printer_columns(run_ns: Namespace, hello: str) -> None:
    run_ns.apply(
        json.dumps(
            {
                "apiVersion": "task-api.io/v1alpha1",
                "kind": "ProcessingContainer",
                "metadata": {"name": "hello"},
                "spec": {"image": hello, "imagePullSecrets": [{"name": "task-api-registry"}]},
            }
        )
    )
    deadline = time.monotonic() + 60
    while True:
        listing = run_ns.kubectl("get", "processingcontainers").stdout
        if "True" in listing:
            break
        assert time.monotonic() < deadline, listing
        time.sleep(0.5)
    header = listing.splitlines()[0].split()
    assert header == ["NAME", "IMAGE", "DIGEST", "TEMPLATES", "READY", "AGE"]
    assert "checksum,compress" in listing
    missing = json.dumps(
        {
            "apiVersion": "task-api.io/v1alpha1",
            "kind": "ProcessingContainer",
            "metadata": {"name": "missing"},
            "spec": {"image": hello.rsplit(":", 1)[0] + ":no-such-tag",
                     "imagePullSecrets": [{"name": "task-api-registry"}]},
        }
    )  # fmt: skip
    run_ns.apply(missing)
    while "ImageNotFound" not in json.dumps(run_ns.get("processingcontainer", "missing").get("status")):
        assert time.monotonic() < deadline + 60
        time.sleep(0.5)


def test_a_run_whose_client_stops_heartbeating_is_cancelled(run_ns: Namespace, hello: str) -> None:
    run_ns.apply(
        taskrun(
            "beating",
            hello,
            "compress",
            inputs=[{"name": "in", "persistentVolumeClaim": {"claimName": "task-api-workspace"}}],
            command=["sleep", "600"],
            heartbeatTimeoutSeconds=10,
        )
    )
    run_ns.wait_reason("beating", "Running")
    # A live client: beats every 3 s for 15 s (longer than the timeout) and the run keeps running.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        run_ns.kubectl("annotate", "--overwrite", "taskrun", "beating", f"task-api.io/heartbeat={stamp}")
        time.sleep(3)
    assert run_ns.get("taskrun", "beating")["status"]["reason"] == "Running"
    # The client dies: no more beats, and the operator cancels the run and stops its pod.
    run = run_ns.wait_finished("beating", timeout=60)
    assert condition(run)["reason"] == "Cancelled"
    assert "stopped sending heartbeats" in condition(run)["message"]
    deadline = time.monotonic() + 60
    while run_ns.kubectl("get", "pod", "beating-a1", check=False).returncode == 0:
        assert time.monotonic() < deadline, "the abandoned run's pod is still there"
        time.sleep(0.5)
