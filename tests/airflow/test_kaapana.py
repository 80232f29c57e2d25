"""Kaapana 0.6 DAGs with real Airflow: its shipped dummy workflow, and every operator argument its DAGs use.

``dummy-workflow`` is ``../shared/compat/kaapana/dags/dummy_workflow.py`` rendered as Kaapana's Helm chart renders
it (only ``{{ dag_id }}`` filled in; see conftest.py), importing ``task_api_operators``; it runs against the test bed
with Kaapana's dummy image built here (its real processing-container.json; busybox scripts for its programs).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.conftest import HERE, Airflow, DagRun, KaapanaImage
from tests.airflow.test_dags import taskruns
from tests.e2e.conftest import Namespace
from tests.fixtures.kaapana import DAG_ID

# Kaapana's conf format for per-run settings: task_form.<task>.env as a list of {name, value}.
QUICK = {"task_form": {t: {"env": [{"name": "TIME_SLEEP", "value": "1"}]} for t in ("upstream", "downstream")}}


def import_errors(airflow: Airflow, dags: Path, tmp_path: Path) -> dict[str, str]:
    out = tmp_path / "errors.json"
    done = subprocess.run(
        [str(airflow.python), str(HERE / "run_dag.py"), "--import-errors", str(out)],
        env=airflow.env(AIRFLOW__CORE__DAGS_FOLDER=str(dags), PYTHONPATH=str(dags)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    errors: dict[str, str] = json.loads(out.read_text())["import_errors"]
    return errors


@pytest.mark.airflow
class TestParsing:
    def test_kaapana_dags_import_unchanged(self, airflow: Airflow, tmp_path: Path) -> None:
        # The whole DAGS_FOLDER: the rendered dummy workflow, the Kaapana-style DAG, the guide's and ours.
        assert import_errors(airflow, airflow.dags, tmp_path) == {}
        rendered = (airflow.dags / "dummy_workflow.py").read_text()
        assert 'with DAG("dummy-workflow", default_args=args)' in rendered
        assert "from task_api_operators.KaapanaTaskOperator import IOMapping, KaapanaTaskOperator" in rendered

    def test_labels_kubernetes_would_refuse_are_refused_at_parse_time(self, airflow: Airflow, tmp_path: Path) -> None:
        dags = tmp_path / "dags"
        shutil.copytree(airflow.dags / "kaapana", dags / "kaapana")
        shutil.copy(HERE / "broken_kaapana_dag.py", dags / "broken_kaapana_dag.py")
        (message,) = import_errors(airflow, dags, tmp_path).values()
        assert "KaapanaTaskOperator(task_id='send')" in message
        assert "labels.network access: not a Kubernetes label key" in message
        assert "labels.tier: not a Kubernetes label value" in message
        assert "startup_timeout_seconds: not a number of seconds" in message


def pod(ns: Namespace, taskrun: dict[str, Any]) -> dict[str, Any]:
    return ns.get("pod", taskrun["status"]["podName"])


@pytest.mark.airflow
@pytest.mark.cluster
class TestKaapanaDags:
    def test_the_dummy_workflow_runs_unchanged(
        self, run_dag: Callable[..., DagRun], run_ns: Namespace, kaapana_image: KaapanaImage
    ) -> None:
        run = run_dag(DAG_ID, QUICK, env=kaapana_image.env())
        assert run.state == "success", run.describe()
        assert run.task("upstream")["state"] == run.task("downstream")["state"] == "success", run.describe()
        # Both channels reached the downstream task: it printed what it found in each of its inputs.
        assert "downstream read channel1/dummy.txt: Hello channel 1!" in run.output, run.describe()
        assert "downstream read channel2/dummy.txt: Hello channel 2!" in run.output, run.describe()
        (up,) = taskruns(run_ns, "upstream")
        (down,) = taskruns(run_ns, "downstream")
        assert down["spec"]["inputs"] == [
            {"name": "channel1", "fromTaskRun": {"name": up["metadata"]["name"], "output": "channel1"}},
            {"name": "channel2", "fromTaskRun": {"name": up["metadata"]["name"], "output": "channel2"}},
        ]
        assert down["spec"]["image"] == f"{kaapana_image.default_registry}/dummy:e2e"
        # Kaapana's defaults: an hour to leave Pending, 90 minutes to run.
        for taskrun in (up, down):
            assert (taskrun["spec"]["pendingTimeoutSeconds"], taskrun["spec"]["timeoutSeconds"]) == (3600, 5400)
        assert {"name": "TIME_SLEEP", "value": "1"} in down["spec"]["env"]

    def test_kaapanas_operator_arguments_reach_the_taskrun_and_the_pod(
        self, run_dag: Callable[..., DagRun], run_ns: Namespace, kaapana_image: KaapanaImage
    ) -> None:
        run = run_dag("kaapana-arguments", env=kaapana_image.env())
        assert run.state == "success", run.describe()
        (up,) = taskruns(run_ns, "upstream")
        spec = up["spec"]
        assert spec["env"] == [{"name": "TIME_SLEEP", "value": "0"}, {"name": "DUMMY", "value": "dummy"}]
        assert spec["resources"] == {"requests": {"memory": "16Mi"}, "limits": {"memory": "64Mi"}}
        assert (spec["pendingTimeoutSeconds"], spec["timeoutSeconds"]) == (600, 600)
        assert up["metadata"]["labels"]["network-access-ctp"] == "true"
        # The labels and annotations reach the task pod (what Kaapana's network policies select on).
        meta = pod(run_ns, up)["metadata"]
        assert meta["labels"]["network-access-ctp"] == "true"
        assert meta["annotations"]["example.org/owner"] == "kaapana-dags"
        # The downstream reads the channels crossed over, as its iochannel_maps say.
        assert "downstream read channel1/dummy.txt: Hello channel 2!" in run.output, run.describe()
        assert "downstream read channel2/dummy.txt: Hello channel 1!" in run.output, run.describe()
        (down,) = taskruns(run_ns, "downstream")
        assert "network-access-ctp" not in pod(run_ns, down)["metadata"].get("labels", {})
