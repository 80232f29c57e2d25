"""Cluster access with the credentials users bring, against the test bed's real API server (task_api.kube.access).

* an exec credential plugin printing a ServiceAccount token from the TokenRequest API with a short
  ``expirationTimestamp``: ``task-api run --mode k8s`` runs it again during a long run, and again after a 401;
  a failing plugin is one clear line naming it and its stderr;
* a tenant with only the ``edit`` role in one namespace (tests/fixtures/sa_tenant.py);
* a ``KUBECONFIG`` list of two files (cluster and context in one, the user in the other);
* ``proxy-url`` through a real CONNECT proxy, and ``tls-server-name`` when the server's address is not in its
  certificate (tests/fixtures/netrelay.py).

The same kinds of kubeconfig drive Airflow DAGs in tests/airflow/test_access.py.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from task_api.kube import ClusterAccess, Forbidden, KubeApiError, KubeClient
from task_api.kube.client import core_path, resource_path
from tests.e2e.conftest import Namespace
from tests.fixtures.kubeconfigs import (
    admin_parts,
    exec_user,
    kubeconfig_doc,
    plugin_runs,
    split_kubeconfig,
    write_exec_plugin,
    write_failing_plugin,
    write_kubeconfig,
)
from tests.fixtures.netrelay import ConnectProxy, TcpRelay
from tests.fixtures.sa_tenant import Tenant, grant_edit, token_command
from tests.fixtures.testbed import Testbed

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
#: A credential's lifetime in the plugin's ExecCredential, and a run several times as long.
LIFETIME = 10
LONG_RUN = 35


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "task_api.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=False)  # fmt: skip


def write_task(path: Path, *, image: str, namespace: str, command: list[str] | None = None) -> Path:
    """A task.json for the hello-world example, input and output on the claims "data" and "results"."""
    task: dict[str, Any] = {
        "name": "access",
        "image": image,
        "taskTemplate": "checksum",
        "inputs": [{"name": "in", "volume_source": {"persistentVolumeClaim": {"claimName": "data"}, "subPath": "in"}}],
        "outputs": [{"name": "out", "volume_source": {"persistentVolumeClaim": {"claimName": "results"}}}],
        "config": {"type": "k8s", "namespace": namespace, "imagePullSecrets": ["task-api-registry"]},
    }
    if command is not None:
        task["command"] = command
    path.write_text(json.dumps(task))
    return path


@pytest.fixture
def hello_task(
    run_ns: Namespace, make_pvc: Callable[..., Path], example_image: Callable[[str], str], tmp_path: Path
) -> Callable[..., Path]:
    """``hello_task(command=None) -> task.json`` in the test's namespace, its claims made and filled."""
    data = make_pvc(run_ns.name, "data")
    make_pvc(run_ns.name, "results")
    shutil.copytree(ROOT / "examples" / "01-hello-world" / "input", data / "in")
    image = example_image("01-hello-world")

    def make(command: list[str] | None = None) -> Path:
        return write_task(tmp_path / "task.json", image=image, namespace=run_ns.name, command=command)

    return make


def clean_env(testbed: Testbed, kubeconfig: str) -> dict[str, str]:
    return {**testbed.env(), "KUBECONFIG": kubeconfig}


def exec_kubeconfig(
    testbed: Testbed, namespace: str, directory: Path, *, lifetime: int, bad_first: bool = False
) -> tuple[Path, Path]:
    """A kubeconfig whose user is an exec plugin handing out tokens of a ServiceAccount with ``edit`` in
    ``namespace``; and the plugin's log (one line per run)."""
    grant_edit(testbed, namespace, "exec-user")
    log = directory / "plugin.log"
    plugin = write_exec_plugin(directory / "token-plugin", token_command=token_command(testbed, namespace, "exec-user",
                               duration="10m"), lifetime=lifetime, log=log, bad_first=bad_first)  # fmt: skip
    cluster, _ = admin_parts(testbed.kubeconfig)
    doc = kubeconfig_doc(clusters={"testbed": cluster}, users={"exec-user": exec_user(plugin)},
                         contexts={"exec": {"cluster": "testbed", "user": "exec-user", "namespace": namespace}},
                         current="exec")  # fmt: skip
    return write_kubeconfig(directory / "exec.kubeconfig", doc), log


