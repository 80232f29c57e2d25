"""Deterministic TaskRun names for Airflow task instances. Pure.

A TaskRun made for an Airflow task instance is named from the instance's identity (``dag_id``, ``run_id``,
``task_id``, ``map_index``) and its ``try_number``:

* the same try always maps to the same name, so an ``execute`` that runs again for the same try (a worker
  restart, a resumed deferral) finds its TaskRun instead of starting a second one;
* a retry is a new try, so it gets a new TaskRun (and pods), while the failed attempt's TaskRun stays for
  inspection;
* the name is a DNS-1123 label of at most 63 characters (TaskRun names end up in pod labels), readable in
  ``kubectl get taskruns``: ``<dag>-<task>-t<try>-<hash>``, the hash telling apart runs whose readable part was
  cut or sanitised to the same text.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["MAX_NAME", "earlier_tries", "label_value", "run_name", "taskrun_name"]

MAX_NAME = 63
_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9._-]+")


def _slug(text: str) -> str:
    return re.sub(r"-{2,}", "-", _NOT_DNS.sub("-", text.lower())).strip("-")


def taskrun_name(*, dag_id: str, task_id: str, run_id: str, try_number: int, map_index: int = -1) -> str:
    """The TaskRun name of one try of one task instance (pure).

    ``dag_id="my-dag", task_id="get_data", try_number=1`` gives ``my-dag-get-data-t1-`` and ten hex digits.
    """
    identity = "\x1f".join([dag_id, run_id, task_id, str(map_index)])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:10]
    tail = f"-t{max(try_number, 0)}-{digest}"
    readable = _slug(f"{dag_id}-{task_id}" + (f"-m{map_index}" if map_index >= 0 else "")) or "run"
    readable = readable[: MAX_NAME - len(tail)].rstrip("-") or "run"
    return f"{readable}{tail}"


def run_name(prefix: str, run_id: str) -> str:
    """A TaskRun name for one DAG run, for manifests templated by other operators (pure).

    The provider's ``KubernetesCreateResourceOperator`` creates what its YAML says, so the DAG names the TaskRun
    itself; registered as a Jinja filter (``user_defined_filters={"run_name": run_name}``),
    ``{{ "checksum" | run_name(run_id) }}`` gives ``checksum-manual-2025-01-01t00-00-00-00-00-`` and eight hex digits —
    the same for every task of the run (create, sensor, delete), different for every run.
    """
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:8]
    readable = _slug(f"{prefix}-{run_id}")[: MAX_NAME - len(digest) - 1].rstrip("-") or "run"
    return f"{readable}-{digest}"


def earlier_tries(*, dag_id: str, task_id: str, run_id: str, try_number: int, map_index: int = -1) -> list[str]:
    """The TaskRun names of the tries before ``try_number`` of the same task instance, oldest first (pure).

    A try whose Airflow process died without ``on_kill`` (SIGKILL, a lost worker) leaves its TaskRun running; the
    next try finds it by name and stops it.
    """
    return [
        taskrun_name(dag_id=dag_id, task_id=task_id, run_id=run_id, try_number=earlier, map_index=map_index)
        for earlier in range(1, try_number)
    ]


def label_value(text: str) -> str:
    """``text`` made a valid label value (at most 63 of ``[A-Za-z0-9._-]``, alphanumeric at both ends). Pure."""
    cleaned = _NOT_LABEL.sub("-", text)[:MAX_NAME]
    return cleaned.strip("-._")
