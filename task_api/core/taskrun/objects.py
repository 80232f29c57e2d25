"""The Secrets made for a TaskRun, named and owned the same way by every component. Pure.

* The *credentials* Secret (``<run>-credentials``, ``username``/``password``): made by a client (the Airflow
  operator, ``task-api run --mode k8s``) for the run's ``registryCredentialsSecret``.
* The *registry* Secret (``<run>-registry``, ``kubernetes.io/dockerconfigjson``): made by the operator from those
  credentials so the kubelet can pull the image.

Both are owned by the TaskRun, so they are deleted with it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from task_api.core.names import bounded_name
from task_api.core.pod import Owner
from task_api.spec.crd.keys import LABEL_MANAGED_BY, LABEL_TASKRUN_UID, MANAGER
from task_api.spec.crd.taskrun import TaskRunResource

__all__ = [
    "build_credentials_secret",
    "build_registry_secret",
    "credentials_secret_name",
    "registry_secret_name",
]


def credentials_secret_name(taskrun: str) -> str:
    """Pure: the Secret a client makes for a run's registry credentials."""
    return bounded_name(taskrun, "credentials")


def registry_secret_name(taskrun: str) -> str:
    """Pure: the pull Secret the operator makes from a run's registry credentials."""
    return bounded_name(taskrun, "registry")


def build_credentials_secret(
    *, taskrun: Mapping[str, Any], username: str, password: str, labels: Mapping[str, str]
) -> dict[str, Any]:
    """Pure: a Secret with ``username`` and ``password``, owned by the TaskRun (a client holds the created
    TaskRun as plain JSON)."""
    meta = taskrun["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": credentials_secret_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": dict(labels),
            "ownerReferences": [Owner(meta["name"], meta["namespace"], meta["uid"]).reference(controller=False)],
        },
        "stringData": {"username": username, "password": password},
    }


def build_registry_secret(run: TaskRunResource, *, registry: str, username: str, password: str) -> dict[str, Any]:
    """Pure: the run's ``kubernetes.io/dockerconfigjson`` pull Secret for one registry."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    config = json.dumps({"auths": {registry: {"auth": auth}}}).encode()
    meta = run.metadata
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/dockerconfigjson",
        "metadata": {
            "name": registry_secret_name(meta.name),
            "namespace": meta.namespace,
            "labels": {LABEL_MANAGED_BY: MANAGER, LABEL_TASKRUN_UID: meta.uid},
            "ownerReferences": [Owner(meta.name, meta.namespace, meta.uid).reference()],
        },
        "data": {".dockerconfigjson": base64.b64encode(config).decode()},
    }