class TestExecPlugin:
    def test_a_long_run_outlives_its_credential_and_the_plugin_runs_again(
        self, testbed: Testbed, run_ns: Namespace, hello_task: Callable[..., Path], tmp_path: Path
    ) -> None:
        kubeconfig, log = exec_kubeconfig(testbed, run_ns.name, tmp_path, lifetime=LIFETIME)
        task = hello_task(["sh", "-c", f"sleep {LONG_RUN}; echo slept"])
        done = cli(clean_env(testbed, str(kubeconfig)), "run", str(task), "--mode", "k8s")
        assert done.returncode == 0, done.stderr
        assert "slept" in done.stdout and "finished: Succeeded" in done.stderr
        # The CLI asks for the run's state every second for LONG_RUN s: the plugin ran again after each expiry.
        assert plugin_runs(log) >= 3, log.read_text()
        for line in log.read_text().splitlines():
            info = json.loads(line)
            assert info["kind"] == "ExecCredential" and info["spec"]["interactive"] is False

    def test_a_credential_the_server_refuses_makes_the_plugin_run_again(
        self, testbed: Testbed, run_ns: Namespace, hello_task: Callable[..., Path], tmp_path: Path
    ) -> None:
        kubeconfig, log = exec_kubeconfig(testbed, run_ns.name, tmp_path, lifetime=3600, bad_first=True)
        done = cli(clean_env(testbed, str(kubeconfig)), "run", str(hello_task()), "--mode", "k8s")
        assert done.returncode == 0, done.stderr
        # The first token is refused with 401; the next run's is used for the rest of the run.
        assert plugin_runs(log) == 2, log.read_text()

    def test_a_failing_plugin_is_one_line_naming_it_and_its_stderr(
        self, testbed: Testbed, run_ns: Namespace, hello_task: Callable[..., Path], tmp_path: Path
    ) -> None:
        plugin = write_failing_plugin(tmp_path / "sso-login", stderr="error: the SSO session has expired", code=2)
        cluster, _ = admin_parts(testbed.kubeconfig)
        doc = kubeconfig_doc(clusters={"c": cluster}, users={"u": exec_user(plugin, args=["token"])},
                             contexts={"x": {"cluster": "c", "user": "u"}}, current="x")  # fmt: skip
        kubeconfig = write_kubeconfig(tmp_path / "failing.kubeconfig", doc)
        done = cli(clean_env(testbed, str(kubeconfig)), "run", str(hello_task()), "--mode", "k8s")
        assert done.returncode == 1
        assert "Traceback" not in done.stderr
        assert f"the exec credential plugin '{plugin} token' failed" in done.stderr
        assert "the SSO session has expired" in done.stderr and "returned 2" in done.stderr
        assert run_ns.kubectl("get", "taskruns", "-o", "name").stdout.strip() == ""


def test_a_tenant_with_edit_only_runs_in_its_namespace_and_nowhere_else(
    testbed: Testbed,
    run_ns: Namespace,
    hello_task: Callable[..., Path],
    tenant_kubeconfig: Callable[[str], Tenant],
) -> None:
    tenant = tenant_kubeconfig(run_ns.name)
    done = cli(clean_env(testbed, str(tenant.kubeconfig)), "run", str(hello_task()), "--mode", "k8s")
    assert done.returncode == 0, done.stderr
    assert "finished: Succeeded" in done.stderr

    async def elsewhere() -> None:
        async with KubeClient(ClusterAccess.load(kubeconfig=tenant.kubeconfig)) as kube:
            await kube.list_items(resource_path(group="task-api.io", version="v1alpha1", plural="taskruns",
                                                namespace="default"))  # fmt: skip

    with pytest.raises(Forbidden):
        asyncio.run(elsewhere())


def test_a_kubeconfig_list_of_two_files(
    testbed: Testbed,
    run_ns: Namespace,
    hello_task: Callable[..., Path],
    tenant_kubeconfig: Callable[[str], Tenant],
    tmp_path: Path,
) -> None:
    import yaml  # noqa: PLC0415

    tenant = tenant_kubeconfig(run_ns.name)
    listing = split_kubeconfig(yaml.safe_load(tenant.kubeconfig.read_text()), tmp_path / "a", tmp_path / "b")
    assert "token" not in (tmp_path / "a").read_text()  # the user is only in the second file
    done = cli(clean_env(testbed, listing), "run", str(hello_task()), "--mode", "k8s")
    assert done.returncode == 0, done.stderr
    assert "finished: Succeeded" in done.stderr


def _namespace_of(access: ClusterAccess, name: str) -> dict[str, Any]:
    async def get() -> dict[str, Any]:
        async with KubeClient(access) as kube:
            return await kube.get(core_path("namespaces", name=name))

    return asyncio.run(get())


def test_proxy_url_carries_every_request(testbed: Testbed, run_ns: Namespace, tmp_path: Path) -> None:
    cluster, user = admin_parts(testbed.kubeconfig)
    with ConnectProxy() as proxy:
        doc = kubeconfig_doc(clusters={"c": {**cluster, "proxy-url": proxy.url}}, users={"u": user},
                             contexts={"x": {"cluster": "c", "user": "u"}}, current="x")  # fmt: skip
        access = ClusterAccess.load(kubeconfig=write_kubeconfig(tmp_path / "proxied", doc))
        assert _namespace_of(access, run_ns.name)["metadata"]["name"] == run_ns.name
    assert proxy.tunnels == [urlsplit(cluster["server"]).netloc]


def test_tls_server_name_is_the_name_the_certificate_is_checked_against(
    testbed: Testbed, run_ns: Namespace, tmp_path: Path
) -> None:
    cluster, user = admin_parts(testbed.kubeconfig)
    api = urlsplit(cluster["server"])
    assert api.hostname is not None and api.port is not None
    # 127.0.0.2 is loopback, and not in the API server's certificate.
    with TcpRelay("127.0.0.2", api.hostname, api.port) as relay:
        relayed = {**cluster, "server": f"https://127.0.0.2:{relay.port}"}
        for name, works in ((None, False), ("wrong.example", False), ("kubernetes.default", True)):
            settings = {**relayed, **({"tls-server-name": name} if name else {})}
            doc = kubeconfig_doc(clusters={"c": settings}, users={"u": user},
                                 contexts={"x": {"cluster": "c", "user": "u"}}, current="x")  # fmt: skip
            access = ClusterAccess.load(kubeconfig=write_kubeconfig(tmp_path / f"relayed-{name}", doc))
            if works:
                assert _namespace_of(access, run_ns.name)["metadata"]["name"] == run_ns.name
            else:
                with pytest.raises(KubeApiError, match="cannot reach the API server"):
                    _namespace_of(access, run_ns.name)
        assert relay.connections >= 3
