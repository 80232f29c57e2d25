"""How long a three-task Airflow DAG takes end to end, against the sum of its pods' run times (the baseline).

Runs ``examples/04-airflow/dags/pipeline.py`` (download -> process -> upload, the last one deferred) with real
Airflow 3 ``dag.test()`` against the test bed and the deployed operator (``make bench-airflow`` deploys it), ``RUNS``
times, in a fresh namespace with the pull secret and workspace claim. For each run it prints:

* ``dag``: wall time of the whole ``dag.test()`` process (Airflow start, DAG parse, three tasks, database);
* ``taskruns``: first TaskRun created -> last TaskRun completed (what the cluster saw);
* ``pods``: the sum over the three pods of creation -> container finished (scheduling, start, run);
* ``containers``: the sum of the containers' own run times (startedAt -> finishedAt; whole seconds only);

and the ratios dag/pods and taskruns/pods. A second baseline, measured in the same run: the same three-task shape
with Airflow's ``EmptyOperator`` (``noop``), i.e. what ``dag.test()`` costs with no TaskRuns at all, so
``dag - noop`` is the time the TaskRun operator adds. Kubernetes timestamps have whole-second resolution, so the
pod figures are coarse. Usage: ``python bench/airflow_pipeline.py [RUNS]`` (default 3).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.testbed import Testbed  # noqa: E402 — after the path is set

AIRFLOW_PY = ROOT / ".venv-airflow" / "bin" / "python"
RUNNER = ROOT / "tests" / "airflow" / "run_dag.py"


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def kubectl(tb: Testbed, *args: str, input: str | None = None) -> str:
    return tb.kubectl_run(*args, input=input).stdout


def prepare(tb: Testbed) -> tuple[str, str, Path]:
    """A namespace with the pull secret and the workspace claim; the example image pushed."""
    ns = f"bench-airflow-{secrets.token_hex(3)}"
    kubectl(tb, "create", "namespace", ns)
    kubectl(
        tb, "create", "secret", "generic", "task-api-registry", "-n", ns, "--type=kubernetes.io/dockerconfigjson",
        "--from-file=.dockerconfigjson=/dev/stdin", input=tb.dockerconfigjson().decode(),
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while tb.kubectl_run("get", "serviceaccount", "default", "-n", ns, check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise SystemExit(f"namespace {ns}: no default ServiceAccount after 30 s")
        time.sleep(0.2)
    workspace = tb.make_pvc(ns, "task-api-workspace")
    image = f"{tb.registry}/examples/airflow:bench"
    subprocess.run(
        ["/usr/bin/docker", "login", "-u", tb.registry_user, "--password-stdin", tb.registry],
        input=tb.registry_password, text=True, check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run([str(ROOT / "examples" / "04-airflow" / "build.sh"), image], check=True, capture_output=True)
    subprocess.run(["/usr/bin/docker", "push", image], check=True, capture_output=True)
    return ns, image, workspace


NOOP_DAG = """
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG("bench-noop", schedule=None) as dag:
    EmptyOperator(task_id="download") >> EmptyOperator(task_id="process") >> EmptyOperator(task_id="upload")
