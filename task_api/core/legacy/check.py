"""Checking a resolved legacy task before anything is created. Pure."""

from __future__ import annotations

from task_api.core.legacy.layout import MARKER_ENV, LegacyError, LegacyLayout, LegacyReason, conf_document, layout_of
from task_api.spec._base import quote
from task_api.spec.errors import Problem, Severity
from task_api.spec.resolved import ResolvedTask


def _reserved_injection(task: ResolvedTask) -> bool:
    """Did the *task* add the marker to a template that does not declare it? (merge's pass-through warning)"""
    return any(
        w.severity is Severity.WARNING and w.path.startswith("env[") and w.given == quote(MARKER_ENV)
        for w in task.warnings
    )


def check_task(task: ResolvedTask, *, source: str = "task", stage_image: str | None = None) -> LegacyLayout | None:
    """Check a resolved legacy task before anything is created; None for ordinary tasks (pure).

    ``stage_image`` is checked when given as a string (the operator passes its own image; the Docker runner stages
    on the host and passes None). Raises :class:`LegacyError`.
    """
    if MARKER_ENV not in task.env:
        return None
    if _reserved_injection(task):
        problem = Problem(
            path="env",
            message=f"{MARKER_ENV} is reserved for templates migrated with `task-api legacy init`; a task cannot "
            f"add it to template {task.template!r}",
            given=quote(MARKER_ENV),
            allowed="remove it from the task's env",
        )
        raise LegacyError(source, [problem], reason=LegacyReason.RESERVED_ENV)
    layout = layout_of(task.env, source=source)
    assert layout is not None
    problems: list[Problem] = []
    for kind, channels, name, path in (
        ("inputs", task.inputs, layout.input, layout.input_path),
        ("outputs", task.outputs, layout.output, layout.output_path),
    ):
        found = next((c for c in channels if c.name == name), None)
        if found is None:
            problems.append(
                Problem(
                    path=kind,
                    message=f"the legacy layout needs channel {name!r} bound",
                    allowed=f'add {{"name": "{name}", "volume_source": {{…}}}} to {kind}',
                )
            )
        elif found.mounted_path != path:
            problems.append(
                Problem(
                    path=f"env.{MARKER_ENV}",
                    message=f"the layout expects channel {name!r} at {path!r}, the template mounts it elsewhere",
                    given=quote(found.mounted_path),
                    allowed=quote(path),
                )
            )
    if problems:
        raise LegacyError(source, problems, reason=LegacyReason.CHANNEL_MISMATCH)
    conf_document(layout, task.env, source=source)
    if stage_image is not None and not stage_image:
        problem = Problem(
            path="",
            message="legacy images need the operator's own image for the staging step, and "
            "TASK_API_MEASURE_IMAGE is not set",
            allowed="set TASK_API_MEASURE_IMAGE in the operator's deployment",
        )
        raise LegacyError(source, [problem], reason=LegacyReason.NO_STAGE_IMAGE)
    return layout
