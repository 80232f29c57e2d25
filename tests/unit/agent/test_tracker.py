"""The node agent's bookkeeping: which pods it trusts, when a peak is final, and what it writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from task_api.agent.cgroups import CgroupReader, PodReading, container_id_of, detect_layout, pod_dir_candidates
from task_api.agent.config import AgentConfig, ConfigError
from task_api.agent.tracker import GONE_TICKS, Tracker, identify, merge_peaks, peak_entry

MIB = 1024**2
CID = "c" * 64


def task_pod(
    *,
    uid: str = "pod-1",
    attempt: str = "1",
    owner_uid: str = "run-uid",
    state: dict[str, Any] | None = None,
    phase: str = "Running",
    role: str = "task",
) -> dict[str, Any]:
    statuses = [{"name": "task", "containerID": f"containerd://{CID}", "state": state or {"running": {}}}]
    return {
        "metadata": {
            "uid": uid,
            "namespace": "ns",
            "name": f"run-a{attempt}",
            "labels": {
                "task-api.io/role": role,
                "task-api.io/taskrun": "run",
                "task-api.io/taskrun-uid": "run-uid",
                "task-api.io/attempt": attempt,
            },
            "ownerReferences": [
                {
                    "apiVersion": "task-api.io/v1alpha1",
                    "kind": "TaskRun",
                    "name": "run",
                    "uid": owner_uid,
                    "controller": True,
                }
            ],
        },
        "spec": {
            "containers": [
                {"name": "task", "resources": {"requests": {"memory": "32Mi"}, "limits": {"memory": "64Mi"}}}
            ]
        },
        "status": {"phase": phase, "qosClass": "Burstable", "containerStatuses": statuses},
    }


class TestIdentify:
    def test_a_task_pod_controlled_by_its_taskrun(self) -> None:
        found = identify(task_pod())
        assert found is not None
        assert (found.namespace, found.name, found.taskrun, found.taskrun_uid, found.attempt) == (
            "ns",
            "run-a1",
            "run",
            "run-uid",
            1,
        )

    @pytest.mark.parametrize(
        "pod",
        [
            task_pod(owner_uid="someone-else"),  # labels name a TaskRun that does not control the pod
            task_pod(role="measure"),
            task_pod(attempt="0"),
            task_pod(attempt="x"),
        ],
    )
    def test_anything_else_is_ignored(self, pod: dict[str, Any]) -> None:
        assert identify(pod) is None

    def test_a_pod_without_owner_is_ignored(self) -> None:
        pod = task_pod()
        pod["metadata"]["ownerReferences"] = []
        assert identify(pod) is None


def reading(pod_peak: int, main: int | None = None) -> PodReading:
    return PodReading(present=True, pod_peak=pod_peak, containers={CID: main} if main is not None else {})


class TestTracker:
    def test_final_after_a_read_that_followed_the_end(self) -> None:
        tracker = Tracker()
        tracker.observe(task_pod())
        tracker.reading("pod-1", reading(50 * MIB, 48 * MIB), ended_before_read=False)
        assert tracker.ready() == []
        tracker.observe(task_pod(state={"terminated": {"reason": "Completed", "exitCode": 0}}, phase="Succeeded"))
        assert tracker.ready() == []  # the end is known, but no read since: the mark could still have risen
        tracker.reading("pod-1", reading(90 * MIB), ended_before_read=True)
        (ready,) = tracker.ready()
        assert (ready.peak, ready.container_peak, ready.oom_killed) == (90 * MIB, 48 * MIB, False)

    def test_a_vanished_cgroup_keeps_the_last_read(self) -> None:
        tracker = Tracker()
        tracker.observe(task_pod())
        tracker.reading("pod-1", reading(70 * MIB), ended_before_read=False)
        tracker.reading("pod-1", PodReading(present=False), ended_before_read=False)
        assert tracker.ready() == []  # gone, but the watch has not said the pod ended yet
        tracker.observe(task_pod(state={"terminated": {"reason": "OOMKilled", "exitCode": 137}}, phase="Failed"))
        (ready,) = tracker.ready()
        assert ready.peak == 70 * MIB and ready.oom_killed

    def test_a_vanished_cgroup_counts_as_ended_after_a_while_without_news(self) -> None:
        tracker = Tracker()
        tracker.observe(task_pod())
        tracker.reading("pod-1", reading(70 * MIB), ended_before_read=False)
        tracker.reading("pod-1", PodReading(present=False), ended_before_read=False)
        for _ in range(GONE_TICKS - 1):
            tracker.tick()
        assert tracker.ready() == []
        tracker.tick()
        assert [t.peak for t in tracker.ready()] == [70 * MIB]

    def test_a_pod_that_ended_before_any_read_is_unobservable(self) -> None:
        tracker = Tracker()
        tracker.observe(task_pod(state={"terminated": {"reason": "Completed"}}, phase="Succeeded"))
        for _ in range(2):
            tracker.reading("pod-1", PodReading(present=False), ended_before_read=True)
        assert tracker.ready() == [] and len(tracker.unobservable()) == 1

    def test_deleted_pods_are_finished_and_then_forgotten(self) -> None:
        tracker = Tracker()
        tracker.observe(task_pod())
        tracker.reading("pod-1", reading(10 * MIB), ended_before_read=False)
        tracker.deleted(task_pod())
        tracker.reading("pod-1", PodReading(present=False), ended_before_read=True)
        (ready,) = tracker.ready()
        ready.done = True
        tracker.forget_deleted()
        assert tracker.pods == {}

    def test_foreign_pods_are_not_followed(self) -> None:
        tracker = Tracker()
        tracker.observe(task_pod(owner_uid="x"))
        assert tracker.to_read() == []


class TestEntries:
    def test_peak_entry(self) -> None:
        tracker = Tracker()
        tracker.observe(task_pod())
        tracker.reading("pod-1", reading(100 * MIB + 1, 99 * MIB), ended_before_read=True)
        tracked = tracker.pods["pod-1"]
        assert peak_entry(tracked, node="n1", source="cgroup v1", now="2026-01-01T00:00:00Z") == {
            "attempt": 1,
            "pod": "run-a1",
            "peakBytes": 100 * MIB + 1,
            "peak": "101Mi",
            "containerPeakBytes": 99 * MIB,
            "request": "32Mi",
            "limit": "64Mi",
            "oomKilled": False,
            "source": "cgroup v1 pod",
            "node": "n1",
            "observedAt": "2026-01-01T00:00:00Z",
        }

    def test_merge_adds_in_order_and_is_idempotent(self) -> None:
        first = {"attempt": 1, "peakBytes": 10}
        second = {"attempt": 2, "peakBytes": 20}
        merged = merge_peaks([second], first)
        assert merged == [first, second]
        assert merge_peaks(merged, first) is None  # already there: no write
        assert merge_peaks(merged, {"attempt": 1, "peakBytes": 5}) is None  # a smaller figure never replaces
        assert merge_peaks(merged, {"attempt": 1, "peakBytes": 15}) == [{"attempt": 1, "peakBytes": 15}, second]


class TestCgroups:
    def test_candidates(self) -> None:
        root = Path("/m")
        assert pod_dir_candidates(root, "/tapi-dev6", "a-b", "Burstable") == [
            Path("/m/tapi-dev6/kubepods/burstable/poda-b"),
            Path("/m/tapi-dev6/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poda_b.slice"),
        ]
        assert pod_dir_candidates(root, "/", "u", "Guaranteed")[0] == Path("/m/kubepods/podu")

    @pytest.mark.parametrize(
        ("name", "cid"), [(CID, CID), (f"cri-containerd-{CID}.scope", CID), (f"crio-{CID}.scope", CID)]
    )
    def test_container_ids(self, name: str, cid: str) -> None:
        assert container_id_of(name) == cid

    def test_reads_a_v1_tree(self, tmp_path: Path) -> None:
        (tmp_path / "memory").mkdir()
        (tmp_path / "memory" / "memory.max_usage_in_bytes").write_text("1\n")
        pod = tmp_path / "memory" / "root" / "kubepods" / "besteffort" / "poduid"
        (pod / CID).mkdir(parents=True)
        (pod / "memory.max_usage_in_bytes").write_text("2048\n")
        (pod / CID / "memory.max_usage_in_bytes").write_text("1024\n")
        layout = detect_layout(tmp_path)
        assert layout is not None and layout.version == 1
        reader = CgroupReader(tmp_path, "/root")
        assert reader.kubepods_present() and reader.source() == "cgroup v1"
        got = reader.read("uid", "BestEffort")
        assert (got.present, got.pod_peak, got.containers) == (True, 2048, {CID: 1024})
        (pod / CID / "memory.max_usage_in_bytes").unlink()
        (pod / CID).rmdir()
        (pod / "memory.max_usage_in_bytes").unlink()
        pod.rmdir()
        assert reader.read("uid", "BestEffort").present is False

    def test_reads_a_v2_tree(self, tmp_path: Path) -> None:
        (tmp_path / "cgroup.controllers").write_text("memory\n")
        pod = tmp_path / "kubepods.slice" / "kubepods-burstable.slice" / "kubepods-burstable-poda_b.slice"
        scope = pod / f"cri-containerd-{CID}.scope"
        scope.mkdir(parents=True)
        (pod / "memory.peak").write_text("4096\n")
        (scope / "memory.peak").write_text("3000\n")
        got = CgroupReader(tmp_path).read("a-b", "Burstable")
        assert (got.pod_peak, got.containers) == (4096, {CID: 3000})

    def test_no_cgroup_tree(self, tmp_path: Path) -> None:
        assert detect_layout(tmp_path) is None
        assert CgroupReader(tmp_path).read("u", "Burstable").present is False


class TestConfig:
    def test_defaults(self) -> None:
        config = AgentConfig.from_env({"NODE_NAME": "n1"})
        assert (config.node_name, config.cgroup_root, config.interval) == ("n1", "/", 0.2)

    @pytest.mark.parametrize(
        ("env", "message"),
        [
            ({}, "NODE_NAME: not set"),
            ({"NODE_NAME": "n", "TASK_API_AGENT_INTERVAL": "5"}, "TASK_API_AGENT_INTERVAL: '5' is not allowed"),
            ({"NODE_NAME": "n", "TASK_API_AGENT_INTERVAL": "x"}, "TASK_API_AGENT_INTERVAL: 'x' is not allowed"),
            ({"NODE_NAME": "n", "TASK_API_AGENT_CGROUP_ROOT": "a/../b"}, "TASK_API_AGENT_CGROUP_ROOT: 'a/../b'"),
            ({"NODE_NAME": "n", "TASK_API_LOG_LEVEL": "loud"}, "TASK_API_LOG_LEVEL: 'LOUD' is not allowed"),
        ],
    )
    def test_bad_settings_are_named(self, env: dict[str, str], message: str) -> None:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
            AgentConfig.from_env(env)
