"""The guide's ``KaapanaTaskOperator`` and ``IOMapping`` (module named as the guide imports it).

``KaapanaTaskOperator`` is :class:`task_api.airflow.TaskRunOperator`: it accepts the guide's keyword names
(``image``, ``taskTemplate``, ``env``, ``command``, ``resources``, ``iochannel_maps``, ``registryUrl``,
``registryUsername``, ``registryPassword``) and runs a TaskRun through the task-api Kubernetes operator. Where the
guide's operator mounted host directories of a Kaapana platform, outputs here go to the namespace's workspace claim
and downstream tasks read them with ``fromTaskRun``.
"""

from __future__ import annotations

from task_api.airflow.build import IOMapping
from task_api.airflow.operators import TaskRunOperator

__all__ = ["IOMapping", "KaapanaTaskOperator"]


class KaapanaTaskOperator(TaskRunOperator):
    """The original guide's name for :class:`~task_api.airflow.TaskRunOperator` (same arguments, same behaviour)."""
