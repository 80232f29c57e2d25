"""Scenario 6 — the Airflow task process killed mid-run must leave no orphaned TaskRun or pod.

A real Airflow 3 (``.venv-airflow``, the fixtures of tests/airflow) runs the ``tr-slow`` DAG with
``dag.test()`` in a subprocess; once the ``proc`` task's TaskRun is Running, the process is killed:

* with SIGTERM — what Airflow's supervisor sends when a task is killed, cleared or times out: ``on_kill`` deletes
  the TaskRun, and its pod and Secrets go with it (owner references);
* with SIGKILL — a crash (the OOM killer, a lost worker): no code of ours runs in the task process. The task kept
  refreshing its TaskRun's heartbeat while it waited (``heartbeat_timeout``, 15 s in this DAG); the beats stop,
  and the Kubernetes operator cancels the run and stops its pod. The TaskRun stays as the record, finished
  (``Cancelled``) — what must not remain is an unfinished TaskRun or a pod.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.airflow.conftest import airflow, dag_env, guide_image, start_dag
from tests.chaos._bed import Scale
from tests.chaos.conftest import Namespace
from tests.chaos.results import Row, record

__all__ = ["airflow", "dag_env", "guide_image", "start_dag"]

pytestmark = [pytest.mark.cluster, pytest.mark.airflow, pytest.mark.chaos]


def finished(run: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Succeeded" and c.get("status") in ("True", "False")
        for c in (run.get("status") or {}).get("conditions") or []
    )


def proc_runs(ns: Namespace) -> list[dict[str, Any]]:
    import json  # noqa: PLC0415

    out = ns.kubectl("get", "taskruns", "-l", "task-api.io/airflow-task=proc", "-o", "json").stdout
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "sig",
    [
        pytest.param(signal.SIGTERM, id="SIGTERM"),
        pytest.param(signal.SIGKILL, id="SIGKILL"),
    ],
)
def test_killed_airflow_task_leaves_no_orphans(
    start_dag: Callable[..., Any], run_ns: Namespace, scale: Scale, sig: signal.Signals
) -> None:
    proc, _ = start_dag("tr-slow", {"task_form": {"proc": {"SLEEP": 300}}})
    deadline = time.monotonic() + 300
    pod_name = None
    while time.monotonic() < deadline and pod_name is None:
        assert proc.poll() is None, "the DAG run ended before its slow task started"
        for run in proc_runs(run_ns):
            status = run.get("status") or {}
            if status.get("reason") == "Running" and status.get("podName"):
                pod_name = status["podName"]
        time.sleep(1)
    assert pod_name, "the slow task's pod never ran"
    killed = time.monotonic()
    proc.send_signal(sig)
    left: tuple[list[str], bool] = ([], True)
    while time.monotonic() - killed < 120:
        runs = [
            r["metadata"]["name"]
            for r in proc_runs(run_ns)
            if not r["metadata"].get("deletionTimestamp") and not finished(r)
        ]
        pod_left = f"pod/{pod_name}" in run_ns.kubectl("get", "pods", "-o", "name").stdout.split()
        left = (runs, pod_left)
        if not runs and not pod_left:
            break
        time.sleep(1)
    cleaned = time.monotonic() - killed
    proc.wait(timeout=120)
    orphans = len(left[0]) + int(left[1])
    record(
        Row(
            scenario=f"6 Airflow task process killed ({sig.name})",
            runs=1,
            lost=0,
            duplicated=0,
            stuck=orphans,
            recovery_s=cleaned if not orphans else None,
            notes=(
                (
                    "TaskRun and pod removed by on_kill"
                    if sig == signal.SIGTERM
                    else "heartbeat stopped: the operator cancelled the run and stopped its pod"
                )
                if not orphans
                else f"after 120 s: unfinished TaskRuns {left[0]}, pod left {left[1]}"
            ),
            scale=scale.name,
            seed=scale.seed,
        )
    )
    assert not left[0], f"unfinished TaskRun(s) {left[0]} 120 s after {sig.name}"
    assert not left[1], f"orphaned pod {pod_name} 120 s after {sig.name}"
