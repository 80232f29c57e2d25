"""The same three-task pipeline as KubernetesPodOperator tasks and as TaskRun operator tasks, side by side.

One image (``examples/04-airflow``), the same three commands (``download.sh`` -> ``process.sh`` -> ``upload.sh``),
the same env values and the same data on one claim (``task-api-workspace``): once as three
``KubernetesPodOperator`` tasks (the provider's defaults; the data passed by sub-paths of the claim, inputs
mounted read-only) and once as three ``TaskRunOperator`` tasks (the data passed by ``IOMapping``). Both run with
real Airflow 3 ``dag.test()`` against the test bed, in one namespace, alternating (KPO first in odd rounds, TaskRun
first in even ones) so drift on a shared machine hits both sides alike. A third DAG, KPO with
``startup_check_interval_seconds=1`` (``kpo-1s``), shows how much of KPO's time is its own polling default.

For each run it records:

* ``dag``: wall time of the ``dag.test()`` process (Airflow start, parse, three tasks);
* ``tasks``: first task start -> last task end, as Airflow recorded them (the pipeline without Airflow's start-up);
* ``overhead/task``: per task, the Airflow task's duration minus its container's run time (container startedAt ->
  finishedAt as a watch saw it arrive), averaged over the three tasks;
* ``API req/task``: the API server's ``apiserver_request_total`` summed over all series, after minus before the
  run, less the idle rate measured before the first round times the run's length, divided by three.

Then the medians, the ratio TaskRun / KPO for each figure (the goal: end to end within 1.1x), where the TaskRun
side's time goes (a per-task timeline from watch events), the request mix, and the table of what each gives the
user. Usage: ``python bench/airflow_kpo.py [ROUNDS]`` (default 3); ``make bench-airflow`` runs it.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.airflow_pipeline import AIRFLOW_PY, RUNNER, airflow_home, prepare  # noqa: E402
from task_api.core.pod import measure_pod_name, task_pod_name  # noqa: E402
from tests.fixtures.testbed import Testbed  # noqa: E402

KPO_DAG = '''
"""bench: the pipeline as three KubernetesPodOperator tasks (written by bench/airflow_kpo.py)."""
import os

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import DAG
from kubernetes.client import models as k8s

IMAGE = os.environ["TASK_API_EXAMPLE_IMAGE"]
NAMESPACE = os.environ["TASK_API_NAMESPACE"]
BASE = "kpo/{{ dag_run.conf['prefix'] }}"
CLAIM = k8s.V1Volume(
    name="data", persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(claim_name="task-api-workspace")
)


def mount(path, sub, read_only=False):
    return k8s.V1VolumeMount(name="data", mount_path=path, sub_path=BASE + "/" + sub, read_only=read_only)


def pod(task_id, script, env, mounts, **extra):
    return KubernetesPodOperator(
        task_id=task_id,
        name=task_id,
        namespace=NAMESPACE,
        image=IMAGE,
        cmds=["/bin/sh", "/opt/guide/" + script],
        env_vars=env,
        volumes=[CLAIM],
        volume_mounts=mounts,
        image_pull_secrets=[k8s.V1LocalObjectReference(name="task-api-registry")],
        **extra,
    )


for dag_id, extra in (("bench-kpo", {}), ("bench-kpo-1s", {"startup_check_interval_seconds": 1})):
    with DAG(dag_id, schedule=None) as dag:
        download = pod(
            "download", "download.sh",
            {"URL": "https://example.org/sample.txt", "MESSAGE": "bench", "LINES": "2"},
            [mount("/data/downloads", "downloads")], **extra,
        )
        process = pod(
            "process", "process.sh", {"MODE": "upper", "FAIL": "false", "SLEEP": "0"},
            [mount("/data/inputs", "downloads", read_only=True), mount("/data/results", "results")], **extra,
        )
        upload = pod(
            "upload", "upload.sh", {"BUCKET": "results"},
            [mount("/data/inputs", "results", read_only=True), mount("/data/bucket", "bucket")], **extra,
        )
        download >> process >> upload
    globals()[dag_id] = dag
'''

TASKRUN_DAG = '''
"""bench: the pipeline as three TaskRunOperator tasks (written by bench/airflow_kpo.py)."""
import os

from airflow.sdk import DAG

from task_api.airflow import IOMapping, TaskRunOperator

IMAGE = os.environ["TASK_API_EXAMPLE_IMAGE"]

with DAG("bench-taskrun", schedule=None) as dag:
    download = TaskRunOperator(task_id="download", image=IMAGE, task_template="download-from-url",
                               env={"MESSAGE": "bench"})
    process = TaskRunOperator(task_id="process", image=IMAGE, task_template="my-algorithm",
                              iochannel_maps=[IOMapping(download, "downloads", "inputs")])
    upload = TaskRunOperator(task_id="upload", image=IMAGE, task_template="send-to-minio",
                             iochannel_maps=[IOMapping(process, "results", "inputs")])
    download >> process >> upload
'''

SIDES = {"kpo": "bench-kpo", "taskrun": "bench-taskrun", "kpo-1s": "bench-kpo-1s"}
TASKS = ("download", "process", "upload")
METRIC = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+]+)$")

#: What each way gives the user (docs/airflow.md has the same table).
GIVES = [
    ("memory sized from the input (scale rules)", "no: fixed requests/limits per task", "yes: measured per run"),
    ("OOM kill retried with more memory", "no: an Airflow retry, same memory", "yes: retries.memoryFactor"),
    ("inputs mounted read-only", "if the DAG says so on each mount", "always"),
    ("channel chaining", "by hand: sub-paths agreed in the DAG", "IOMapping / fromTaskRun, checked"),
    ("env checked against the image's template", "no", "yes, before anything is created"),
    ("a record that outlives the pod", "no: the pod is deleted", "the TaskRun: reason, attempts, outputs"),
    ("pod log in the task log", "yes", "yes"),
]


class Watcher:
    """Arrival times (``time.time()``) of pod and TaskRun events in one namespace, from two watch streams."""

    def __init__(self, tb: Testbed, namespace: str) -> None:
        from kubernetes import client  # noqa: PLC0415 — the main venv's official client

        self.namespace = namespace
        self.pods: dict[str, dict[str, float]] = {}
        self.taskruns: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        api = tb.api_client
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        taskruns = {"group": "task-api.io", "version": "v1alpha1", "plural": "taskruns"}
        streams = [
            (core.list_namespaced_pod, {}, self._pod),
            (custom.list_namespaced_custom_object, taskruns, self._taskrun),
        ]
        self._threads = [threading.Thread(target=self._run, args=stream, daemon=True) for stream in streams]
        for thread in self._threads:
            thread.start()

    def _run(self, lister: Any, kwargs: dict[str, Any], handle: Any) -> None:
        from kubernetes import watch  # noqa: PLC0415

        w: Any = watch.Watch()  # type: ignore[no-untyped-call]
        while not self._stop.is_set():
            try:
                for event in w.stream(lister, namespace=self.namespace, timeout_seconds=3600, **kwargs):
                    handle(event, time.time())
                    if self._stop.is_set():
                        return
            except Exception:  # a dropped watch is re-opened; the bench goes on
                time.sleep(0.2)

    @staticmethod
    def _first(record: dict[str, float], key: str, at: float) -> None:
        record.setdefault(key, at)

    def _pod(self, event: dict[str, Any], at: float) -> None:
        pod = event["object"]
        name = pod.metadata.name
        with self._lock:
            record = self.pods.setdefault(name, {})
            self._first(record, "added", at)
            for status in pod.status.container_statuses or []:
                if status.state.running is not None:
                    self._first(record, "running", at)
                if status.state.terminated is not None:
                    self._first(record, "terminated", at)
                    term = status.state.terminated
                    record["container"] = (term.finished_at - term.started_at).total_seconds()
            if event["type"] == "DELETED":
                self._first(record, "deleted", at)

    def _taskrun(self, event: dict[str, Any], at: float) -> None:
        run = event["object"]
        name = run["metadata"]["name"]
        with self._lock:
            record = self.taskruns.setdefault(name, {})
            self._first(record, "added", at)
            for cond in (run.get("status") or {}).get("conditions") or []:
                if cond.get("type") == "Succeeded" and cond.get("status") in ("True", "False"):
                    self._first(record, "finished", at)

    def stop(self) -> None:
        self._stop.set()


def request_counts(tb: Testbed) -> Counter[str]:
    """``apiserver_request_total`` by ``verb resource[/subresource]`` (summed over codes and the rest)."""
    counts: Counter[str] = Counter()
    for line in tb.kubectl_run("get", "--raw", "/metrics").stdout.splitlines():
        match = METRIC.match(line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        key = f"{labels.get('verb')} {labels.get('resource')}" + (
            f"/{labels['subresource']}" if labels.get("subresource") else ""
        )
        counts[key] += int(float(match["value"]))
    return counts


def run_side(tb: Testbed, env: dict[str, str], home: Path, side: str, prefix: str) -> dict[str, Any]:
    out = home / f"{prefix}.json"
    before = request_counts(tb)
    started = time.monotonic()
    wall_start = time.time()
    done = subprocess.run(
        [str(AIRFLOW_PY), str(RUNNER), SIDES[side], str(out), json.dumps({"prefix": prefix})],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.monotonic() - started
    after = request_counts(tb)
    result = json.loads(out.read_text()) if out.exists() else {}
    if result.get("state") != "success":
        raise SystemExit(f"{side} run {prefix} did not succeed: {result}\n{(done.stdout + done.stderr)[-4000:]}")
    return {"dag": wall, "start": wall_start, "result": result, "requests": after - before}


def pod_of(watcher: Watcher, side: str, task_id: str, result: dict[str, Any], window: tuple[float, float]) -> str:
    """The pod that ran ``task_id`` in this run: the TaskRun's attempt pod, or the KPO pod added in the window."""
    if side == "taskrun":
        return task_pod_name(result["tasks"][task_id]["xcom"]["taskrun"], 1)
    with watcher._lock:
        found = [n for n, r in watcher.pods.items() if n.startswith(task_id) and window[0] <= r["added"] <= window[1]]
    if len(found) != 1:
        raise SystemExit(f"expected one KPO pod for {task_id} in the run's window, found {found}")
    return found[0]


