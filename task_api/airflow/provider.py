"""What ``airflow providers list`` shows for task-api (the ``apache_airflow_provider`` entry point). Pure."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = ["get_provider_info"]


def get_provider_info() -> dict[str, Any]:
    """The provider description Airflow's ProvidersManager validates and lists (pure apart from metadata)."""
    try:
        installed = version("task-api")
    except PackageNotFoundError:  # running from a source tree that is not installed
        installed = "0+unknown"
    return {
        "package-name": "task-api",
        "name": "Task API",
        "description": "Run processing containers' task templates as TaskRuns on Kubernetes "
        "(TaskRunOperator, KaapanaTaskOperator), and wait for TaskRuns created by anyone (TaskRunSensor).",
        "versions": [installed],
        "integrations": [{"integration-name": "Task API", "tags": ["software"]}],
        "operators": [{"integration-name": "Task API", "python-modules": ["task_api.airflow.operators"]}],
        "sensors": [{"integration-name": "Task API", "python-modules": ["task_api.airflow.sensors"]}],
        "triggers": [{"integration-name": "Task API", "python-modules": ["task_api.airflow.triggers"]}],
    }
