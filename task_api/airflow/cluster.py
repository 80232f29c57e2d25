"""Where the Airflow operator's Kubernetes client used to live: it is :mod:`task_api.kube.taskruns` now (shared
with ``task-api run --mode k8s``); these names stay importable from here."""

from task_api.kube.taskruns import MAIN_CONTAINER, TaskRunApi, TaskRunGone, TemplateLookupFailed, taskrun_path

__all__ = ["MAIN_CONTAINER", "TaskRunApi", "TaskRunGone", "TemplateLookupFailed", "taskrun_path"]
