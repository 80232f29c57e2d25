"""Status from a pod: a table of pod states (as the kubelet reports them) and the outcome each must give."""

from __future__ import annotations

from typing import Any

import pytest

from task_api.core.taskrun.observed_pods import Phase, measure_outcome, observe_pod, outcome_from_pod
from task_api.spec.crd import TaskRunReason as R


def pod(phase: str, state: dict[str, Any] | None = None, **status: Any) -> dict[str, Any]:
    cs = [{"name": "task", "state": state}] if state is not None else []
    return {"metadata": {"name": "p"}, "status": {"phase": phase, "containerStatuses": cs, **status}}


TERMINATED_OK = {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": "2026-01-01T00:00:05Z"}}

CASES: list[tuple[str, dict[str, Any], Phase, R, int | None, str]] = [
    ("just created", {"metadata": {}, "status": {}}, Phase.PENDING, R.PENDING, None, ""),
    (
        "scheduled, creating",
        pod("Pending", {"waiting": {"reason": "ContainerCreating"}}),
        Phase.PENDING,
        R.PENDING,
        None,
        "ContainerCreating",
    ),
    (
        "unschedulable",
        pod(
            "Pending",
            None,
            conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes"}],
        ),
        Phase.PENDING,
        R.PENDING,
        None,
        "Unschedulable: 0/1 nodes",
    ),
    (
        "image pull backoff",
        pod("Pending", {"waiting": {"reason": "ImagePullBackOff", "message": "401"}}),
        Phase.PENDING,
        R.PENDING,
        None,
        "ImagePullBackOff: 401",
    ),
    (
        "invalid image name",
        pod("Pending", {"waiting": {"reason": "InvalidImageName", "message": "bad"}}),
        Phase.FAILED,
        R.FAILED,
        None,
        "InvalidImageName: bad",
    ),
    ("running", pod("Running", {"running": {"startedAt": "x"}}), Phase.RUNNING, R.RUNNING, None, ""),
    ("succeeded", pod("Succeeded", TERMINATED_OK), Phase.SUCCEEDED, R.SUCCEEDED, 0, ""),
    (
        "failed exit 3",
        pod("Failed", {"terminated": {"exitCode": 3, "reason": "Error", "message": "boom"}}),
        Phase.FAILED,
        R.FAILED,
        3,
        "the container exited with code 3: boom",
    ),
    (
        "oom killed",
        pod("Failed", {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}),
        Phase.FAILED,
        R.OOM_KILLED,
        137,
        "the container ran out of memory (exit code 137)",
    ),
    # A child killed for memory: the main process exits 0, yet the run ran out of memory.
    (
        "oom killed child, exit 0",
        pod("Succeeded", {"terminated": {"exitCode": 0, "reason": "OOMKilled"}}),
        Phase.FAILED,
        R.OOM_KILLED,
        0,
        "the container ran out of memory (exit code 0)",
    ),
    (
        "deadline exceeded",
        pod(
            "Failed",
            {"terminated": {"exitCode": 137, "reason": "Error"}},
            reason="DeadlineExceeded",
            message="Pod was active too long",
        ),
        Phase.FAILED,
        R.TIMED_OUT,
        137,
        "Pod was active too long",
    ),
    (
        "evicted",
        pod("Failed", None, reason="Evicted", message="node low on memory"),
        Phase.FAILED,
        R.FAILED,
        None,
        "Evicted: node low on memory",
    ),
]


@pytest.mark.parametrize(
    ("name", "manifest", "phase", "reason", "exit_code", "message"), CASES, ids=[c[0] for c in CASES]
)
def test_outcome_from_pod(
    name: str, manifest: dict[str, Any], phase: Phase, reason: R, exit_code: int | None, message: str
) -> None:
    outcome = outcome_from_pod(manifest)
    assert (outcome.phase, outcome.reason, outcome.exit_code, outcome.message) == (
        phase,
        reason,
        exit_code,
        message,
    )


def test_a_failed_init_container_explains_the_failure() -> None:
    manifest = pod("Failed", {"waiting": {"reason": "PodInitializing"}})
    manifest["status"]["initContainerStatuses"] = [
        {"name": "legacy-stage", "state": {"terminated": {"exitCode": 2, "message": "found files: stray.txt"}}}
    ]
    outcome = outcome_from_pod(manifest)
    assert (outcome.phase, outcome.reason) == (Phase.FAILED, R.FAILED)
    assert outcome.message == "init container legacy-stage exited with code 2: found files: stray.txt"


def test_long_messages_are_cut_to_the_tail() -> None:
    outcome = outcome_from_pod(pod("Failed", {"terminated": {"exitCode": 1, "message": "x" * 5000 + "END"}}))
    assert outcome.message.endswith("END") and len(outcome.message) < 1100


def test_measure_outcome() -> None:
    done = {
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [{"name": "measure", "state": {"terminated": {"exitCode": 0, "message": "[]"}}}],
        }
    }
    assert (measure_outcome(done).phase, measure_outcome(done).message) == (Phase.SUCCEEDED, "[]")
    failed = {
        "status": {
            "phase": "Failed",
            "containerStatuses": [
                {"name": "measure", "state": {"terminated": {"exitCode": 2, "message": "no such dir"}}}
            ],
        }
    }
    assert (measure_outcome(failed).phase, measure_outcome(failed).message) == (Phase.FAILED, "no such dir")
    assert measure_outcome({"status": {"phase": "Pending"}}).phase is Phase.PENDING


def test_observe_pod_keeps_owner_role_attempt_and_outcome() -> None:
    pod = {
        "metadata": {
            "name": "run-a2",
            "namespace": "ns",
            "uid": "p1",
            "labels": {"task-api.io/role": "task", "task-api.io/attempt": "2"},
            "ownerReferences": [
                {"kind": "Other", "name": "x", "uid": "o0"},
                {"kind": "TaskRun", "name": "run", "uid": "u1", "controller": True},
            ],
            "deletionTimestamp": "2026-01-01T00:00:00Z",
        },
        "status": {"phase": "Running", "containerStatuses": [{"name": "task", "state": {"running": {}}}]},
    }
    seen = observe_pod(pod)
    assert (seen.name, seen.namespace, seen.owner_name, seen.owner_uid) == ("run-a2", "ns", "run", "u1")
    assert (seen.role, seen.attempt, seen.deleting) == ("task", 2, True)
    assert seen.outcome.phase is Phase.RUNNING


def test_observe_pod_without_a_taskrun_owner() -> None:
    seen = observe_pod({"metadata": {"name": "p", "labels": {"task-api.io/role": "measure"}}})
    assert (seen.owner_name, seen.owner_uid, seen.attempt, seen.role) == ("", "", None, "measure")
    assert seen.outcome.phase is Phase.PENDING
