"""Kubernetes API access (an adapter: all I/O here).

A small asynchronous REST client over httpx that speaks JSON dictionaries, not generated models: the operator
creates hundreds of pods per second at most and spends its time in the API server, not in (de)serialising models.

Public surface:

* :class:`ClusterAccess` — where the API server is and how to authenticate, as the `kubernetes` package's
  configuration loader reads it (kubeconfigs of every kind, exec plugins, OIDC, in-cluster): docs/cluster-access.md.
* :class:`KubeClient` — get, list, create, merge-patch, delete, status patches.
* :mod:`task_api.kube.errors` — :class:`KubeApiError` and its subclasses.
"""

from task_api.kube.access import ClusterAccess
from task_api.kube.client import KubeClient
from task_api.kube.errors import AlreadyExists, Conflict, Forbidden, Invalid, KubeApiError, NotFound

__all__ = [
    "AlreadyExists",
    "ClusterAccess",
    "Conflict",
    "Forbidden",
    "Invalid",
    "KubeApiError",
    "KubeClient",
    "NotFound",
]
