"""``TaskRunSensor``: wait for a TaskRun that something else created (I/O through :mod:`task_api.kube.taskruns`).

For DAGs that create TaskRuns with other operators — Airflow's Kubernetes provider
(``KubernetesCreateResourceOperator(custom_resource_definition=True)`` with a TaskRun manifest), ``kubectl``, a
controller — and want the Airflow task to end the way the TaskRun ended. It reads the run exactly as
:class:`~task_api.airflow.operators.TaskRunOperator` does (:mod:`task_api.airflow.runs`): ``Succeeded`` pushes
``{"taskrun", "namespace", "outputs"}`` to XCom, a retryable reason raises
:class:`~task_api.airflow.runs.TaskRunFailed`, one another try cannot fix raises
:class:`~task_api.airflow.runs.TaskRunFailedFinal`, and every attempt's pod log is copied into the task log once
the run finished.

Three ways to wait: ``mode="poke"`` (a worker slot, one GET per ``poke_interval``), ``mode="reschedule"`` (the
slot is freed between pokes) and ``deferrable=True`` (:class:`~task_api.airflow.triggers.TaskRunTrigger` polls in
the triggerer). The sensor owns nothing: it never deletes or heartbeats the run — whoever created it cleans up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from task_api.airflow.build import OperatorConfigError, outcome
from task_api.airflow.runs import (
    TaskRunFailed,
    TaskRunFailedFinal,
    copy_attempt_logs,
    emitter,
    finish,
    namespace_for,
)
from task_api.airflow.triggers import TaskRunTrigger
from task_api.kube.taskruns import TaskRunApi
from task_api.spec import Problem
from task_api.spec.errors import TaskApiError

__all__ = ["TaskRunSensor"]


class TaskRunSensor(BaseSensorOperator):  # type: ignore[misc]  # Airflow is untyped for mypy here
    """Wait until the TaskRun ``namespace/taskrun_name`` finished; succeed or fail as it did.

    :param taskrun_name: the TaskRun's name (templated, e.g. the name the upstream task's manifest gave it).
    :param namespace: its namespace (templated; default ``$TASK_API_NAMESPACE``, else the kubeconfig context's).
    :param deferrable: wait in the triggerer instead of a worker slot (not together with ``mode="reschedule"``).
    :param poke_interval: seconds between status reads (each one GET of the TaskRun).
    :param kubeconfig: kubeconfig path (default ``$KUBECONFIG``, in-cluster, ``~/.kube/config``).
    :param cluster_context: the kubeconfig context to use.

    A TaskRun that does not exist fails the task (retryably: a retry may find it created); so does one deleted
    before it finished. Airflow's sensor arguments (``timeout``, ``mode``, ``soft_fail``, …) keep their meaning.
    """

    template_fields: Sequence[str] = ("taskrun_name", "namespace")
    ui_color = "#e3f0d8"

    def __init__(
        self,
        *,
        taskrun_name: str,
        namespace: str | None = None,
        deferrable: bool = False,
        poke_interval: float = 5.0,
        kubeconfig: str | None = None,
        cluster_context: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.taskrun_name = taskrun_name
        self.namespace = namespace
        self.deferrable = deferrable
        self.kubeconfig = kubeconfig
        self.cluster_context = cluster_context
        source = f"{type(self).__name__}(task_id={kwargs.get('task_id')!r})"
        problems = []
        if not taskrun_name:
            problems.append(Problem(path="taskrun_name", message="required: the name of the TaskRun to wait for"))
        if deferrable and self.mode == "reschedule":
            problems.append(
                Problem(
                    path="deferrable",
                    message="deferrable=True and mode='reschedule' both free the worker slot; give one of them",
                    given="both",
                )
            )
        if problems:
            raise OperatorConfigError(source, problems)

    # ------------------------------------------------------------------ waiting

    def execute(self, context: Any) -> Any:
        """I/O: poke (or reschedule) through Airflow's sensor loop, or look once and defer to the trigger."""
        if not self.deferrable:
            return super().execute(context)
        namespace, name = self._target()
        run = self._read(namespace, name)
        if outcome(run).finished:  # nothing to wait for: no trigger round trip
            return self._complete(run)
        self.log.info("TaskRun %s/%s is %s; deferring", namespace, name, outcome(run).reason)
        self.defer(
            trigger=TaskRunTrigger(
                namespace=namespace,
                name=name,
                poll_interval=self.poke_interval,
                kubeconfig=self.kubeconfig,
                cluster_context=self.cluster_context,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def poke(self, context: Any) -> bool | PokeReturnValue:
        """I/O: one read of the TaskRun; when it finished, its logs and the verdict."""
        namespace, name = self._target()
        try:
            run = self._read(namespace, name)
        except TaskRunFailed:
            raise
        except TaskApiError as exc:
            if not getattr(exc, "transient", False):
                raise
            # The API server was unreachable for the whole retry budget: the next poke asks again.
            self.log.warning("cannot read TaskRun %s/%s now: %s", namespace, name, exc)
            return False
        state = outcome(run)
        if not state.finished:
            self.log.info("TaskRun %s/%s is %s", namespace, name, state.reason)
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._complete(run))

    def execute_complete(self, context: Any, event: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """I/O: resumed after the trigger fired: copy the logs and decide as ``poke`` does."""
        event = dict(event or {})
        namespace = str(event.get("namespace") or self._target()[0])
        name = str(event.get("name") or self.taskrun_name)
        if event.get("status") == "gone":
            raise TaskRunFailed(
                f"TaskRun {namespace}/{name} was deleted before it finished", reason="Deleted", taskrun=name
            )
        if event.get("status") != "finished":
            raise TaskRunFailed(
                f"waiting for TaskRun {namespace}/{name} failed: {event.get('message')}", reason="Error", taskrun=name
            )
        return self._complete(self._read(namespace, name))

    # ------------------------------------------------------------------ steps

    def _target(self) -> tuple[str, str]:
        namespace = namespace_for(self.namespace, kubeconfig=self.kubeconfig, context=self.cluster_context)
        return namespace, str(self.taskrun_name)

    def _api(self) -> TaskRunApi:
        return TaskRunApi.connect(kubeconfig=self.kubeconfig, context=self.cluster_context)

    def _read(self, namespace: str, name: str) -> dict[str, Any]:
        """I/O: the TaskRun; :class:`TaskRunFailed` when there is none (a typo, or deleted meanwhile)."""

        async def get() -> dict[str, Any] | None:
            async with self._api() as api:
                return await api.get_taskrun(namespace, name)

        try:
            run = asyncio.run(get())
        except TaskApiError as exc:
            if getattr(exc, "transient", False):
                raise
            # Forbidden and the like: another try with the same settings gets the same answer.
            raise TaskRunFailedFinal(
                f"cannot read TaskRun {namespace}/{name}: {exc}", reason="Error", taskrun=name
            ) from None
        if run is None:
            raise TaskRunFailed(
                f"TaskRun {namespace}/{name} does not exist (not created yet, deleted, or a wrong name or namespace)",
                reason="NotFound",
                taskrun=name,
            )
        return run

    def _complete(self, run: Mapping[str, Any]) -> dict[str, Any]:
        """I/O: every attempt's pod log into the task log, then the verdict (:func:`~task_api.airflow.runs.finish`)."""

        async def copy() -> None:
            async with self._api() as api:
                await copy_attempt_logs(api, run, emitter(self.log, run["metadata"]["name"]))

        asyncio.run(copy())
        return finish(run, self.log)
