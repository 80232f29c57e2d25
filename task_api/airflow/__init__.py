"""Airflow front end: run processing containers' task templates from DAGs as TaskRuns (``task-api[airflow]``).

Public surface::

    TaskRunOperator(task_id=..., image=..., task_template=..., iochannel_maps=[IOMapping(...)], ...)
    IOMapping(upstream_operator, upstream_output_channel, input_channel)
    TaskRunSensor(task_id=..., taskrun_name=..., namespace=...)   # wait for a TaskRun created by anyone
    TaskRunTrigger                       # what a deferrable TaskRunOperator or TaskRunSensor waits on
    TaskRunFailed / TaskRunFailedFinal   # how a TaskRun that did not succeed fails the Airflow task

Kaapana's spelling ``from task_api_operators.KaapanaTaskOperator import KaapanaTaskOperator, IOMapping`` works
too, and the guide's ``task_api_operator`` (singular): :class:`~task_api.airflow.kaapana.KaapanaTaskOperator` is
the operator with Kaapana's defaults. Pure helpers (names, argument aliases, the TaskRun body)
live in :mod:`task_api.airflow.naming` and :mod:`task_api.airflow.build` and import no Airflow; the names below
are loaded on first use, so ``import task_api.airflow.build`` works without Airflow installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from task_api.airflow.build import IOMapping

if TYPE_CHECKING:
    from task_api.airflow.kaapana import KaapanaTaskOperator
    from task_api.airflow.operators import TaskRunFailed, TaskRunFailedFinal, TaskRunOperator
    from task_api.airflow.sensors import TaskRunSensor
    from task_api.airflow.triggers import TaskRunTrigger

__all__ = [
    "IOMapping",
    "KaapanaTaskOperator",
    "TaskRunFailed",
    "TaskRunFailedFinal",
    "TaskRunOperator",
    "TaskRunSensor",
    "TaskRunTrigger",
]

_LAZY = {
    "KaapanaTaskOperator": "task_api.airflow.kaapana",
    "TaskRunOperator": "task_api.airflow.operators",
    "TaskRunFailed": "task_api.airflow.operators",
    "TaskRunFailedFinal": "task_api.airflow.operators",
    "TaskRunSensor": "task_api.airflow.sensors",
    "TaskRunTrigger": "task_api.airflow.triggers",
}


def __getattr__(name: str) -> Any:
    # Airflow is imported only when an operator or trigger is asked for.
    if name in _LAZY:
        import importlib  # noqa: PLC0415

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'task_api.airflow' has no attribute {name!r}")
