"""What the operator's task pods are made of, seen as a tenant on the test bed (docs/security.md): non-root by
default. These attacks were open (tests/security/test_needs_reconciler.py) until the reconciler stopped them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import Namespace
from tests.security.conftest import succeeded, taskrun

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
