"""Clients' conversation with Kubernetes about TaskRuns (I/O, asyncio).

Creating the TaskRun and its Secrets (registry credentials, secret env values), reading it, deleting it,
following the pod's log, and finding the task template (from a ProcessingContainer's status or by inspecting the
image in its registry) for the checks made before anything is created. Used by the Airflow operator
(synchronously, through ``asyncio.run``) and its trigger (in the triggerer's event loop), and by
``task-api run --mode k8s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from task_api.core.pod import MAIN_CONTAINER
from task_api.core.taskrun.conditions import outcome_of
from task_api.core.taskrun.objects import build_credentials_secret, build_env_secret
from task_api.core.times import format_rfc3339
from task_api.image import Credentials
from task_api.kube.access import ClusterAccess
from task_api.kube.client import KubeClient, core_path, resource_path
from task_api.kube.errors import AlreadyExists, KubeApiError, NotFound
from task_api.kube.templates import TemplateResolver, TemplateUnavailable
from task_api.spec import SpecError, TaskTemplate
from task_api.spec.crd.common import GROUP, VERSION
from task_api.spec.crd.keys import ANNOTATION_HEARTBEAT
from task_api.spec.errors import TaskApiError

__all__ = ["TaskRunApi", "TaskRunGone", "TemplateLookupFailed", "taskrun_path"]

T = TypeVar("T")

#: While a watch is open, :meth:`TaskRunApi.wait` still reads the run this often, in case an event was lost.
RECHECK_SECONDS = 15.0
#: Watches failing this many times in a row (transient errors) make :meth:`TaskRunApi.wait` poll instead.
WATCH_ATTEMPTS = 3


class TaskRunGone(TaskApiError):
    """The TaskRun was deleted while the Airflow task waited for it (killed, cleared, or by hand)."""


class TemplateLookupFailed(TaskApiError):
    """The template could not be read; ``transient`` ones leave the checks to the Kubernetes operator."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def taskrun_path(namespace: str, name: str | None = None, sub: str | None = None) -> str:
    """Pure: the REST path of the TaskRuns of a namespace, or of one (``sub``: ``status``)."""
    return resource_path(
        group=GROUP, version=VERSION, plural="taskruns", namespace=namespace, name=name, subresource=sub
    )


def watch_failures_after(watcher: asyncio.Task[None], failures: int) -> int:
    """How many watches in a row have failed once ``watcher`` ended; a refusal (403: a role without the ``watch``
    verb) counts as all of them, so the caller polls from then on. Re-raises anything but an API error."""
    failure = watcher.exception()
    if failure is None:
        return 0
    if not isinstance(failure, KubeApiError):
        raise failure
    return failures + 1 if failure.transient else WATCH_ATTEMPTS


