"""End-to-end fixtures: the operator deployed into the test bed with ``kubectl apply -k`` (through
``hack/deploy-testbed.sh``), and namespaces prepared as a user would prepare them.

Tests here drive the operator only through kubectl and the API, and read results from the host directories behind
the claims (the test bed's local volumes).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.docker import DockerEngine
from tests.fixtures.testbed import Testbed

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_NAMESPACE = "task-api-system"
PULL_SECRET = "task-api-registry"
WORKSPACE_CLAIM = "task-api-workspace"


@dataclass(frozen=True)
class Operator:
    """The deployed operator."""

    testbed: Testbed

    def logs(self) -> str:
        done = self.testbed.kubectl_run(
            "logs", "-n", OPERATOR_NAMESPACE, "deployment/task-api-operator", "--tail=-1", check=False
        )
        return done.stdout + done.stderr

    def pod(self) -> dict[str, Any]:
        out = self.testbed.kubectl_run(
            "get", "pods", "-n", OPERATOR_NAMESPACE, "-l", "app.kubernetes.io/name=task-api-operator", "-o", "json"
        ).stdout
        items: list[dict[str, Any]] = json.loads(out)["items"]
        return items[0]


@pytest.fixture(scope="session")
def operator(testbed: Testbed, docker_engine: DockerEngine) -> Operator:
    """Build the operator image, push it to the test bed registry and deploy it (``make deploy-testbed``)."""
    done = subprocess.run(
        ["make", "--no-print-directory", "deploy-testbed"],
        cwd=ROOT,
        env=testbed.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        pytest.fail(f"deploying the operator failed:\n{tail}", pytrace=False)
    return Operator(testbed)


@pytest.fixture(scope="session")
def example_image(testbed: Testbed, docker_engine: DockerEngine) -> Callable[[str], str]:
    """``example_image("01-hello-world") -> ref``: builds an example with its build.sh and pushes it."""
    docker_engine.login(testbed.registry, testbed.registry_user, testbed.registry_password)
    built: dict[str, str] = {}

    def build(example: str) -> str:
        if example not in built:
            ref = f"{testbed.registry}/examples/{example.split('-', 1)[1]}:e2e"
            subprocess.run([str(ROOT / "examples" / example / "build.sh"), ref], check=True, capture_output=True)
            docker_engine.push(ref)
            built[example] = ref
        return built[example]

    return build


@dataclass
class Namespace:
    """A namespace prepared for TaskRuns: pull secret, workspace claim; kubectl helpers."""

    name: str
    testbed: Testbed
    workspace: Path

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.testbed.kubectl_run("-n", self.name, *args, input=input, check=check)

    def apply(self, manifest: str) -> None:
        self.kubectl("apply", "-f", "-", input=manifest)

    def get(self, kind: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.kubectl("get", kind, name, "-o", "json").stdout)
        return result

    def wait_finished(self, name: str, *, timeout: float = 180.0) -> dict[str, Any]:
        """Poll the TaskRun until its Succeeded condition is True or False; return it."""
        deadline = time.monotonic() + timeout
        run: dict[str, Any] = {}
        while time.monotonic() < deadline:
            run = self.get("taskrun", name)
            for cond in (run.get("status") or {}).get("conditions") or []:
                if cond.get("type") == "Succeeded" and cond.get("status") in ("True", "False"):
                    return run
            time.sleep(0.5)
        pytest.fail(f"TaskRun {self.name}/{name} did not finish in {timeout:.0f} s: {run.get('status')}")

    def wait_reason(self, name: str, reason: str, *, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        run: dict[str, Any] = {}
        while time.monotonic() < deadline:
            run = self.get("taskrun", name)
            if (run.get("status") or {}).get("reason") == reason:
                return run
            time.sleep(0.5)
        pytest.fail(f"TaskRun {self.name}/{name} never reached {reason} in {timeout:.0f} s: {run.get('status')}")

    def events(self, name: str) -> list[dict[str, Any]]:
        out = self.kubectl("get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json").stdout
        items: list[dict[str, Any]] = json.loads(out)["items"]
        return items


def condition(run: dict[str, Any]) -> dict[str, Any]:
    """The TaskRun's Succeeded condition."""
    for cond in (run.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Succeeded":
            return dict(cond)
    return {}


@pytest.fixture
def run_ns(
    operator: Operator,
    testbed: Testbed,
    kube_namespace: str,
    make_pvc: Callable[..., Path],
) -> Iterator[Namespace]:
    """A namespace where TaskRuns can run: the registry pull secret and the workspace claim exist."""
    testbed.kubectl_run(
        "create", "secret", "generic", PULL_SECRET, "-n", kube_namespace,
        "--type=kubernetes.io/dockerconfigjson", "--from-file=.dockerconfigjson=/dev/stdin",
        input=testbed.dockerconfigjson().decode(),
    )  # fmt: skip
    workspace = make_pvc(kube_namespace, WORKSPACE_CLAIM)
    yield Namespace(kube_namespace, testbed, workspace)
