"""Fixtures for the Airflow tests: real Airflow 3 in its own venv, a migrated SQLite database, real pods.

Airflow pins many packages, so it lives in ``.venv-airflow`` (``make airflow-venv``, run by the ``airflow``
fixture: a no-op when warm). The tests themselves run in the project's venv and drive Airflow in subprocesses
with that venv's python, as a scheduler would run a task: ``tests/airflow/run_dag.py`` loads the DAGs from a
DAGS_FOLDER with Airflow's DagBag and runs one with ``dag.test()`` against ``$AIRFLOW_HOME`` (migrated with
``airflow db migrate``). The DAGS_FOLDER holds ``examples/04-airflow/dags`` (the guide's DAG among them),
``tests/airflow/dags``, and Kaapana's dummy workflow DAG rendered as Kaapana's Helm chart renders it.

Cluster-side fixtures come from ``tests/e2e/conftest.py``: the deployed operator, the example image pushed to the
test bed registry, and ``run_ns`` (a namespace with the pull secret and the workspace claim).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import conftest as e2e
from tests.e2e.conftest import PULL_SECRET, Namespace
from tests.fixtures.docker import DockerEngine
from tests.fixtures.kaapana import dummy_context, render_dag
from tests.fixtures.testbed import Testbed

# The end-to-end fixtures, registered here too (tests/conftest.py registers only tests/fixtures/).
operator = e2e.operator
example_image = e2e.example_image
run_ns = e2e.run_ns

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
AIRFLOW_VENV = ROOT / ".venv-airflow"


@dataclass(frozen=True)
class Airflow:
    """A migrated Airflow home and a DAGS_FOLDER, driven through ``.venv-airflow``'s python."""

    home: Path
    dags: Path
    python: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW__", "TASK_API_")) and k not in ("PYTHONPATH", "KUBECONFIG")
        }
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                # Airflow puts the DAGS_FOLDER on sys.path; the guide's DAG imports its kaapana stand-in from there.
                "PYTHONPATH": str(self.dags),
            }
        )
        env.update(extra)
        return env

    def airflow(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python.parent / "airflow"), *args],
            env=dict(env or self.env()),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )


@pytest.fixture(scope="session")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Airflow:
    """``make airflow-venv`` (idempotent), a fresh AIRFLOW_HOME with ``airflow db migrate``, the DAGS_FOLDER."""
    done = subprocess.run(
        ["make", "--no-print-directory", "airflow-venv"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"make airflow-venv failed:\n{(done.stdout + done.stderr)[-3000:]}", pytrace=False)
    home = tmp_path_factory.mktemp("airflow-home")
    dags = home / "dags"
    shutil.copytree(ROOT / "examples" / "04-airflow" / "dags", dags)
    for dag_file in (HERE / "dags").glob("*.py"):
        if dag_file.name != "__init__.py":
            shutil.copy(dag_file, dags / dag_file.name)
    render_dag(dags)  # Kaapana's dummy workflow, {{ dag_id }} filled in
    flow = Airflow(home=home, dags=dags, python=AIRFLOW_VENV / "bin" / "python")
    # Creating Airflow 3's schema took over 300 s on this 2-core machine under load (every Airflow test then erred).
    migrated = flow.airflow("db", "migrate", timeout=900)
    if migrated.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{(migrated.stdout + migrated.stderr)[-3000:]}", pytrace=False)
    return flow


@dataclass
class DagRun:
    """What ``run_dag.py`` reported, and the process output (the task logs)."""

    result: dict[str, Any]
    output: str
    seconds: float
    returncode: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> str:
        return str(self.result.get("state"))

    def task(self, task_id: str) -> dict[str, Any]:
        tasks: dict[str, dict[str, Any]] = self.result.get("tasks") or {}
        assert task_id in tasks, f"no task {task_id} in {tasks}"
        return tasks[task_id]

    def describe(self) -> str:
        return f"result {json.dumps(self.result)[:2000]}\n--- output (tail) ---\n{self.output[-6000:]}"


@pytest.fixture(scope="session")
def guide_image(example_image: Callable[[str], str]) -> str:
    """The example image with the guide's three templates, in the test bed registry."""
    return example_image("04-airflow")


@dataclass(frozen=True)
class KaapanaImage:
    """Where Kaapana's dummy image is: its DAGs name it ``f"{DEFAULT_REGISTRY}/dummy:{KAAPANA_BUILD_VERSION}"``."""

    default_registry: str
    build_version: str

    def env(self) -> dict[str, str]:
        """What the DAGs' ``kaapana.blueprints.kaapana_global_variables`` stand-in reads."""
        return {"DEFAULT_REGISTRY": self.default_registry, "KAAPANA_BUILD_VERSION": self.build_version}


@pytest.fixture(scope="session")
def kaapana_image(
    testbed: Testbed, docker_engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory
) -> KaapanaImage:
    """Kaapana's dummy workflow image (pc-dummy-workflow.json, busybox scripts) pushed to the test bed registry."""
    image = KaapanaImage(default_registry=f"{testbed.registry}/kaapana", build_version="e2e")
    ref = f"{image.default_registry}/dummy:{image.build_version}"
    docker_engine.login(testbed.registry, testbed.registry_user, testbed.registry_password)
    docker_engine.build(dummy_context(tmp_path_factory.mktemp("kaapana-dummy")), ref)
    docker_engine.push(ref)
    return image


@pytest.fixture
def dag_env(airflow: Airflow, testbed: Testbed, run_ns: Namespace, guide_image: str) -> dict[str, str]:
    """The environment a DAG runs with: the test bed, the test's namespace, the pull secret, the image."""
    return airflow.env(
        KUBECONFIG=str(testbed.kubeconfig),
        TASK_API_NAMESPACE=run_ns.name,
        TASK_API_IMAGE_PULL_SECRETS=PULL_SECRET,
        TASK_API_EXAMPLE_IMAGE=guide_image,
        DEFAULT_REGISTRY=guide_image.rsplit("/", 1)[0],
        KAAPANA_BUILD_VERSION=guide_image.rsplit(":", 1)[1],
    )


@pytest.fixture
def run_dag(airflow: Airflow, dag_env: dict[str, str], tmp_path: Path) -> Callable[..., DagRun]:
    """``run_dag(dag_id, conf=None, env=None) -> DagRun``: one ``dag.test()`` run in a subprocess."""

    def run(dag_id: str, conf: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> DagRun:
        out = tmp_path / f"{dag_id}-{time.monotonic_ns()}.json"
        args = [str(airflow.python), str(HERE / "run_dag.py"), dag_id, str(out), json.dumps(conf or {})]
        started = time.monotonic()
        done = subprocess.run(
            args, env={**dag_env, **(env or {})}, capture_output=True, text=True, check=False, timeout=900
        )
        seconds = time.monotonic() - started
        result = json.loads(out.read_text()) if out.exists() else {}
        return DagRun(result=result, output=done.stdout + done.stderr, seconds=seconds, returncode=done.returncode)

    return run


@pytest.fixture
def start_dag(airflow: Airflow, dag_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``start_dag(dag_id, conf) -> (Popen, result path)``: a run in the background (killed after the test)."""
    started: list[subprocess.Popen[str]] = []

    def start(dag_id: str, conf: Mapping[str, Any] | None = None) -> tuple[subprocess.Popen[str], Path]:
        out = tmp_path / f"{dag_id}.json"
        log = (tmp_path / f"{dag_id}.log").open("w")
        proc = subprocess.Popen(
            [str(airflow.python), str(HERE / "run_dag.py"), dag_id, str(out), json.dumps(conf or {})],
            env=dag_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(proc)
        return proc, out

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