def figures(watcher: Watcher, side: str, run: dict[str, Any], idle_rate: float) -> dict[str, float]:
    tasks = run["result"]["tasks"]
    window = (run["start"], run["start"] + run["dag"])
    overheads = []
    for task_id in TASKS:
        ti = tasks[task_id]
        pod = pod_of(watcher, side, task_id, run["result"], window)
        deadline = time.monotonic() + 10
        while "container" not in watcher.pods.get(pod, {}) and time.monotonic() < deadline:
            time.sleep(0.1)  # the watch may lag the DAG's end by a moment
        container = watcher.pods.get(pod, {}).get("container")
        if container is None:
            raise SystemExit(f"no terminated state seen for pod {pod}")
        overheads.append((ti["end"] - ti["start"]) - container)
    total = sum(run["requests"].values())
    return {
        "dag": run["dag"],
        "tasks": max(t["end"] for t in tasks.values()) - min(t["start"] for t in tasks.values()),
        "overhead": statistics.mean(overheads),
        "requests": (total - idle_rate * run["dag"]) / len(TASKS),
    }


def timeline(watcher: Watcher, side: str, run: dict[str, Any]) -> list[str]:
    """Where each task's time went, from Airflow's task start to its end (seconds from the task's start)."""
    lines = []
    window = (run["start"], run["start"] + run["dag"])
    for task_id in TASKS:
        ti = run["result"]["tasks"][task_id]
        pod = watcher.pods.get(pod_of(watcher, side, task_id, run["result"], window), {})
        marks: list[tuple[str, float | None]] = [("pod created", pod.get("added"))]
        if side == "taskrun":
            name = ti["xcom"]["taskrun"]
            tr = watcher.taskruns.get(name, {})
            marks = [
                ("TaskRun created", tr.get("added")),
                ("measuring pod", watcher.pods.get(measure_pod_name(name), {}).get("added")),
                *marks,
            ]
        marks += [("container running", pod.get("running")), ("container terminated", pod.get("terminated"))]
        if side == "taskrun":
            marks.append(("TaskRun finished", watcher.taskruns.get(ti["xcom"]["taskrun"], {}).get("finished")))
        else:
            marks.append(("pod deleted", pod.get("deleted")))
        marks.append(("Airflow task ended", ti["end"]))
        shown = ", ".join(f"{label} +{at - ti['start']:.1f}" for label, at in marks if at is not None)
        lines.append(f"  {task_id}: {shown}")
    return lines


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    tb = Testbed.load()
    ns, image, workspace = prepare(tb)
    home, env = airflow_home()
    (home / "dags" / "bench_kpo.py").write_text(KPO_DAG)
    (home / "dags" / "bench_taskrun.py").write_text(TASKRUN_DAG)
    env |= {
        "KUBECONFIG": str(tb.kubeconfig),
        "TASK_API_NAMESPACE": ns,
        "TASK_API_IMAGE_PULL_SECRETS": "task-api-registry",
        "TASK_API_EXAMPLE_IMAGE": image,
    }
    rows: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
    mix: dict[str, Counter[str]] = {side: Counter() for side in SIDES}
    last: dict[str, dict[str, Any]] = {}
    watcher: Watcher | None = None
    try:
        watcher = Watcher(tb, ns)
        before, idle_start = request_counts(tb), time.monotonic()
        time.sleep(20)
        idle = sum((request_counts(tb) - before).values()) / (time.monotonic() - idle_start)
        print(f"idle API server: {idle:.1f} requests/s (subtracted from each run)", flush=True)
        run_side(tb, env, home, "taskrun", "warm-up")  # first pull of the image, Airflow's first start
        for index in range(rounds):
            order = ["kpo", "taskrun", "kpo-1s"] if index % 2 == 0 else ["taskrun", "kpo", "kpo-1s"]
            for side in order:
                run = run_side(tb, env, home, side, f"{side}-{index}")
                row = figures(watcher, side, run, idle)
                rows[side].append(row)
                mix[side] += run["requests"]
                last[side] = run
                print(
                    f"round {index + 1}/{rounds} {side:8s}: dag {row['dag']:.1f} s, tasks {row['tasks']:.1f} s, "
                    f"overhead/task {row['overhead']:.1f} s, API requests/task {row['requests']:.0f}",
                    flush=True,
                )
    finally:
        if watcher is not None:
            watcher.stop()
        tb.kubectl_run("delete", "namespace", ns, "--wait=false", check=False)
        tb.delete_volume(workspace.name)
        shutil.rmtree(home, ignore_errors=True)
    report(rows, mix, rounds, watcher, last)


