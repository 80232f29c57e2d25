"""From operator arguments, the DAG run's conf and upstream results to a TaskRun body. Pure: no I/O, no Airflow.

Everything the Airflow operator decides before it talks to the cluster is here, so it is unit-tested without
Airflow or Kubernetes:

* :func:`split_aliases` — the original guide's keyword names (``taskTemplate``, ``registryUrl``, …) next to
  snake_case ones;
* :class:`IOMapping` — "this input channel reads that upstream task's output channel";
* :func:`user_config` — the per-run configuration in ``conf["task_form"][task_id]``;
* :func:`secret_env_values` — the env values kept out of the TaskRun (``secret_env``), checked against ``env``;
* :func:`check_against_template` — env values (types, choices, ``adjustable``) and channel names checked against
  the task template before anything is created;
* :func:`bind_inputs` — iochannel maps turned into ``fromTaskRun`` bindings, checked against what the upstream
  TaskRuns really produced;
* :func:`plain` — Kaapana's ``pc_models`` objects (``BaseEnv``, ``Resources``) as the mappings they stand for;
* :func:`pod_settings` — pod labels and annotations (checked as Kubernetes checks them), the pending and run time
  limits (``startup_timeout_seconds``, ``execution_timeout``);
* :func:`build_taskrun` — the TaskRun object;
* :func:`outcome` — a TaskRun's status read as finished/succeeded/reason.

Errors are :class:`OperatorConfigError` (a :class:`~task_api.spec.SpecError`): every problem with the field path,
what was given and what is allowed, all at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from task_api.core.taskrun.conditions import Outcome
from task_api.core.taskrun.conditions import outcome_of as outcome
from task_api.core.taskrun.objects import (
    build_credentials_secret,
    build_env_secret,
    credentials_secret_name,
    env_secret_name,
)
from task_api.spec import K8sConfig, Problem, Resources, Severity, SpecError, TaskTemplate
from task_api.spec._base import did_you_mean, quote
from task_api.spec.crd.common import GROUP as _GROUP
from task_api.spec.crd.common import VERSION as _VERSION
from task_api.spec.fields import ENV_NAME_PATTERN
from task_api.spec.load import SECRET_NAME, validate_value
from task_api.spec.processing_container import check_env_value

__all__ = [
    "ALIASES",
    "GROUP",
    "VERSION",
    "IOMapping",
    "OperatorConfigError",
    "Outcome",
    "PodSettings",
    "bind_inputs",
    "build_credentials_secret",
    "build_env_secret",
    "build_taskrun",
    "check_against_template",
    "env_list",
    "outcome",
    "outputs_from_status",
    "plain",
    "pod_settings",
    "secret_env_values",
    "split_aliases",
    "user_config",
]

GROUP = _GROUP
VERSION = _VERSION
USER_INPUT_KEY = "task_form"
ENV_NAME = re.compile(ENV_NAME_PATTERN)

#: The guide's keyword names and the snake_case names they stand for.
ALIASES: Mapping[str, str] = {
    "taskTemplate": "task_template",
    "registryUrl": "registry_url",
    "registryUsername": "registry_username",
    "registryPassword": "registry_password",
    "imagePullSecrets": "image_pull_secrets",
    "iochannel_map": "iochannel_maps",
}

#: Label and annotation keys under this prefix are task-api's own (the Airflow identity, the heartbeat).
RESERVED_PREFIX = "task-api.io/"
#: The longest pending or run time limit a TaskRun takes (the CRD's bound).
MAX_SECONDS = 7 * 24 * 3600


class OperatorConfigError(SpecError):
    """The operator's arguments, the DAG run's conf or the upstream results do not fit the task template."""


def _redact(name: str, value: str) -> str:
    return "<redacted>" if SECRET_NAME.search(name) else quote(value)


def split_aliases(kwargs: dict[str, Any], *, source: str = "TaskRunOperator") -> dict[str, Any]:
    """Pop the guide's keyword names out of ``kwargs`` and return them under their snake_case names (pure).

    Giving both spellings of one argument is an error (which one would win is not obvious).
    """
    found: dict[str, Any] = {}
    for alias, name in ALIASES.items():
        if alias in kwargs:
            if name in kwargs or name in found:
                raise OperatorConfigError(
                    source,
                    [Problem(path=alias, message=f"{alias} and {name} are the same argument; give one of them")],
                )
            found[name] = kwargs.pop(alias)
    return found


def plain(value: Any) -> Any:
    """Pydantic models (Kaapana's ``pc_models.BaseEnv``, ``Resources``, …) as plain data, recursively (pure).

    Everything else is returned as it is, so a DAG may mix models and mappings.
    """
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def resource_overrides(value: Any, *, source: str) -> dict[str, dict[str, str]] | None:
    """``resources`` (a mapping or ``pc_models.Resources``) checked as a template's resources are (pure).

    A ``None`` quantity means "not set" (Kaapana's own operators build ``Resources(limits={"cpu": None})``).
    """
    value = plain(value)
    if not value:
        return None
    if not isinstance(value, Mapping):
        raise OperatorConfigError(
            source,
            [Problem(path="resources", message="must be a mapping or pc_models.Resources", given=type(value).__name__)],
        )
    cleaned = {
        kind: {k: v for k, v in group.items() if v is not None} if isinstance(group, Mapping) else group
        for kind, group in value.items()
        if group is not None
    }
    try:
        checked = validate_value(cleaned, Resources, source=source)
    except SpecError as exc:
        raise OperatorConfigError(source, [_prefixed(problem, "resources") for problem in exc.problems]) from None
    out = {"requests": dict(checked.requests), "limits": dict(checked.limits)}
    return {kind: group for kind, group in out.items() if group} or None


def _prefixed(problem: Problem, prefix: str) -> Problem:
    path = f"{prefix}.{problem.path}" if problem.path else prefix
    return Problem(path=path, message=problem.message, given=problem.given, allowed=problem.allowed)


@dataclass(frozen=True)
class PodSettings:
    """What a TaskRun operator sets on the TaskRun besides the template: pod metadata and time limits."""

    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    #: The TaskRun's ``spec.pendingTimeoutSeconds``: how long each attempt's pod may stay Pending.
    pending_timeout_seconds: int | None = None
    #: The TaskRun's ``spec.timeoutSeconds``: how long each attempt may run.
    timeout_seconds: int | None = None


def _seconds(value: Any, path: str, problems: list[Problem]) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SECONDS:
        problems.append(
            Problem(
                path=path, message="not a number of seconds", given=quote(str(value)), allowed=f"1 to {MAX_SECONDS}"
            )
        )
        return None
    return value


def _metadata(value: Any, path: str, problems: list[Problem]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(Problem(path=path, message="must be a mapping", given=type(value).__name__))
        return {}
    out: dict[str, Any] = {}
    for key, item in value.items():
        where = f"{path}.{key}"
        if not isinstance(key, str):
            problems.append(Problem(path=where, message="keys must be strings", given=type(key).__name__))
        elif key.startswith(RESERVED_PREFIX):
            problems.append(
                Problem(path=where, message=f"keys under {RESERVED_PREFIX} are task-api's own", given=quote(key))
            )
        elif not isinstance(item, str | int | float | bool):
            problems.append(Problem(path=where, message="values must be strings", given=type(item).__name__))
        else:
            out[key] = item
    return out


def pod_settings(
    *,
    labels: Any = None,
    annotations: Any = None,
    startup_timeout_seconds: Any = None,
    timeout_seconds: Any = None,
    execution_timeout: timedelta | None = None,
    source: str,
) -> PodSettings:
    """Check what the operator puts on the TaskRun besides the template (pure). Raises OperatorConfigError.

    ``labels`` and ``annotations`` must be what Kubernetes accepts on a pod (they reach the task pod), and not
    under ``task-api.io/``. ``startup_timeout_seconds`` (Kaapana's name) becomes ``spec.pendingTimeoutSeconds``.
    ``timeout_seconds`` becomes ``spec.timeoutSeconds``; without it, Airflow's ``execution_timeout`` does, so the
    TaskRun itself ends ``TimedOut`` (left unset beyond the TaskRun's 7-day bound: Airflow still enforces it).
    """
    problems: list[Problem] = []
    metadata = {
        "labels": _metadata(labels, "labels", problems),
        "annotations": _metadata(annotations, "annotations", problems),
    }
    checked_labels: dict[str, str] = {}
    checked_annotations: dict[str, str] = {}
    try:
        config = validate_value({"type": "k8s", **metadata}, K8sConfig, source=source)
    except SpecError as exc:
        problems += exc.problems
    else:
        checked_labels, checked_annotations = dict(config.labels), dict(config.annotations)
    pending = _seconds(startup_timeout_seconds, "startup_timeout_seconds", problems)
    timeout = _seconds(timeout_seconds, "timeout_seconds", problems)
    if timeout is None and timeout_seconds is None and execution_timeout is not None:
        seconds = math.ceil(execution_timeout.total_seconds())
        timeout = seconds if 1 <= seconds <= MAX_SECONDS else None
    if problems:
        raise OperatorConfigError(source, problems)
    return PodSettings(
        labels=checked_labels,
        annotations=checked_annotations,
        pending_timeout_seconds=pending,
        timeout_seconds=timeout,
    )


@dataclass(frozen=True)
class IOMapping:
    """Feed ``input_channel`` of this task from ``upstream_output_channel`` of ``upstream_operator``'s TaskRun.

    ``upstream_operator`` must be a TaskRun operator of the same DAG (checked when the operator is built).
    """

    upstream_operator: Any
    upstream_output_channel: str
    input_channel: str


def env_list(value: Any, *, path: str, source: str) -> dict[str, str]:
    """Env given as a mapping or as a list of ``{name, value}`` objects, as an ordered mapping (pure)."""
    problems: list[Problem] = []
    out: dict[str, str] = {}
    value = plain(value)  # Kaapana's pc_models.BaseEnv entries
    if value is None:
        return out
    items: list[tuple[str, Any, str]]
    if isinstance(value, Mapping):
        items = [(str(k), v, f"{path}.{k}") for k, v in value.items()]
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items = []
        for index, entry in enumerate(value):
            if not isinstance(entry, Mapping) or "name" not in entry or "value" not in entry:
                problems.append(
                    Problem(
                        path=f"{path}[{index}]",
                        message="an env entry needs name and value",
                        given=quote(entry) if not isinstance(entry, Mapping) else f"keys {sorted(entry)}",
                        allowed='{"name": "VAR", "value": "..."}',
                    )
                )
                continue
            items.append((str(entry["name"]), entry["value"], f"{path}[{index}].value"))
    else:
        raise OperatorConfigError(
            source,
            [
                Problem(
                    path=path,
                    message="env must be a mapping or a list of {name, value}",
                    given=type(value).__name__,
                    allowed='{"VAR": "value"} or [{"name": "VAR", "value": "value"}]',
                )
            ],
        )
    for name, raw, where in items:
        if not ENV_NAME.match(name):
            problems.append(Problem(path=where, message="not a valid variable name", given=quote(name)))
            continue
        if isinstance(raw, bool):
            out[name] = "true" if raw else "false"
        elif isinstance(raw, str | int | float):
            out[name] = str(raw)
        else:
            problems.append(
                Problem(
                    path=where,
                    message=f"{name}: a value must be a string, number or boolean",
                    given=type(raw).__name__,
                    allowed="a scalar",
                )
            )
    if problems:
        raise OperatorConfigError(source, problems)
    return out


def secret_env_values(value: Any, *, env: Mapping[str, Any], source: str) -> dict[str, str]:
    """``secret_env`` (as ``env``: a mapping or ``{name, value}`` list) as an ordered mapping (pure).

    A name may not also be in ``env``: which value would win is not obvious, and the plain one would sit in the
    TaskRun. Problems name the variable, never the value.
    """
    values = env_list(value, path="secret_env", source=source)
    clash = [name for name in values if name in env]
    if clash:
        raise OperatorConfigError(
            source,
            [
                Problem(
                    path=f"secret_env.{name}",
                    message=f"{name} is given in env too; give it in one of env and secret_env",
                    given=quote(name),
                )
                for name in clash
            ],
        )
    return values


@dataclass(frozen=True)
class UserConfig:
    """What the DAG run's conf sets for one task."""

    env: dict[str, str]
    command: list[str] | None = None


def user_config(conf: Mapping[str, Any] | None, task_id: str) -> UserConfig:
    """``conf["task_form"][task_id]``: ``env`` (mapping or list), ``command``, or the guide's ``VAR: value`` (pure).

    Precedence, as in the original guide: this conf > the operator's ``env`` > the template's values.
    """
    source = "DAG run conf"
    form = (conf or {}).get(USER_INPUT_KEY) or {}
    if not isinstance(form, Mapping):
        raise OperatorConfigError(
            source, [Problem(path=USER_INPUT_KEY, message="must be a mapping of task ids", given=type(form).__name__)]
        )
    mine = form.get(task_id) or {}
    base = f"{USER_INPUT_KEY}.{task_id}"
    if not isinstance(mine, Mapping):
        raise OperatorConfigError(
            source, [Problem(path=base, message="must be a mapping", given=type(mine).__name__, allowed="{env: ...}")]
        )
    env: dict[str, str] = {}
    command: list[str] | None = None
    problems: list[Problem] = []
    flat: dict[str, Any] = {}
    for key, value in mine.items():
        if key == "env":
            env.update(env_list(value, path=f"{base}.env", source=source))
        elif key == "command":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append(
                    Problem(path=f"{base}.command", message="must be a list of strings", given=quote(value))
                )
            else:
                command = list(value)
        elif ENV_NAME.match(str(key)) and not isinstance(value, Mapping | list):
            flat[str(key)] = value  # the guide's form: task_form.<task>.<VAR>: <value>
        else:
            problems.append(
                Problem(
                    path=f"{base}.{key}",
                    message="unknown key",
                    given=quote(key),
                    allowed="env, command, or VAR_NAME: value",
                )
            )
    if problems:
        raise OperatorConfigError(source, problems)
    env.update(env_list(flat, path=base, source=source))
    return UserConfig(env=env, command=command)


@dataclass(frozen=True)
class EnvSource:
    """Where an env value came from, for error paths."""

    value: str
    path: str


def check_against_template(
    template: TaskTemplate,
    *,
    env: Mapping[str, EnvSource],
    input_channels: Mapping[str, str],
    source: str,
    secret_env: Mapping[str, EnvSource] | None = None,
) -> list[Problem]:
    """Check env values and bound input channels against the template; return the warnings (pure).

    ``input_channels`` maps each bound input channel to the path of the argument that bound it. Raises
    :class:`OperatorConfigError` with every error: an env value of the wrong type or outside ``choices``, a
    changed non-adjustable variable, a channel the template does not have, a template input left unbound.
    ``secret_env`` values must be for variables the template declares adjustable (the Kubernetes operator refuses
    others, as it cannot check a value it never reads); their type and choices are checked here, where the value is
    known, and shown as ``<redacted>``.
    """
    problems: list[Problem] = []
    declared = {var.name: var for var in template.env}
    adjustable = ", ".join(sorted(v.name for v in template.env if v.adjustable))
    for name, given in (secret_env or {}).items():
        var = declared.get(name)
        if var is None or not var.adjustable:
            problems.append(
                Problem(
                    path=given.path,
                    message=(
                        f"{name} is not declared by template {template.identifier!r}"
                        if var is None
                        else f"{name} is not adjustable in template {template.identifier!r}"
                    )
                    + "; only declared, adjustable variables may take their value from a Secret",
                    given=quote(name),
                    allowed=adjustable or "(the template declares no adjustable env vars)",
                )
            )
            continue
        found = check_env_value(given.value, var.type, var.choices)
        if found is not None:
            message, allowed = found
            problems.append(
                Problem(
                    path=given.path,
                    message=f"{name}: {message} (declared type {var.type.value})",
                    given="<redacted>",
                    allowed=allowed,
                )
            )
    for name, given in env.items():
        var = declared.get(name)
        shown = _redact(name, given.value)
        if var is None:
            problems.append(
                Problem(
                    path=given.path,
                    message=f"{name} is not declared by template {template.identifier!r}; passed through",
                    given=quote(name),
                    allowed=", ".join(declared) or "(the template declares no env vars)",
                    severity=Severity.WARNING,
                )
            )
            continue
        if not var.adjustable and given.value != var.value:
            problems.append(
                Problem(
                    path=given.path,
                    message=f"{name} is not adjustable in template {template.identifier!r}",
                    given=shown,
                    allowed="<redacted>" if shown == "<redacted>" else f"only {quote(var.value)}",
                )
            )
            continue
        found = check_env_value(given.value, var.type, var.choices)
        if found is not None:
            message, allowed = found
            problems.append(
                Problem(
                    path=given.path,
                    message=f"{name}: {message} (declared type {var.type.value})",
                    given=shown,
                    allowed=allowed,
                )
            )
    inputs = [channel.name for channel in template.inputs]
    for channel, path in input_channels.items():
        if channel not in inputs:
            hint = did_you_mean(channel, inputs)
            problems.append(
                Problem(
                    path=path,
                    message=f"template {template.identifier!r} has no input channel {channel!r}"
                    + (f" (did you mean {hint!r}?)" if hint else ""),
                    given=quote(channel),
                    allowed=", ".join(quote(i) for i in inputs) or "(the template has no inputs)",
                )
            )
    for channel in inputs:
        if channel not in input_channels:
            problems.append(
                Problem(
                    path="iochannel_maps",
                    message=f"input channel {channel!r} of template {template.identifier!r} is not bound",
                    allowed="an IOMapping(upstream_operator=..., upstream_output_channel=..., "
                    f"input_channel={channel!r}) or inputs={{{channel!r}: ...}}",
                )
            )
    if any(p.severity is Severity.ERROR for p in problems):
        raise OperatorConfigError(source, problems)
    return problems


def outputs_from_status(status: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """``status.outputs`` as ``{channel: {claimName, subPath} | {hostPath}}`` (pure)."""
    out: dict[str, dict[str, str]] = {}
    for entry in (status or {}).get("outputs") or []:
        if isinstance(entry, Mapping) and entry.get("name"):
            out[str(entry["name"])] = {k: str(v) for k, v in entry.items() if k != "name" and v is not None}
    return out


@dataclass(frozen=True)
class UpstreamResult:
    """What an upstream TaskRun operator pushed to XCom: its TaskRun and where its outputs went."""

    task_id: str
    taskrun: str
    outputs: Mapping[str, Mapping[str, str]]


def bind_inputs(
    maps: Sequence[IOMapping], upstream: Mapping[str, UpstreamResult | None], *, source: str
) -> list[dict[str, Any]]:
    """``fromTaskRun`` input bindings for the iochannel maps (pure).

    ``upstream`` maps each upstream task id to its XCom result (``None``: it has none, e.g. it did not run).
    An output channel the upstream TaskRun did not produce is an error that lists the ones it did.
    """
    problems: list[Problem] = []
    bindings: list[dict[str, Any]] = []
    for index, mapping in enumerate(maps):
        task_id = str(getattr(mapping.upstream_operator, "task_id", "?"))
        result = upstream.get(task_id)
        where = f"iochannel_maps[{index}]"
        if result is None:
            problems.append(
                Problem(
                    path=f"{where}.upstream_operator",
                    message=f"upstream task {task_id!r} has no TaskRun result in XCom; it must run (and succeed) "
                    "before this task: set it upstream (upstream >> this)",
                    given=quote(task_id),
                )
            )
            continue
        if mapping.upstream_output_channel not in result.outputs:
            hint = did_you_mean(mapping.upstream_output_channel, list(result.outputs))
            problems.append(
                Problem(
                    path=f"{where}.upstream_output_channel",
                    message=f"TaskRun {result.taskrun!r} of task {task_id!r} has no output channel "
                    f"{mapping.upstream_output_channel!r}" + (f" (did you mean {hint!r}?)" if hint else ""),
                    given=quote(mapping.upstream_output_channel),
                    allowed=", ".join(quote(c) for c in result.outputs) or "(it has no outputs)",
                )
            )
            continue
        bindings.append(
            {
                "name": mapping.input_channel,
                "fromTaskRun": {"name": result.taskrun, "output": mapping.upstream_output_channel},
            }
        )
    seen: dict[str, int] = {}
    for index, mapping in enumerate(maps):
        if mapping.input_channel in seen:
            problems.append(
                Problem(
                    path=f"iochannel_maps[{index}].input_channel",
                    message=f"input channel {mapping.input_channel!r} is already bound by "
                    f"iochannel_maps[{seen[mapping.input_channel]}]",
                    given=quote(mapping.input_channel),
                )
            )
        seen.setdefault(mapping.input_channel, index)
    if problems:
        raise OperatorConfigError(source, problems)
    return bindings


def build_taskrun(
    *,
    name: str,
    namespace: str,
    task_template: str,
    image: str | None = None,
    processing_container: str | None = None,
    inputs: Sequence[Mapping[str, Any]] = (),
    outputs: Sequence[Mapping[str, Any]] = (),
    env: Mapping[str, str] | None = None,
    secret_env: Sequence[str] = (),
    command: Sequence[str] | None = None,
    resources: Mapping[str, Any] | None = None,
    image_pull_secrets: Sequence[str] = (),
    with_credentials: bool = False,
    timeout_seconds: int | None = None,
    pending_timeout_seconds: int | None = None,
    retries: Mapping[str, Any] | None = None,
    heartbeat_timeout_seconds: int | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    run_as_root: bool = False,
) -> dict[str, Any]:
    """The TaskRun object to create (pure). Exactly one of ``image`` and ``processing_container``.

    ``secret_env`` names the variables whose values are in the run's env Secret (:func:`build_env_secret`): the
    TaskRun holds only ``valueFrom.secretKeyRef`` for them.
    """
    if (image is None) == (processing_container is None):
        raise OperatorConfigError(
            name,
            [
                Problem(
                    path="image",
                    message="give exactly one of image and processing_container",
                    given="both" if image else "neither",
                )
            ],
        )
    spec: dict[str, Any] = {"taskTemplate": task_template}
    if image is not None:
        spec["image"] = image
    else:
        spec["processingContainerRef"] = {"name": processing_container}
    if image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in image_pull_secrets]
    if with_credentials:
        spec["registryCredentialsSecret"] = {"name": credentials_secret_name(name)}
    if inputs:
        spec["inputs"] = [dict(i) for i in inputs]
    if outputs:
        spec["outputs"] = [dict(o) for o in outputs]
    entries: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in (env or {}).items()]
    ref = env_secret_name(name)
    entries += [{"name": n, "valueFrom": {"secretKeyRef": {"name": ref, "key": n}}} for n in secret_env]
    if entries:
        spec["env"] = entries
    if command is not None:
        spec["command"] = list(command)
    if resources:
        spec["resources"] = {k: dict(v) for k, v in resources.items() if k in ("requests", "limits")}
    if timeout_seconds is not None:
        spec["timeoutSeconds"] = int(timeout_seconds)
    if pending_timeout_seconds is not None:
        spec["pendingTimeoutSeconds"] = int(pending_timeout_seconds)
    if retries:
        spec["retries"] = dict(retries)
    if heartbeat_timeout_seconds is not None:
        spec["heartbeatTimeoutSeconds"] = int(heartbeat_timeout_seconds)
    if run_as_root:
        spec["runAsRoot"] = True
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TaskRun",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels or {}),
            "annotations": dict(annotations or {}),
        },
        "spec": spec,
    }
