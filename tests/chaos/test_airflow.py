"""Scenario 6 — the Airflow task process killed mid-run must leave no orphaned TaskRun or pod, and the row says
which mechanism cleaned up.

A real Airflow 3 (``.venv-airflow``, the fixtures of tests/airflow) runs the ``tr-slow`` DAG with
``dag.test()`` in a subprocess; once the ``proc`` task's TaskRun is Running, the process is killed:

* with SIGTERM — what Airflow's supervisor sends when a task is killed, cleared or times out: ``on_kill`` deletes
  the TaskRun, and its pod and Secrets go with it (owner references). Asserted: the task's log says ``on_kill``
  deleted it, the TaskRun watch saw it deleted, and it never had a final condition (the heartbeat cancel did not
  act first);
* with SIGKILL — a crash (the OOM killer, a lost worker): no code of ours runs in the task process. The task kept
  refreshing its TaskRun's heartbeat while it waited (``heartbeat_timeout``, 15 s in this DAG); the beats stop,
  and the Kubernetes operator cancels the run and stops its pod. Asserted: the TaskRun stays, as the record, with
  reason ``Cancelled`` and the operator's heartbeat message; ``on_kill`` never ran.

In both cases no unfinished TaskRun and no pod remain; lost / duplicated / stuck come from a pod watch and a TaskRun
watch over the test's namespace.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.airflow.conftest import airflow, dag_env, guide_image, start_dag
from tests.chaos import _bed
from tests.chaos._bed import Scale
from tests.chaos.conftest import Namespace
from tests.chaos.results import Row, record
from tests.fixtures.testbed import Testbed

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


HEARTBEAT_MESSAGE = "the client stopped sending heartbeats"


def mechanism(deleted: bool, on_kill_logged: bool, last: dict[str, Any]) -> str:
    """Which mechanism ended the killed task's TaskRun, from what the watches and the task log saw. Pure."""
    cond = _bed.condition(last)
    if deleted and on_kill_logged and cond.get("status") not in _bed.FINAL:
        return "on_kill"
    cancelled = cond.get("reason") == "Cancelled" and HEARTBEAT_MESSAGE in str(cond.get("message"))
    if not deleted and not on_kill_logged and cancelled:
        return "heartbeat cancel"
    return (
        f"unclear: deleted {deleted}, on_kill logged {on_kill_logged}, "
        f"condition {cond.get('status')} {cond.get('reason')} {str(cond.get('message'))[:120]!r}"
    )


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    ("sig", "expected"),
    [
        pytest.param(signal.SIGTERM, "on_kill", id="SIGTERM"),
        pytest.param(signal.SIGKILL, "heartbeat cancel", id="SIGKILL"),
    ],
)
def test_killed_airflow_task_leaves_no_orphans(
    start_dag: Callable[..., Any], testbed: Testbed, run_ns: Namespace, scale: Scale, sig: signal.Signals,
    expected: str,
) -> None:  # fmt: skip
    with _bed.pod_ledger(testbed, run_ns.name) as pods, _bed.run_ledger(testbed, run_ns.name) as watched:
        proc, out = start_dag("tr-slow", {"task_form": {"proc": {"SLEEP": 300}}})
        deadline = time.monotonic() + 300
        pod_name = name = None
        while time.monotonic() < deadline and pod_name is None:
            assert proc.poll() is None, "the DAG run ended before its slow task started"
            for run in proc_runs(run_ns):
                status = run.get("status") or {}
                if status.get("reason") == "Running" and status.get("podName"):
                    pod_name, name = status["podName"], run["metadata"]["name"]
            time.sleep(1)
        assert pod_name and name, "the slow task's pod never ran"
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
        pods.merge_listing()
        final = _bed.taskruns(testbed, run_ns.name)
        everything = sorted(set(watched.last) | set(final))
        deleted = name in watched.deleted_at and name not in final
        counted = _bed.tally(final, pods.uids, everything, gone=[name] if deleted else [])
        last = dict(final.get(name) or watched.last.get(name) or {})
    log = out.with_suffix(".log").read_text(errors="replace")
    on_kill_logged = f"on_kill: TaskRun {run_ns.name}/{name} deleted" in log
    acted = mechanism(deleted, on_kill_logged, last)
    what = {
        "on_kill": "the task's on_kill deleted the TaskRun (the watch saw it deleted, never final), its pod with it",
        "heartbeat cancel": (
            f"the operator ended the TaskRun {_bed.condition(last).get('reason')} ({HEARTBEAT_MESSAGE}) and stopped"
            " its pod; on_kill never ran; the TaskRun stays as the record"
        ),
    }
    orphans = len(left[0]) + int(left[1])
    record(
        Row(
            scenario=f"6 Airflow task process killed ({sig.name})",
            runs=len(everything),
            lost=counted.lost,
            duplicated=counted.duplicated,
            stuck=counted.stuck + orphans,
            recovery_s=cleaned if not orphans else None,
            notes=f"{acted}: {what.get(acted, '')}"
            + (f"; after 120 s: unfinished TaskRuns {left[0]}, pod left {left[1]}" if orphans else ""),
            scale=scale.name,
            seed=scale.seed,
            figures={"mechanism": acted, "signal_to_clean_s": round(cleaned, 2)},
        )
    )
    assert not left[0], f"unfinished TaskRun(s) {left[0]} 120 s after {sig.name}"
    assert not left[1], f"orphaned pod {pod_name} 120 s after {sig.name}"
    assert acted == expected, f"{sig.name}: expected {expected}, saw {acted}"
    assert (counted.lost, counted.duplicated, counted.stuck) == (0, 0, 0), counted.problems
