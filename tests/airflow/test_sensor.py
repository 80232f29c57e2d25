"""TaskRunSensor with real Airflow 3 against the test bed: TaskRuns created by Airflow's own Kubernetes provider.

The example DAGs (``examples/04-airflow/dags/provider_*.py``) create TaskRuns with ``KubernetesCreateResourceOperator``
and delete them with ``KubernetesDeleteResourceOperator``; the test DAGs (``tests/airflow/dags/sensor_dags.py``)
wait in every mode and fail in every way. Each runs with ``dag.test()`` (see conftest.py).
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from task_api.airflow.naming import run_name
from tests.airflow.conftest import Airflow, DagRun
from tests.airflow.test_dags import output_dir, taskruns
from tests.e2e.conftest import Namespace

pytestmark = [pytest.mark.airflow, pytest.mark.cluster]


class TestProviderExamples:
    """examples/04-airflow/dags/provider_pipeline.py and provider_failure.py, as a user runs them."""

    def test_pipeline_runs_and_its_teardown_deletes_the_taskruns(
        self, run_dag: Callable[..., DagRun], run_ns: Namespace
    ) -> None:
        token = f"msg{secrets.token_hex(4)}"
        run = run_dag("taskrun-provider-pipeline", {"message": token, "lines": 3, "mode": "copy"})
        assert run.state == "success", run.describe()
        for task_id in ("create", "download", "process", "delete"):
            assert run.task(task_id)["state"] == "success", run.describe()
        run_id = run.result["run_id"]
        download, process = run.task("download")["xcom"], run.task("process")["xcom"]
        # The sensors pushed what the TaskRun operator pushes, for the TaskRuns the manifest named.
        assert download["taskrun"] == run_name("download", run_id)
        assert process["taskrun"] == run_name("process", run_id)
        assert download["namespace"] == run_ns.name
        results = (output_dir(run_ns, process["outputs"]["results"]) / "data.txt").read_text()
        assert results == f"{token} from https://example.org/sample.txt\n" * 3  # conf reached both manifests
        # Both pods' logs reached the task log, under their TaskRun's name.
        assert f"[{download['taskrun']}] downloaded 3 line(s): {token}" in run.output, run.describe()
        assert f"[{process['taskrun']}] processed 1 file(s) with MODE=copy" in run.output, run.describe()
        assert taskruns(run_ns) == [], "the teardown left TaskRuns behind"

    def test_failing_taskrun_fails_the_sensor_with_its_reason_and_message(
        self, run_dag: Callable[..., DagRun], run_ns: Namespace
    ) -> None:
        run = run_dag("taskrun-provider-failure")
        assert run.state == "failed", run.describe()
        assert run.task("create")["state"] == "success"
        assert run.task("download")["state"] == "failed", run.describe()
        assert run.task("delete")["state"] == "success", run.describe()
        name = run_name("download", run.result["run_id"])
        assert (
            f"TaskRunFailed: TaskRun {run_ns.name}/{name} Failed: the container exited with code 3: "
            "cannot reach https://example.org/sample.txt; exit code 3; 1 attempt(s)"
        ) in run.output, run.describe()
        assert f"[{name}] cannot reach https://example.org/sample.txt" in run.output, run.describe()
        assert taskruns(run_ns) == []


class TestModes:
    def test_poke_reschedule_and_deferred_sensors_each_wait_their_way(
        self, run_dag: Callable[..., DagRun], run_ns: Namespace
    ) -> None:
        run = run_dag("sensor-modes", {"message": "modes"})
        assert run.state == "success", run.describe()
        for mode in ("poke", "reschedule", "deferred"):
            pushed = run.task(mode)["xcom"]
            assert pushed["taskrun"] == run_name(mode, run.result["run_id"]), pushed
            assert pushed["namespace"] == run_ns.name  # the default: $TASK_API_NAMESPACE
            downloads = (output_dir(run_ns, pushed["outputs"]["downloads"]) / "data.txt").read_text()
            assert downloads == "modes from https://example.org/sample.txt\n" * 2
            assert f"[{pushed['taskrun']}] downloaded 2 line(s): modes" in run.output, run.describe()
        # Each TaskRun was still running when its sensor started (it sleeps 3 s), so each waited its own way.
        assert "Rescheduling task, marking task as UP_FOR_RESCHEDULE" in run.output, run.describe()
        assert "[DAG TEST] running trigger in line" in run.output, run.describe()
        assert f"TaskRun {run_ns.name}/{run_name('deferred', run.result['run_id'])} is" in run.output
        # The sensor owns nothing: the TaskRuns stay.
        assert sorted(tr["status"]["reason"] for tr in taskruns(run_ns)) == ["Succeeded"] * 3


class TestFailures:
    def test_retryable_and_final_failures_and_a_missing_taskrun(
        self, run_dag: Callable[..., DagRun], run_ns: Namespace
    ) -> None:
        run = run_dag("sensor-split")
        assert run.state == "failed", run.describe()
        run_id = run.result["run_id"]
        crash, invalid, missing = (run.task(t) for t in ("crash", "invalid", "missing"))
        assert crash["state"] == invalid["state"] == missing["state"] == "failed", run.describe()
        # Failed is retryable: the sensor used its one retry (and found the same failed run again).
        assert crash["try_number"] == 2, run.describe()
        assert f"{run_name('crash', run_id)} Failed: the container exited with code 4: crashing on purpose" in (
            run.output
        ), run.describe()
        # InvalidSpec is not: no retry, through the deferred path too.
        assert invalid["try_number"] == 1, run.describe()
        assert f"TaskRunFailedFinal: TaskRun {run_ns.name}/{run_name('invalid', run_id)} InvalidSpec" in run.output
        assert "LINES" in run.output
        # A TaskRun nobody created is an error naming it (retryable: a retry may find it created).
        assert missing["try_number"] == 2
        assert f"TaskRun {run_ns.name}/nobody-made-this does not exist" in run.output, run.describe()


@pytest.mark.parametrize(
    ("arguments", "wanted"),
    [
        ("deferrable=True, mode='reschedule'", "deferrable: deferrable=True and mode='reschedule' both free"),
        ("taskrun_name=''", "taskrun_name: required"),
    ],
)
def test_contradictory_sensor_arguments_are_refused_at_parse_time(
    airflow: Airflow, tmp_path: Path, arguments: str, wanted: str
) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    if "taskrun_name" not in arguments:
        arguments += ", taskrun_name='x'"
    (dags / "sensor_dag.py").write_text(
        "from airflow.sdk import DAG\nfrom task_api.airflow import TaskRunSensor\n"
        f"with DAG('bad-sensor', schedule=None):\n    TaskRunSensor(task_id='wait', {arguments})\n"
    )
    out = tmp_path / "errors.json"
    done = subprocess.run(
        [str(airflow.python), str(Path(__file__).parent / "run_dag.py"), "--import-errors", str(out)],
        env=airflow.env(AIRFLOW__CORE__DAGS_FOLDER=str(dags)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (message,) = json.loads(out.read_text())["import_errors"].values()
    assert "TaskRunSensor(task_id='wait')" in message and wanted in message, message
