"""What GitOps controllers see of TaskRuns and ProcessingContainers, on live objects of the test bed.

* kstatus, computed by the real library (sigs.k8s.io/cli-utils, built from hack/kstatus): a finished TaskRun is
  Current, a failed one Failed, a running one InProgress, a Ready ProcessingContainer Current;
* Argo CD's health checks (manifests/argocd/*.lua, run as Argo CD runs Lua): Healthy, Degraded, Progressing;
* ``kubectl wait --for=condition=Succeeded|Ready``; re-applying an unchanged manifest (client-side and server-side)
  changes nothing and never runs the task again; a changed immutable field is refused with what to do; ``kubectl
  diff`` shows no drift once the operator has written status.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import PULL_SECRET, Namespace, condition
from tests.fixtures.argocd import argocd_health

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def kstatus() -> Path:
    """hack/kstatus built from the Go module proxy (cached under ~/.cache/task-api/kstatus)."""
    done = subprocess.run([str(ROOT / "hack" / "kstatus" / "build.sh")], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"hack/kstatus/build.sh failed:\n{done.stderr[-3000:]}", pytrace=False)
    return Path(done.stdout.strip())


def kstatus_of(kstatus: Path, obj: dict[str, Any]) -> str:
    """The status the kstatus library computes for ``obj``."""
    done = subprocess.run([str(kstatus)], input=json.dumps(obj), capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    assert "error" not in result, result
    return str(result["status"])


@pytest.fixture
def hello(example_image: Callable[[str], str]) -> str:
    return example_image("01-hello-world")


@pytest.fixture
def gitops_ns(run_ns: Namespace, make_pvc: Callable[..., Path]) -> Iterator[Namespace]:
    """The run namespace with a claim "data" holding the example's input under in/."""
    data = make_pvc(run_ns.name, "data")
    shutil.copytree(ROOT / "examples" / "01-hello-world" / "input", data / "in")
    yield run_ns


def manifest(name: str, image: str, **spec: Any) -> dict[str, Any]:
    """A TaskRun as a user keeps it in Git."""
    return {
        "apiVersion": "task-api.io/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": name},
        "spec": {
            "image": image,
            "imagePullSecrets": [{"name": PULL_SECRET}],
            "taskTemplate": "checksum",
            "inputs": [{"name": "in", "persistentVolumeClaim": {"claimName": "data", "subPath": "in"}}],
            **spec,
        },
    }