def report(
    rows: dict[str, list[dict[str, float]]],
    mix: dict[str, Counter[str]],
    rounds: int,
    watcher: Watcher,
    last: dict[str, dict[str, Any]],
) -> None:
    med = {side: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for side, rs in rows.items()}
    kpo, tr, fast = med["kpo"], med["taskrun"], med["kpo-1s"]
    print(f"\nmedian of {rounds} rounds (three tasks each)    KPO   TaskRun  TaskRun/KPO   KPO-1s  TaskRun/KPO-1s")
    for key, label, unit in (
        ("dag", "DAG end to end", "s"),
        ("tasks", "first task start -> last task end", "s"),
        ("overhead", "overhead per task over its container", "s"),
        ("requests", "API requests per task (net of idle)", ""),
    ):
        print(
            f"{label:40s} {kpo[key]:6.1f}{unit:1s} {tr[key]:7.1f}{unit:1s} {tr[key] / kpo[key]:10.2f}x "
            f"{fast[key]:8.1f}{unit:1s} {tr[key] / fast[key]:12.2f}x"
        )
    print(f"\nratio TaskRun / KPO, DAG end to end: {tr['dag'] / kpo['dag']:.2f} (goal: at most 1.10)")
    print("\nrequests per task by verb and resource (all rounds, not net of idle):")
    keys = sorted(set(mix["kpo"]) | set(mix["taskrun"]), key=lambda k: -(mix["taskrun"][k] + mix["kpo"][k]))
    per = 3 * rounds
    for key in keys[:14]:
        print(f"  {key:40s} KPO {mix['kpo'][key] / per:6.1f}   TaskRun {mix['taskrun'][key] / per:6.1f}")
    for side, run in last.items():
        print(f"\nwhere a {side} task's time went (last round; seconds from the Airflow task's start):")
        print("\n".join(timeline(watcher, side, run)))
    print("\nwhat each gives the user:")
    print(f"  {'':42s} {'KubernetesPodOperator':38s} TaskRunOperator")
    for what, kpo_gives, tr_gives in GIVES:
        print(f"  {what:42s} {kpo_gives:38s} {tr_gives}")


if __name__ == "__main__":
    main()
