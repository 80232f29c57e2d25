"""The operator's index of its pods: a create request's answer never hides a newer state the watch brought."""

from __future__ import annotations

from typing import Any

from task_api.controller.pod_index import PodIndex
from task_api.core.taskrun.observed_pods import observe_pod


def pod(phase: str, *, uid: str = "pod-uid-1", name: str = "run-a1") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": uid,
            "labels": {"task-api.io/role": "task", "task-api.io/attempt": "1"},
            "ownerReferences": [{"kind": "TaskRun", "name": "run", "uid": "run-uid", "controller": True}],
        },
        "status": {"phase": phase},
    }


def phases(index: PodIndex) -> list[str]:
    return [p.outcome.phase.value for p in index.of_run(("ns", "run"))]


def test_the_create_answer_handled_after_the_watch_keeps_the_watchs_newer_state() -> None:
    index = PodIndex()
    index.seen(observe_pod(pod("Succeeded")))  # the watch's MODIFIED came first
    index.created(observe_pod(pod("Pending")))  # then the answer to the create request
    assert phases(index) == ["Succeeded"]


def test_the_create_answer_is_recorded_when_the_watch_has_not_brought_the_pod_yet() -> None:
    index = PodIndex()
    index.created(observe_pod(pod("Pending")))
    assert phases(index) == ["Pending"]
    index.seen(observe_pod(pod("Succeeded")))  # and the watch's later states replace it
    assert phases(index) == ["Succeeded"]


def test_a_deleted_namesakes_pod_is_replaced_by_the_new_one() -> None:
    index = PodIndex()
    index.seen(observe_pod(pod("Succeeded", uid="old-pod")))  # its DELETED event has not come yet
    index.created(observe_pod(pod("Pending", uid="new-pod")))
    assert [p.uid for p in index.of_run(("ns", "run"))] == ["new-pod"]
