"""``KaapanaTaskOperator``: :class:`~task_api.airflow.TaskRunOperator` with Kaapana's argument names and defaults.

Kaapana's DAGs import it as ``from task_api_operators.KaapanaTaskOperator import KaapanaTaskOperator, IOMapping``
(the folder Kaapana's workflow service stages it in); the original guide writes ``task_api_operator`` (singular).
Both import paths give this class. It takes every argument of Kaapana's operator: ``image``, ``taskTemplate``,
``env`` (a list of mappings or ``pc_models.BaseEnv``), ``command``, ``resources`` (a mapping or
``pc_models.Resources``), ``registryUrl``, ``registryUsername``, ``registryPassword``, ``iochannel_maps``,
``startup_timeout_seconds``, ``execution_timeout``, ``labels`` and ``annotations`` — with Kaapana's defaults: a pod
may stay Pending for an hour, and a try may take 90 minutes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from task_api.airflow.build import IOMapping
from task_api.airflow.operators import TaskRunOperator

__all__ = ["IOMapping", "KaapanaTaskOperator"]

#: Kaapana's defaults for how long a pod may stay Pending, and how long a try may take.
STARTUP_TIMEOUT_SECONDS = 3600
EXECUTION_TIMEOUT = timedelta(minutes=90)


class KaapanaTaskOperator(TaskRunOperator):
    """Kaapana's operator name for :class:`TaskRunOperator`, with Kaapana's time limits by default.

    :param startup_timeout_seconds: how long each attempt's pod may stay Pending (default 3600).
    :param execution_timeout: Airflow's limit on the task (default 90 minutes); it is also each attempt's run
        time limit on the TaskRun unless ``timeout_seconds`` is given.
    """

    def __init__(
        self,
        *,
        startup_timeout_seconds: int | None = STARTUP_TIMEOUT_SECONDS,
        execution_timeout: timedelta | None = EXECUTION_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(startup_timeout_seconds=startup_timeout_seconds, execution_timeout=execution_timeout, **kwargs)
