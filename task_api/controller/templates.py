"""Find the task template a TaskRun runs: from its ProcessingContainer's status, or by inspecting its image (I/O).

Inspection is synchronous (``task_api.image``) and runs in a thread. Results are reused: the image adapter's cache
is keyed by manifest digest, and a short memo here keeps a burst of TaskRuns naming the same tag from sending one
manifest request each.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from task_api.image import Credentials, inspect_image
from task_api.image.cache import InspectionCache
from task_api.image.errors import ImageError
from task_api.image.reference import parse_reference
from task_api.kube import KubeClient, NotFound
from task_api.kube.client import core_path, resource_path
from task_api.spec import ProcessingContainer
from task_api.spec.crd import GROUP, VERSION
from task_api.spec.errors import SpecError

_MEMO_SECONDS = 10.0


@dataclass(frozen=True)
class TemplateSource:
    """Where a TaskRun's template comes from, resolved."""

    container: ProcessingContainer
    image: str
    digest: str
    pull_secrets: tuple[str, ...]


class TemplateUnavailable(Exception):
    """The template cannot be had now. ``transient`` ones are retried; ``reason`` names the condition reason."""

    def __init__(self, reason: str, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.transient = transient


class TemplateResolver:
    """I/O: resolves templates for TaskRuns and ProcessingContainers."""

    def __init__(self, kube: KubeClient, *, insecure_registries: Sequence[str] = ()) -> None:
        self._kube = kube
        self._insecure = tuple(insecure_registries)
        self._cache = InspectionCache()
        self._memo: dict[tuple[str, str], tuple[float, Any]] = {}
        # One inspection at a time per image and user: a burst of runs naming one tag shares it.
        self._inflight: dict[tuple[str, str], asyncio.Future[Any]] = {}

    async def credentials(self, namespace: str, image: str, secret_names: Sequence[str]) -> Credentials | None:
        """I/O: the first pull secret holding credentials for the image's registry."""
        try:
            host = parse_reference(image).registry
        except ImageError as exc:
            raise TemplateUnavailable("ImageInspectionFailed", str(exc), transient=False) from None
        for name in secret_names:
            try:
                secret = await self._kube.get(core_path("secrets", namespace, name))
            except NotFound:
                raise TemplateUnavailable(
                    "ImageInspectionFailed", f"image pull secret {name!r} not found", transient=True
                ) from None
            payload = (secret.get("data") or {}).get(".dockerconfigjson")
            if not payload:
                continue
            try:
                creds = Credentials.from_dockerconfigjson(
                    base64.b64decode(payload), host, source=f"secret {namespace}/{name}"
                )
            except ImageError as exc:
                raise TemplateUnavailable("ImageInspectionFailed", str(exc), transient=False) from None
            if creds is not None:
                return creds
        return None

    async def inspect(self, image: str, credentials: Credentials | None) -> Any:
        """I/O: inspect an image (memoised briefly per image and user)."""
        key = (image, credentials.username if credentials else "")
        memo = self._memo.get(key)
        now = time.monotonic()
        if memo is not None and now - memo[0] < _MEMO_SECONDS:
            return memo[1]
        inflight = self._inflight.get(key)
        if inflight is not None:
            return await asyncio.shield(inflight)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._inspect(image, credentials, key, now)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so no "never retrieved" warning when nobody else waited
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._inflight[key]

    async def _inspect(self, image: str, credentials: Credentials | None, key: tuple[str, str], now: float) -> Any:
        try:
            inspection = await asyncio.to_thread(
                inspect_image,
                image,
                credentials=credentials,
                insecure_registries=self._insecure,
                cache=self._cache,
            )
        except ImageError as exc:
            raise TemplateUnavailable(exc.reason, str(exc), transient=exc.transient) from None
        if len(self._memo) > 1024:
            self._memo.clear()
        self._memo[key] = (now, inspection)
        return inspection

    async def for_taskrun(self, body: Mapping[str, Any], *, extra_secrets: Sequence[str] = ()) -> TemplateSource:
        """I/O: the template source of a TaskRun (raises :class:`TemplateUnavailable`)."""
        spec = body.get("spec") or {}
        namespace = body["metadata"]["namespace"]
        ref = spec.get("processingContainerRef")
        own_secrets = [s["name"] for s in spec.get("imagePullSecrets") or []]
        if ref:
            return await self._from_processing_container(namespace, ref["name"], own_secrets)
        image = spec["image"]
        secrets = tuple(own_secrets) + tuple(extra_secrets)
        creds = await self.credentials(namespace, image, secrets)
        inspection = await self.inspect(image, creds)
        return TemplateSource(
            container=inspection.container,
            image=str(inspection.reference),
            digest=inspection.digest,
            pull_secrets=secrets,
        )

    async def _from_processing_container(self, namespace: str, name: str, own_secrets: Sequence[str]) -> TemplateSource:
        path = resource_path(
            group=GROUP, version=VERSION, plural="processingcontainers", namespace=namespace, name=name
        )
        try:
            pcon = await self._kube.get(path)
        except NotFound:
            raise TemplateUnavailable(
                "WaitingForProcessingContainer", f"ProcessingContainer {name!r} not found", transient=True
            ) from None
        status = pcon.get("status") or {}
        ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
        generation = (pcon.get("metadata") or {}).get("generation")
        if ready is None or ready.get("status") != "True" or status.get("observedGeneration") != generation:
            if ready is not None and ready.get("status") == "False":
                raise TemplateUnavailable(
                    "ImageInspectionFailed",
                    f"ProcessingContainer {name!r} is not ready: {ready.get('reason')}: {ready.get('message')}",
                    transient=False,
                )
            raise TemplateUnavailable(
                "WaitingForProcessingContainer",
                f"waiting for ProcessingContainer {name!r} to become Ready",
                transient=True,
            )
        try:
            container = ProcessingContainer.model_validate(
                {
                    "name": status.get("name") or name,
                    "description": status.get("description") or "",
                    "templates": status.get("templates") or [],
                }
            )
        except Exception as exc:  # pydantic.ValidationError, shown as a condition, never a crash
            raise TemplateUnavailable(
                "ImageInspectionFailed",
                f"ProcessingContainer {name!r} has unusable templates: {exc}",
                transient=False,
            ) from None
        secrets = [s["name"] for s in (pcon.get("spec") or {}).get("imagePullSecrets") or []]
        return TemplateSource(
            container=container,
            image=status.get("resolvedImage") or pcon["spec"]["image"],
            digest=status.get("digest") or "",
            pull_secrets=tuple(dict.fromkeys([*secrets, *own_secrets])),
        )


def describe_spec_error(err: SpecError, *, prefix: str = "") -> str:
    """Pure: a SpecError in one message (for a condition), each problem on its own line, its path under
    ``prefix`` (``spec.`` for a TaskRun, whose fields sit where task.json's do, one level down)."""
    problems = err.errors or err.problems
    return "\n".join(replace(p, path=f"{prefix}{p.path}" if p.path else p.path).format() for p in problems)
