"""Smoke tests proving the test bed is a real cluster: images come from the authenticated registry through
imagePullSecrets (and only through them), pods run on the kubelet and write into PersistentVolumeClaims the
host can read, logs come back through the API (apiserver -> kubelet), pods reach the API server but nothing
off this machine, Secrets are encrypted in etcd, namespaces and owners garbage-collect, and the apiserver
serves CRDs with CEL validation and runs the usual admission plugins.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.docker import BUSYBOX_DOCKERFILE, make_context
from tests.fixtures.testbed import Testbed, wait_for

pytestmark = pytest.mark.cluster


def _status_code(exc: BaseException) -> int | None:
    return getattr(exc, "status", None)


def _gone(read: Callable[[], Any]) -> bool:
    """True once ``read`` raises 404."""
    try:
        read()
    except Exception as exc:
        if _status_code(exc) == 404:
            return True
        raise
    return False


def _pod(name: str, image: str, command: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {"name": "main", "image": image, "imagePullPolicy": "Always", "command": ["sh", "-c", command]}
            ],
            **spec,
        },
    }


def _wait_for_phase(testbed: Testbed, namespace: str, name: str, *, timeout: float = 180) -> Any:
    """Waits until the pod Succeeded; fails with its status when it Failed or never finished."""
    deadline = time.monotonic() + timeout
    while True:
        pod = testbed.core_v1.read_namespaced_pod(name, namespace)
        if pod.status.phase == "Succeeded":
            return pod
        if pod.status.phase == "Failed" or time.monotonic() > deadline:
            pytest.fail(f"pod {namespace}/{name} is {pod.status.phase}: {pod.status}")
        time.sleep(0.3)


@pytest.fixture
def token_image(build_and_push: Callable[..., str], tmp_path: Path) -> tuple[str, str]:
    """An image with a random token baked in, pushed under a unique tag: (ref, token)."""
    token = secrets.token_hex(8)
    context = make_context(
        tmp_path / "context",
        BUSYBOX_DOCKERFILE + "COPY token.txt /smoke/token.txt\n",
        {"token.txt": f"token {token}\n"},
    )
    return build_and_push(context, "smoke/token", f"t{token}"), token


def test_pod_from_authenticated_registry_writes_pvc_logs_and_is_collected_with_its_namespace(
    testbed: Testbed,
    kube_namespace: str,
    registry_pull_secret: str,
    make_pvc: Callable[..., Path],
    token_image: tuple[str, str],
) -> None:
    image, token = token_image
    host_dir = make_pvc(kube_namespace, "results", "16Mi")
    command = (
        "cp /smoke/token.txt /out/result.txt && "
        'echo "pod says $(cat /smoke/token.txt) in $(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace)"'
    )
    pod = _pod(
        "writer",
        image,
        command,
        imagePullSecrets=[{"name": registry_pull_secret}],
        volumes=[{"name": "out", "persistentVolumeClaim": {"claimName": "results"}}],
    )
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "out", "mountPath": "/out"}]
    core = testbed.core_v1
    core.create_namespaced_pod(kube_namespace, pod)

    done = _wait_for_phase(testbed, kube_namespace, "writer")

    # The file the pod wrote into its claim is on the host, in the directory make_pvc returned.
    assert (host_dir / "result.txt").read_text() == f"token {token}\n"
    # Logs come back through the apiserver, which fetches them from the kubelet over TLS.
    logs = core.read_namespaced_pod_log("writer", kube_namespace)
    assert logs == f"pod says token {token} in {kube_namespace}\n"
    assert done.spec.node_name == testbed.node_name
    # The pull used the registry password; no component of the bed wrote it into its log.
    for log in sorted((testbed.state_dir / "log").glob("*.log")):
        assert testbed.registry_password.encode() not in log.read_bytes(), log

    core.delete_namespace(kube_namespace)
    wait_for(
        f"pod {kube_namespace}/writer to be deleted",
        lambda: _gone(lambda: core.read_namespaced_pod("writer", kube_namespace)),
        timeout=180,
    )
    wait_for(
        f"namespace {kube_namespace} to be deleted",
        lambda: _gone(lambda: core.read_namespace(kube_namespace)),
        timeout=180,
    )


@pytest.mark.parametrize(
    "credentials",
    [None, ("task-api", "not-the-password")],
    ids=["no pull secret", "wrong password"],
)
def test_pull_without_valid_credentials_fails(
    testbed: Testbed,
    kube_namespace: str,
    token_image: tuple[str, str],
    credentials: tuple[str, str] | None,
) -> None:
    image, _ = token_image
    core = testbed.core_v1
    spec: dict[str, Any] = {}
    if credentials is not None:
        payload = testbed.dockerconfigjson(username=credentials[0], password=credentials[1])
        core.create_namespaced_secret(
            kube_namespace,
            {
                "metadata": {"name": "wrong"},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": base64.b64encode(payload).decode()},
            },
        )
        spec["imagePullSecrets"] = [{"name": "wrong"}]
    core.create_namespaced_pod(kube_namespace, _pod("puller", image, "true", **spec))

    reasons: list[str] = []

    def pull_failed() -> bool:
        statuses = core.read_namespaced_pod("puller", kube_namespace).status.container_statuses or []
        waiting = [s.state.waiting for s in statuses if s.state and s.state.waiting]
        reasons[:] = [w.reason for w in waiting]
        return any(r in ("ErrImagePull", "ImagePullBackOff") for r in reasons)

    wait_for(f"an image pull error for {image}", pull_failed, timeout=180)
    assert core.read_namespaced_pod("puller", kube_namespace).status.phase == "Pending"
    events = core.list_namespaced_event(kube_namespace, field_selector="involvedObject.name=puller").items
    failures = [e.message for e in events if e.reason == "Failed"]
    assert any("401 Unauthorized" in m or "authorization failed" in m for m in failures), failures
    # The registry's real password never appears in what the cluster reports.
    assert all(testbed.registry_password not in m for m in failures)


def test_pods_reach_the_api_server_but_nothing_off_this_machine(
    testbed: Testbed, kube_namespace: str, registry_pull_secret: str, testbed_busybox_image: str
) -> None:
    # 198.51.100.1 (TEST-NET-2) stands for "anywhere else": the guard rejects it at once (no timeout).
    command = (
        f"nc -w 3 {testbed.node_ip} 6443 </dev/null && echo api-server reachable; "
        "nc -w 3 198.51.100.1 80 </dev/null 2>&1; echo outside exit $?"
    )
    pod = _pod("net", testbed_busybox_image, command, imagePullSecrets=[{"name": registry_pull_secret}])
    testbed.core_v1.create_namespaced_pod(kube_namespace, pod)
    _wait_for_phase(testbed, kube_namespace, "net")
    logs = testbed.core_v1.read_namespaced_pod_log("net", kube_namespace).splitlines()
    assert logs[0] == "api-server reachable"
    assert logs[1:] == ["nc: can't connect to remote host (198.51.100.1): Network is unreachable", "outside exit 1"]


def test_secrets_are_encrypted_at_rest_in_etcd(testbed: Testbed, kube_namespace: str) -> None:
    import httpx  # noqa: PLC0415

    value = secrets.token_hex(16)
    testbed.core_v1.create_namespaced_secret(
        kube_namespace, {"metadata": {"name": "plain"}, "stringData": {"value": value}}
    )
    # Read the stored bytes straight from etcd (its JSON gateway), as the API server's etcd client.
    info = json.loads((testbed.state_dir / "testbed.json").read_text())
    pki = Path(info["pki_dir"])
    key = base64.b64encode(f"/registry/secrets/{kube_namespace}/plain".encode()).decode()
    tls = ssl.create_default_context(cafile=pki / "ca.crt")
    tls.load_cert_chain(pki / "apiserver-etcd-client.crt", pki / "apiserver-etcd-client.key")
    with httpx.Client(verify=tls) as etcd:
        answer = etcd.post(f"{info['etcd']}/v3/kv/range", json={"key": key})
    stored = base64.b64decode(answer.json()["kvs"][0]["value"])
    assert stored.startswith(b"k8s:enc:secretbox:v1:key1:")
    assert value.encode() not in stored


def test_dependents_are_garbage_collected_with_their_owner(testbed: Testbed, kube_namespace: str) -> None:
    core = testbed.core_v1
    owner = core.create_namespaced_config_map(kube_namespace, {"metadata": {"name": "owner"}})
    reference = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    core.create_namespaced_config_map(
        kube_namespace, {"metadata": {"name": "dependent", "ownerReferences": [reference]}}
    )
    core.delete_namespaced_config_map("owner", kube_namespace, propagation_policy="Background")
    wait_for(
        "the garbage collector to delete the dependent ConfigMap",
        lambda: _gone(lambda: core.read_namespaced_config_map("dependent", kube_namespace)),
        timeout=120,
    )


def test_crd_with_cel_validation_is_enforced(testbed: Testbed, kube_namespace: str) -> None:
    from kubernetes import client  # noqa: PLC0415 — optional dependency, only cluster tests need it

    group = f"s{secrets.token_hex(4)}.smoke.task-api.io"
    name = f"ranges.{group}"
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
                "x-kubernetes-validations": [{"rule": "self.min <= self.max", "message": "min must be <= max"}],
            }
        },
    }
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "ranges", "singular": "range", "kind": "Range"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
        },
    }
    extensions: Any = client.ApiextensionsV1Api(testbed.api_client)
    custom: Any = client.CustomObjectsApi(testbed.api_client)
    extensions.create_custom_resource_definition(crd)
    try:

        def established() -> bool:
            conditions = extensions.read_custom_resource_definition(name).status.conditions or []
            return any(c.type == "Established" and c.status == "True" for c in conditions)

        wait_for(f"CRD {name} to be Established", established, timeout=120)

        def create(obj_name: str, low: int, high: int) -> Any:
            body = {"apiVersion": f"{group}/v1", "kind": "Range", "metadata": {"name": obj_name}}
            body["spec"] = {"min": low, "max": high}
            return custom.create_namespaced_custom_object(group, "v1", kube_namespace, "ranges", body)

        # A freshly Established CRD can still be missing from the discovery cache for a moment.
        wait_for("the custom resource to be served", lambda: _created(lambda: create("good", 1, 2)), timeout=120)
        with pytest.raises(client.ApiException) as refused:
            create("bad", 3, 2)
        assert refused.value.status == 422
        assert "min must be <= max" in json.loads(refused.value.body or "{}")["message"]
    finally:
        extensions.delete_custom_resource_definition(name)


def _created(create: Callable[[], Any]) -> bool:
    try:
        create()
    except Exception as exc:
        if _status_code(exc) == 404:
            return False
        raise
    return True


def test_pod_security_admission_is_enforced(testbed: Testbed, kube_namespace: str) -> None:
    from kubernetes import client  # noqa: PLC0415

    core = testbed.core_v1
    core.patch_namespace(kube_namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    privileged = _pod("privileged", "127.0.0.1:5000/none:never", "true")
    privileged["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    with pytest.raises(client.ApiException) as refused:
        core.create_namespaced_pod(kube_namespace, privileged)
    assert refused.value.status == 403
    assert 'violates PodSecurity "restricted:latest"' in json.loads(refused.value.body or "{}")["message"]
