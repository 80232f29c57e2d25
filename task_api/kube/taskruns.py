"""Clients' conversation with Kubernetes about TaskRuns (I/O, asyncio).

Creating the TaskRun and its credentials Secret, reading it, deleting it, following the pod's log, and finding
the task template (from a ProcessingContainer's status or by inspecting the image in its registry) for the
checks made before anything is created. Used by the Airflow operator (synchronously, through ``asyncio.run``) and
its trigger (in the triggerer's event loop), and by ``task-api run --mode k8s``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from task_api.core.taskrun_objects import build_credentials_secret, outcome
from task_api.image import Credentials, ImageError, inspect_image, parse_reference
from task_api.kube import AlreadyExists, ClusterAccess, KubeApiError, KubeClient, NotFound
from task_api.kube.client import core_path, resource_path
from task_api.spec import SpecError, TaskTemplate
from task_api.spec.crd import GROUP, VERSION
from task_api.spec.errors import TaskApiError

#: Refreshed by a client following a run with ``spec.heartbeatTimeoutSeconds`` (docs/operator.md).
HEARTBEAT_ANNOTATION = "task-api.io/heartbeat"

__all__ = ["MAIN_CONTAINER", "TaskRunApi", "TaskRunGone", "TemplateLookupFailed"]

T = TypeVar("T")

#: The task pod's main container (``task_api.core.pod.MAIN_CONTAINER``; repeated to keep this module light).
MAIN_CONTAINER = "task"


class TaskRunGone(TaskApiError):
    """The TaskRun was deleted while the Airflow task waited for it (killed, cleared, or by hand)."""


class TemplateLookupFailed(TaskApiError):
    """The template could not be read; ``transient`` ones leave the checks to the Kubernetes operator."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def taskrun_path(namespace: str, name: str | None = None) -> str:
    """Pure: the REST path of the TaskRuns of a namespace, or of one."""
    return resource_path(group=GROUP, version=VERSION, plural="taskruns", namespace=namespace, name=name)


