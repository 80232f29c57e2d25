"""Real Airflow 3 DAGs against the test bed: real TaskRuns, real pods, results read from the workspace claim.

Each test runs a DAG with ``dag.test()`` in ``.venv-airflow`` (see conftest.py) and checks what Airflow recorded
(task states, XCom), what the cluster holds (TaskRuns, pods, Secrets) and what the pods wrote.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.conftest import Airflow, DagRun
from tests.e2e.conftest import Namespace
from tests.fixtures.testbed import Testbed

pytestmark = [pytest.mark.airflow, pytest.mark.cluster]


def taskruns(ns: Namespace, task_id: str | None = None) -> list[dict[str, Any]]:
    args = ["get", "taskruns", "-o", "json"]
    if task_id:
        args += ["-l", f"task-api.io/airflow-task={task_id}"]
    items: list[dict[str, Any]] = json.loads(ns.kubectl(*args).stdout)["items"]
    return items


def output_dir(ns: Namespace, location: dict[str, str]) -> Path:
    """The host directory behind an XCom output location on the workspace claim."""
    assert location.get("claimName") == "task-api-workspace", location
    return ns.workspace / location["subPath"]


class TestPipelines:
    """Three tasks passing data along; the last reads what the first wrote."""

    def test_guide_dag_runs_unchanged(self, run_dag: Callable[..., DagRun], run_ns: Namespace) -> None:
        run = run_dag("test-task-operator")
        assert run.state == "success", run.describe()
        for task_id in ("get-data", "process-data", "upload-data"):
            assert run.task(task_id)["state"] == "success", run.describe()
        bucket = run.task("upload-data")["xcom"]["outputs"]["bucket"]
        uploaded = (output_dir(run_ns, bucket) / "results" / "data.txt").read_text()
        assert uploaded == "HELLO FROM HTTPS://EXAMPLE.ORG/SAMPLE.TXT\n" * 2
        # The pods' logs reached the Airflow task log.
        assert "uploading data.txt to bucket results" in run.output, run.describe()
        names = {tr["metadata"]["labels"]["task-api.io/airflow-task"] for tr in taskruns(run_ns)}
        assert names == {"get-data", "process-data", "upload-data"}

    def test_snake_case_pipeline_with_user_config(self, run_dag: Callable[..., DagRun], run_ns: Namespace) -> None:
        token = f"msg{secrets.token_hex(4)}"
        conf = {"task_form": {"download": {"env": {"MESSAGE": token, "LINES": 3}}, "process": {"MODE": "copy"}}}
        run = run_dag("task-api-pipeline", conf)
        assert run.state == "success", run.describe()
        xcom = run.task("upload")["xcom"]
        uploaded = (output_dir(run_ns, xcom["outputs"]["bucket"]) / "results" / "data.txt").read_text()
        # MESSAGE and LINES from the download's conf, MODE=copy from the process's (the guide's flat form).
        assert uploaded == f"{token} from https://example.org/sample.txt\n" * 3
        process = taskruns(run_ns, "process")[0]
        assert {"name": "MODE", "value": "copy"} in process["spec"]["env"]
        # The upload task waited deferred (conf-less defaults elsewhere), and still got its pod's log.
        assert "deferring" in run.output and "uploading data.txt" in run.output, run.describe()

    def test_invalid_user_config_fails_before_anything_runs(
        self, run_dag: Callable[..., DagRun], run_ns: Namespace
    ) -> None:
        conf = {"task_form": {"download": {"env": {"LINES": "7"}, "MESAGE": {"nested": 1}}}}
        run = run_dag("task-api-pipeline", conf)
        assert run.task("download")["state"] == "failed", run.describe()
        assert run.task("download")["try_number"] == 1
        assert "task_form.download.MESAGE: unknown key" in run.output, run.describe()
        run = run_dag("task-api-pipeline", {"task_form": {"download": {"env": {"LINES": "7"}}}})
        assert run.task("download")["state"] == "failed", run.describe()
        assert "conf.task_form.download.LINES: LINES: not one of the choices" in run.output, run.describe()
        assert 'given "7"' in run.output and 'allowed "1", "2", "3"' in run.output, run.describe()
        assert taskruns(run_ns) == []


class TestFailures:
    def test_failing_task_fails_the_airflow_task(self, run_dag: Callable[..., DagRun], run_ns: Namespace) -> None:
        run = run_dag("tr-fail")
        assert run.state == "failed", run.describe()
        assert run.task("get")["state"] == "success"
        assert run.task("crash")["state"] == "failed"
        assert run.task("after")["state"] == "upstream_failed"
        assert "TaskRunFailed" in run.output and "Failed" in run.output and "exit code 1" in run.output
        assert "failing on purpose (FAIL=true)" in run.output, run.describe()
        # Airflow retried once: each try got its own TaskRun, named by its try number.
        assert run.task("crash")["try_number"] == 2
        crashes = sorted(taskruns(run_ns, "crash"), key=lambda tr: tr["metadata"]["labels"]["task-api.io/airflow-try"])
        assert [tr["metadata"]["labels"]["task-api.io/airflow-try"] for tr in crashes] == ["1", "2"]
        assert "-t1-" in crashes[0]["metadata"]["name"] and "-t2-" in crashes[1]["metadata"]["name"]
        assert [tr["status"]["reason"] for tr in crashes] == ["Failed", "Failed"]
        assert taskruns(run_ns, "after") == []

    def test_timeout_is_reported_as_timed_out(self, run_dag: Callable[..., DagRun], run_ns: Namespace) -> None:
        run = run_dag("tr-timeout")
        assert run.task("slow")["state"] == "failed", run.describe()
        assert "TimedOut" in run.output, run.describe()
        (slow,) = taskruns(run_ns, "slow")
        assert slow["status"]["reason"] == "TimedOut"


class TestDeferred:
    def test_deferred_tasks_finish_through_the_trigger(self, run_dag: Callable[..., DagRun], run_ns: Namespace) -> None:
        run = run_dag("tr-deferred")
        assert run.state == "success", run.describe()
        assert run.output.count("deferring") == 2, run.describe()
        assert "[DAG TEST] running trigger in line" in run.output
        assert "processed 1 file(s) with MODE=upper" in run.output, run.describe()
        results = run.task("proc")["xcom"]["outputs"]["results"]
        assert (output_dir(run_ns, results) / "data.txt").read_text().startswith("HELLO FROM")


class TestKill:
    def test_killing_a_running_task_removes_its_taskrun_and_pod(
        self, start_dag: Callable[..., Any], run_ns: Namespace
    ) -> None:
        proc, out = start_dag("tr-slow", {"task_form": {"proc": {"SLEEP": 300}}})
        deadline = time.monotonic() + 240
        pod_name = None
        while time.monotonic() < deadline and pod_name is None:
            assert proc.poll() is None, "the DAG run ended before its slow task started"
            for tr in taskruns(run_ns, "proc"):
                status = tr.get("status") or {}
                if status.get("reason") == "Running" and status.get("podName"):
                    pod_name = status["podName"]
            time.sleep(1)
        assert pod_name, "the slow task's pod never ran"
        proc.send_signal(signal.SIGTERM)  # what Airflow's supervisor sends when a task is killed or cleared
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            pods = run_ns.kubectl("get", "pods", "-o", "name").stdout.split()
            if not taskruns(run_ns, "proc") and f"pod/{pod_name}" not in pods:
                break
            time.sleep(1)
        else:
            pytest.fail(f"TaskRun or pod {pod_name} still there after SIGTERM")
        proc.wait(timeout=120)
        result = json.loads(out.read_text())
        assert result["tasks"]["proc"]["state"] == "failed", result


class TestSecretEnv:
    def test_a_secret_env_value_reaches_the_container_and_nothing_else(
        self, run_dag: Callable[..., DagRun], run_ns: Namespace, airflow: Airflow
    ) -> None:
        value = f"sv-{secrets.token_hex(12)}"
        # RUN_DAG_MASK_LOGS: the masking a worker's task supervisor applies (dag.test() alone does not).
        run = run_dag("tr-secret-env", env={"AIRFLOW_VAR_TR_MESSAGE": value, "RUN_DAG_MASK_LOGS": "1"})
        assert run.state == "success", run.describe()
        # It reached the container: the task wrote its digest (not the value) to its output...
        xcom = run.task("get")["xcom"]
        digest = (output_dir(run_ns, xcom["outputs"]["downloads"]) / "digest.txt").read_text().strip()
        assert digest == hashlib.sha256(value.encode()).hexdigest()
        # ...and printed it, which Airflow's masker hid in the task log (mask_secret, not a sensitive Variable name).
        assert "the message is ***." in run.output, run.describe()
        (taskrun,) = taskruns(run_ns, "get")
        name = taskrun["metadata"]["name"]
        secret_name = f"{name}-env"
        assert {"name": "MESSAGE", "valueFrom": {"secretKeyRef": {"name": secret_name, "key": "MESSAGE"}}} in (
            taskrun["spec"]["env"]
        )
        assert {"name": "LINES", "value": "1"} in taskrun["spec"]["env"]
        # Positive control: the Secret, owned by the TaskRun, holds it (so the sweep below can find what it seeks).
        secret = run_ns.get("secret", secret_name)
        assert [(o["kind"], o["name"], o["uid"]) for o in secret["metadata"]["ownerReferences"]] == [
            ("TaskRun", name, taskrun["metadata"]["uid"])
        ]
        assert base64.b64decode(secret["data"]["MESSAGE"]).decode() == value
        corpus = {
            "taskrun (spec, status)": json.dumps(taskrun),
            "events": run_ns.kubectl("get", "events", "-o", "json").stdout,
            "pods": run_ns.kubectl("get", "pods", "-o", "json").stdout,
            "task log (run output)": run.output,
            "xcom": json.dumps(run.result),
        }
        for path in sorted((airflow.home / "logs").rglob("*")) if (airflow.home / "logs").is_dir() else []:
            if path.is_file():
                corpus[f"airflow log {path.relative_to(airflow.home)}"] = path.read_text(errors="replace")
        # The whole Airflow database: XCom, rendered template fields, serialized DAGs, task instances.
        for database in sorted(airflow.home.glob("*.db")):
            corpus[f"airflow database {database.name}"] = database.read_bytes().decode("latin-1")
        assert any(k.startswith("airflow database") for k in corpus), "no Airflow database to sweep"
        forms = (value, base64.b64encode(value.encode()).decode())
        leaked = sorted(where for where, text in corpus.items() if any(form in text for form in forms))
        assert not leaked, f"the secret env value appears in: {leaked}"
        run_ns.kubectl("delete", "taskrun", name, "--wait=true")
        deadline = time.monotonic() + 60
        while run_ns.kubectl("get", "secret", secret_name, check=False).returncode == 0:
            assert time.monotonic() < deadline, "the env Secret outlived its TaskRun"
            time.sleep(1)


class TestCredentials:
    def test_registry_credentials_become_an_owned_secret_and_stay_out_of_logs(
        self, run_dag: Callable[..., DagRun], run_ns: Namespace, testbed: Testbed
    ) -> None:
        run = run_dag(
            "tr-credentials",
            env={"TEST_REGISTRY_USER": testbed.registry_user, "TEST_REGISTRY_PASSWORD": testbed.registry_password},
        )
        assert run.state == "success", run.describe()
        assert testbed.registry_password not in run.output
        (taskrun,) = taskruns(run_ns, "get")
        assert taskrun["spec"].get("imagePullSecrets") is None
        secret_name = taskrun["spec"]["registryCredentialsSecret"]["name"]
        secret = run_ns.get("secret", secret_name)
        owners = secret["metadata"]["ownerReferences"]
        assert [(o["kind"], o["name"], o["uid"]) for o in owners] == [
            ("TaskRun", taskrun["metadata"]["name"], taskrun["metadata"]["uid"])
        ]
        assert testbed.registry_password not in json.dumps(taskrun)
        run_ns.kubectl("delete", "taskrun", taskrun["metadata"]["name"], "--wait=true")
        deadline = time.monotonic() + 60
        while run_ns.kubectl("get", "secret", secret_name, check=False).returncode == 0:
            assert time.monotonic() < deadline, "the credentials Secret outlived its TaskRun"
            time.sleep(1)
