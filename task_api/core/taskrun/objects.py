"""The Secrets made for a TaskRun, named and owned the same way by every component. Pure.

* The *credentials* Secret (``<run>-credentials``, ``username``/``password``): made by a client (the Airflow
  operator, ``task-api run --mode k8s``) for the run's ``registryCredentialsSecret``.
* The *registry* Secret (``<run>-registry``, ``kubernetes.io/dockerconfigjson``): made by the operator from those
  credentials so the kubelet can pull the image.
* The *env* Secret (``<run>-env``, one key per variable): made by a client (the Airflow operator's ``secret_env``)
  for the env values it keeps out of the TaskRun, which names them with ``env[].valueFrom.secretKeyRef``; the
  operator never reads it (the kubelet does).

All are owned by the TaskRun, so they are deleted with it; the operator deletes the registry Secret already when
the run finishes. A credentials Secret carries the opt-in label ``task-api.io/registry-credentials: "true"``: the
operator reads only Secrets that do (:func:`registry_login`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from task_api.core.names import bounded_name
from task_api.core.pod import Owner
from task_api.spec.crd.keys import LABEL_MANAGED_BY, LABEL_REGISTRY_CREDENTIALS, LABEL_TASKRUN_UID, MANAGER, OPT_IN
from task_api.spec.crd.taskrun import TaskRunResource

__all__ = [
    "build_credentials_secret",
    "build_env_secret",
    "build_registry_secret",
    "credentials_secret_name",
    "env_secret_name",
    "registry_login",
    "registry_secret_name",
    "unusable_credentials_message",
]


def credentials_secret_name(taskrun: str) -> str:
    """Pure: the Secret a client makes for a run's registry credentials."""
    return bounded_name(taskrun, "credentials")


def env_secret_name(taskrun: str) -> str:
    """Pure: the Secret a client makes for a run's secret env values."""
    return bounded_name(taskrun, "env")


def registry_secret_name(taskrun: str) -> str:
    """Pure: the pull Secret the operator makes from a run's registry credentials."""
    return bounded_name(taskrun, "registry")


def _client_secret(
    taskrun: Mapping[str, Any], name: str, labels: Mapping[str, str], data: Mapping[str, str]
) -> dict[str, Any]:
    """Pure: an Opaque Secret a client makes beside a TaskRun it created (held as plain JSON), owned by it."""
    meta = taskrun["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": dict(labels),
            "ownerReferences": [Owner(meta["name"], meta["namespace"], meta["uid"]).reference(controller=False)],
        },
        "stringData": dict(data),
    }


def build_credentials_secret(
    *, taskrun: Mapping[str, Any], username: str, password: str, labels: Mapping[str, str]
) -> dict[str, Any]:
    """Pure: a Secret with ``username`` and ``password``, owned by the TaskRun and opted in for
    ``registryCredentialsSecret``."""
    name = credentials_secret_name(taskrun["metadata"]["name"])
    opted_in = {**labels, LABEL_REGISTRY_CREDENTIALS: OPT_IN}
    return _client_secret(taskrun, name, opted_in, {"username": username, "password": password})


def build_env_secret(
    *, taskrun: Mapping[str, Any], values: Mapping[str, str], labels: Mapping[str, str]
) -> dict[str, Any]:
    """Pure: a Secret with one key per variable name (env names are valid Secret keys), owned by the TaskRun. No
    opt-in label: the operator never reads it."""
    return _client_secret(taskrun, env_secret_name(taskrun["metadata"]["name"]), labels, values)


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


def registry_login(secret: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """Pure: the user name and password of a Secret named in ``registryCredentialsSecret`` — only when the Secret
    opts in (label :data:`~task_api.spec.crd.keys.LABEL_REGISTRY_CREDENTIALS` ``= "true"``) and holds both keys.
    None otherwise; ``secret`` is None when it could not be read (missing or forbidden): all the same to the caller,
    so a message cannot tell them apart."""
    if secret is None:
        return None
    labels = (secret.get("metadata") or {}).get("labels") or {}
    if labels.get(LABEL_REGISTRY_CREDENTIALS) != OPT_IN:
        return None
    data = secret.get("data") or {}
    try:
        return base64.b64decode(data["username"]).decode(), base64.b64decode(data["password"]).decode()
    except (KeyError, TypeError, ValueError, binascii.Error):
        return None


def unusable_credentials_message(secret: str) -> str:
    """Pure: the one message for every reason a ``registryCredentialsSecret`` is refused (it never says which)."""
    return (
        f"registry credentials Secret {secret!r} is not usable: it must exist, carry the label "
        f"{LABEL_REGISTRY_CREDENTIALS}={OPT_IN}, and hold username and password"
    )
