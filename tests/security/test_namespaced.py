"""Namespaced mode on the test bed: the operator serves only the namespaces it is given, and holds rights only there.

``hack/deploy-testbed.sh --namespaces NS`` deploys it so (TASK_API_NAMESPACES, one RoleBinding per namespace from
manifests/components/namespaced, no ClusterRoleBinding). A tenant with ``edit`` in a served and an unserved
namespace applies a TaskRun in each: only the served one runs; the other is never touched (no status, no pod), and
the operator's own token cannot create a pod there. Before issue 13 the operator watched only the listed
namespaces but could still create pods (and read Secrets) in every namespace, kube-system included.

The module redeploys the operator namespaced and, at the end, cluster-wide again (as the rest of the suite expects).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.tenant import Tenant
from tests.fixtures.testbed import Testbed
from tests.security.conftest import OPERATOR_NAMESPACE, finished, succeeded, taskrun, wait_status

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
SA = f"system:serviceaccount:{OPERATOR_NAMESPACE}:task-api-operator"


@dataclass(frozen=True)
class Bed:
    served: str
    other: str
    workspace: Path


def deploy(testbed: Testbed, *args: str) -> None:
    env = {**os.environ, "KUBECTL": str(testbed.kubectl), "KUBECONFIG": str(testbed.kubeconfig)}
    done = subprocess.run(
        [str(ROOT / "hack" / "deploy-testbed.sh"), *args], env=env, cwd=ROOT, capture_output=True, text=True,
        check=False, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


@pytest.fixture(scope="module")
def namespaced(operator: Any, testbed: Testbed) -> Iterator[Bed]:
    suffix = secrets.token_hex(3)
    served, other = f"served-{suffix}", f"unserved-{suffix}"
    for name in (served, other):
        testbed.kubectl_run("create", "namespace", name)
        testbed.kubectl_run("label", "namespace", name, "task-api.io/test-fixture=namespaced")
    payload = base64.b64encode(testbed.dockerconfigjson()).decode()
    for name in (served, other):
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "task-api-registry", "namespace": name},
            "data": {".dockerconfigjson": payload},
        }
        testbed.kubectl_run("create", "-f", "-", input=json.dumps(secret))
    workspace = testbed.make_pvc(served, "task-api-workspace")
    deploy(testbed, "--namespaces", served)
    try:
        yield Bed(served, other, workspace)
    finally:
        deploy(testbed)  # cluster-wide again, as every other suite expects
        testbed.delete_volume(workspace.name)
        for name in (served, other):
            testbed.kubectl_run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def tenant_in_both(namespaced: Bed, make_tenant: Callable[..., Tenant], testbed: Testbed) -> Tenant:
    tenant: Tenant = make_tenant(namespaced.served)
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": f"{tenant.name}-edit", "namespace": namespaced.other},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": tenant.name}],
    }
    testbed.kubectl_run("create", "-f", "-", input=json.dumps(binding))
    return tenant


def test_rights_only_in_the_served_namespace(namespaced: Bed, testbed: Testbed) -> None:
    def can(verb: str, resource: str, namespace: str) -> bool:
        done = testbed.kubectl_run("auth", "can-i", verb, resource, f"--as={SA}", "-n", namespace, check=False)
        return done.stdout.strip() == "yes"

    assert can("create", "pods", namespaced.served) and can("get", "secrets", namespaced.served)
    for namespace in (namespaced.other, "kube-system", "default"):
        assert not can("create", "pods", namespace), namespace
        assert not can("get", "secrets", namespace), namespace
        assert not can("watch", "taskruns.task-api.io", namespace), namespace
    bindings = testbed.kubectl_run("get", "clusterrolebinding", "task-api-operator", check=False)
    assert bindings.returncode != 0 and "NotFound" in bindings.stderr
    config = json.loads(
        testbed.kubectl_run("get", "configmap", "task-api-config", "-n", OPERATOR_NAMESPACE, "-o", "json").stdout
    )
    assert config["data"]["TASK_API_NAMESPACES"] == namespaced.served


def test_a_taskrun_in_a_namespace_the_operator_does_not_serve_is_left_alone(
    namespaced: Bed, tenant_in_both: Tenant, example_image: Callable[[str], str]
) -> None:
    hello = example_image("01-hello-world")
    inputs = [{"name": "in", "persistentVolumeClaim": {"claimName": "task-api-workspace", "subPath": "in"}}]
    spec: dict[str, Any] = {"imagePullSecrets": [{"name": "task-api-registry"}], "inputs": inputs}
    # The unserved one first: by the time the served one is done, the operator has had every chance to see it.
    tenant_in_both.kubectl(
        "apply", "-n", namespaced.other, "-f", "-", input=json.dumps(taskrun("elsewhere", hello, **spec))
    )
    (namespaced.workspace / "in").mkdir(exist_ok=True)
    (namespaced.workspace / "in" / "a.txt").write_text("a\n")
    tenant_in_both.apply(taskrun("here", hello, **spec))
    status = wait_status(tenant_in_both, "here", finished, timeout=600, what="the served run's end")
    assert succeeded(status) == "True", status
    elsewhere = json.loads(
        tenant_in_both.kubectl("get", "taskrun", "elsewhere", "-n", namespaced.other, "-o", "json").stdout
    )
    assert "status" not in elsewhere or not elsewhere["status"], elsewhere["status"]
    pods = json.loads(tenant_in_both.kubectl("get", "pods", "-n", namespaced.other, "-o", "json").stdout)["items"]
    assert pods == []
