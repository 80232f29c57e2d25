"""Start a task with the local Docker engine: the steps of ``task-api run TASK.json --mode docker``.

:func:`prepare` does everything that can fail because of the task, *before* any container exists:

1. read the task file and fill ``{{ env.NAME }}`` placeholders (an unset variable is an error naming it);
2. find the image in the engine, or pull it (credentials from the task's ``config`` or the Docker client
   config; ``config.imagePullPolicy`` as on Kubernetes; ``--no-pull`` makes a missing image an error);
3. read the template from the image's ``processing-container.json`` unless the task has it inline;
4. merge and validate (:func:`task_api.core.merge.resolve`);
5. check the bindings can be mounted here: host directories (inputs must exist, outputs must be directories or
   not exist yet, and the container's user must be able to read the inputs and write the outputs: it has no
   ``CAP_DAC_OVERRIDE``, not even root passes over permission bits) or NFS exports (mounted by the engine; not
   measurable here);
6. measure the inputs that carry scale rules and compute memory (:func:`task_api.core.scale.compute_resources`);
7. build the container configuration (:func:`task_api.runner.plan.container_config`).

:func:`start` then creates the output directories, creates the container, writes the run record (the
container is removed again if that fails, so there is never a container without a record) and starts it.

Progress and explanations go to a ``report`` callback; this module never prints.

I/O: reads the task file and the inputs, talks to the engine, writes the record and output directories.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from task_api.core.legacy import check_task as check_legacy_task
from task_api.core.merge import resolve
from task_api.core.scale import compute_resources
from task_api.image import (
    SPEC_PATH,
    Credentials,
    InspectionCache,
    inspect_local_image,
    parse_reference,
    registry_mismatch,
)
from task_api.image.cache import CacheEntry
from task_api.image.inspect import parse_spec_bytes
from task_api.legacy import prepare_docker as prepare_legacy_docker
from task_api.measure import measure
from task_api.runner.engine import DockerEngine, Engine
from task_api.runner.errors import EngineError, ImageMissing, RecordError, TaskNotRunnable
from task_api.runner.memory import computed_for
from task_api.runner.plan import UNPRIVILEGED_USER, container_config, may_access, numeric_user
from task_api.runner.record import ChannelRecord, RunRecord, record_name, redact_env, write_record
from task_api.spec._jsonpos import line_column, locate
from task_api.spec.errors import Problem, SpecError
from task_api.spec.load import decode_document, fill_placeholders, validate_document
from task_api.spec.processing_container import ProcessingContainer
from task_api.spec.resolved import ComputedResources, Measurement, ResolvedChannel, ResolvedTask
from task_api.spec.task import DockerConfig, K8sConfig, Task

__all__ = ["USER_FROM_TASK", "Prepared", "RunOptions", "default_user", "prepare", "start"]

Report = Callable[[str], None]
PullProgress = Callable[[Mapping[str, Any]], None]


#: ``RunOptions.user`` meaning "not chosen on the command line": the task's ``config.user``, else :func:`default_user`.
USER_FROM_TASK = ""


def default_user() -> str:
    """The invoking user as ``uid:gid``; for root, the unprivileged ``65534:65534`` — a container runs as root only
    when asked (``--user 0:0``, or ``config.user`` in the task). Reads process state."""
    if os.getuid() == 0:
        return UNPRIVILEGED_USER
    return f"{os.getuid()}:{os.getgid()}"


@dataclass(frozen=True)
class RunOptions:
    """How to run: the flags of ``task-api run``."""

    pull: bool = True
    name: str | None = None
    #: ``uid:gid`` or a user name the image knows; None keeps the image's own user; :data:`USER_FROM_TASK`: the
    #: task's ``config.user``, else :func:`default_user`.
    user: str | None = field(default_factory=default_user)
    #: Capabilities added back besides the task's ``config.capabilities`` (``--cap-add``), validated names.
    capabilities: tuple[str, ...] = ()
    #: Where the record goes; None: ``task_run-<id>.json`` in ``record_dir``.
    record_path: Path | None = None
    record_dir: Path = Path()
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    #: Processes measuring inputs at once (0: one per CPU).
    measure_workers: int = 0


@dataclass(frozen=True)
class Prepared:
    """A task checked and planned, ready to start (nothing has been created yet)."""

    task_file: Path
    task: ResolvedTask
    image: str
    image_id: str | None
    host_paths: dict[str, str]
    measurements: list[Measurement]
    resources: ComputedResources
    rule_memory: dict[str, int]
    config: dict[str, Any]
    notes: list[str]
    #: Output directories that do not exist yet; :func:`start` creates them.
    missing_outputs: list[str]
    #: The container's user, as chosen (``uid:gid``, a name, or None for the image's own).
    user: str | None = None


# -- step 1: the task file -------------------------------------------------------------------------------------


def _read_task(task_file: Path, environ: Mapping[str, str], warnings: list[Problem]) -> tuple[Task, str]:
    source = str(task_file)
    try:
        data = task_file.read_bytes()
    except FileNotFoundError:
        raise TaskNotRunnable(
            source, [Problem(path="", message="no such task file", given=source, allowed="a task.json path")]
        ) from None
    except OSError as exc:
        raise TaskNotRunnable(
            source, [Problem(path="", message=f"cannot read the task file: {exc.strerror}")]
        ) from None
    # The steps of parse_task, keeping the document: its text locates later problems (line:column).
    document = decode_document(data, source=source)
    fill_placeholders(document, environ)
    return validate_document(document, Task, warnings=warnings), document.text


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _loc(path: str) -> tuple[str | int, ...]:
    return tuple(int(index) if index else name for name, index in _PATH_PART.findall(path))


def _in_task_file(exc: SpecError, source: str, text: str) -> SpecError:
    """Problems about the task (e.g. an unknown template, found in the image's file) located in the task file."""
    problems = []
    for found in exc.problems:
        if found.line is None and found.path:
            line, column = line_column(text, locate(text, _loc(found.path)))
            found = dataclasses.replace(found, line=line, column=column)  # noqa: PLW2901
        problems.append(found)
    return SpecError(source, problems)


# -- step 2: the image -----------------------------------------------------------------------------------------


def _credentials(task: Task) -> Credentials | None:
    config = task.config
    if isinstance(config, K8sConfig) and config.registryUsername and config.registryPassword is not None:
        return Credentials.basic(config.registryUsername, config.registryPassword)
    return Credentials.from_docker_config(parse_reference(task.image).registry)


def _check_registry_url(task: Task, *, source: str, text: str) -> None:
    """``config.registryUrl``, when given, must name the image's registry (as the Airflow operator requires)."""
    url = getattr(task.config, "registryUrl", None)
    mismatch = registry_mismatch(task.image, url) if url else None
    if mismatch is not None:
        line, column = line_column(text, locate(text, ("config", "registryUrl")))
        problem = Problem(path="config.registryUrl", message=f"the image is in registry {mismatch[0]!r}",
                          given=repr(mismatch[1]), allowed=f"{mismatch[0]!r}, or leave registryUrl out",
                          line=line, column=column)  # fmt: skip
        raise TaskNotRunnable(source, [problem])


def _ensure_image(
    engine: Engine, task: Task, *, pull: bool, report: Report, on_pull: PullProgress | None
) -> dict[str, Any]:
    """The image's engine inspection, pulled first as ``config.imagePullPolicy`` says (default IfNotPresent)."""
    policy = getattr(task.config, "imagePullPolicy", None) or "IfNotPresent"
    info = engine.image_inspect(task.image) if policy != "Always" else None
    if info is not None:
        return info
    if policy == "Never":
        raise ImageMissing(f"{task.image}: not in the local Docker engine, and config.imagePullPolicy is Never")
    if not pull:
        if policy == "Always":
            raise ImageMissing(f"{task.image}: config.imagePullPolicy is Always, and --no-pull forbids pulling")
        raise ImageMissing(f"{task.image}: not in the local Docker engine, and --no-pull forbids pulling it")
    report(f"pulling {task.image}")
    engine.pull(task.image, credentials=_credentials(task), on_progress=on_pull)
    info = engine.image_inspect(task.image)
    if info is None:  # pragma: no cover - the engine just said it pulled it
        raise EngineError(f"{task.image}: pulled, but the engine does not show it")
    return info


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "task-api" / "local-images"


def _image_container(engine: Engine, image: str, image_id: str, *, docker_host: str | None) -> ProcessingContainer:
    """The image's processing-container.json, cached on disk by image ID (I/O).

    An image ID is the hash of the image's configuration, which names its layers by content: the file can
    never change for an ID, so a cached copy needs no revalidation. Reading the file out of the image costs
    a container create/copy/remove round trip (~0.1 s), which a repeated ``run`` would pay every time.
    """
    cache: InspectionCache | None
    try:
        cache = InspectionCache(_cache_dir()) if image_id.startswith("sha256:") else None
    except OSError:
        cache = None  # an unwritable cache only costs speed
    entry = cache.get(image_id) if cache is not None else None
    if entry is not None:
        return parse_spec_bytes(entry.data, source=f"{image}:{SPEC_PATH}", image=image)
    inspection = inspect_local_image(image, docker_host=docker_host)
    # Cache only when the reference still names the same image: a tag moved meanwhile must not be filed
    # under the old ID.
    current = engine.image_inspect(image)
    if cache is not None and current is not None and current.get("Id") == image_id:
        with contextlib.suppress(OSError):
            cache.put(image_id, CacheEntry(inspection.raw, inspection.found_in))
    return inspection.container


# -- step 5: bindings -------------------------------------------------------------------------------------------


def _binding_loc(task: Task, channel: ResolvedChannel) -> tuple[str | int, ...]:
    bindings = task.inputs if channel.read_only else task.outputs
    kind = "inputs" if channel.read_only else "outputs"
    for index, binding in enumerate(bindings):
        if binding.name == channel.name:
            return (kind, index, "volume_source")
    return (kind,)


def _access_problem(path: Path, user: str | None, *, write: bool, capabilities: tuple[str, ...]) -> str | None:
    """Why the container's user could not read (or write) ``path``, or None (I/O: stat). Only numeric users are
    checked: a name is resolved inside the image."""
    who = numeric_user(user)
    if who is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    uid, gid = who
    if may_access(mode=st.st_mode, owner=st.st_uid, group=st.st_gid, uid=uid, gid=gid, write=write,
                  dac_override="DAC_OVERRIDE" in capabilities):  # fmt: skip
        return None
    what = "write to" if write else "read"
    return (
        f"the container's user {user} cannot {what} it (owner {st.st_uid}:{st.st_gid}, mode "
        f"{st.st_mode & 0o777:03o}; containers run without CAP_DAC_OVERRIDE)"
    )


def _check_bindings(
    task: Task,
    resolved: ResolvedTask,
    *,
    source: str,
    text: str,
    user: str | None = None,
    capabilities: tuple[str, ...] = (),
) -> tuple[dict[str, str], list[str]]:
    problems: list[Problem] = []
    host_paths: dict[str, str] = {}
    missing_outputs: list[str] = []

    def problem(loc: tuple[str | int, ...], message: str, given: str, allowed: str) -> None:
        line, column = line_column(text, locate(text, loc))
        problems.append(
            Problem(path=_format(loc), message=message, given=given, allowed=allowed, line=line, column=column)
        )

    for channel in resolved.channels:
        loc = _binding_loc(task, channel)
        host = channel.source.host_path
        nfs = channel.source.nfs
        if nfs is not None:
            # Mounted by the engine (an NFS volume of its local driver), not by this process.
            if channel.scale_rule is not None:
                problem(
                    loc,
                    f"input {channel.name!r} has a scale rule, and an NFS export is mounted by the engine, not "
                    "here: the Docker runner cannot measure it",
                    channel.source.describe(),
                    "volume_source.host_path, or run it on Kubernetes (the operator measures NFS inputs)",
                )
            elif nfs.readOnly and not channel.read_only:
                problem(
                    (*loc, "nfs", "readOnly"),
                    f"output {channel.name!r} is written to: its NFS export cannot be bound readOnly",
                    "true",
                    "false, or bind the channel as an input",
                )
            continue
        if host is None:
            problem(
                loc,
                f"the Docker runner mounts host directories and NFS exports; channel {channel.name!r} is bound to "
                f"{channel.source.describe()}",
                channel.source.kind,
                "volume_source.host_path (an existing directory for inputs) or volume_source.nfs",
            )
            continue
        path = Path(host)
        host_loc = (*loc, "host_path")
        if channel.read_only:
            if not path.exists():
                problem(host_loc, f"input {channel.name!r}: the directory does not exist", repr(host),
                        "an existing directory")  # fmt: skip
                continue
            if not path.is_dir():
                problem(host_loc, f"input {channel.name!r}: not a directory", repr(host), "an existing directory")
                continue
            denied = _access_problem(path, user, write=False, capabilities=capabilities)
            if denied:
                problem(host_loc, f"input {channel.name!r}: {denied}", repr(host),
                        "a directory the container's user may read (or another --user)")  # fmt: skip
                continue
        elif path.exists() and not path.is_dir():
            problem(host_loc, f"output {channel.name!r}: exists and is not a directory", repr(host),
                    "a directory, or a path that does not exist yet (it is created)")  # fmt: skip
            continue
        elif not path.exists():
            missing_outputs.append(str(path))
            if os.getuid() != 0 and numeric_user(user) not in (None, (os.getuid(), os.getgid())):
                problem(host_loc, f"output {channel.name!r}: it would be created by you, uid {os.getuid()}, and "
                        f"the container's user {user} could not write to it", repr(host),
                        "an existing directory that user may write to")  # fmt: skip
                continue
        else:
            denied = _access_problem(path, user, write=True, capabilities=capabilities)
            if denied:
                problem(host_loc, f"output {channel.name!r}: {denied}", repr(host),
                        "a directory the container's user may write to (or another --user)")  # fmt: skip
                continue
        host_paths[channel.name] = str(path.resolve())
    if problems:
        raise TaskNotRunnable(source, problems)
    return host_paths, missing_outputs


def _format(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# -- steps 1-7 ---------------------------------------------------------------------------------------------------


def prepare(
    task_file: Path,
    *,
    engine: Engine,
    options: RunOptions,
    report: Report,
    on_pull: PullProgress | None = None,
    docker_host: str | None = None,
) -> Prepared:
    """Check and plan a run of ``task_file``; creates nothing (I/O: reads, measures, may pull the image)."""
    parse_warnings: list[Problem] = []
    task, text = _read_task(task_file, options.environ, parse_warnings)
    source = str(task_file)
    for warning in parse_warnings:
        report(f"warning: {warning.format(source)}")
    _check_registry_url(task, source=source, text=text)
    info = _ensure_image(engine, task, pull=options.pull, report=report, on_pull=on_pull)
    container = None
    if isinstance(task.taskTemplate, str):
        container = _image_container(engine, task.image, str(info.get("Id") or ""), docker_host=docker_host)
    try:
        resolved = resolve(task, container, source=source, base_dir=str(task_file.resolve().parent))
    except SpecError as exc:
        raise _in_task_file(exc, source, text) from None
    for warning in resolved.warnings:
        report(f"warning: {warning.format(source)}")
    docker_config = task.config if isinstance(task.config, DockerConfig) else None
    user = options.user
    if user == USER_FROM_TASK:
        chosen = docker_config.user if docker_config is not None else None
        user = default_user() if chosen is None else (None if chosen == "image" else chosen)
    capabilities = tuple(sorted({*(docker_config.capabilities if docker_config else ()), *options.capabilities}))
    host_paths, missing_outputs = _check_bindings(
        task, resolved, source=source, text=text, user=user, capabilities=capabilities
    )
    layout = check_legacy_task(resolved, source=source)  # legacy (pre-Task-API) images only: docs/migrating-legacy.md
    if layout is not None and not {layout.input, layout.output} <= set(host_paths):
        staged = "a legacy image's channels are staged on this machine: bind them to host directories"
        raise TaskNotRunnable(source, [Problem(path="inputs", message=staged, allowed="volume_source.host_path")])

    pairs = []
    rule_memory: dict[str, int] = {}
    for channel in resolved.scaled_inputs:
        assert channel.scale_rule is not None
        found = measure(Path(host_paths[channel.name]), channel.scale_rule, channel=channel.name,
                        workers=options.measure_workers)  # fmt: skip
        pairs.append((channel.scale_rule, found))
        rule_memory[channel.name] = computed_for(channel.scale_rule, found)
    resources = compute_resources(static=resolved.resources, measurements=pairs)
    if resources.explanation:
        report("memory computation:")
        for line in resources.explanation:
            report(f"  {line}")
    plan = container_config(resolved, image=task.image, resources=resources, host_paths=host_paths,
                            user=user, capabilities=capabilities)  # fmt: skip
    for note in plan.notes:
        report(f"note: {note}")
    return Prepared(
        task_file=task_file,
        task=resolved,
        image=task.image,
        image_id=str(info.get("Id")) if info.get("Id") else None,
        host_paths=host_paths,
        measurements=[m for _, m in pairs],
        resources=resources,
        rule_memory=rule_memory,
        config=plan.config,
        notes=plan.notes,
        missing_outputs=missing_outputs,
        user=user,
    )


def _channel_records(prepared: Prepared, channels: list[ResolvedChannel]) -> list[ChannelRecord]:
    return [
        ChannelRecord(
            name=c.name, host_path=prepared.host_paths[c.name], mounted_path=c.mounted_path, read_only=c.read_only
        )
        for c in channels
        if c.name in prepared.host_paths
    ]


def start(prepared: Prepared, *, engine: Engine, options: RunOptions, docker_host: str) -> tuple[RunRecord, Path]:
    """Create the outputs and the container, write the record, start the container (I/O)."""
    owner = numeric_user(prepared.user)
    for directory in prepared.missing_outputs:
        try:
            Path(directory).mkdir(parents=True, exist_ok=True)
            if os.getuid() == 0 and owner is not None:
                # Created by root for a container that is not: hand it to the container's user.
                os.chown(directory, owner[0], owner[1] if owner[1] is not None else -1)
        except OSError as exc:
            raise TaskNotRunnable(
                str(prepared.task_file),
                [Problem(path="outputs", message=f"cannot create output directory {directory}: {exc.strerror}")],
            ) from None
    # Legacy (pre-Task-API) images: stage their directory layout first; any other task: the config unchanged.
    config = prepare_legacy_docker(prepared.task, prepared.config, prepared.host_paths, source=str(prepared.task_file))
    container_id = engine.create_container(config, name=options.name)
    record = RunRecord(
        id=container_id[:12],
        container_id=container_id,
        container_name=options.name,
        docker_host=docker_host,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        task_file=str(prepared.task_file.resolve()),
        name=prepared.task.name,
        image=prepared.image,
        image_id=prepared.image_id,
        template=prepared.task.template,
        command=prepared.task.command,
        env=redact_env(prepared.task.env),
        inputs=_channel_records(prepared, prepared.task.inputs),
        outputs=_channel_records(prepared, prepared.task.outputs),
        user=prepared.user,
        requests=dict(prepared.resources.resources.requests),
        limits=dict(prepared.resources.resources.limits),
        memory_explanation=list(prepared.resources.explanation),
        measurements=prepared.measurements,
        scale_rules={c.name: c.scale_rule for c in prepared.task.scaled_inputs if c.scale_rule is not None},
        rule_memory=prepared.rule_memory,
    )
    path = options.record_path or (options.record_dir / record_name(record.id))
    try:
        write_record(record, path)
        try:
            engine.start_container(container_id)
        except EngineError as exc:
            raise _nfs_start_error(prepared, exc) or exc from None
    except BaseException:
        # No container without a record, and no record of a container that never ran.
        engine.remove_container(container_id, force=True)
        if path.exists():
            try:
                path.unlink()
            except OSError as exc:
                raise RecordError(f"{path}: cannot remove the record of a failed start: {exc.strerror}") from None
        raise
    return record, path


def _nfs_start_error(prepared: Prepared, exc: EngineError) -> EngineError | None:
    """A start that failed mounting an NFS channel, said in the task's terms (None for any other failure)."""
    nfs = [c for c in prepared.task.channels if c.source.nfs is not None]
    if not nfs or "mount" not in str(exc):
        return None
    exports = ", ".join(f"channel {c.name!r} ({c.source.describe()})" for c in nfs)
    hint = " (the engine's host kernel has no NFS client)" if "no such device" in str(exc) else ""
    return EngineError(f"the Docker engine could not mount the NFS export of {exports}{hint}: {exc}", status=exc.status)


def engine_for(docker_host: str | None = None) -> DockerEngine:
    """The real engine at ``docker_host`` (default ``$DOCKER_HOST`` or the standard socket)."""
    return DockerEngine(docker_host)