def _started(pod: Mapping[str, Any]) -> bool:
    """Pure: whether the main container has a log to read (running or terminated)."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == MAIN_CONTAINER:
            state = status.get("state") or {}
            return "running" in state or "terminated" in state
    return False


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
        secret = build_credentials_secret(taskrun=taskrun, username=username, password=password, labels=labels)
        meta = secret["metadata"]

        async def create() -> None:
            with contextlib.suppress(AlreadyExists):
                await self.kube.create(core_path("secrets", meta["namespace"]), secret)

        await self._retrying(create)
        return str(meta["name"])

    async def heartbeat(self, namespace: str, name: str) -> None:
        """I/O: set the run's heartbeat annotation to now."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        await self.kube.merge_patch(
            taskrun_path(namespace, name), {"metadata": {"annotations": {HEARTBEAT_ANNOTATION: stamp}}}
        )

    # ------------------------------------------------------------------ templates

    async def _pull_secret_credentials(
        self, namespace: str, image: str, secret_names: Sequence[str]
    ) -> Credentials | None:
        host = parse_reference(image).registry
        for name in secret_names:
            try:
                secret = await self.kube.get(core_path("secrets", namespace, name))
            except NotFound:
                raise TemplateLookupFailed(f"image pull secret {namespace}/{name} not found", transient=False) from None
            payload = (secret.get("data") or {}).get(".dockerconfigjson")
            if payload:
                creds = Credentials.from_dockerconfigjson(
                    base64.b64decode(payload), host, source=f"secret {namespace}/{name}"
                )
                if creds is not None:
                    return creds
        return None

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
        """I/O: the task template, from the ProcessingContainer's status or the image's registry.

        Raises :class:`TemplateLookupFailed` (transient: unreachable registry, ProcessingContainer not ready) or
        :class:`~task_api.spec.SpecError` (no such template).
        """
        if processing_container is not None:
            path = resource_path(
                group=GROUP, version=VERSION, plural="processingcontainers", namespace=namespace,
                name=processing_container,
            )  # fmt: skip
            try:
                pcon = await self.kube.get(path)
            except NotFound:
                raise TemplateLookupFailed(
                    f"ProcessingContainer {namespace}/{processing_container} not found", transient=False
                ) from None
            templates = (pcon.get("status") or {}).get("templates") or []
            if not templates:
                raise TemplateLookupFailed(
                    f"ProcessingContainer {processing_container} has no templates yet (not Ready)", transient=True
                )
            for raw in templates:
                if raw.get("identifier") == task_template:
                    return TaskTemplate.model_validate(raw)
            have = ", ".join(repr(t.get("identifier")) for t in templates)
            raise TemplateLookupFailed(
                f"ProcessingContainer {processing_container!r} has no template {task_template!r}; it has {have}",
                transient=False,
            )
        assert image is not None
        try:
            if username is not None and password is not None:
                creds: Credentials | None = Credentials.basic(username, password)
            else:
                creds = await self._pull_secret_credentials(namespace, image, image_pull_secrets)
            insecure = [h for h in os.environ.get("TASK_API_INSECURE_REGISTRIES", "").split(",") if h.strip()]
            inspection = await asyncio.to_thread(inspect_image, image, credentials=creds, insecure_registries=insecure)
        except ImageError as exc:
            raise TemplateLookupFailed(f"{exc.reason}: {exc}", transient=exc.transient) from None
        try:
            return inspection.container.template(task_template)
        except SpecError as exc:
            raise TemplateLookupFailed(str(exc), transient=False) from None

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

    async def wait(
        self,
        namespace: str,
        name: str,
        *,
        emit: Callable[[str], None] | None = None,
        poll_interval: float = 1.0,
        heartbeat_every: float | None = None,
    ) -> dict[str, Any]:
        """I/O: poll the TaskRun until it finished, following each attempt's pod log into ``emit``.

        With ``heartbeat_every``, refresh the run's heartbeat annotation that often while waiting (for runs with
        ``spec.heartbeatTimeoutSeconds``: if this process dies, the operator cancels the run).
        Returns the finished TaskRun; raises :class:`TaskRunGone` when it is deleted meanwhile.
        """
        streamed: set[str] = set()
        last_beat = -1e9
        stream: asyncio.Task[None] | None = None
        try:
            while True:
                try:
                    run = await self.get_taskrun(namespace, name)
                except KubeApiError as exc:
                    if not exc.transient:
                        raise
                    # An API server restart or overload must not fail a long task: ask again.
                    await asyncio.sleep(poll_interval)
                    continue
                if run is None:
                    raise TaskRunGone(f"TaskRun {namespace}/{name} was deleted before it finished")
                now = asyncio.get_running_loop().time()
                if heartbeat_every is not None and now - last_beat >= heartbeat_every and not outcome(run).finished:
                    with contextlib.suppress(KubeApiError):  # a missed beat is retried next time round
                        await self.heartbeat(namespace, name)
                        last_beat = now
                pod_name = (run.get("status") or {}).get("podName")
                if emit is not None and pod_name and pod_name not in streamed and (stream is None or stream.done()):
                    pod = await self.get_pod(namespace, pod_name)
                    if pod is not None and _started(pod):
                        streamed.add(pod_name)
                        stream = asyncio.create_task(self.follow_logs(namespace, pod_name, emit))
                if outcome(run).finished:
                    if stream is not None:
                        # The stream ends with the container; give it a moment to deliver the last lines.
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(asyncio.shield(stream), timeout=10.0)
                    if emit is not None and pod_name and pod_name not in streamed:
                        text = await self.read_logs(namespace, pod_name)
                        for line in (text or "").splitlines():
                            emit(line)
                    return run
                await asyncio.sleep(poll_interval)
        finally:
            if stream is not None and not stream.done():
                stream.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await stream
