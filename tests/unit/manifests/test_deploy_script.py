"""``hack/deploy-testbed.sh --render`` fills in the test bed's values, builds the pull secret without leaking the
password, and rejects bad input with a clear message. Runs the real script and kubectl's kustomize; applies nothing.
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.manifests.conftest import one
from tests.unit.manifests.kustomize import ROOT, find_kubectl, render_with_kubectl
from tests.unit.manifests.test_deployment import operator_container

SCRIPT = ROOT / "hack" / "deploy-testbed.sh"
PASSWORD = "s3cret-sentinel-4711"


@pytest.fixture
def kubectl() -> str:
    found = find_kubectl()
    if found is None:
        pytest.skip("no kubectl on this machine (hack/build-binaries.sh builds one); the script needs it")
    return found


def run(kubectl: str, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """I/O: the script with an isolated test bed state dir (so no real credentials are read)."""
    full = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "KUBECTL": kubectl,
        "TASK_API_STATE": str(tmp_path / "state"),
        "TASK_API_TESTBED_DIR": str(tmp_path / "state" / "testbed"),
        **env,
    }
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=full, cwd=tmp_path, check=False, timeout=120
    )


def render(
    kubectl: str, tmp_path: Path, *, extra: tuple[str, ...] = (), **env: str
) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    out = tmp_path / "rendered"
    result = run(
        kubectl,
        tmp_path,
        *extra,
        "--render",
        str(out),
        REGISTRY_USER="tester",
        REGISTRY_PASSWORD=PASSWORD,
        TESTBED_APISERVER_HOST="192.0.2.7",
        TESTBED_APISERVER_PORT="16443",
        **env,
    )
    assert result.returncode == 0, result.stderr
    return render_with_kubectl(kubectl, out), result


class TestRender:
    def test_api_server_address_replaces_the_placeholders(self, kubectl: str, tmp_path: Path) -> None:
        objs, _ = render(kubectl, tmp_path)
        env = {e["name"]: e.get("value") for e in operator_container(objs)["env"]}
        assert env["KUBERNETES_SERVICE_HOST"] == "192.0.2.7"
        assert env["KUBERNETES_SERVICE_PORT"] == "16443"
        assert "TESTBED_APISERVER" not in yaml.safe_dump_all(objs)

    def test_image_is_the_pushed_one_and_measuring_pods_use_it(self, kubectl: str, tmp_path: Path) -> None:
        objs, _ = render(kubectl, tmp_path)
        image = operator_container(objs)["image"]
        # Pinned by digest when Docker knows the pushed image, else the dev tag.
        assert re.fullmatch(r"127\.0\.0\.1:5000/task-api/operator(:dev|@sha256:[0-9a-f]{64})", image), image
        assert one(objs, "ConfigMap", "task-api-config")["data"]["TASK_API_MEASURE_IMAGE"] == image

    def test_pull_secret_carries_the_credentials(self, kubectl: str, tmp_path: Path) -> None:
        objs, _ = render(kubectl, tmp_path)
        secrets = [o for o in objs if o["kind"] == "Secret" and o["metadata"]["name"] == "task-api-registry"]
        # One for the operator, one for the node agent: a pod pulls only with Secrets of its own namespace.
        assert sorted(s["metadata"]["namespace"] for s in secrets) == ["task-api-node-agent", "task-api-system"]
        for secret in secrets:
            assert secret["type"] == "kubernetes.io/dockerconfigjson"
            config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
            assert base64.b64decode(config["auths"]["127.0.0.1:5000"]["auth"]).decode() == f"tester:{PASSWORD}"

    def test_the_agent_gets_the_api_server_and_the_beds_cgroup_root(self, kubectl: str, tmp_path: Path) -> None:
        objs, _ = render(kubectl, tmp_path, TESTBED_CGROUP_ROOT="/tapi-x")
        (agent,) = one(objs, "DaemonSet", "task-api-node-agent")["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in agent["env"]}
        assert (env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]) == ("192.0.2.7", "16443")
        assert env["TASK_API_AGENT_CGROUP_ROOT"] == "/tapi-x"
        assert agent["image"] == operator_container(objs)["image"]

    def test_namespaces_option_limits_what_the_operator_watches(self, kubectl: str, tmp_path: Path) -> None:
        objs, _ = render(kubectl, tmp_path, extra=("--namespaces", "team-a,team-b"))
        data = one(objs, "ConfigMap", "task-api-config")["data"]
        assert data["TASK_API_NAMESPACES"] == "team-a,team-b"
        # Namespaced mode: rights only there, one RoleBinding each, no cluster-wide binding of the operator (the node
        # agent keeps its own; the leader-election RoleBinding is in the operator's namespace, for its Lease only).
        operator = [o for o in objs if "RoleBinding" in o["kind"] and o["roleRef"]["name"] == "task-api-operator"]
        assert [o for o in operator if o["kind"] == "ClusterRoleBinding"] == []
        bindings = {o["metadata"]["namespace"]: o for o in operator if o["kind"] == "RoleBinding"}
        assert sorted(bindings) == ["team-a", "team-b"]
        for binding in bindings.values():
            assert binding["roleRef"]["kind"] == "ClusterRole" and binding["roleRef"]["name"] == "task-api-operator"
            assert binding["subjects"] == [
                {"kind": "ServiceAccount", "name": "task-api-operator", "namespace": "task-api-system"}
            ]

    def test_the_admission_policy_follows_namespaces_and_roots(self, kubectl: str, tmp_path: Path) -> None:
        objs, _ = render(kubectl, tmp_path, extra=("--namespaces", "team-a", "--host-path-roots", "/srv/in,/data/x"))
        data = one(objs, "ConfigMap", "task-api-config")["data"]
        assert data["TASK_API_ALLOWED_HOST_PATH_ROOTS"] == "/srv/in,/data/x"
        variables = {
            v["name"]: v["expression"].split("'")[1]
            for v in one(objs, "ValidatingAdmissionPolicy", "task-api-operator-pods")["spec"]["variables"]
            if v["name"] in ("served", "roots")
        }
        assert variables == {"served": "team-a", "roots": "/srv/in,/data/x"}

    def test_watches_everything_by_default(self, kubectl: str, tmp_path: Path) -> None:
        objs, _ = render(kubectl, tmp_path)
        assert one(objs, "ConfigMap", "task-api-config")["data"].get("TASK_API_NAMESPACES", "") == ""
        operator = [
            o["kind"] for o in objs if "RoleBinding" in o["kind"] and o["roleRef"]["name"] == "task-api-operator"
        ]
        assert operator == ["ClusterRoleBinding"]

    def test_the_password_is_never_printed(self, kubectl: str, tmp_path: Path) -> None:
        _, result = render(kubectl, tmp_path)
        assert PASSWORD not in result.stdout + result.stderr

    def test_rendered_directory_is_private(self, kubectl: str, tmp_path: Path) -> None:
        render(kubectl, tmp_path)
        out = tmp_path / "rendered"
        assert stat.S_IMODE(out.stat().st_mode) == 0o700
        assert stat.S_IMODE((out / "dockerconfig.json").stat().st_mode) == 0o600

    def test_credentials_from_the_test_bed_state_dir(self, kubectl: str, tmp_path: Path) -> None:
        # The layout hack/testbed/up.sh writes.
        registry = tmp_path / "state" / "testbed" / "registry"
        registry.mkdir(parents=True)
        (registry / "username").write_text("fromfile\n")
        (registry / "password").write_text(PASSWORD)
        result = run(kubectl, tmp_path, "--render", str(tmp_path / "r"), TESTBED_APISERVER_HOST="192.0.2.7")
        assert result.returncode == 0, result.stderr
        secrets = [
            o
            for o in render_with_kubectl(kubectl, tmp_path / "r")
            if o["kind"] == "Secret" and o["metadata"]["namespace"] == "task-api-system"
        ]
        (secret,) = secrets
        auth = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"]["127.0.0.1:5000"]["auth"]
        assert base64.b64decode(auth).decode() == f"fromfile:{PASSWORD}"


class TestBadInput:
    @pytest.mark.parametrize(
        ("args", "env", "message"),
        [
            (["--frobnicate"], {}, "unknown argument '--frobnicate' (allowed: --delete"),
            (["--render", "x"], {"TESTBED_APISERVER_HOST": "10.0.0.1;rm"}, "API server host '10.0.0.1;rm'"),
            (["--render", "x"], {"TESTBED_APISERVER_PORT": "70000"}, "API server port '70000'"),
            (["--render", "x"], {}, "no registry credentials: set REGISTRY_USER and REGISTRY_PASSWORD"),
            (["--namespaces", "Team_A", "--render", "x"], {}, "--namespaces 'Team_A' is not a comma-separated list"),
            (
                ["--host-path-roots", "data/x", "--render", "x"],
                {},
                "--host-path-roots 'data/x' is not a comma-separated",
            ),
            (["--host-path-roots", "/data/", "--render", "x"], {}, "no trailing '/'"),
        ],
        ids=[
            "unknown-argument",
            "bad-host",
            "bad-port",
            "no-credentials",
            "bad-namespaces",
            "relative-root",
            "root-with-slash",
        ],
    )
    def test_clear_error(
        self, kubectl: str, tmp_path: Path, args: list[str], env: dict[str, str], message: str
    ) -> None:
        result = run(kubectl, tmp_path, *args, **env)
        assert result.returncode != 0
        assert message in result.stderr
        assert "Traceback" not in result.stderr
