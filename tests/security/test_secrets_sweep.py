"""No secret anywhere a tenant (or a log reader) can look: the registry password after real runs that used it.

Runs the Airflow DAG that hands the operator registry credentials (``tr-credentials``: the guide's
``registryUsername``/``registryPassword``; the Airflow operator turns them into a Secret owned by the TaskRun) and
a TaskRun whose ``registryCredentialsSecret`` names a Secret with the same password, then searches — for the
password as given, base64-encoded, and inside the base64 of ``user:password`` (tests/chaos/test_zz_secrets.py) —

* every Pod in the cluster (specs: env, args, annotations; status: termination messages),
* every TaskRun, ProcessingContainer, Event and ConfigMap in the cluster,
* the operator's log,
* the Airflow task log (the run's output and every file under ``$AIRFLOW_HOME/logs``),
* every XCom row of the Airflow database.

A positive control first finds the password where it must be (the per-run registry Secret), so an empty corpus or
a broken search cannot pass.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.airflow import conftest as airflow_fixtures
from tests.airflow.conftest import Airflow, DagRun
from tests.chaos.test_zz_secrets import hits, needles
from tests.e2e.conftest import Namespace
from tests.fixtures.testbed import Testbed
from tests.security.conftest import OPERATOR_NAMESPACE, finished, taskrun

pytestmark = [pytest.mark.cluster, pytest.mark.airflow, pytest.mark.timeout(1200)]

# The Airflow fixtures (a migrated AIRFLOW_HOME, dag.test() in .venv-airflow) from tests/airflow/conftest.py.
airflow = airflow_fixtures.airflow
dag_env = airflow_fixtures.dag_env
run_dag = airflow_fixtures.run_dag
guide_image = airflow_fixtures.guide_image


def _cluster(testbed: Testbed, kind: str) -> str:
    return testbed.kubectl_run("get", kind, "--all-namespaces", "-o", "json").stdout


def _xcom_rows(home: Path) -> str:
    rows: list[str] = []
    for database in sorted(home.glob("*.db")):
        with sqlite3.connect(database) as db:
            tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
            if "xcom" not in tables:
                continue
            for row in db.execute("select * from xcom"):
                rows.append(" ".join(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row))
    return "\n".join(rows)


def test_the_password_is_in_no_pod_status_event_log_or_xcom(
    testbed: Testbed,
    run_ns: Namespace,
    airflow: Airflow,
    run_dag: Callable[..., DagRun],
    example_image: Callable[[str], str],
) -> None:
    user, password = testbed.registry_user, testbed.registry_password
    forms = needles(user, password)
    run = run_dag("tr-credentials", env={"TEST_REGISTRY_USER": user, "TEST_REGISTRY_PASSWORD": password})
    assert run.state == "success", run.describe()
    # The same credentials once more, through registryCredentialsSecret of a TaskRun applied with kubectl.
    creds = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/basic-auth",
        "metadata": {"name": "registry-login", "labels": {"task-api.io/registry-credentials": "true"}},
        "stringData": {"username": user, "password": password},
    }
    run_ns.apply(json.dumps(creds))
    hello = example_image("01-hello-world")
    (run_ns.workspace / "in").mkdir()
    (run_ns.workspace / "in" / "a.txt").write_text("a\n")
    inputs = [{"name": "in", "persistentVolumeClaim": {"claimName": "task-api-workspace", "subPath": "in"}}]
    run_ns.apply(json.dumps(taskrun("with-login", hello, registryCredentialsSecret={"name": "registry-login"},
                                    inputs=inputs)))  # fmt: skip
    done = run_ns.wait_finished("with-login", timeout=300)

    # The run pulled with its per-run registry Secret (made from the credentials), which went when it finished.
    pod = json.loads(run_ns.kubectl("get", "pod", done["status"]["podName"], "-o", "json").stdout)
    assert {"name": "with-login-registry"} in pod["spec"]["imagePullSecrets"], "the run did not use the credentials"
    assert run_ns.kubectl("get", "secret", "with-login-registry", check=False).returncode != 0
    # Positive control: the credentials Secret holds the password, and the search finds it there.
    given: dict[str, Any] = json.loads(run_ns.kubectl("get", "secret", "registry-login", "-o", "json").stdout)
    control = base64.b64decode(given["data"]["password"]).decode() + json.dumps(given)
    assert hits({"control": control}, forms), "the search does not find the password where it is: broken sweep"

    corpus: dict[str, str] = {
        f"cluster {kind}": _cluster(testbed, kind)
        for kind in ("pods", "taskruns", "processingcontainers", "events", "configmaps")
    }
    corpus["operator log"] = testbed.kubectl_run(
        "logs", "-n", OPERATOR_NAMESPACE, "deployment/task-api-operator", "--tail=-1", check=False
    ).stdout
    corpus["airflow task log (run output)"] = run.output
    for log in sorted((airflow.home / "logs").rglob("*")) if (airflow.home / "logs").is_dir() else []:
        if log.is_file():
            corpus[f"airflow log {log.relative_to(airflow.home)}"] = log.read_text(errors="replace")
    corpus["airflow xcom"] = _xcom_rows(airflow.home)
    assert corpus["airflow xcom"], "no XCom rows found: the sweep would not see one with a password"
    assert finished(done.get("status") or {})
    leaked = hits(corpus, forms)
    assert not leaked, f"the registry password appears in: {sorted(leaked)}"
