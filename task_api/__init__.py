"""task-api: run processing containers on Kubernetes, from Airflow, or locally with Docker.

The package is layered; imports only point downward (enforced by import-linter, see ``.importlinter``):

* ``task_api.spec`` — pydantic models of the files and custom resources. No I/O.
* ``task_api.core`` — pure functions: merging, scale rules, pod construction, status.
* adapters (all I/O): ``task_api.image``, ``task_api.measure``, ``task_api.runner``, ``task_api.kube``.
* front ends: ``task_api.cli``, ``task_api.controller``, ``task_api.airflow``.
"""

__version__ = "0.1.0"
