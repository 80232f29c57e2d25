"""Find a task template: in a ProcessingContainer's status, or by inspecting an image in its registry (I/O).

One lookup for every component: the operator resolves each TaskRun's template here, and its clients (the Airflow
operator, ``task-api run --mode k8s``) check a run against its template here before creating anything — so they
agree on what can be waited out (a ProcessingContainer or a pull Secret not created *yet*: GitOps tools apply
objects in any order) and what cannot (no such image, no such template).

Inspection is synchronous (:mod:`task_api.image`). In the operator it runs under the administrator's
:class:`~task_api.image.settings.InspectionSettings`: on the :class:`~task_api.image.gate.InspectionGate`'s own
threads (a bounded share, per namespace too; no free slot is the transient ``InspectionSlotsBusy``), within its
limits and egress policy. Clients (no settings) inspect in a thread with the library's defaults. Results are reused:
the image adapter's cache is keyed by manifest digest and answers a digest only to credentials the registry let read
that repository; a short memo here, keyed by image and a hash of the credentials, keeps a burst of TaskRuns naming
the same tag from sending one manifest request each.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Sequence

from pydantic import ValidationError

from task_api.core.taskrun.world import TemplateSource
from task_api.image import Credentials, inspect_image
from task_api.image.cache import InspectionCache
from task_api.image.errors import ImageError
from task_api.image.inspect import Inspection
from task_api.image.reference import parse_reference
from task_api.image.settings import InspectionSettings
from task_api.kube.client import KubeClient, core_path, resource_path
from task_api.kube.errors import NotFound
from task_api.spec import ProcessingContainer
from task_api.spec.crd.common import GROUP, VERSION
from task_api.spec.crd.keys import CONDITION_READY
from task_api.spec.crd.processing_container import ProcessingContainerResource
from task_api.spec.crd.taskrun import TaskRunReason
from task_api.spec.errors import TaskApiError

__all__ = ["TemplateResolver", "TemplateUnavailable", "processing_container_path"]

_MEMO_SECONDS = 10.0
_MEMO_LIMIT = 1024


class TemplateUnavailable(TaskApiError):
    """The template cannot be had now. ``reason`` is the TaskRun reason to report; ``cause`` the underlying one
    (an image error's reason such as ``ImageNotFound``, which a ProcessingContainer reports); ``transient`` ones
    may go away by themselves (wait and look again), the others need a change of spec, image or registry."""

    def __init__(self, reason: TaskRunReason, message: str, *, transient: bool, cause: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.transient = transient
        self.cause = cause or reason.value

    def describe(self) -> str:
        """The message with its cause in front when that says more than the reason (``ImageNotFound: …``)."""
        return self.message if self.cause == self.reason.value else f"{self.cause}: {self.message}"


def processing_container_path(namespace: str, name: str | None = None, sub: str | None = None) -> str:
    """Pure: the REST path of the ProcessingContainers of a namespace, or of one (``sub``: ``status``)."""
    return resource_path(
        group=GROUP, version=VERSION, plural="processingcontainers", namespace=namespace, name=name, subresource=sub
    )


class TemplateResolver:
    """I/O: resolves templates for TaskRuns and ProcessingContainers."""

    def __init__(
        self,
        kube: KubeClient,
        *,
        insecure_registries: Sequence[str] = (),
        settings: InspectionSettings | None = None,
    ) -> None:
        self._kube = kube
        self._insecure = tuple(insecure_registries)
        self._settings = settings
        #: The operator's share of threads for inspections (None for clients: they inspect in a thread of their own).
        self.gate = settings.gate() if settings is not None else None
        # Shared by every tenant: a digest is served only to credentials the registry let read its repository.
        self._cache = InspectionCache(check_access=True)
        self._memo: dict[tuple[str, str], tuple[float, Inspection]] = {}
        self._credentials: dict[tuple[str, str, tuple[str, ...]], tuple[float, Credentials | None]] = {}
        # One inspection at a time per image and credentials: a burst of runs naming one tag shares it.
        self._inflight: dict[tuple[str, str], asyncio.Future[Inspection]] = {}

    async def credentials(self, namespace: str, image: str, secret_names: Sequence[str]) -> Credentials | None:
        """I/O: the first of the named dockerconfigjson Secrets holding credentials for the image's registry
        (remembered briefly: a burst of runs naming the same pull secret reads it once, not once per pass)."""
        try:
            host = parse_reference(image).registry
        except ImageError as exc:
            raise TemplateUnavailable(TaskRunReason.IMAGE_INSPECTION_FAILED, str(exc), transient=False) from None
        key = (namespace, host, tuple(secret_names))
        now = time.monotonic()
        remembered = self._credentials.get(key)
        if remembered is not None and now - remembered[0] < _MEMO_SECONDS:
            return remembered[1]
        found = await self._read_credentials(namespace, host, secret_names)
        if len(self._credentials) > _MEMO_LIMIT:
            self._credentials.clear()
        self._credentials[key] = (now, found)
        return found

    async def _read_credentials(self, namespace: str, host: str, secret_names: Sequence[str]) -> Credentials | None:
        for name in secret_names:
            try:
                secret = await self._kube.get(core_path("secrets", namespace, name))
            except NotFound:
                raise TemplateUnavailable(
                    TaskRunReason.RESOLVING_IMAGE, f"image pull secret {name!r} not found", transient=True
                ) from None
            payload = (secret.get("data") or {}).get(".dockerconfigjson")
            if not payload:
                continue
            try:
                found = Credentials.from_dockerconfigjson(
                    base64.b64decode(payload), host, source=f"secret {namespace}/{name}"
                )
            except ImageError as exc:
                raise TemplateUnavailable(
                    TaskRunReason.IMAGE_INSPECTION_FAILED, str(exc), transient=False, cause=exc.reason
                ) from None
            if found is not None:
                return found
        return None

    async def inspect(self, image: str, credentials: Credentials | None, *, namespace: str = "") -> Inspection:
        """I/O: inspect an image (memoised briefly per image and credentials — by their hash, so only the same
        user *and* secret share a result; concurrent callers share one request). ``namespace`` is the tenant
        whose share of the gate it uses."""
        key = (image, credentials.fingerprint() if credentials else "")
        now = time.monotonic()
        memo = self._memo.get(key)
        if memo is not None and now - memo[0] < _MEMO_SECONDS:
            return memo[1]
        inflight = self._inflight.get(key)
        if inflight is not None:
            return await asyncio.shield(inflight)
        future: asyncio.Future[Inspection] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._inspect(image, credentials, namespace, waiter=key)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so no "never retrieved" warning when nobody else waited
            raise
        else:
            future.set_result(result)
            if len(self._memo) > _MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = (now, result)
            return result
        finally:
            del self._inflight[key]

    async def _inspect(
        self, image: str, credentials: Credentials | None, namespace: str, *, waiter: tuple[str, str]
    ) -> Inspection:
        """I/O: one inspection through the gate; ``waiter`` (image and credentials' fingerprint) keeps its turn in
        the gate's line while it is refused."""
        try:
            if self.gate is None or self._settings is None:
                return await asyncio.to_thread(
                    inspect_image, image, credentials=credentials, insecure_registries=self._insecure, cache=self._cache
                )
            settings = self._settings
            return await self.gate.run(
                namespace,
                inspect_image,
                image,
                waiter=waiter,
                credentials=credentials,
                insecure_registries=self._insecure,
                cache=self._cache,
                limits=settings.limits,
                egress=settings.egress,
            )
        except ImageError as exc:  # InspectionBusy (no free slot) is transient like any registry trouble
            reason = TaskRunReason.RESOLVING_IMAGE if exc.transient else TaskRunReason.IMAGE_INSPECTION_FAILED
            raise TemplateUnavailable(reason, str(exc), transient=exc.transient, cause=exc.reason) from None

    async def for_image(
        self,
        namespace: str,
        image: str,
        *,
        pull_secrets: Sequence[str] = (),
        credentials: Credentials | None = None,
    ) -> TemplateSource:
        """I/O: the templates of an image, read with ``credentials`` or else the first pull Secret that has some."""
        found = credentials or await self.credentials(namespace, image, pull_secrets)
        inspection = await self.inspect(image, found, namespace=namespace)
        return TemplateSource(
            container=inspection.container,
            image=str(inspection.reference),
            digest=inspection.digest,
            pull_secrets=tuple(pull_secrets),
        )

    async def for_processing_container(
        self, namespace: str, name: str, *, own_secrets: Sequence[str] = ()
    ) -> TemplateSource:
        """I/O: the templates a ProcessingContainer published, and its image pinned by digest."""
        try:
            raw = await self._kube.get(processing_container_path(namespace, name))
        except NotFound:
            raise TemplateUnavailable(
                TaskRunReason.WAITING_FOR_PROCESSING_CONTAINER,
                f"ProcessingContainer {name!r} not found",
                transient=True,
            ) from None
        pcon = ProcessingContainerResource.model_validate(raw)
        status = pcon.status
        ready = next((c for c in status.conditions if c.type == CONDITION_READY), None)
        if ready is not None and ready.status == "False" and status.observed_generation == pcon.metadata.generation:
            raise TemplateUnavailable(
                TaskRunReason.IMAGE_INSPECTION_FAILED,
                f"ProcessingContainer {name!r} is not ready: {ready.reason}: {ready.message}",
                transient=False,
            )
        if ready is None or ready.status != "True" or status.observed_generation != pcon.metadata.generation:
            raise TemplateUnavailable(
                TaskRunReason.WAITING_FOR_PROCESSING_CONTAINER,
                f"waiting for ProcessingContainer {name!r} to become Ready",
                transient=True,
            )
        try:
            container = ProcessingContainer.model_validate(
                {"name": status.name or name, "description": status.description or "", "templates": status.templates}
            )
        except ValidationError as exc:  # shown as a condition, never a crash
            raise TemplateUnavailable(
                TaskRunReason.IMAGE_INSPECTION_FAILED,
                f"ProcessingContainer {name!r} has unusable templates: {exc}",
                transient=False,
            ) from None
        secrets = [s.name for s in pcon.spec.image_pull_secrets]
        sizing = pcon.spec.memory_right_sizing
        return TemplateSource(
            container=container,
            image=status.resolved_image or pcon.spec.image,
            digest=status.digest or "",
            pull_secrets=tuple(dict.fromkeys([*secrets, *own_secrets])),
            right_sizing=sizing.to_wire() if sizing is not None else None,
        )
