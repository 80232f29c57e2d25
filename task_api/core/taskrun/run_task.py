"""A TaskRun merged with its template: the one :class:`~task_api.spec.ResolvedTask` the pod is built from. Pure.

The TaskRun's fields become a :class:`~task_api.spec.Task` — built in memory, with the same checks and messages as
a task.json, but no placeholder filling: a literal ``{{`` in an env value or a command is the author's text — and
the same merge the CLI uses (:func:`task_api.core.merge.resolve`) checks it against the template, so every rule
about channels, env choices and adjustability lives in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from task_api.core.legacy import check_task as check_legacy_task
from task_api.core.merge import resolve
from task_api.core.pod import ChannelVolume
from task_api.spec import ProcessingContainer, ResolvedTask, Task
from task_api.spec.crd.taskrun import TaskRunResource
from task_api.spec.errors import SpecError
from task_api.spec.load import validate_value

__all__ = ["describe_problems", "resolve_run", "task_of_run"]


def _volume_source(volume: ChannelVolume) -> dict[str, Any]:
    if volume.claim_name is not None:
        source: dict[str, Any] = {"persistentVolumeClaim": {"claimName": volume.claim_name}}
        if volume.sub_path:
            source["subPath"] = volume.sub_path
        return source
    if volume.nfs_server is not None:
        nfs = {"nfs": {"server": volume.nfs_server, "path": volume.nfs_path, "readOnly": volume.read_only}}
        return {**nfs, "subPath": volume.sub_path} if volume.sub_path else nfs
    return {"host_path": volume.host_path}


def task_of_run(
    run: TaskRunResource,
    *,
    image: str,
    input_volumes: Mapping[str, ChannelVolume],
    output_volumes: Mapping[str, ChannelVolume],
    stand_ins: Mapping[str, str] | None = None,
) -> Task:
    """Pure: the task a TaskRun describes, its channels resolved to volumes. Raises SpecError (paths as in the
    TaskRun's spec, one level down: ``env[0].value``). A variable taken from a Secret gets its value from
    ``stand_ins`` (the template's own), so the merge checks everything else at the same positions."""
    spec = run.spec
    stand_ins = stand_ins or {}
    document: dict[str, Any] = {
        "name": run.metadata.name,
        "image": image,
        "taskTemplate": spec.task_template,
        "inputs": [{"name": n, "volume_source": _volume_source(v)} for n, v in input_volumes.items()],
        "outputs": [{"name": n, "volume_source": _volume_source(v)} for n, v in output_volumes.items()],
        "env": [{"name": e.name, "value": stand_ins.get(e.name, "") if e.value is None else e.value} for e in spec.env],
    }
    if spec.command is not None:
        document["command"] = list(spec.command)
    if spec.resources is not None:
        overrides = {"requests": spec.resources.requests, "limits": spec.resources.limits}
        document["resources"] = {k: dict(v) for k, v in overrides.items() if v}
    return validate_value(document, Task, source=f"TaskRun {run.metadata.namespace}/{run.metadata.name}")


def resolve_run(
    run: TaskRunResource,
    container: ProcessingContainer,
    *,
    image: str,
    input_volumes: Mapping[str, ChannelVolume],
    output_volumes: Mapping[str, ChannelVolume],
    stage_image: str,
    stand_ins: Mapping[str, str] | None = None,
) -> ResolvedTask:
    """Pure: the TaskRun merged with its template; legacy images are checked too (they need ``stage_image``).
    Raises SpecError."""
    task = task_of_run(
        run, image=image, input_volumes=input_volumes, output_volumes=output_volumes, stand_ins=stand_ins
    )
    resolved = resolve(task, container)
    check_legacy_task(resolved, stage_image=stage_image)
    return resolved


def describe_problems(err: SpecError, *, prefix: str = "") -> str:
    """Pure: a SpecError in one message (for a condition), one problem per line, each path under ``prefix``
    (``spec.`` for a TaskRun, whose fields sit where task.json's do, one level down)."""
    problems = err.errors or err.problems
    return "\n".join(replace(p, path=f"{prefix}{p.path}" if p.path else p.path).format() for p in problems)
