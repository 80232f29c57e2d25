"""Merge a task with its template into one :class:`~task_api.spec.ResolvedTask`.

This is where a task is checked against what the template allows. Each of these is an error, and all of them
are reported together:

* overriding an env var the template declares ``adjustable: false`` (with a different value);
* an env value of the wrong type, or outside the declared ``choices``;
* binding a channel the template does not have (the message lists the ones it has);
* leaving a template input unbound (Kaapana silently drops the channel; we refuse);
* a scale rule on an output binding;
* resources that, merged key by key, end with a limit below a request;
* a relative ``host_path`` when no base folder is known.

An env var the template does not declare is passed through with a *warning* (Kaapana does the same, and real
tasks rely on it). An output left unbound is a warning too: the run works, but what it writes there is lost.

Pure: no I/O. Relative host paths are joined to ``base_dir`` textually; nothing is read from disk.
"""

from __future__ import annotations

import posixpath

from task_api.spec import (
    ChannelBinding,
    Problem,
    ProcessingContainer,
    ResolvedChannel,
    ResolvedTask,
    Resources,
    Severity,
    SpecError,
    Task,
    TaskTemplate,
    VolumeSource,
)
from task_api.spec._base import did_you_mean, quote
from task_api.spec.errors import format_path
from task_api.spec.load import SECRET_NAME
from task_api.spec.processing_container import check_env_value

__all__ = ["resolve", "select_template"]


def select_template(task: Task, container: ProcessingContainer | None, *, source: str = "task") -> TaskTemplate:
    """The template a task runs: its inline template, or the one it names in ``container`` (pure)."""
    ref = task.taskTemplate
    if not isinstance(ref, str):
        return ref
    if container is None:
        raise SpecError(
            source,
            [
                Problem(
                    path="taskTemplate",
                    message="the task names a template but no processing container was given to look it up",
                    given=quote(ref),
                    allowed="an inline template object, or a processing-container.json (--template)",
                )
            ],
        )
    return container.template(ref)


def _env(task: Task, template: TaskTemplate, problems: list[Problem]) -> dict[str, str]:
    declared = {var.name: var for var in template.env}
    env = {var.name: var.value for var in template.env}
    for index, override in enumerate(task.env):
        var = declared.get(override.name)
        secret = bool(SECRET_NAME.search(override.name))
        shown = "<redacted>" if secret else quote(override.value)
        if var is None:
            problems.append(
                Problem(
                    path=f"env[{index}].name",
                    message=f"{override.name} is not declared by template {template.identifier!r}; passed through",
                    given=quote(override.name),
                    allowed=", ".join(declared) or "(the template declares no env vars)",
                    severity=Severity.WARNING,
                )
            )
            env[override.name] = override.value
            continue
        if not var.adjustable and override.value != var.value:
            problems.append(
                Problem(
                    path=f"env[{index}].value",
                    message=f"{var.name} is not adjustable in template {template.identifier!r}",
                    given=shown,
                    allowed="<redacted>" if secret else f"only the template's value {quote(var.value)}",
                )
            )
            continue
        found = check_env_value(override.value, var.type, var.choices)
        if found is not None:
            message, allowed = found
            problems.append(
                Problem(
                    path=f"env[{index}].value",
                    message=f"{var.name}: {message} (declared type {var.type.value})",
                    given=shown,
                    allowed=allowed,
                )
            )
            continue
        env[var.name] = override.value
    return env


def _source(binding: ChannelBinding, where: str, base_dir: str | None, problems: list[Problem]) -> VolumeSource:
    source = binding.volume_source
    host = source.host_path
    if host is None or host.startswith("/"):
        return source
    if base_dir is None:
        problems.append(
            Problem(
                path=f"{where}.volume_source.host_path",
                message="a relative host_path needs a base folder (the task file's folder)",
                given=quote(host),
                allowed="an absolute path",
            )
        )
        return source
    joined = posixpath.normpath(posixpath.join(base_dir, host))
    return source.model_copy(update={"host_path": joined})


def _unknown_channel(
    name: str, where: str, *, side: str, same_side: list[str], other_side: list[str], template: TaskTemplate
) -> Problem:
    """Pure: the problem for a binding naming no channel of its side (or one of the other side)."""
    other = "output" if side == "input" else "input"
    if name in other_side:
        message = f"{name!r} is an {other} channel of template {template.identifier!r}; bind it under {other}s"
    else:
        hint = did_you_mean(name, same_side)
        message = f"template {template.identifier!r} has no {side} channel {name!r}" + (
            f" (did you mean {hint!r}?)" if hint else ""
        )
    return Problem(
        path=f"{where}.name",
        message=message,
        given=quote(name),
        allowed=", ".join(same_side) or f"(the template has no {side}s)",
    )