"""


def airflow_home() -> tuple[Path, dict[str, str]]:
    home = Path(tempfile.mkdtemp(prefix="bench-airflow-"))
    shutil.copytree(ROOT / "examples" / "04-airflow" / "dags", home / "dags")
    (home / "dags" / "bench_noop.py").write_text(NOOP_DAG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": str(home / "dags"),
    }
    subprocess.run([str(AIRFLOW_PY.parent / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
    return home, env


def measure(tb: Testbed, ns: str, run_id: str) -> dict[str, float]:
    runs = json.loads(kubectl(tb, "get", "taskruns", "-n", ns, "-o", "json"))["items"]
    mine = [r for r in runs if r["metadata"].get("annotations", {}).get("task-api.io/airflow-run-id") == run_id]
    if len(mine) != 3:
        raise SystemExit(f"expected 3 TaskRuns for {run_id}, found {len(mine)}")
    pods_total = containers_total = 0.0
    for run in mine:
        pod = json.loads(kubectl(tb, "get", "pod", run["status"]["podName"], "-n", ns, "-o", "json"))
        (state,) = [s["state"]["terminated"] for s in pod["status"]["containerStatuses"] if s["name"] == "task"]
        pods_total += ts(state["finishedAt"]) - ts(pod["metadata"]["creationTimestamp"])
        containers_total += ts(state["finishedAt"]) - ts(state["startedAt"])
    first = min(ts(r["metadata"]["creationTimestamp"]) for r in mine)
    last = max(ts(r["status"]["completionTime"]) for r in mine)
    return {"pods": pods_total, "containers": containers_total, "taskruns": last - first}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    tb = Testbed.load()
    ns, image, workspace = prepare(tb)
    home, env = airflow_home()
    env |= {
        "KUBECONFIG": str(tb.kubeconfig),
        "TASK_API_NAMESPACE": ns,
        "TASK_API_IMAGE_PULL_SECRETS": "task-api-registry",
        "TASK_API_EXAMPLE_IMAGE": image,
    }
    rows: list[dict[str, Any]] = []
    try:
        for index in range(runs):
            out = home / f"run-{index}.json"
            token = f"bench{index}"
            conf = json.dumps({"task_form": {"download": {"env": {"MESSAGE": token}}}})
            started = time.monotonic()
            done = subprocess.run(
                [str(AIRFLOW_PY), str(RUNNER), "task-api-pipeline", str(out), conf],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            wall = time.monotonic() - started
            result = json.loads(out.read_text()) if out.exists() else {}
            if result.get("state") != "success":
                raise SystemExit(f"run {index} did not succeed: {result}\n{(done.stdout + done.stderr)[-3000:]}")
            started = time.monotonic()
            noop = subprocess.run(
                [str(AIRFLOW_PY), str(RUNNER), "bench-noop", str(home / f"noop-{index}.json")],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if noop.returncode != 0:
                raise SystemExit(f"the no-op DAG failed:\n{(noop.stdout + noop.stderr)[-3000:]}")
            row = {"dag": wall, "noop": time.monotonic() - started, **measure(tb, ns, result["run_id"])}
            rows.append(row)
            print(
                f"run {index + 1}/{runs}: dag {row['dag']:.1f} s (no-op DAG {row['noop']:.1f} s), "
                f"taskruns {row['taskruns']:.1f} s, "
                f"pods {row['pods']:.1f} s, containers {row['containers']:.0f} s; "
                f"dag/pods {row['dag'] / row['pods']:.1f}x, taskruns/pods {row['taskruns'] / row['pods']:.1f}x",
                flush=True,
            )
    finally:
        tb.kubectl_run("delete", "namespace", ns, "--wait=false", check=False)
        tb.delete_volume(workspace.name)  # make_pvc names the volume after its directory
        shutil.rmtree(home, ignore_errors=True)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(
        f"median over {runs} runs: three-task DAG end to end {med['dag']:.1f} s; TaskRuns first-created to "
        f"last-completed {med['taskruns']:.1f} s; baseline (sum of the pods' run times) {med['pods']:.1f} s "
        f"(containers alone {med['containers']:.0f} s)"
    )
    print(f"ratio DAG end to end / sum of pod run times: {med['dag'] / med['pods']:.2f}")
    print(
        f"ratio DAG end to end / the same DAG with EmptyOperators ({med['noop']:.1f} s): "
        f"{med['dag'] / med['noop']:.2f} (the TaskRun operator adds {med['dag'] - med['noop']:.1f} s)"
    )
    print(f"ratio TaskRuns span / sum of pod run times:  {med['taskruns'] / med['pods']:.2f}")


if __name__ == "__main__":
    main()