def apply(ns: Namespace, doc: dict[str, Any], *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return ns.kubectl("apply", *extra, "-f", "-", input=yaml.safe_dump(doc), check=check)


def wait_reason(ns: Namespace, name: str, reason: str) -> dict[str, Any]:
    return ns.wait_reason(name, reason, timeout=240)


def kubectl_wait(ns: Namespace, kind: str, name: str, condition: str) -> None:
    """``kubectl wait --for=condition=...``; on a time-out, the object's status says why."""
    waited = ns.kubectl("wait", f"--for=condition={condition}", f"{kind}/{name}", "--timeout=300s", check=False)
    assert waited.returncode == 0 and "condition met" in waited.stdout, (waited.stderr, ns.get(kind, name)["status"])


def test_processing_container_ready_is_current_and_healthy(gitops_ns: Namespace, hello: str, kstatus: Path) -> None:
    pc = {
        "apiVersion": "task-api.io/v1alpha1",
        "kind": "ProcessingContainer",
        "metadata": {"name": "hello"},
        "spec": {"image": hello, "imagePullSecrets": [{"name": PULL_SECRET}]},
    }
    apply(gitops_ns, pc)
    kubectl_wait(gitops_ns, "processingcontainer", "hello", "Ready")
    live = gitops_ns.get("processingcontainer", "hello")
    assert kstatus_of(kstatus, live) == "Current"
    assert argocd_health(live)["status"] == "Healthy"


def test_taskrun_health_through_its_life(gitops_ns: Namespace, hello: str, kstatus: Path) -> None:
    apply(gitops_ns, manifest("slow", hello, command=["sh", "-c", "sleep 30; ls /data/in"]))
    apply(gitops_ns, manifest("broken", hello, command=["sh", "-c", "echo boom >&2; exit 7"]))
    running = wait_reason(gitops_ns, "slow", "Running")
    assert kstatus_of(kstatus, running) == "InProgress"
    assert argocd_health(running)["status"] == "Progressing"

    kubectl_wait(gitops_ns, "taskrun", "slow", "Succeeded")
    done = gitops_ns.get("taskrun", "slow")
    assert kstatus_of(kstatus, done) == "Current"
    health = argocd_health(done)
    assert health["status"] == "Healthy" and health["message"].startswith("Succeeded"), health

    kubectl_wait(gitops_ns, "taskrun", "broken", "Succeeded=False")
    failed = gitops_ns.get("taskrun", "broken")
    assert kstatus_of(kstatus, failed) == "Failed"
    health = argocd_health(failed)
    assert health["status"] == "Degraded" and health["message"].startswith("Failed")


def test_reapplying_changes_nothing_and_never_runs_again(gitops_ns: Namespace, hello: str) -> None:
    client_side, server_side = manifest("client-side", hello), manifest("server-side", hello)
    apply(gitops_ns, client_side)
    apply(gitops_ns, server_side, "--server-side", "--field-manager=gitops")
    before = {}
    for name in ("client-side", "server-side"):
        kubectl_wait(gitops_ns, "taskrun", name, "Succeeded")
        before[name] = gitops_ns.get("taskrun", name)

    again = apply(gitops_ns, client_side)
    assert "unchanged" in again.stdout
    apply(gitops_ns, server_side, "--server-side", "--field-manager=gitops")
    for name, run in before.items():
        now = gitops_ns.get("taskrun", name)
        # Not the resourceVersion: the node agent may still write the run's memory peaks to its status.
        assert now["spec"] == run["spec"] and now["metadata"].get("labels") == run["metadata"].get("labels"), name
        assert now["metadata"]["generation"] == run["metadata"]["generation"] == 1
        assert now["status"]["attempts"] == 1
    pods = json.loads(gitops_ns.kubectl("get", "pods", "-l", "task-api.io/role=task", "-o", "json").stdout)["items"]
    assert sorted(p["metadata"]["labels"]["task-api.io/taskrun"] for p in pods) == ["client-side", "server-side"]

    # The operator wrote status (and nothing else): the manifest in Git does not drift from the live object.
    for doc, extra in ((client_side, ()), (server_side, ("--server-side", "--field-manager=gitops"))):
        diff = gitops_ns.kubectl("diff", *extra, "-f", "-", input=yaml.safe_dump(doc), check=False)
        assert diff.returncode == 0 and diff.stdout == "", diff.stdout + diff.stderr


def test_a_changed_immutable_field_is_refused_with_what_to_do(gitops_ns: Namespace, hello: str) -> None:
    original = manifest("fixed", hello)
    apply(gitops_ns, original)
    changed = manifest("fixed", hello)
    changed["spec"]["taskTemplate"] = "compress"
    refused = apply(gitops_ns, changed, check=False)
    assert refused.returncode != 0
    assert "spec.taskTemplate" in refused.stderr and "cannot change once the TaskRun exists" in refused.stderr
    assert "create a TaskRun with a new name" in refused.stderr and "or delete this one first" in refused.stderr
    assert "Replace=true" in refused.stderr
    assert gitops_ns.get("taskrun", "fixed")["spec"]["taskTemplate"] == "checksum"


def test_a_changed_mutable_field_of_a_finished_run_never_runs_it_again(
    gitops_ns: Namespace, hello: str, kstatus: Path
) -> None:
    doc = manifest("done", hello, env=[])
    apply(gitops_ns, doc)
    kubectl_wait(gitops_ns, "taskrun", "done", "Succeeded")
    doc["spec"]["ttlSecondsAfterFinished"] = 86400  # one of the fields that may change (the rest are immutable)
    apply(gitops_ns, doc)
    deadline = time.monotonic() + 20  # long enough for the operator to see the change and (wrongly) act on it
    while time.monotonic() < deadline:
        changed = gitops_ns.get("taskrun", "done")
        assert changed["metadata"]["generation"] == 2
        assert changed["status"]["attempts"] == 1 and condition(changed)["status"] == "True"
        pods = gitops_ns.kubectl("get", "pods", "-l", "task-api.io/role=task", "-o", "name").stdout.split()
        assert pods == ["pod/done-a1"], pods
        time.sleep(2)


def test_a_finished_run_whose_spec_changed_stays_current(gitops_ns: Namespace, hello: str, kstatus: Path) -> None:
    doc = manifest("edited", hello)
    apply(gitops_ns, doc)
    kubectl_wait(gitops_ns, "taskrun", "edited", "Succeeded")
    doc["spec"]["ttlSecondsAfterFinished"] = 86400  # one of the fields that may change (the rest are immutable)
    apply(gitops_ns, doc)
    deadline = time.monotonic() + 30
    seen, live = "", {}
    while time.monotonic() < deadline and seen != "Current":
        live = gitops_ns.get("taskrun", "edited")
        seen = kstatus_of(kstatus, live)
        time.sleep(2)
    assert seen == "Current", (live["metadata"]["generation"], live["status"].get("observedGeneration"))
