"""Real Airflow 3 without a cluster: DAG files refused at parse time, the provider registration."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.airflow.conftest import HERE, Airflow

pytestmark = [pytest.mark.airflow]

RESOURCES_DAG = """
from airflow.sdk import DAG
from task_api.airflow import TaskRunOperator

with DAG("tr-resources", schedule=None):
    TaskRunOperator(task_id="t", image="127.0.0.1:5000/x:1", task_template="t",
                    resources={"limit": {"memory": "1Gi"}, "requests": {"memroy": "1Gi"}})
"""


class TestParsing:
    """No cluster needed: what Airflow does with the DAG files."""

    def test_upstream_that_is_not_a_taskrun_operator_is_refused_at_parse_time(
        self, airflow: Airflow, tmp_path: Path
    ) -> None:
        dags = tmp_path / "dags"
        dags.mkdir()
        shutil.copy(HERE / "broken_dag.py", dags / "broken_dag.py")
        out = tmp_path / "errors.json"
        done = subprocess.run(
            [str(airflow.python), str(HERE / "run_dag.py"), "--import-errors", str(out)],
            env=airflow.env(AIRFLOW__CORE__DAGS_FOLDER=str(dags)),
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        errors = json.loads(out.read_text())["import_errors"]
        (message,) = errors.values()
        assert "iochannel_maps[0].upstream_operator: must be a TaskRun operator" in message
        assert "EmptyOperator('start')" in message

    def test_resources_with_unknown_keys_are_refused_at_parse_time(self, airflow: Airflow, tmp_path: Path) -> None:
        dags = tmp_path / "dags"
        dags.mkdir()
        (dags / "resources_dag.py").write_text(RESOURCES_DAG)
        out = tmp_path / "errors.json"
        done = subprocess.run(
            [str(airflow.python), str(HERE / "run_dag.py"), "--import-errors", str(out)],
            env=airflow.env(AIRFLOW__CORE__DAGS_FOLDER=str(dags)),
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        (message,) = json.loads(out.read_text())["import_errors"].values()
        assert "resources.limit" in message and "did you mean 'limits'" in message
        assert "resources.requests.memroy" in message

    def test_provider_is_listed(self, airflow: Airflow) -> None:
        done = airflow.airflow("providers", "list", "-o", "json")
        assert done.returncode == 0, done.stderr[-2000:]
        listed = {p["package_name"]: p for p in json.loads(done.stdout[done.stdout.index("[") :])}
        assert "task-api" in listed
        assert "TaskRun" in listed["task-api"]["description"]