class TaskRunApi:
    """I/O: TaskRuns, their Secrets and pod logs in one cluster. Use as an async context manager."""

    def __init__(self, access: ClusterAccess) -> None:
        self.access = access
        self.kube = KubeClient(access, user_agent="task-api-airflow")
        # Log streams stay open for as long as the container runs: no read time-out there.
        self._stream = httpx.AsyncClient(**access.httpx_options(), timeout=httpx.Timeout(30.0, read=None))

    @classmethod
    def connect(cls, *, kubeconfig: str | None = None, context: str | None = None) -> TaskRunApi:
        """I/O: cluster settings from ``kubeconfig`` (else ``$KUBECONFIG``, in-cluster, ``~/.kube/config``)."""
        return cls(ClusterAccess.load(kubeconfig=kubeconfig, context=context))

    async def __aenter__(self) -> TaskRunApi:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.kube.aclose()
        await self._stream.aclose()

    # ------------------------------------------------------------------ TaskRuns

    async def _retrying(self, call: Callable[[], Awaitable[T]], *, budget: float = 30.0) -> T:
        """I/O: ``call`` again while the API server is unreachable or overloaded, for up to ``budget`` seconds.

        Every call made through this is idempotent (creates treat AlreadyExists as success), so a request whose
        answer was lost can simply be made again.
        """
        deadline = asyncio.get_running_loop().time() + budget
        delay = 0.5
        while True:
            try:
                return await call()
            except KubeApiError as exc:
                if not exc.transient or asyncio.get_running_loop().time() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def create_taskrun(self, body: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create the TaskRun; when one of that name exists (this try ran before), return it. (object, created)."""
        meta = body["metadata"]

        async def create() -> tuple[dict[str, Any], bool]:
            try:
                return await self.kube.create(taskrun_path(meta["namespace"]), body), True
            except AlreadyExists:
                return await self.kube.get(taskrun_path(meta["namespace"], meta["name"])), False

        return await self._retrying(create)

    async def get_taskrun(self, namespace: str, name: str) -> dict[str, Any] | None:
        async def get() -> dict[str, Any] | None:
            try:
                return await self.kube.get(taskrun_path(namespace, name))
            except NotFound:
                return None

        return await self._retrying(get)

    async def delete_taskrun(self, namespace: str, name: str) -> bool:
        """Delete the TaskRun; its pods and Secrets go with it (owner references). False when it was gone."""

        async def delete() -> bool:
            try:
                await self.kube.delete(taskrun_path(namespace, name), propagation="Background")
            except NotFound:
                return False
            return True

        return await self._retrying(delete)

    async def ensure_credentials_secret(
        self, taskrun: Mapping[str, Any], *, username: str, password: str, labels: Mapping[str, str]
    ) -> str:
        """Create the TaskRun's credentials Secret (owned by it) unless it exists; its name."""
        return await self._ensure_secret(
            build_credentials_secret(taskrun=taskrun, username=username, password=password, labels=labels)
        )

    async def ensure_env_secret(
        self, taskrun: Mapping[str, Any], *, values: Mapping[str, str], labels: Mapping[str, str]
    ) -> str:
        """Create the Secret holding the TaskRun's secret env values (owned by it) unless it exists; its name.

        The run's pod names its keys; the kubelet holds the container until the Secret exists.
        """
        return await self._ensure_secret(build_env_secret(taskrun=taskrun, values=values, labels=labels))

    async def _ensure_secret(self, secret: Mapping[str, Any]) -> str:
        # An existing one was made by an earlier attempt of this same try (same TaskRun, same values).
        meta = secret["metadata"]

        async def create() -> None:
            with contextlib.suppress(AlreadyExists):
                await self.kube.create(core_path("secrets", meta["namespace"]), secret)

        await self._retrying(create)
        return str(meta["name"])

    async def heartbeat(self, namespace: str, name: str) -> None:
        """I/O: set the run's heartbeat annotation to now."""
        stamp = format_rfc3339(datetime.now(UTC))
        await self.kube.merge_patch(
            taskrun_path(namespace, name), {"metadata": {"annotations": {ANNOTATION_HEARTBEAT: stamp}}}
        )

    # ------------------------------------------------------------------ templates

    async def template(
        self,
        *,
        namespace: str,
        task_template: str,
        image: str | None = None,
        processing_container: str | None = None,
        username: str | None = None,
        password: str | None = None,
        image_pull_secrets: Sequence[str] = (),
    ) -> TaskTemplate:
        """I/O: the task template, from the ProcessingContainer's status or the image's registry — the operator's
        own lookup (:class:`~task_api.kube.templates.TemplateResolver`), so both agree on what can be waited out.

        Raises :class:`TemplateLookupFailed` (transient: the operator will wait for it — a ProcessingContainer or
        pull Secret not there yet, an unreachable registry; the client leaves that check to the operator).
        """
        insecure = [h.strip() for h in os.environ.get("TASK_API_INSECURE_REGISTRIES", "").split(",") if h.strip()]
        resolver = TemplateResolver(self.kube, insecure_registries=insecure)
        try:
            if processing_container is not None:
                source = await resolver.for_processing_container(namespace, processing_container)
            else:
                assert image is not None
                creds = Credentials.basic(username, password) if username is not None and password is not None else None
                source = await resolver.for_image(namespace, image, pull_secrets=image_pull_secrets, credentials=creds)
        except TemplateUnavailable as exc:
            raise TemplateLookupFailed(exc.describe(), transient=exc.transient) from None
        try:
            return source.container.template(task_template)
        except SpecError as exc:
            where = f"ProcessingContainer {processing_container!r}" if processing_container else f"image {image}"
            raise TemplateLookupFailed(f"{where}: {exc}", transient=False) from None

    # ------------------------------------------------------------------ pods and logs

    async def get_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.kube.get(core_path("pods", namespace, name))
        except NotFound:
            return None

    async def follow_logs(self, namespace: str, pod: str, emit: Callable[[str], None]) -> None:
        """I/O: pass each line of the main container's log to ``emit`` until the container ends."""
        path = core_path("pods", namespace, pod, "log")
        params = {"container": MAIN_CONTAINER, "follow": "true"}
        try:
            async with self._stream.stream("GET", path, params=params) as response:
                if response.status_code >= 400:
                    body = (await response.aread()).decode(errors="replace")[:300]
                    emit(f"(log of pod {pod} not readable: HTTP {response.status_code} {body})")
                    return
                async for line in response.aiter_lines():
                    emit(line)
        except httpx.HTTPError as exc:
            emit(f"(log stream of pod {pod} ended: {type(exc).__name__})")

    async def read_logs(self, namespace: str, pod: str) -> str | None:
        """I/O: the whole log of the main container, or None when there is none (pod gone)."""
        path = core_path("pods", namespace, pod, "log")
        try:
            response = await self._stream.get(path, params={"container": MAIN_CONTAINER})
        except httpx.HTTPError:
            return None
        return response.text if response.status_code < 400 else None

    async def _watch(
        self, namespace: str, name: str, version: str, changes: asyncio.Queue[dict[str, Any] | None]
    ) -> None:
        """I/O: put each new state of one TaskRun into ``changes`` (``None``: it was deleted) as the API server
        sends it, from ``resourceVersion`` ``version`` until the server ends the watch (within a minute).

        Raises :class:`KubeApiError` when the watch is refused (``transient`` for 5xx/429; a 403 — a role without
        the ``watch`` verb — is not) or the connection fails (transient)."""
        params = {
            "watch": "1",
            "fieldSelector": f"metadata.name={name}",
            "resourceVersion": version,
            "timeoutSeconds": "60",
        }
        path = taskrun_path(namespace)
        try:
            async with self._stream.stream("GET", path, params=params) as response:
                if response.status_code >= 400:
                    body = (await response.aread()).decode(errors="replace")[:300]
                    status = response.status_code
                    raise KubeApiError(
                        f"WATCH {path}: HTTP {status} {body}", status=status, transient=status >= 500 or status == 429
                    )
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "DELETED":
                        await changes.put(None)
                        return
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        await changes.put(event["object"])
                    elif event.get("type") == "ERROR":
                        return  # e.g. 410 Gone (the version is too old): the caller reads the run and watches again
        except httpx.HTTPError as exc:
            raise KubeApiError(f"WATCH {path}: {type(exc).__name__}: {exc}", transient=True) from None

    async def _poll(self, namespace: str, name: str, poll_interval: float) -> dict[str, Any] | None:
        """I/O: read the TaskRun; an unreachable or overloaded API server is asked again (a long task must not fail
        for an API server restart)."""
        while True:
            try:
                return await self.get_taskrun(namespace, name)
            except KubeApiError as exc:
                if not exc.transient:
                    raise
            await asyncio.sleep(poll_interval)

    async def _last_lines(
        self, namespace: str, unstreamed: str | None, stream: asyncio.Task[None] | None, emit: Callable[[str], None]
    ) -> None:
        """I/O: at the end of a run, let the open log stream deliver its last lines; read the log of a pod whose
        log was never followed (it started and ended between two looks)."""
        if stream is not None:
            # The stream ends with the container; give it a moment to deliver the last lines.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(stream), timeout=10.0)
        if unstreamed:
            text = await self.read_logs(namespace, unstreamed)
            for line in (text or "").splitlines():
                emit(line)

    async def wait(
        self,
        namespace: str,
        name: str,
        *,
        emit: Callable[[str], None] | None = None,
        poll_interval: float = 1.0,
        heartbeat_every: float | None = None,
    ) -> dict[str, Any]:
        """I/O: follow the TaskRun until it finished, following each attempt's pod log into ``emit``.

        The run is followed with a watch — one long request whose events arrive as the operator writes the status,
        so the end is seen at once and a long run costs a request a minute rather than one per ``poll_interval`` —
        read again every :data:`RECHECK_SECONDS` in case a watch event is lost. Where a watch is refused (a role
        without the ``watch`` verb) or keeps failing, the run is polled every ``poll_interval`` instead. A pod's log
        is followed from the moment the run reports it ``Running`` (its main container started).

        With ``heartbeat_every``, refresh the run's heartbeat annotation that often while waiting (for runs with
        ``spec.heartbeatTimeoutSeconds``: if this process dies, the operator cancels the run).
        Returns the finished TaskRun; raises :class:`TaskRunGone` when it is deleted meanwhile.
        """
        streamed: set[str] = set()
        last_beat = -1e9
        stream: asyncio.Task[None] | None = None
        changes: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        watcher: asyncio.Task[None] | None = None
        watch_failures = 0
        loop = asyncio.get_running_loop()
        try:
            run = await self._poll(namespace, name, poll_interval)
            while True:
                if run is None:
                    raise TaskRunGone(f"TaskRun {namespace}/{name} was deleted before it finished")
                state = outcome_of(run)
                now = loop.time()
                if heartbeat_every is not None and now - last_beat >= heartbeat_every and not state.finished:
                    with contextlib.suppress(KubeApiError):  # a missed beat is retried next time round
                        await self.heartbeat(namespace, name)
                        last_beat = now
                pod_name = (run.get("status") or {}).get("podName")
                if (
                    emit is not None
                    and pod_name
                    and state.reason == "Running"
                    and pod_name not in streamed
                    and (stream is None or stream.done())
                ):
                    streamed.add(pod_name)
                    stream = asyncio.create_task(self.follow_logs(namespace, pod_name, emit))
                if state.finished:
                    if emit is not None:
                        await self._last_lines(namespace, pod_name if pod_name not in streamed else None, stream, emit)
                    return run
                if watcher is not None and watcher.done() and changes.empty():
                    watch_failures = watch_failures_after(watcher, watch_failures)
                    watcher = None
                    # Whatever happened while no watch was open: read the run before watching again.
                    run = await self._poll(namespace, name, poll_interval)
                    continue
                if watcher is None and watch_failures < WATCH_ATTEMPTS:
                    version = str((run.get("metadata") or {}).get("resourceVersion") or "")
                    watcher = asyncio.create_task(self._watch(namespace, name, version, changes))
                timeout = RECHECK_SECONDS if watcher is not None else poll_interval
                if heartbeat_every is not None:
                    timeout = min(timeout, max(0.0, last_beat + heartbeat_every - loop.time()))
                try:
                    run = await asyncio.wait_for(changes.get(), timeout=max(timeout, 0.05))
                except TimeoutError:
                    run = await self._poll(namespace, name, poll_interval)
        finally:
            for task in (stream, watcher):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
