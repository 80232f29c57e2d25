"""Build the two CustomResourceDefinition documents from the models. Pure (``hack/gen_crds.py`` writes them).

Printer columns are chosen for ``kubectl get``; short names avoid every built-in resource and Tekton's
(``pc`` is PriorityClass, ``tr``/``pr`` are Tekton's runs): ``trun`` and ``pcon``. Both join the ``task-api``
category, so ``kubectl get task-api`` lists them together.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from task_api.spec.crd.common import GROUP, VERSION
from task_api.spec.crd.openapi import structural_schema
from task_api.spec.crd.processing_container import ProcessingContainerSpec, ProcessingContainerStatus
from task_api.spec.crd.taskrun import TaskRunSpec, TaskRunStatus

CATEGORY = "task-api"


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return structural_schema(model.model_json_schema(by_alias=True, mode="validation"))


def _root(spec: type[BaseModel], status: type[BaseModel], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": _schema(spec),
            "status": _schema(status),
        },
    }


def _crd(
    *,
    kind: str,
    plural: str,
    short_names: list[str],
    columns: list[dict[str, Any]],
    schema: dict[str, Any],
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def _column(name: str, path: str, kind: str = "string", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, "jsonPath": path, **extra}


def taskrun_crd() -> dict[str, Any]:
    """Pure: the TaskRun CRD."""
    return _crd(
        kind="TaskRun",
        plural="taskruns",
        short_names=["trun"],
        columns=[
            _column("Template", ".spec.taskTemplate"),
            _column("Succeeded", '.status.conditions[?(@.type=="Succeeded")].status'),
            _column("Reason", ".status.reason"),
            _column("Memory", ".status.memory.limit"),
            _column("Peak", ".status.memory.peak", priority=1),
            _column("Attempts", ".status.attempts", "integer", priority=1),
            _column("Pod", ".status.podName", priority=1),
            _column("StartTime", ".status.startTime", "date"),
            _column("Duration", ".status.duration"),
            _column("Age", ".metadata.creationTimestamp", "date"),
        ],
        schema=_root(TaskRunSpec, TaskRunStatus, "A run of a processing container's task template."),
    )


def processing_container_crd() -> dict[str, Any]:
    """Pure: the ProcessingContainer CRD."""
    return _crd(
        kind="ProcessingContainer",
        plural="processingcontainers",
        short_names=["pcon"],
        columns=[
            _column("Image", ".spec.image"),
            _column("Digest", ".status.shortDigest"),
            _column("Templates", ".status.templateNames"),
            _column("Ready", '.status.conditions[?(@.type=="Ready")].status'),
            _column("Reason", '.status.conditions[?(@.type=="Ready")].reason', priority=1),
            _column("Age", ".metadata.creationTimestamp", "date"),
        ],
        schema=_root(
            ProcessingContainerSpec,
            ProcessingContainerStatus,
            "A processing container image whose task templates the operator reads and publishes.",
        ),
    )


def all_crds() -> dict[str, dict[str, Any]]:
    """Pure: file name → CRD document, as written under ``crds/``."""
    return {
        f"{GROUP}_processingcontainers.yaml": processing_container_crd(),
        f"{GROUP}_taskruns.yaml": taskrun_crd(),
    }
