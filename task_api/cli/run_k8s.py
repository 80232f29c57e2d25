"""``task-api run TASK.json --mode k8s`` — submit a task.json as a TaskRun and follow it to its end.

The task is read and checked as in Docker mode (placeholders filled from the environment), turned into a
TaskRun (:mod:`task_api.core.taskrun.from_task`) in the current kube context's namespace (or ``config.namespace``,
or ``--namespace``), created together with a credentials Secret owned by it when the task carries registry
credentials, and followed: the pod's log is streamed to stdout and the command exits with the run's outcome —
0 when it succeeded, the container's exit code when it failed with one, 137 for OOMKilled, 1 otherwise.
Interrupting it (Ctrl-C) leaves the TaskRun running.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from task_api.spec.errors import Problem, SpecError, TaskApiError

OPERATOR_NAMESPACE = "task-api-system"
OPERATOR_CONFIG = "task-api-config"
EXIT_DETACHED = 130


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def exit_code(run: dict[str, Any]) -> int:
    """Pure: the command's exit code for a finished TaskRun."""
    from task_api.core.taskrun.conditions import outcome_of

    result = outcome_of(run)
    if result.succeeded:
        return 0
    if result.reason == "OOMKilled":
        return 137
    code = (run.get("status") or {}).get("exitCode")
    return code if isinstance(code, int) and 0 < code < 256 else 1


def run_k8s(args: argparse.Namespace) -> int:
    """I/O: the whole k8s mode; errors become one clear line and exit code 1 (2 for an unreadable file)."""
    from task_api.core.taskrun.from_task import host_paths, taskrun_from_task, taskrun_name
    from task_api.image import registry_mismatch
    from task_api.spec.load import parse_task

    path: Path = args.task
    try:
        parse_warnings: list[Problem] = []
        task = parse_task(path.read_bytes(), source=str(path), environ=os.environ, warnings=parse_warnings)
        config = task.config
        registry_url = getattr(config, "registryUrl", None)
        mismatch = registry_mismatch(task.image, registry_url) if registry_url else None
        if mismatch is not None:
            raise SpecError(str(path), [Problem("config.registryUrl", f"the image is in registry {mismatch[0]!r}",
                                                given=repr(mismatch[1]),
                                                allowed=f"{mismatch[0]!r}, or leave registryUrl out")])  # fmt: skip
        namespace = args.namespace or getattr(config, "namespace", None)
        name = taskrun_name(task.name, unique=uuid.uuid4().hex)
        username = getattr(config, "registryUsername", None)
        password = getattr(config, "registryPassword", None)
        credentials = f"{name}-credentials" if username and password else None
        body, warnings = taskrun_from_task(
            task, name=name, namespace=namespace or "", source=str(path), credentials_secret=credentials
        )
    except OSError as exc:
        _say(f"task-api run: {path}: cannot read: {exc.strerror}")
        return 2
    except SpecError as exc:
        _say(str(exc))
        return 1
    for warning in [*parse_warnings, *warnings]:
        _say(warning.format(str(path)))
    try:
        return asyncio.run(
            _submit_and_follow(
                body,
                namespace=namespace,
                username=username,
                password=password.get_secret_value() if password is not None else None,
                host_paths=host_paths(body),
                source=str(path),
                kubeconfig=getattr(args, "kubeconfig", None),
                context=getattr(args, "context", None),
            )
        )
    except KeyboardInterrupt:
        _say(f"\ndetached; TaskRun {body['metadata']['name']} keeps running (kubectl get taskrun -w)")
        return EXIT_DETACHED
    except SpecError as exc:
        _say(str(exc))
        return 1
    except TaskApiError as exc:
        _say(f"task-api run: {exc}")
        return 1


async def _submit_and_follow(
    body: dict[str, Any],
    *,
    namespace: str | None,
    username: str | None,
    password: str | None,
    host_paths: list[str] | Any,
    source: str,
    kubeconfig: str | None = None,
    context: str | None = None,
) -> int:
    from task_api.core.taskrun.bindings import host_path_allowed
    from task_api.core.taskrun.conditions import outcome_of
    from task_api.kube import Forbidden, NotFound
    from task_api.kube.client import core_path
    from task_api.kube.taskruns import TaskRunApi
    from task_api.spec.crd.keys import LABEL_MANAGED_BY

    async with TaskRunApi.connect(kubeconfig=kubeconfig, context=context) as api:
        meta = body["metadata"]
        meta["namespace"] = namespace or api.access.namespace
        if host_paths:
            # Say it before creating anything, when the operator's settings can be read (else the operator will).
            try:
                cm = await api.kube.get(core_path("configmaps", OPERATOR_NAMESPACE, OPERATOR_CONFIG))
                roots = [
                    r.strip()
                    for r in ((cm.get("data") or {}).get("TASK_API_ALLOWED_HOST_PATH_ROOTS") or "").split(",")
                    if r.strip()
                ]
                refused = [p for p in host_paths if not host_path_allowed(p, roots)]
                if refused:
                    allowed = ", ".join(roots) or "none"
                    raise SpecError(
                        source,
                        [
                            Problem(
                                "volume_source.host_path",
                                "the operator does not allow this host path on Kubernetes "
                                "(TASK_API_ALLOWED_HOST_PATH_ROOTS); bind a persistentVolumeClaim instead",
                                given=", ".join(refused),
                                allowed=allowed,
                            )
                        ],
                    )
            except (Forbidden, NotFound):
                pass
        run, _ = await api.create_taskrun(body)
        _say(f"TaskRun {meta['namespace']}/{meta['name']} created")
        if username and password:
            await api.ensure_credentials_secret(
                run, username=username, password=password, labels={LABEL_MANAGED_BY: "task-api-cli"}
            )
        finished = await api.wait(meta["namespace"], meta["name"], emit=lambda line: print(line, flush=True))
        status = finished.get("status") or {}
        result = outcome_of(finished)
        _say(
            f"TaskRun {meta['name']} finished: {result.reason}"
            + (f": {result.message}" if result.message else "")
            + (f" after {status['duration']}" if status.get("duration") else "")
        )
        return exit_code(finished)
