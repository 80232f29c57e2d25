"""``TaskRunOperator``: one Airflow task = one TaskRun on Kubernetes (I/O through :mod:`task_api.kube.taskruns`).

``execute`` checks everything it can before creating anything (the DAG run's conf, env against the template's
types/choices/adjustable, iochannel maps against the upstream TaskRuns' outputs), creates the TaskRun (and, for
``registryUsername``/``registryPassword``, a credentials Secret owned by it; for ``secret_env``, a Secret
``<run>-env`` owned by it that the TaskRun names in ``env[].valueFrom.secretKeyRef``), copies the pod's log into
the task log while it waits — or defers to :class:`~task_api.airflow.triggers.TaskRunTrigger` — and returns where each
output channel went (XCom ``return_value``: ``{"taskrun", "namespace", "outputs": {channel: location}}``).

Failures (the exception tree)::

    AirflowException
    └── TaskRunFailed                 the TaskRun ended Failed/OOMKilled/TimedOut/Cancelled/PodDeleted,
        │                             or was deleted; Airflow retries it (a new try is a new TaskRun)
        └── TaskRunFailedFinal        (also AirflowFailException) InvalidSpec, UpstreamFailed,
                                      ImageInspectionFailed, or bad operator arguments/conf: no retries

``on_kill`` (task killed, cleared, timed out) deletes the TaskRun; its pods and Secrets are owned by it, so
nothing is left behind.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.log import mask_secret

from task_api.airflow.build import (
    EnvSource,
    IOMapping,
    OperatorConfigError,
    PodSettings,
    UpstreamResult,
    bind_inputs,
    build_taskrun,
    check_against_template,
    env_list,
    outcome,
    plain,
    pod_settings,
    resource_overrides,
    secret_env_values,
    split_aliases,
    user_config,
)
from task_api.airflow.naming import earlier_tries, label_value, taskrun_name
from task_api.airflow.runs import TaskRunFailed, TaskRunFailedFinal, copy_attempt_logs, emitter, finish, namespace_for
from task_api.airflow.triggers import TaskRunTrigger
from task_api.image import registry_mismatch
from task_api.kube.taskruns import TaskRunApi, TaskRunGone, TemplateLookupFailed
from task_api.spec import Problem, Severity
from task_api.spec.errors import TaskApiError

__all__ = ["IOMapping", "TaskRunFailed", "TaskRunFailedFinal", "TaskRunOperator"]

LABEL_DAG = "task-api.io/airflow-dag"
LABEL_TASK = "task-api.io/airflow-task"
LABEL_TRY = "task-api.io/airflow-try"
ANNOTATION_RUN = "task-api.io/airflow-run-id"
ANNOTATION_DAG_ID = "task-api.io/airflow-dag-id"
ANNOTATION_TASK_ID = "task-api.io/airflow-task-id"


def _config_error(exc: TaskApiError, *, task_id: str) -> TaskRunFailedFinal:
    return TaskRunFailedFinal(f"task {task_id}: {exc}", reason="InvalidSpec", taskrun="")


class TaskRunOperator(BaseOperator):  # type: ignore[misc]  # Airflow is untyped for mypy here
    """Run a task template of a processing container as a TaskRun and wait for it.

    :param image: the processing container image (or ``processing_container``: a ProcessingContainer's name).
    :param task_template: the template identifier (the guide's ``taskTemplate``).
    :param env: overrides, ``{"VAR": "value"}`` or ``[{"name": ..., "value": ...}]`` (or Kaapana's
        ``pc_models.BaseEnv`` objects).
    :param secret_env: ``{"VAR": "value"}`` (or a ``[{"name", "value"}]`` list) kept out of the TaskRun: the values go
        into a Secret ``<run>-env`` owned by the TaskRun, which names its keys (``valueFrom.secretKeyRef``), and
        are masked in Airflow's logs. Only variables the template declares adjustable; not also in ``env``.
        Give templates (``"{{ conn.api.password }}"``): Airflow hides the rendered field (its name says secret),
        but a literal value sits in the serialized DAG.
    :param command: replaces the template's command.
    :param resources: ``{"requests": {...}, "limits": {...}}`` (or ``pc_models.Resources``), replacing the
        template's values key by key.
    :param iochannel_maps: :class:`IOMapping` list binding input channels to upstream outputs.
    :param inputs: other input bindings, ``{channel: {"persistentVolumeClaim": {...}} | {"hostPath": {...}}}``.
    :param outputs: output bindings (unbound outputs go to the workspace claim).
    :param namespace: where the TaskRun runs (default ``$TASK_API_NAMESPACE``, else the kubeconfig's).
    :param image_pull_secrets: dockerconfigjson Secrets (default ``$TASK_API_IMAGE_PULL_SECRETS``, comma list).
    :param registry_url: the guide's ``registryUrl``; must be the image's registry when given.
    :param registry_username: with ``registry_password``: a credentials Secret owned by the TaskRun is made.
    :param timeout_seconds: per attempt (the pod's activeDeadlineSeconds); default: Airflow's
        ``execution_timeout`` in seconds, when set.
    :param startup_timeout_seconds: how long each attempt's pod may stay Pending (the TaskRun's
        ``pendingTimeoutSeconds``; Kaapana's name).
    :param labels: pod labels (Kaapana's network policies select pods by them); checked when the DAG is parsed.
    :param annotations: pod annotations; checked when the DAG is parsed.
    :param taskrun_retries: the TaskRun's own retry policy, e.g. ``{"limit": 2, "memoryFactor": 2}``.
    :param deferrable: wait in the triggerer instead of a worker slot (the log is copied at the end).
    :param poll_interval: seconds between status reads.
    :param heartbeat_timeout: seconds; while this task waits it refreshes the TaskRun's heartbeat, and the
        Kubernetes operator cancels the run when the heartbeat is older than this — so a task process killed
        with SIGKILL (no ``on_kill``) leaves no pod running. None: no heartbeat.
    :param run_as_root: run the container as its image's own user (often root, as many Kaapana images expect)
        instead of the Kubernetes operator's non-root uid: the TaskRun's ``spec.runAsRoot``, honoured only in
        namespaces the administrator lists in ``TASK_API_ALLOW_ROOT_NAMESPACES`` (docs/deploy.md).
    :param kubeconfig: kubeconfig path (default ``$KUBECONFIG``, in-cluster, ``~/.kube/config``).
    """

    template_fields: Sequence[str] = ("image", "task_template", "env", "secret_env", "command", "namespace")
    ui_color = "#d6e9f8"

    def __init__(
        self,
        *,
        image: str | None = None,
        task_template: str | None = None,
        processing_container: str | None = None,
        env: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        secret_env: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        command: Sequence[str] | None = None,
        resources: Mapping[str, Any] | None = None,
        iochannel_maps: Sequence[IOMapping] | None = None,
        inputs: Mapping[str, Mapping[str, Any]] | None = None,
        outputs: Mapping[str, Mapping[str, Any]] | None = None,
        namespace: str | None = None,
        image_pull_secrets: Sequence[str] | None = None,
        registry_url: str | None = None,
        registry_username: str | None = None,
        registry_password: str | None = None,
        timeout_seconds: int | None = None,
        startup_timeout_seconds: int | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        taskrun_retries: Mapping[str, Any] | None = None,
        deferrable: bool = False,
        poll_interval: float = 1.0,
        heartbeat_timeout: int | None = 90,
        run_as_root: bool = False,
        kubeconfig: str | None = None,
        cluster_context: str | None = None,
        **kwargs: Any,
    ) -> None:
        source = f"{type(self).__name__}(task_id={kwargs.get('task_id')!r})"
        explicit: dict[str, Any] = {
            "task_template": task_template,
            "registry_url": registry_url,
            "registry_username": registry_username,
            "registry_password": registry_password,
            "image_pull_secrets": image_pull_secrets,
            "iochannel_maps": iochannel_maps,
        }
        for name, value in split_aliases(kwargs, source=source).items():
            if explicit.get(name) is not None:
                raise OperatorConfigError(
                    source, [_problem(name, f"given twice: as {name} and by its camelCase alias")]
                )
            explicit[name] = value
        super().__init__(**kwargs)
        self.image = image
        self.processing_container = processing_container
        self.task_template = explicit["task_template"]
        self.env = plain(env)
        self.secret_env = plain(secret_env)
        self.command = list(command) if command is not None else None
        # Not `self.resources`: BaseOperator owns that name (Airflow's own executor resources, converted on set).
        self.container_resources = plain(resources) or None
        self.iochannel_maps = list(explicit["iochannel_maps"] or [])
        self.inputs = dict(plain(inputs) or {})
        self.outputs = dict(plain(outputs) or {})
        self.namespace = namespace
        self.image_pull_secrets = explicit["image_pull_secrets"]
        self.registry_url = explicit["registry_url"]
        self.registry_username = explicit["registry_username"]
        # Not a template field and not in repr: the password must not reach serialised DAGs or logs.
        self._registry_password: str | None = explicit["registry_password"]
        self.timeout_seconds = timeout_seconds
        self.startup_timeout_seconds = startup_timeout_seconds
        self.labels = plain(labels)
        self.annotations = plain(annotations)
        self.taskrun_retries = dict(plain(taskrun_retries)) if taskrun_retries else None
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.run_as_root = bool(run_as_root)
        self.kubeconfig = kubeconfig
        self.cluster_context = cluster_context
        self._running: tuple[str, str] | None = None
        self._earlier_tries: list[str] = []
        self._pod = PodSettings()
        self._check_arguments(source)

    # ------------------------------------------------------------------ checks at DAG parse time

    def _check_arguments(self, source: str) -> None:
        problems = []
        try:
            # execution_timeout is Airflow's (BaseOperator has set it, from default_args too).
            self._pod = pod_settings(
                labels=self.labels,
                annotations=self.annotations,
                startup_timeout_seconds=self.startup_timeout_seconds,
                timeout_seconds=self.timeout_seconds,
                execution_timeout=self.execution_timeout,
                source=source,
            )
        except OperatorConfigError as exc:
            problems += exc.problems
        try:
            self.container_resources = resource_overrides(self.container_resources, source=source)
        except OperatorConfigError as exc:
            problems += exc.problems
        try:
            env_names = env_list(self.env, path="env", source=source)
        except OperatorConfigError:
            env_names = {}  # reported when the task runs, with the conf's paths
        try:
            secret_env_values(self.secret_env, env=env_names, source=source)
        except OperatorConfigError as exc:
            problems += exc.problems
        if not self.task_template:
            problems.append(_problem("task_template", "required (the guide's taskTemplate)"))
        if (self.image is None) == (self.processing_container is None):
            problems.append(_problem("image", "give exactly one of image and processing_container"))
        if (self.registry_username is None) != (self._registry_password is None):
            problems.append(_problem("registry_username", "registryUsername and registryPassword go together"))
        if self.registry_username is not None and self.image is None:
            problems.append(_problem("registry_username", "registry credentials need image"))
        if self.registry_url and self.image and "{{" not in self.image:
            try:
                # Kaapana's registry URLs often carry a project path (registry.example.org/project): the host counts.
                mismatch = registry_mismatch(self.image, self.registry_url)
            except TaskApiError as exc:
                problems.append(_problem("image", str(exc)))
            else:
                if mismatch is not None:
                    host, wanted = mismatch
                    problems.append(
                        _problem("registry_url", f"the image is in registry {host!r}, not {wanted!r}", given=wanted)
                    )
        for index, mapping in enumerate(self.iochannel_maps):
            where = f"iochannel_maps[{index}]"
            missing = [
                attr
                for attr in ("upstream_operator", "upstream_output_channel", "input_channel")
                if not hasattr(mapping, attr)
            ]
            if missing:
                problems.append(
                    _problem(where, f"not an IOMapping (lacks {', '.join(missing)})", given=type(mapping).__name__)
                )
                continue
            upstream = mapping.upstream_operator
            if not isinstance(upstream, TaskRunOperator):
                problems.append(
                    _problem(
                        f"{where}.upstream_operator",
                        "must be a TaskRun operator (TaskRunOperator or KaapanaTaskOperator): only those "
                        "publish their output channels",
                        given=f"{type(upstream).__name__}({getattr(upstream, 'task_id', upstream)!r})",
                    )
                )
        if problems:
            raise OperatorConfigError(source, problems)

    # ------------------------------------------------------------------ execute

    def execute(self, context: Any) -> dict[str, Any]:
        """I/O: check, create the TaskRun, follow it (or defer), return where the outputs went."""
        if self._registry_password:
            mask_secret(self._registry_password)
        ti = context["ti"]
        source = f"DAG {ti.dag_id} task {ti.task_id}"
        try:
            # Rendered by now: these are the values the container gets.
            secrets = secret_env_values(
                self.secret_env, env=env_list(self.env, path="env", source=source), source=source
            )
        except TaskApiError as exc:
            raise _config_error(exc, task_id=self.task_id) from None
        for value in secrets.values():
            mask_secret(value)
        namespace = self._namespace()
        identity = {
            "dag_id": ti.dag_id, "task_id": ti.task_id, "run_id": ti.run_id, "try_number": ti.try_number,
            "map_index": getattr(ti, "map_index", -1),
        }  # fmt: skip
        name = taskrun_name(**identity)
        self._earlier_tries = earlier_tries(**identity)
        try:
            body, env_sources = self._build(context, namespace=namespace, name=name, secrets=secrets)
        except TaskApiError as exc:
            raise _config_error(exc, task_id=self.task_id) from None
        self._running = (namespace, name)
        try:
            if self.deferrable:
                created = asyncio.run(self._submit(body, env_sources, secrets))
                self.log.info("TaskRun %s/%s %s; deferring", namespace, name, "created" if created else "exists")
                self.defer(
                    trigger=TaskRunTrigger(
                        namespace=namespace, name=name, poll_interval=self.poll_interval,
                        heartbeat_every=self._heartbeat_every(),
                        kubeconfig=self.kubeconfig, cluster_context=self.cluster_context,
                    ),
                    method_name="execute_complete",
                )  # fmt: skip
            run = asyncio.run(self._submit_and_wait(body, env_sources, secrets))
        except TaskRunGone as exc:
            raise TaskRunFailed(f"{exc} (task killed or cleared?)", reason="Deleted", taskrun=name) from None
        except TaskApiError as exc:
            if getattr(exc, "transient", False):
                # The API server or registry was unreachable: another try may well work.
                raise TaskRunFailed(f"task {self.task_id}: {exc}", reason="Unavailable", taskrun=name) from None
            raise _config_error(exc, task_id=self.task_id) from None
        return self._finish(context, run)

    def execute_complete(self, context: Any, event: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """I/O: resumed after the trigger fired: copy the attempts' logs, then decide as ``execute`` does."""
        event = dict(event or {})
        namespace = str(event.get("namespace") or self._namespace())
        name = str(event.get("name") or "")
        self._running = (namespace, name)
        if event.get("status") == "gone":
            raise TaskRunFailed(f"TaskRun {namespace}/{name} was deleted", reason="Deleted", taskrun=name)
        if event.get("status") != "finished":
            raise TaskRunFailed(
                f"waiting for TaskRun {namespace}/{name} failed: {event.get('message')}", reason="Error", taskrun=name
            )
        run = asyncio.run(self._collect(namespace, name))
        if run is None:
            raise TaskRunFailed(f"TaskRun {namespace}/{name} was deleted", reason="Deleted", taskrun=name)
        return self._finish(context, run)

    def on_kill(self) -> None:
        """I/O: delete this try's TaskRun (its pods and Secrets go with it)."""
        if self._running is None:
            return
        namespace, name = self._running

        async def delete() -> bool:
            async with self._api() as api:
                return await api.delete_taskrun(namespace, name)

        # on_kill runs in a signal handler, possibly while execute's event loop runs on this very thread:
        # a fresh loop in another thread is the only place a coroutine can run now.
        result: list[bool] = []
        worker = threading.Thread(target=lambda: result.append(asyncio.run(delete())), daemon=True)
        worker.start()
        worker.join(timeout=30)
        self.log.info("on_kill: TaskRun %s/%s %s", namespace, name, "deleted" if result and result[0] else "gone")

    # ------------------------------------------------------------------ steps

    def _api(self) -> TaskRunApi:
        return TaskRunApi.connect(kubeconfig=self.kubeconfig, context=self.cluster_context)

    def _namespace(self) -> str:
        return namespace_for(self.namespace, kubeconfig=self.kubeconfig, context=self.cluster_context)

    def _pull_secrets(self) -> list[str]:
        if self.image_pull_secrets is not None:
            return list(self.image_pull_secrets)
        return [s.strip() for s in os.environ.get("TASK_API_IMAGE_PULL_SECRETS", "").split(",") if s.strip()]

    def _build(
        self, context: Any, *, namespace: str, name: str, secrets: Mapping[str, str]
    ) -> tuple[dict[str, Any], dict[str, EnvSource]]:
        """Pure apart from XCom reads: the TaskRun body and where each env value came from (``secrets``: the
        ``secret_env`` values, named in the body, kept out of it)."""
        ti = context["ti"]
        source = f"DAG {ti.dag_id} task {ti.task_id}"
        conf = getattr(context.get("dag_run"), "conf", None) or {}
        user = user_config(conf, self.task_id)
        env: dict[str, EnvSource] = {}
        for key, value in env_list(self.env, path="env", source=source).items():
            env[key] = EnvSource(value, f"env.{key}")
        for key, value in user.env.items():
            env[key] = EnvSource(value, f"conf.task_form.{self.task_id}.{key}")
        clash = [key for key in user.env if key in secrets]
        if clash:
            # A plain value from the conf would replace the secret one, and sit in the TaskRun.
            raise OperatorConfigError(
                source,
                [
                    _problem(
                        f"conf.task_form.{self.task_id}.{key}", f"{key} is given in secret_env; the conf may not set it"
                    )
                    for key in clash
                ],
            )
        upstream: dict[str, UpstreamResult | None] = {}
        for mapping in self.iochannel_maps:
            task_id = mapping.upstream_operator.task_id
            pulled = ti.xcom_pull(task_ids=task_id)
            upstream[task_id] = (
                UpstreamResult(task_id=task_id, taskrun=str(pulled["taskrun"]), outputs=dict(pulled["outputs"]))
                if isinstance(pulled, Mapping) and "taskrun" in pulled
                else None
            )
        inputs = bind_inputs(self.iochannel_maps, upstream, source=source)
        inputs += [{"name": channel, **dict(src)} for channel, src in self.inputs.items()]
        outputs = [{"name": channel, **dict(dst)} for channel, dst in self.outputs.items()]
        labels = {
            LABEL_DAG: label_value(ti.dag_id),
            LABEL_TASK: label_value(ti.task_id),
            LABEL_TRY: str(ti.try_number),
        }
        ours = {k: v for k, v in labels.items() if v}
        body = build_taskrun(
            name=name,
            namespace=namespace,
            task_template=str(self.task_template),
            image=self.image,
            processing_container=self.processing_container,
            inputs=inputs,
            outputs=outputs,
            env={k: v.value for k, v in env.items()},
            secret_env=list(secrets),
            command=user.command if user.command is not None else self.command,
            resources=self.container_resources,
            image_pull_secrets=self._pull_secrets(),
            with_credentials=self.registry_username is not None,
            timeout_seconds=self._pod.timeout_seconds,
            pending_timeout_seconds=self._pod.pending_timeout_seconds,
            retries=self.taskrun_retries,
            heartbeat_timeout_seconds=self.heartbeat_timeout,
            run_as_root=self.run_as_root,
            # The operator copies both onto the task pod; task-api.io/ keys are refused in the arguments.
            labels={**self._pod.labels, **ours},
            annotations={
                **self._pod.annotations,
                ANNOTATION_DAG_ID: ti.dag_id,
                ANNOTATION_TASK_ID: ti.task_id,
                ANNOTATION_RUN: ti.run_id,
            },
        )
        return body, env

    async def _check_template(
        self, api: TaskRunApi, body: Mapping[str, Any], env: dict[str, EnvSource], secrets: Mapping[str, str]
    ) -> None:
        """I/O: read the template and check env and channels against it before anything is created."""
        spec = body["spec"]
        namespace = body["metadata"]["namespace"]
        try:
            template = await api.template(
                namespace=namespace,
                task_template=spec["taskTemplate"],
                image=spec.get("image"),
                processing_container=(spec.get("processingContainerRef") or {}).get("name"),
                username=self.registry_username,
                password=self._registry_password,
                image_pull_secrets=[s["name"] for s in spec.get("imagePullSecrets") or []],
            )
        except TemplateLookupFailed as exc:
            if not exc.transient:
                raise
            self.log.warning("cannot read the task template now (%s); the Kubernetes operator will check it", exc)
            return
        bound = {}
        for index, mapping in enumerate(self.iochannel_maps):
            bound[mapping.input_channel] = f"iochannel_maps[{index}].input_channel"
        for channel in self.inputs:
            bound[channel] = f"inputs.{channel}"
        source = f"{self.dag_id}.{self.task_id}"
        warnings = check_against_template(
            template,
            env=env,
            input_channels=bound,
            source=source,
            secret_env={k: EnvSource(v, f"secret_env.{k}") for k, v in secrets.items()},
        )
        for warning in warnings:
            if warning.severity is Severity.WARNING:
                self.log.warning("%s", warning.format(source))

    async def _stop_earlier_tries(self, api: TaskRunApi, namespace: str) -> None:
        """I/O: delete still-running TaskRuns of earlier tries: their Airflow process died without ``on_kill``.

        Finished ones stay, to be inspected; a running one would otherwise run on unobserved next to this try.
        """
        for name in self._earlier_tries:
            run = await api.get_taskrun(namespace, name)
            if run is not None and not outcome(run).finished:
                await api.delete_taskrun(namespace, name)
                self.log.warning("deleted TaskRun %s/%s of an earlier try: it was still running", namespace, name)

    async def _submit(self, body: Mapping[str, Any], env: dict[str, EnvSource], secrets: Mapping[str, str]) -> bool:
        async with self._api() as api:
            return await self._create(api, body, env, secrets)

    async def _create(
        self, api: TaskRunApi, body: Mapping[str, Any], env: dict[str, EnvSource], secrets: Mapping[str, str]
    ) -> bool:
        meta = body["metadata"]
        existing = await api.get_taskrun(meta["namespace"], meta["name"])
        if existing is None:
            await self._check_template(api, body, env, secrets)
            await self._stop_earlier_tries(api, meta["namespace"])
        run, created = await api.create_taskrun(body)
        if self.registry_username is not None and self._registry_password is not None:
            await api.ensure_credentials_secret(
                run, username=self.registry_username, password=self._registry_password, labels=meta["labels"]
            )
        if secrets:
            # After the TaskRun, as its owner reference needs its uid; the kubelet holds the pod until it exists.
            await api.ensure_env_secret(run, values=secrets, labels=meta["labels"])
        if created:
            # Only names: env values may be secrets, and the log is read by everyone who can see the DAG.
            self.log.info(
                "created TaskRun %s/%s (template %s)", meta["namespace"], meta["name"], body["spec"]["taskTemplate"]
            )
        else:
            self.log.info("TaskRun %s/%s exists (this try ran before): following it", meta["namespace"], meta["name"])
        return created

    async def _submit_and_wait(
        self, body: Mapping[str, Any], env: dict[str, EnvSource], secrets: Mapping[str, str]
    ) -> dict[str, Any]:
        meta = body["metadata"]
        async with self._api() as api:
            await self._create(api, body, env, secrets)
            return await api.wait(
                meta["namespace"],
                meta["name"],
                emit=self._emitter(meta["name"]),
                poll_interval=self.poll_interval,
                heartbeat_every=self._heartbeat_every(),
            )

    def _heartbeat_every(self) -> float | None:
        """Beat three times per timeout, so one missed beat never cancels a healthy run."""
        return None if self.heartbeat_timeout is None else max(1.0, self.heartbeat_timeout / 3)

    def _emitter(self, name: str) -> Callable[[str], None]:
        return emitter(self.log, name)

    async def _collect(self, namespace: str, name: str) -> dict[str, Any] | None:
        """I/O: the finished TaskRun, its attempts' logs copied into the task log."""
        async with self._api() as api:
            run = await api.get_taskrun(namespace, name)
            if run is not None:
                await copy_attempt_logs(api, run, self._emitter(name))
            return run

    def _finish(self, context: Any, run: Mapping[str, Any]) -> dict[str, Any]:
        return finish(run, self.log)


def _problem(path: str, message: str, *, given: str | None = None) -> Problem:
    return Problem(path=path, message=message, given=given)
