"""What the TaskRun operator and the TaskRun sensor share about a run they wait for (I/O where it says so).

Both front ends read a TaskRun the same way, so a run fails the Airflow task the same way whichever of them waited:

* :func:`namespace_for` — the namespace default (``$TASK_API_NAMESPACE``, else the kubeconfig context's);
* :func:`copy_attempt_logs` — every attempt's pod log copied into the task log once the run finished;
* :func:`finish` — the ``Succeeded`` condition (:func:`task_api.core.taskrun.conditions.outcome_of`) turned into
  the XCom value, or into :class:`TaskRunFailed` / :class:`TaskRunFailedFinal` (the reasons another try cannot fix are
  :data:`task_api.core.taskrun.conditions.NOT_RETRYABLE`).

The exception tree::

    AirflowException
    └── TaskRunFailed                 the TaskRun ended Failed/OOMKilled/TimedOut/Cancelled/PodDeleted,
        │                             or was deleted; Airflow retries it
        └── TaskRunFailedFinal        (also AirflowFailException) InvalidSpec, UpstreamFailed,
                                      ImageInspectionFailed, or bad arguments/conf: no retries
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from task_api.airflow.build import Outcome, outcome, outputs_from_status
from task_api.core.pod import task_pod_name
from task_api.kube import ClusterAccess
from task_api.kube.taskruns import TaskRunApi

__all__ = ["TaskRunFailed", "TaskRunFailedFinal", "copy_attempt_logs", "emitter", "finish", "namespace_for"]


class TaskRunFailed(AirflowException):  # type: ignore[misc]  # Airflow is untyped for mypy here
    """The TaskRun did not succeed; ``reason`` is its condition reason (OOMKilled, TimedOut, Failed, …)."""

    def __init__(self, message: str, *, reason: str, taskrun: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.taskrun = taskrun


class TaskRunFailedFinal(TaskRunFailed, AirflowFailException):  # type: ignore[misc]
    """A failure another try cannot fix: the Airflow task fails without using its retries."""


def namespace_for(namespace: str | None, *, kubeconfig: str | None, context: str | None) -> str:
    """The namespace to use: the argument, else ``$TASK_API_NAMESPACE``, else the kubeconfig context's (I/O: reads
    the kubeconfig only in the last case)."""
    if namespace:
        return str(namespace)
    if os.environ.get("TASK_API_NAMESPACE"):
        return os.environ["TASK_API_NAMESPACE"]
    return ClusterAccess.load(kubeconfig=kubeconfig, context=context).namespace


def emitter(log: logging.Logger, name: str) -> Callable[[str], None]:
    """Pure: a function writing one pod log line into the task log, prefixed with the TaskRun's name."""

    def emit(line: str) -> None:
        log.info("[%s] %s", name, line)

    return emit


async def copy_attempt_logs(api: TaskRunApi, run: Mapping[str, Any], emit: Callable[[str], None]) -> None:
    """I/O: the log of each attempt's pod, in order, into ``emit`` (a note where a pod is gone)."""
    meta = run["metadata"]
    attempts = int((run.get("status") or {}).get("attempts") or 0)
    for attempt in range(1, attempts + 1):
        pod = task_pod_name(meta["name"], attempt)
        text = await api.read_logs(meta["namespace"], pod)
        emit(f"--- attempt {attempt} (pod {pod}) ---")
        for line in (text or "(no log: the pod is gone)").splitlines():
            emit(line)


def finish(run: Mapping[str, Any], log: logging.Logger) -> dict[str, Any]:
    """The XCom value of a finished TaskRun that succeeded; raise the failure otherwise (pure apart from ``log``).

    The value is ``{"taskrun": name, "namespace": ns, "outputs": {channel: location}}``; the failure's message names
    the reason, the condition's message, the exit code, the memory limit (OOM) and the number of attempts.
    """
    meta = run["metadata"]
    status = run.get("status") or {}
    result: Outcome = outcome(run)
    if not result.succeeded:
        details = [f"TaskRun {meta['namespace']}/{meta['name']} {result.reason}: {result.message}".rstrip(": ")]
        if status.get("exitCode") is not None:
            details.append(f"exit code {status['exitCode']}")
        if result.reason == "OOMKilled" and status.get("memory"):
            details.append(f"memory limit {status['memory'].get('limit')}")
        if status.get("attempts"):
            details.append(f"{status['attempts']} attempt(s)")
        kind = TaskRunFailed if result.retryable else TaskRunFailedFinal
        raise kind("; ".join(details), reason=result.reason, taskrun=meta["name"])
    outputs = outputs_from_status(status)
    log.info(
        "TaskRun %s/%s succeeded in %s; outputs: %s", meta["namespace"], meta["name"], status.get("duration"), outputs
    )
    return {"taskrun": meta["name"], "namespace": meta["namespace"], "outputs": outputs}
