"""A compromised operator is fenced: pods made with the operator's own ServiceAccount token that the operator would
never make are refused by the ValidatingAdmissionPolicy in manifests/ (manifests/base/210-admission-policy.yaml);
the operator's real pods still pass.

Each pod is sent with server-side dry run: admission runs in full (the policy decides), nothing is created. The
token comes from the TokenRequest API, as the operator's own projected token does. Before issue 13 each of these
pods was accepted: the ServiceAccount may create pods in every namespace and nothing looked at what they were.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from task_api.core.pod import ChannelMount, ChannelVolume, Owner, PodPlan, RunAs, build_task_pod
from tests.e2e.conftest import Namespace, condition
from tests.fixtures.testbed import Testbed
from tests.security.conftest import kubeconfig_for_token, operator_token

pytestmark = pytest.mark.cluster


def legit_pod(namespace: str, image: str) -> dict[str, Any]:
    """The pod the operator builds for a run (core/pod.py), as it would send it."""
    plan = PodPlan(
        owner=Owner(name="fenced", namespace=namespace, uid="00000000-0000-4000-8000-000000000013"),
        attempt=1,
        image=image,
        command=["true"],
        env=[("A", "1")],
        mounts=[ChannelMount("out", "/data/out", ChannelVolume(claim_name="results"), read_only=False)],
        run_as=RunAs(user=1000, group=1000, fs_group=1000),  # the operator's default (TASK_API_RUN_AS_USER)
    )
    return build_task_pod(plan)


def as_operator(testbed: Testbed, kubeconfig: Path, pod: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(testbed.kubectl), "--kubeconfig", str(kubeconfig), "create", "--dry-run=server", "-o", "name", "-f", "-"],
        input=json.dumps(pod), capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def _set(pod: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(pod)
    node: Any = out
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    last = keys[-1]
    if value is DELETE:
        del node[last]
    elif last.isdigit() and int(last) == len(node):
        node.append(value)
    else:
        node[int(last) if last.isdigit() else last] = value
    return out


DELETE = object()
HOST_ETC = {"name": "host", "hostPath": {"path": "/etc", "type": "Directory"}}
MOUNT_HOST = {"name": "host", "mountPath": "/host", "readOnly": True}

#: (what, change to the legit pod, words of the policy's message)
FORBIDDEN = [
    ("no managed-by label", ("metadata.labels", {}), "labelled app.kubernetes.io/managed-by=task-api-operator"),
    ("not owned by a TaskRun", ("metadata.ownerReferences", DELETE), "controlled by a TaskRun"),
    (
        "privileged",
        ("spec.containers.0.securityContext", {"privileged": True, "capabilities": {"drop": ["ALL"]}}),
        "none is privileged",
    ),
    (
        "privilege escalation",
        ("spec.containers.0.securityContext.allowPrivilegeEscalation", True),
        "allowPrivilegeEscalation=false",
    ),
    ("hostNetwork", ("spec.hostNetwork", True), "no host namespaces"),
    ("hostPID", ("spec.hostPID", True), "no host namespaces"),
    ("hostIPC", ("spec.hostIPC", True), "no host namespaces"),
    (
        "an added capability",
        ("spec.containers.0.securityContext.capabilities", {"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
        "adds none",
    ),
    ("capabilities kept", ("spec.containers.0.securityContext.capabilities", {}), "drops ALL capabilities"),
    (
        "a host port",
        ("spec.containers.0.ports", [{"containerPort": 80, "hostPort": 80}]),
        "no container binds a host port",
    ),
    ("the ServiceAccount token", ("spec.automountServiceAccountToken", True), "mount no ServiceAccount token"),
    ("a chosen node", ("spec.nodeName", "somewhere"), "pick no"),
    ("a root container", ("spec.containers.0.securityContext.runAsUser", 0), "runs as a non-root uid"),
    (
        "a container that may be root",
        ("spec.containers.0.securityContext.runAsNonRoot", DELETE),
        "runs as a non-root uid",
    ),
    (
        "a secret volume",
        ("spec.volumes.1", {"name": "s", "secret": {"secretName": "anything"}}),
        "only persistentVolumeClaim, hostPath and emptyDir",
    ),
]


@pytest.fixture
def operator_kubeconfig(operator: Any, testbed: Testbed, tmp_path: Path) -> Path:
    return kubeconfig_for_token(testbed, operator_token(testbed), tmp_path)


def test_the_operators_own_pod_passes(
    operator_kubeconfig: Path, testbed: Testbed, kube_namespace: str, testbed_busybox_image: str
) -> None:
    done = as_operator(testbed, operator_kubeconfig, legit_pod(kube_namespace, testbed_busybox_image))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "pod/fenced-a1"


@pytest.mark.parametrize(("what", "change", "message"), FORBIDDEN, ids=[f[0] for f in FORBIDDEN])
def test_a_pod_the_operator_never_makes_is_refused(
    operator_kubeconfig: Path,
    testbed: Testbed,
    kube_namespace: str,
    what: str,
    change: tuple[str, Any],
    message: str,
) -> None:
    pod = _set(legit_pod(kube_namespace, "busybox"), *change)
    done = as_operator(testbed, operator_kubeconfig, pod)
    assert done.returncode != 0, f"{what}: accepted"
    assert "ValidatingAdmissionPolicy 'task-api-operator-pods'" in done.stderr, done.stderr
    assert message in done.stderr, done.stderr


@pytest.mark.parametrize("namespace", ["kube-system", "task-api-system"])
def test_no_pod_in_a_system_namespace(operator_kubeconfig: Path, testbed: Testbed, namespace: str) -> None:
    done = as_operator(testbed, operator_kubeconfig, legit_pod(namespace, "busybox"))
    assert done.returncode != 0
    assert f"the operator does not serve namespace {namespace}" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("volume", "mount"),
    [
        (HOST_ETC, MOUNT_HOST),  # no root is allowed on the test bed: no host path at all
        ({"name": "host", "hostPath": {"path": "/", "type": "Directory"}}, MOUNT_HOST),
        ({"name": "host", "hostPath": {"path": "/etc", "type": "DirectoryOrCreate"}}, MOUNT_HOST),
    ],
)
def test_no_host_path_outside_the_allowed_roots(
    operator_kubeconfig: Path, testbed: Testbed, kube_namespace: str, volume: Any, mount: Any
) -> None:
    pod = legit_pod(kube_namespace, "busybox")
    pod["spec"]["volumes"].append(volume)
    pod["spec"]["containers"][0]["volumeMounts"].append(mount)
    done = as_operator(testbed, operator_kubeconfig, pod)
    assert done.returncode != 0
    assert "hostPath volumes must be existing directories (type Directory) under an allowed root" in done.stderr
    assert "TASK_API_ALLOWED_HOST_PATH_ROOTS: none" in done.stderr


def test_the_fence_is_for_the_operator_only(testbed: Testbed, kube_namespace: str) -> None:
    # The admin creates a pod the operator could not: the policy matches the operator's ServiceAccount alone.
    pod = _set(legit_pod(kube_namespace, "busybox"), "metadata.labels", {})
    done = testbed.kubectl_run(
        "create", "--dry-run=server", "-o", "name", "-f", "-", input=json.dumps(pod), check=False
    )
    assert done.returncode == 0, done.stderr


def test_a_real_run_through_the_operator_still_succeeds(run_ns: Namespace, example_image: Any) -> None:
    hello = example_image("01-hello-world")
    (run_ns.workspace / "in").mkdir()
    (run_ns.workspace / "in" / "a.txt").write_text("a\n")
    body = {
        "apiVersion": "task-api.io/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": "fenced-but-fine"},
        "spec": {
            "image": hello,
            "imagePullSecrets": [{"name": "task-api-registry"}],
            "taskTemplate": "checksum",
            "inputs": [{"name": "in", "persistentVolumeClaim": {"claimName": "task-api-workspace", "subPath": "in"}}],
        },
    }
    run_ns.apply(json.dumps(body))
    run = run_ns.wait_finished("fenced-but-fine", timeout=300)
    assert condition(run)["status"] == "True", run["status"]