def _channels(
    task: Task, template: TaskTemplate, base_dir: str | None, problems: list[Problem]
) -> tuple[list[ResolvedChannel], list[ResolvedChannel]]:
    inputs = {c.name: c for c in template.inputs}
    outputs = {c.name: c for c in template.outputs}
    resolved_in: dict[str, ResolvedChannel] = {}
    resolved_out: dict[str, ResolvedChannel] = {}

    for index, binding in enumerate(task.inputs):
        where = f"inputs[{index}]"
        channel = inputs.get(binding.name)
        if channel is None:
            problems.append(
                _unknown_channel(
                    binding.name,
                    where,
                    side="input",
                    same_side=list(inputs),
                    other_side=list(outputs),
                    template=template,
                )
            )
            continue
        resolved_in[binding.name] = ResolvedChannel(
            name=channel.name,
            mounted_path=channel.mounted_path,
            source=_source(binding, where, base_dir, problems),
            read_only=True,
            scale_rule=binding.scale_rule or channel.scale_rule,
            description=channel.description,
        )

    for index, binding in enumerate(task.outputs):
        where = f"outputs[{index}]"
        out = outputs.get(binding.name)
        if out is None:
            problems.append(
                _unknown_channel(
                    binding.name,
                    where,
                    side="output",
                    same_side=list(outputs),
                    other_side=list(inputs),
                    template=template,
                )
            )
            continue
        if binding.name in resolved_out:
            problems.append(
                Problem(
                    path=f"{where}.name",
                    message="output bound twice",
                    given=quote(binding.name),
                    allowed="each output once",
                )
            )
            continue
        if binding.scale_rule is not None:
            problems.append(
                Problem(
                    path=f"{where}.scale_rule",
                    message="scale rules apply to input channels only",
                    allowed="remove it, or move it to an input binding",
                )
            )
        resolved_out[binding.name] = ResolvedChannel(
            name=out.name,
            mounted_path=out.mounted_path,
            source=_source(binding, where, base_dir, problems),
            read_only=False,
            description=out.description,
        )

    for name in inputs:
        if name not in resolved_in and not any(b.name == name for b in task.inputs):
            problems.append(
                Problem(
                    path="inputs",
                    message=f"input channel {name!r} of template {template.identifier!r} is not bound",
                    allowed='add {"name": "' + name + '", "volume_source": {…}} to inputs',
                )
            )
    for name in outputs:
        if name not in resolved_out and not any(b.name == name for b in task.outputs):
            problems.append(
                Problem(
                    path="outputs",
                    message=f"output channel {name!r} is not bound: what the task writes there is lost",
                    allowed='add {"name": "' + name + '", "volume_source": {…}} to outputs',
                    severity=Severity.WARNING,
                )
            )
    # Keep the template's declaration order: runners mount in this order and tests compare whole objects.
    ordered_in = [resolved_in[n] for n in inputs if n in resolved_in]
    ordered_out = [resolved_out[n] for n in outputs if n in resolved_out]
    return ordered_in, ordered_out


def _resources(task: Task, template: TaskTemplate, problems: list[Problem]) -> Resources:
    base = template.resources or Resources()
    merged = base.merged_with(task.resources)
    for subpath, message, given, allowed in merged.problems():
        problems.append(
            Problem(
                path=format_path(("resources", *subpath)),
                message=message + " after merging the task's resources with the template's",
                given=given,
                allowed=allowed,
            )
        )
    # Built with model_construct: the checks above already reported what validation would.
    return merged


def resolve(
    task: Task,
    container: ProcessingContainer | None,
    *,
    source: str = "task",
    base_dir: str | None = None,
) -> ResolvedTask:
    """Merge ``task`` with its template (inline, or looked up in ``container``) (pure).

    ``base_dir`` is the folder relative ``host_path`` values are resolved against (the task file's folder);
    without it they are an error. Raises :class:`SpecError` listing every error (warnings ride along);
    on success the warnings are in ``ResolvedTask.warnings``. Problem paths are task.json paths.
    """
    template = select_template(task, container, source=source)
    problems: list[Problem] = []
    env = _env(task, template, problems)
    inputs, outputs = _channels(task, template, base_dir, problems)
    resources = _resources(task, template, problems)
    if any(p.severity is Severity.ERROR for p in problems):
        raise SpecError(source, problems)
    config = task.config
    labels = dict(config.labels) if config is not None else {}
    annotations = dict(getattr(config, "annotations", {}) or {})
    return ResolvedTask(
        name=task.name,
        image=task.image,
        template=template.identifier,
        template_description=template.description,
        env=env,
        command=list(task.command) if task.command is not None else template.command,
        inputs=inputs,
        outputs=outputs,
        resources=resources,
        labels=labels,
        annotations=annotations,
        config=config,
        warnings=problems,
    )
