"""Kaapana's ``KaapanaTaskOperator`` and ``IOMapping`` (module named as Kaapana's DAGs import it).

Kaapana's arguments, names and defaults; see :mod:`task_api.airflow.kaapana`.
"""

from __future__ import annotations

from task_api.airflow.kaapana import IOMapping, KaapanaTaskOperator

__all__ = ["IOMapping", "KaapanaTaskOperator"]
