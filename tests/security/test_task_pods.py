"""What the operator's task pods are made of, seen as a tenant on the test bed (docs/security.md): non-root by
default; env values from Secrets by reference only, and only from Secrets the run's author may read. These attacks
were open (tests/security/test_credentials_and_egress.py) until the reconciler stopped them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Namespace
from tests.fixtures.tenant import Tenant
from tests.fixtures.testbed import Testbed
from tests.security.conftest import finished, succeeded, taskrun, wait_status

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]


def test_task_containers_run_as_non_root_by_default(
    operator: Any, run_ns: Namespace, example_image: Callable[[str], str]
) -> None:
    hello = example_image("01-hello-world")
    (run_ns.workspace / "in").mkdir()
    (run_ns.workspace / "in" / "a.txt").write_text("a\n")
    inputs = [{"name": "in", "persistentVolumeClaim": {"claimName": "task-api-workspace", "subPath": "in"}}]
    run_ns.apply(json.dumps(taskrun("who", hello, imagePullSecrets=[{"name": "task-api-registry"}], inputs=inputs)))
    run = run_ns.wait_finished("who", timeout=300)
    pod = run_ns.get("pod", run["status"]["podName"])
    security = {**(pod["spec"].get("securityContext") or {}), **pod["spec"]["containers"][0]["securityContext"]}
    assert security.get("runAsNonRoot") is True and security.get("runAsUser", 0) != 0, security
    assert succeeded(run["status"]) == "True", "a non-root run must still write its output claim"


def test_env_values_come_from_secrets_and_never_show(
    operator: Any,
    tenant: Tenant,
    testbed: Testbed,
    example_image: Callable[[str], str],
    registry_pull_secret: str,
    make_pvc: Callable[..., Path],
) -> None:
    (make_pvc(tenant.namespace, "data") / "a.txt").write_text("a\n")
    make_pvc(tenant.namespace, "results")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "token", "namespace": tenant.namespace},
        "stringData": {"value": "s3cr3t-env-value-13"},
    }
    testbed.kubectl_run("apply", "-f", "-", input=json.dumps(secret))
    applied = tenant.apply(
        taskrun(
            "from-secret",
            example_image("01-hello-world"),
            imagePullSecrets=[{"name": registry_pull_secret}],
            inputs=[{"name": "in", "persistentVolumeClaim": {"claimName": "data"}}],
            outputs=[{"name": "out", "persistentVolumeClaim": {"claimName": "results"}}],
            env=[{"name": "GREETING", "valueFrom": {"secretKeyRef": {"name": "token", "key": "value"}}}],
        ),
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    wait_status(tenant, "from-secret", lambda s: bool(s.get("podName")) or finished(s), timeout=300)
    run = json.loads(tenant.kubectl("get", "taskrun", "from-secret", "-o", "json").stdout)
    assert run["status"].get("podName"), run["status"]
    pod = json.loads(tenant.kubectl("get", "pod", run["status"]["podName"], "-o", "json").stdout)
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env["GREETING"].get("valueFrom") == {"secretKeyRef": {"name": "token", "key": "value"}}
    assert "s3cr3t-env-value-13" not in json.dumps(run) + json.dumps(pod)


def test_a_user_who_cannot_read_a_secret_cannot_feed_it_to_a_run(
    operator: Any,
    make_tenant: Callable[..., Tenant],
    kube_namespace: str,
    testbed: Testbed,
    example_image: Callable[[str], str],
) -> None:
    # The operator would build the pod that reads it: without the fence, task-api-edit could print any Secret.
    narrow: Tenant = make_tenant(kube_namespace, role="task-api-edit")
    assert not narrow.can_i("get", "secrets")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db-login", "namespace": narrow.namespace},
        "stringData": {"password": "hunter2-db"},
    }
    testbed.kubectl_run("apply", "-f", "-", input=json.dumps(secret))
    applied = narrow.apply(
        taskrun(
            "exfiltrate",
            example_image("01-hello-world"),
            env=[{"name": "GREETING", "valueFrom": {"secretKeyRef": {"name": "db-login", "key": "password"}}}],
            command=["sh", "-c", "echo $GREETING"],
        ),
        check=False,
    )
    assert applied.returncode != 0, "a TaskRun naming a Secret its author cannot read was accepted"
    assert "may name only Secrets you may read" in applied.stderr and "db-login" in applied.stderr
