"""Prepare a pass over a TaskRun: everything it reads, gathered into a :class:`~task_api.core.taskrun.world.World`
(I/O, reads only).

A failure the run must report (no such ProcessingContainer, a registry that refused the image, a credentials
Secret without the right keys) becomes a :class:`~task_api.core.taskrun.world.Halt` in the world; the pure
decision turns it into the run's status. Failures of the API server itself propagate to the work loop, which backs
off and tries again.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from task_api.controller.pod_index import PodIndex
from task_api.core.memory_usage import Observation, observations_from_taskrun
from task_api.core.rightsize import RightSizingSettings, effective_settings
from task_api.core.taskrun.conditions import is_finished
from task_api.core.taskrun.decide import current_pod, stopping
from task_api.core.taskrun.objects import registry_login, registry_secret_name
from task_api.core.taskrun.observed_pods import ObservedPod, observe_pod
from task_api.core.taskrun.world import (
    CredentialsUnusable,
    Halt,
    RegistryCredentials,
    TemplateSource,
    UpstreamView,
    World,
)
from task_api.image import Credentials, ImageError, InspectionBusy, parse_reference
from task_api.kube import Forbidden, KubeClient, NotFound
from task_api.kube.client import core_path
from task_api.kube.taskruns import taskrun_path
from task_api.kube.templates import TemplateResolver, TemplateUnavailable
from task_api.spec.crd.taskrun import InputBinding, OutputBinding, TaskRunReason, TaskRunResource
from task_api.spec.errors import SpecError

R = TaskRunReason
#: How soon a run that found no free inspection slot looks again (slots free as inspections end, within seconds).
BUSY_RETRY_SECONDS = 2.0


class Preparer:
    """I/O: reads what a pass over a TaskRun needs."""

    def __init__(self, *, kube: KubeClient, templates: TemplateResolver, pods: PodIndex, workspace_claim: str) -> None:
        self._kube = kube
        self._templates = templates
        self._pods = pods
        self._workspace_claim = workspace_claim

    async def world(self, run: TaskRunResource, now: datetime) -> World:
        """I/O: the world of one pass. A run that is only winding down reads nothing but its pods."""
        pods = await self._observed_pods(run)
        if stopping(run, now) or current_pod(run, pods) is not None:
            return World(pods=pods)  # winding down, or the attempt's pod decides alone: nothing more to read
        secret_owner, credentials = await self._registry_secret(run)
        template = await self._template(run, credentials, secret_owner)
        upstreams, cycle = await self._upstreams(run)
        sizing = _right_sizing(run, template)
        return World(
            template=template,
            upstreams=upstreams,
            credentials=credentials,
            registry_secret_owner=secret_owner,
            pods=pods,
            claims=await self._claims(run, template),
            upstream_cycle=cycle,
            right_sizing=sizing,
            history=await self._history(run, template) if sizing.enabled else (),
        )

    async def _observed_pods(self, run: TaskRunResource) -> tuple[ObservedPod, ...]:
        meta = run.metadata
        pods = self._pods.of_run((meta.namespace, meta.name))
        recorded = run.status.pod_name
        if recorded and all(p.name != recorded for p in pods):
            # The watch has not shown it (yet, or since a restart): ask, so a missing pod means a deleted one.
            with contextlib.suppress(NotFound):
                pods = (*pods, observe_pod(await self._kube.get(core_path("pods", meta.namespace, recorded))))
        return pods

    async def _registry_secret(
        self, run: TaskRunResource
    ) -> tuple[str | None, RegistryCredentials | CredentialsUnusable | Halt | None]:
        """Who owns the run's registry Secret, and — only when it must be made — the credentials for it."""
        ref = run.spec.registry_credentials_secret
        if ref is None:
            return None, None
        meta = run.metadata
        try:
            existing = await self._kube.get(core_path("secrets", meta.namespace, registry_secret_name(meta.name)))
        except NotFound:
            return None, await self._read_credentials(run, ref.name)
        owners = (existing.get("metadata") or {}).get("ownerReferences") or []
        # Only a TaskRun of this name may control it (this one, or a deleted namesake the garbage collector is
        # about to take with its Secret); anything else — a Secret a tenant planted under this name — is foreign.
        owner = next(
            (
                str(o.get("uid") or "")
                for o in owners
                if o.get("controller") and o.get("kind") == "TaskRun" and o.get("name") == meta.name
            ),
            "",
        )
        return owner, None

    async def _read_credentials(
        self, run: TaskRunResource, secret: str
    ) -> RegistryCredentials | CredentialsUnusable | Halt:
        try:
            registry = parse_reference(run.spec.image or "").registry
        except ImageError as exc:
            return Halt(R.INVALID_SPEC, f"spec.image: {exc}")
        try:
            found: dict[str, Any] | None = await self._kube.get(core_path("secrets", run.metadata.namespace, secret))
        except (NotFound, Forbidden):
            found = None  # told apart from a Secret that does not opt in nowhere: no existence oracle
        login = registry_login(found)
        if login is None:
            return CredentialsUnusable(secret)
        username, password = login
        return RegistryCredentials(registry=registry, username=username, password=password)

    async def _template(
        self,
        run: TaskRunResource,
        credentials: RegistryCredentials | CredentialsUnusable | Halt | None,
        secret_owner: str | None,
    ) -> TemplateSource | Halt | None:
        spec, namespace = run.spec, run.metadata.namespace
        own_secrets = [s.name for s in spec.image_pull_secrets]
        if isinstance(credentials, CredentialsUnusable) or secret_owner not in (None, run.metadata.uid):
            return None  # the run cannot go on as it is (decide says why): nothing is inspected with what is there
        try:
            if spec.processing_container_ref is not None:
                return await self._templates.for_processing_container(
                    namespace, spec.processing_container_ref.name, own_secrets=own_secrets
                )
            if isinstance(credentials, Halt):
                return credentials
            direct = Credentials.basic(credentials.username, credentials.password) if credentials else None
            secrets = [*own_secrets, *([registry_secret_name(run.metadata.name)] if secret_owner else [])]
            return await self._templates.for_image(
                namespace, spec.image or "", pull_secrets=secrets, credentials=direct
            )
        except TemplateUnavailable as exc:
            busy = exc.cause == InspectionBusy.reason
            return Halt(
                exc.reason, exc.describe(), transient=exc.transient, retry_after=BUSY_RETRY_SECONDS if busy else None
            )

    async def _upstreams(self, run: TaskRunResource) -> tuple[dict[str, UpstreamView | None], tuple[str, ...]]:
        """The ``fromTaskRun`` upstreams, read until the first attempt starts (its inputs are recorded then), and a
        cycle through unfinished upstreams back to this run, if there is one (followed a few levels deep)."""
        if run.status.attempts:
            return {}, ()
        namespace = run.metadata.namespace
        found: dict[str, UpstreamView | None] = {}
        waits_for: dict[str, tuple[str, ...]] = {}
        for name in sorted(_upstream_names(run)):
            view, names = await self._upstream(namespace, name)
            found[name] = view
            waits_for[name] = names
        return found, await self._cycle(run, waits_for)

    async def _upstream(self, namespace: str, name: str) -> tuple[UpstreamView | None, tuple[str, ...]]:
        """One upstream TaskRun, and the runs it waits for itself (none once it finished)."""
        try:
            raw = await self._kube.get(taskrun_path(namespace, name))
        except NotFound:
            return None, ()
        upstream = TaskRunResource.model_validate(raw)
        view = UpstreamView(uid=upstream.metadata.uid, status=upstream.status)
        return view, () if is_finished(upstream.status) else tuple(sorted(_upstream_names(upstream)))

    async def _cycle(self, run: TaskRunResource, waits_for: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
        """Breadth-first through unfinished upstreams; bounded, so a long chain costs a few reads, not the cluster."""
        namespace, me = run.metadata.namespace, run.metadata.name
        paths: dict[str, tuple[str, ...]] = {name: (me, name) for name in waits_for}
        frontier = list(waits_for)
        reads = 0
        while frontier and reads < _CYCLE_READS:
            name = frontier.pop(0)
            if name not in waits_for:
                _, waits_for[name] = await self._upstream(namespace, name)
                reads += 1
            for nxt in waits_for[name]:
                if nxt == me:
                    return (*paths[name], me)
                if nxt not in paths:
                    paths[nxt] = (*paths[name], nxt)
                    frontier.append(nxt)
        return ()

    async def _claims(self, run: TaskRunResource, template: TemplateSource | Halt | None) -> dict[str, bool]:
        """Whether each claim the run mounts exists, read before its first pod (the workspace claim only when an
        output is left to it)."""
        if run.status.attempts or not isinstance(template, TemplateSource):
            return {}
        bindings: list[InputBinding | OutputBinding] = [*run.spec.inputs, *run.spec.outputs]
        names = {b.persistent_volume_claim.claim_name for b in bindings if b.persistent_volume_claim is not None}
        try:
            outputs = template.container.template(run.spec.task_template).outputs
        except SpecError:
            outputs = []
        if {c.name for c in outputs} - {b.name for b in run.spec.outputs}:
            names.add(self._workspace_claim)
        found: dict[str, bool] = {}
        for name in sorted(names):
            try:
                await self._kube.get(core_path("persistentvolumeclaims", run.metadata.namespace, name))
                found[name] = True
            except NotFound:
                found[name] = False
        return found

    async def _history(self, run: TaskRunResource, template: TemplateSource | Halt | None) -> tuple[Observation, ...]:
        """What earlier finished runs of the same image digest and template used (right-sizing learns from it):
        one list of the namespace's TaskRuns, read only before the first pod (a retry follows an OOM kill, where the
        scale rules and the retry growth size the attempt)."""
        if not isinstance(template, TemplateSource) or run.status.pod_name:
            return ()
        items = await self._kube.list_items(taskrun_path(run.metadata.namespace))
        same: list[Observation] = []
        for item in items:
            status = item.get("status") or {}
            if (
                status.get("imageDigest") == template.digest
                and status.get("template") == run.spec.task_template
                and status.get("completionTime")
            ):
                same += observations_from_taskrun(item)
        return tuple(same)


def _right_sizing(run: TaskRunResource, template: TemplateSource | Halt | None) -> RightSizingSettings:
    """Pure: right-sizing as it applies to this run (its own setting, else its ProcessingContainer's)."""
    pc_spec = None
    if isinstance(template, TemplateSource) and template.right_sizing is not None:
        pc_spec = {"memoryRightSizing": template.right_sizing}
    return effective_settings(pc_spec, run.spec.to_wire())


#: At most this many extra TaskRuns are read per pass looking for a cycle of upstreams.
_CYCLE_READS = 16


def _upstream_names(run: TaskRunResource) -> set[str]:
    return {b.from_task_run.name for b in run.spec.inputs if b.from_task_run is not None}
