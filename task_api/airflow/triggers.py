"""The trigger a deferred :class:`~task_api.airflow.operators.TaskRunOperator` waits on (I/O, in the triggerer).

It polls one TaskRun until its ``Succeeded`` condition is True or False and fires a single event with the
outcome; the operator's ``execute_complete`` then copies the pod's log into the task log and decides. The
trigger deletes nothing: a triggerer restart re-creates triggers, and the TaskRun must survive that.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from task_api.airflow.build import outcome
from task_api.kube.taskruns import TaskRunApi, TaskRunGone
from task_api.spec.errors import TaskApiError

__all__ = ["TaskRunTrigger"]


class TaskRunTrigger(BaseTrigger):  # type: ignore[misc]  # Airflow is untyped for mypy here
    """Fires once the TaskRun ``namespace/name`` has finished (or is gone)."""

    def __init__(
        self,
        *,
        namespace: str,
        name: str,
        poll_interval: float = 2.0,
        heartbeat_every: float | None = None,
        kubeconfig: str | None = None,
        cluster_context: str | None = None,
    ) -> None:
        super().__init__()
        self.namespace = namespace
        self.name = name
        self.poll_interval = poll_interval
        # The triggerer keeps the run's heartbeat while the task is deferred (see TaskRunOperator.heartbeat_timeout).
        self.heartbeat_every = heartbeat_every
        self.kubeconfig = kubeconfig
        self.cluster_context = cluster_context

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Pure: the class path and the arguments the triggerer re-creates this trigger from."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "namespace": self.namespace,
                "name": self.name,
                "poll_interval": self.poll_interval,
                "heartbeat_every": self.heartbeat_every,
                "kubeconfig": self.kubeconfig,
                "cluster_context": self.cluster_context,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """I/O: poll, then yield one event: ``{"status": "finished" | "gone" | "error", ...}``."""
        base = {"namespace": self.namespace, "name": self.name}
        try:
            async with TaskRunApi.connect(kubeconfig=self.kubeconfig, context=self.cluster_context) as api:
                run = await api.wait(
                    self.namespace, self.name, poll_interval=self.poll_interval, heartbeat_every=self.heartbeat_every
                )
        except TaskRunGone as exc:
            yield TriggerEvent({**base, "status": "gone", "message": str(exc)})
            return
        except TaskApiError as exc:
            yield TriggerEvent({**base, "status": "error", "message": str(exc)})
            return
        result = outcome(run)
        yield TriggerEvent({**base, "status": "finished", "succeeded": result.succeeded, "reason": result.reason})
