"""manifests/argocd: the Argo CD health checks on every kind of status, and the kustomize Component that merges
them into argocd-cm. The same scripts on live objects of the test bed: tests/e2e/test_gitops.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.argocd import ARGOCD, SCRIPTS, argocd_health
from tests.unit.manifests.kustomize import find_kubectl


def obj(kind: str, *, generation: int = 1, observed: int | None = 1, **condition: str) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if observed is not None:
        status["observedGeneration"] = observed
    if condition:
        status["conditions"] = [{"type": "Reconciling", "status": "False"}, dict(condition)]
    return {"kind": kind, "metadata": {"name": "x", "generation": generation}, **({"status": status} if status else {})}


@pytest.mark.parametrize(
    ("given", "status", "message"),
    [
        (obj("TaskRun", observed=None), "Progressing", "Waiting for the operator"),
        (obj("TaskRun", generation=2, type="Succeeded", status="True", reason="Succeeded"), "Progressing",
         "Waiting for the operator to observe generation 2"),
        (obj("TaskRun", type="Succeeded", status="Unknown", reason="Running"), "Progressing", "Running"),
        (obj("TaskRun", type="Succeeded", status="True", reason="Succeeded", message=""), "Healthy", "Succeeded"),
        (obj("TaskRun", type="Succeeded", status="False", reason="Failed", message="exit code 7"), "Degraded",
         "Failed: exit code 7"),
        (obj("TaskRun", type="Succeeded", status="False", reason="Cancelled"), "Suspended", "Cancelled"),
        (obj("ProcessingContainer", type="Ready", status="True", reason="Inspected"), "Healthy", "Inspected"),
        (obj("ProcessingContainer", type="Ready", status="False", reason="ImageNotFound", message="no such tag"),
         "Degraded", "ImageNotFound: no such tag"),
        (obj("ProcessingContainer", observed=None), "Progressing", "Waiting for the operator"),
    ],
)  # fmt: skip
def test_health(given: dict[str, Any], status: str, message: str) -> None:
    assert argocd_health(given) == {"status": status, "message": message}


def test_component_merges_both_checks_into_argocd_cm(tmp_path: Path) -> None:
    kubectl = find_kubectl()
    if kubectl is None:
        pytest.skip("no kubectl on this machine (hack/build-binaries.sh builds one)")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm", "namespace": "argocd"},
          "data": {"url": "https://argocd.example"}}  # fmt: skip
    (tmp_path / "cm.yaml").write_text(yaml.safe_dump(cm))
    # kustomize refuses absolute paths in components.
    component = os.path.relpath(ARGOCD, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["cm.yaml"], "components": [component]}))
    done = subprocess.run([kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True, check=True)
    (merged,) = list(yaml.safe_load_all(done.stdout))
    assert merged["metadata"]["name"] == "argocd-cm" and merged["data"]["url"] == "https://argocd.example"
    for kind, script in SCRIPTS.items():
        assert merged["data"][f"resource.customizations.health.task-api.io_{kind}"] == script.read_text()
