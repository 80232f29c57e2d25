"""Airflow DAGs against the test bed with the kubeconfigs users bring (the CLI's side:
tests/e2e/test_cluster_access.py).

Each runs ``tr-slow`` (download, then process for SLEEP seconds) with ``KUBECONFIG`` pointing at: an exec
credential plugin whose tokens (TokenRequest API) expire every few seconds, a tenant with only ``edit`` in the
run's namespace, and a two-file ``KUBECONFIG`` list.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.airflow.conftest import DagRun
from tests.e2e.conftest import Namespace
from tests.e2e.test_cluster_access import LIFETIME, LONG_RUN, exec_kubeconfig
from tests.fixtures.kubeconfigs import plugin_runs, split_kubeconfig
from tests.fixtures.sa_tenant import Tenant
from tests.fixtures.testbed import Testbed

pytestmark = [pytest.mark.airflow, pytest.mark.cluster]


def slow(run_dag: Callable[..., DagRun], kubeconfig: str, seconds: int) -> DagRun:
    run = run_dag("tr-slow", {"task_form": {"proc": {"SLEEP": seconds}}}, env={"KUBECONFIG": kubeconfig})
    assert run.state == "success", run.describe()
    assert [run.task(t)["state"] for t in ("get", "proc")] == ["success", "success"], run.describe()
    return run


def test_exec_plugin_runs_again_during_a_long_task(
    run_dag: Callable[..., DagRun], testbed: Testbed, run_ns: Namespace, tmp_path: Path
) -> None:
    kubeconfig, log = exec_kubeconfig(testbed, run_ns.name, tmp_path, lifetime=LIFETIME)
    slow(run_dag, str(kubeconfig), LONG_RUN)
    assert plugin_runs(log) >= 3, log.read_text()


def test_tenant_with_edit_only(
    run_dag: Callable[..., DagRun], run_ns: Namespace, tenant_kubeconfig: Callable[[str], Tenant]
) -> None:
    slow(run_dag, str(tenant_kubeconfig(run_ns.name).kubeconfig), 0)


def test_kubeconfig_list_of_two_files(
    run_dag: Callable[..., DagRun], run_ns: Namespace, tenant_kubeconfig: Callable[[str], Tenant], tmp_path: Path
) -> None:
    doc = yaml.safe_load(tenant_kubeconfig(run_ns.name).kubeconfig.read_text())
    slow(run_dag, split_kubeconfig(doc, tmp_path / "a", tmp_path / "b"), 0)
