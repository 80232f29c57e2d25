"""The hostPath symlink escape, on the test bed with an allowed root (task_api/core/host_paths.py explains it).

The module redeploys the operator with a root (a fresh directory of this node: ``hack/deploy-testbed.sh
--host-path-roots``, which also puts it in the admission policy); at the end the root is taken away again. The
attack, as a tenant:

1. run "plant" writes ``x -> /`` into a host-path output under the root;
2. run "escape" asks for ``<root>/…/x/tmp/<name>`` as an output: text under the root, on the node ``/tmp/<name>``,
   created ``DirectoryOrCreate`` and mounted writable.

Before issue 13 both pods were created and the second wrote into the node's ``/tmp``. Today the reconciler refuses
such runs itself, before any pod, with the reason; behind it the admission policy refuses writable host paths and
``DirectoryOrCreate`` from the operator's ServiceAccount.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.tenant import Tenant
from tests.fixtures.testbed import Testbed
from tests.security.conftest import finished, message, succeeded, taskrun, wait_status

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]


def _deploy(testbed: Testbed, *args: str) -> None:
    env = {**os.environ, "KUBECTL": str(testbed.kubectl), "KUBECONFIG": str(testbed.kubeconfig)}
    done = subprocess.run(
        [str(ROOT / "hack" / "deploy-testbed.sh"), *args], env=env, cwd=ROOT, capture_output=True, text=True,
        check=False, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


@pytest.fixture(scope="module")
def root(operator: Any, testbed: Testbed) -> Iterator[Path]:
    path = testbed.state_dir / f"hostroot-{secrets.token_hex(3)}"
    path.mkdir(mode=0o755)
    # The operator and its admission policy both get the root (TASK_API_ALLOWED_HOST_PATH_ROOTS).
    _deploy(testbed, "--host-path-roots", str(path))
    try:
        yield path
    finally:
        _deploy(testbed)
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def hello(example_image: Callable[[str], str]) -> str:
    return example_image("01-hello-world")


def _run(tenant: Tenant, name: str, hello: str, *, until: Any = finished, **spec: Any) -> dict[str, Any]:
    tenant.apply(taskrun(name, hello, timeoutSeconds=120, **spec))
    return wait_status(tenant, name, until, timeout=300, what="the end of the run")


def _decided(status: dict[str, Any]) -> bool:
    """Refused, or accepted far enough to measure or run (the measuring pod is not bounded by timeoutSeconds)."""
    return finished(status) or status.get("reason") in ("Measuring", "Running") or bool(status.get("podName"))


def _stopped_by_the_fence(status: dict[str, Any]) -> bool:
    """Refused by the admission policy (today) or by the reconciler itself (once it checks host paths)."""
    text = message(status)
    return "task-api-operator-pods" in text or "outputs cannot go to host paths" in text


def test_a_read_only_input_under_the_root_works(
    root: Path, tenant: Tenant, hello: str, registry_pull_secret: str, make_pvc: Callable[..., Path]
) -> None:
    # The control: the root is in effect, and host-path inputs (what stays allowed) run.
    tenant_root = root / tenant.namespace
    (tenant_root / "in").mkdir(parents=True)
    (tenant_root / "in" / "a.txt").write_text("a\n")
    make_pvc(tenant.namespace, "results")
    status = _run(
        tenant,
        "reads-host",
        hello,
        inputs=[{"name": "in", "hostPath": {"path": str(tenant_root / "in")}}],
        outputs=[{"name": "out", "persistentVolumeClaim": {"claimName": "results"}}],
        imagePullSecrets=[{"name": registry_pull_secret}],
    )
    assert succeeded(status) == "True", status


def test_a_run_cannot_plant_a_link_under_the_root(
    root: Path, tenant: Tenant, hello: str, registry_pull_secret: str, testbed: Testbed
) -> None:
    tenant_root = root / tenant.namespace
    (tenant_root / "in").mkdir(parents=True)
    status = _run(
        tenant,
        "plant",
        hello,
        inputs=[{"name": "in", "hostPath": {"path": str(tenant_root / "in")}}],
        outputs=[{"name": "out", "hostPath": {"path": str(tenant_root / "out")}}],
        command=["sh", "-c", "ln -s / /data/out/x"],
        imagePullSecrets=[{"name": registry_pull_secret}],
    )
    assert succeeded(status) == "False", status
    assert _stopped_by_the_fence(status), status
    assert not os.path.lexists(tenant_root / "out" / "x"), "the run planted a link under the allowed root"


def test_a_planted_link_does_not_lead_out_of_the_root(
    root: Path, tenant: Tenant, hello: str, registry_pull_secret: str
) -> None:
    # The link is there already (an earlier run before the fix, or anything else that could write here).
    tenant_root = root / tenant.namespace
    (tenant_root / "in").mkdir(parents=True)
    os.symlink("/", tenant_root / "x")
    target = Path("/tmp") / f"task-api-escape-{secrets.token_hex(4)}"
    try:
        status = _run(
            tenant,
            "escape",
            hello,
            inputs=[{"name": "in", "hostPath": {"path": str(tenant_root / "in")}}],
            outputs=[{"name": "out", "hostPath": {"path": f"{tenant_root}/x{target}"}}],
            command=["sh", "-c", "echo owned > /data/out/proof"],
            imagePullSecrets=[{"name": registry_pull_secret}],
        )
        assert succeeded(status) == "False", status
        assert _stopped_by_the_fence(status), status
        assert not target.exists(), f"the run wrote into the node's {target}"
    finally:
        if target.exists():
            shutil.rmtree(target)


def test_dot_dot_is_refused_when_the_taskrun_is_applied(root: Path, tenant: Tenant, hello: str) -> None:
    applied = tenant.apply(
        taskrun("dots", hello, inputs=[{"name": "in", "hostPath": {"path": f"{root}/../../etc"}}]), check=False
    )
    assert applied.returncode != 0
    assert "hostPath.path must not contain '..'" in applied.stderr


def test_host_path_outputs_are_refused_before_any_pod(
    root: Path, tenant: Tenant, hello: str, registry_pull_secret: str
) -> None:
    tenant_root = root / tenant.namespace
    (tenant_root / "in").mkdir(parents=True)
    status = _run(
        tenant,
        "writes-host",
        hello,
        inputs=[{"name": "in", "hostPath": {"path": str(tenant_root / "in")}}],
        outputs=[{"name": "out", "hostPath": {"path": str(tenant_root / "out")}}],
        imagePullSecrets=[{"name": registry_pull_secret}],
    )
    assert status.get("reason") == "InvalidSpec"
    assert "outputs cannot go to host paths" in message(status)
    assert "refused the pod" not in message(status)  # the reconciler decided, not the API server


@pytest.mark.parametrize(
    ("suffix", "words"),
    [("a\u202eb", "U+202E"), ("e\u0301", "normal form NFC"), ("n" * 256, "longer than 255 bytes")],
    ids=["bidi-override", "not-nfc", "long-component"],
)
def test_unprintable_ambiguous_or_long_paths_are_refused(
    root: Path, tenant: Tenant, hello: str, registry_pull_secret: str, suffix: str, words: str
) -> None:
    status = _run(
        tenant,
        "odd-path",
        hello,
        inputs=[{"name": "in", "hostPath": {"path": f"{root}/{suffix}"}}],
        imagePullSecrets=[{"name": registry_pull_secret}],
        until=_decided,
    )
    assert status.get("reason") == "InvalidSpec", status
    assert words in message(status)
