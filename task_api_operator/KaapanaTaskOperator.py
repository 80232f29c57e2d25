"""The guide's ``KaapanaTaskOperator`` and ``IOMapping`` (module named as the guide imports it).

:class:`task_api.airflow.kaapana.KaapanaTaskOperator`: the guide's and Kaapana's keyword names (``image``,
``taskTemplate``, ``env``, ``command``, ``resources``, ``iochannel_maps``, ``registryUrl``, ``registryUsername``,
``registryPassword``, ``startup_timeout_seconds``, ``labels``, ``annotations``) on a TaskRun run through the task-api
Kubernetes operator. Where the guide's operator mounted host directories of a Kaapana platform, outputs here go to
the namespace's workspace claim and downstream tasks read them with ``fromTaskRun``.
"""

from __future__ import annotations

from task_api.airflow.kaapana import IOMapping, KaapanaTaskOperator

__all__ = ["IOMapping", "KaapanaTaskOperator"]
