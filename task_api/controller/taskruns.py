"""Reconcile one TaskRun (I/O). The steps read top to bottom as a list of early exits, as Tekton's reconciler:

finished → cancelled → resolve the template → wait for upstream runs → validate → measure the inputs → size the
memory → ensure the registry Secret → ensure the attempt's Pod → report what the Pod says (and retry).

Every step is idempotent: the pod and secret names are deterministic, creation treats "already exists" as success,
and the status records each decision before the next object is created. An operator restart at any point resumes
from what the API server holds; it never creates a second pod for the same attempt.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from task_api.controller.config import OperatorConfig
from task_api.controller.metrics import Metrics
from task_api.controller.templates import (
    TemplateResolver,
    TemplateSource,
    TemplateUnavailable,
    describe_spec_error,
)
from task_api.core import pod as pods
from task_api.core.legacy import adapt_task_pod as adapt_legacy_pod
from task_api.core.legacy import check_task as check_legacy_task
from task_api.core.merge import resolve
from task_api.core.scale import compute_resources
from task_api.core.status import Phase, PodOutcome, measure_result, outcome_from_pod
from task_api.core.taskrun_plan import (
    check_host_paths,
    grown_memory,
    location_of_volume,
    propagated_metadata,
    task_document,
    volume_of_binding,
    volume_of_location,
    workspace_volume,
)
from task_api.core.taskrun_status import (
    changes,
    has_failed,
    is_finished,
    parse_rfc3339,
    status_patch,
    succeeded_condition,
)
from task_api.image.reference import parse_reference
from task_api.kube import AlreadyExists, KubeApiError, KubeClient, NotFound
from task_api.kube.client import core_path, resource_path
from task_api.kube.events import EventRecorder
from task_api.kube.taskruns import HEARTBEAT_ANNOTATION
from task_api.spec import Measurement, ResolvedTask
from task_api.spec.crd import GROUP, VERSION, TaskRunReason
from task_api.spec.errors import SpecError
from task_api.spec.load import parse_task
from task_api.spec.quantity import format_bytes_quantity, parse_quantity

log = logging.getLogger(__name__)

Key = tuple[str, str]
R = TaskRunReason


class Halt(Exception):
    """Stop this reconcile here: write ``reason``/``message`` to the status and maybe look again later."""

    def __init__(
        self,
        reason: TaskRunReason,
        message: str,
        *,
        requeue_after: float | None = None,
        backoff: bool = False,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.requeue_after = requeue_after
        self.backoff = backoff
        self.fields = dict(fields or {})


#: The resourceVersions the current reconcile's status writes produced (set per worker task by the work loop, so
#: the watch events echoing them can be recognised and ignored).
WRITTEN_VERSIONS: ContextVar[list[str] | None] = ContextVar("WRITTEN_VERSIONS", default=None)


@dataclass(frozen=True)
class PodHint:
    """The latest copy of a run's pod seen by the pod watch (``pod`` None: the watch saw it deleted)."""

    name: str
    pod: Mapping[str, Any] | None


@dataclass
class Result:
    """What the work loop should do next with this key."""

    requeue_after: float | None = None
    #: Look again after the queue's exponential backoff for this key (transient failures).
    backoff: bool = False
    waiting_on: list[Key] = field(default_factory=list)
    finished: bool = False


def taskrun_path(namespace: str, name: str | None = None, sub: str | None = None) -> str:
    return resource_path(
        group=GROUP, version=VERSION, plural="taskruns", namespace=namespace, name=name, subresource=sub
    )


def registry_secret_name(taskrun: str) -> str:
    return pods.bounded_name(taskrun, "registry")


class TaskRunReconciler:
    """I/O: brings one TaskRun's pods and status in line with its spec."""

    def __init__(
        self,
        *,
        kube: KubeClient,
        config: OperatorConfig,
        templates: TemplateResolver,
        events: EventRecorder,
        metrics: Metrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kube = kube
        self.config = config
        self.templates = templates
        self.events = events
        self.metrics = metrics
        self.clock = clock

    # ------------------------------------------------------------------ entry point

    async def reconcile(self, body: Mapping[str, Any], *, pod_hint: PodHint | None = None) -> Result:
        """I/O: one pass over a TaskRun. ``pod_hint`` is the latest copy of its pod from the pod watch, if any
        (it saves a GET); ``body`` is updated in place with every status written."""
        meta = body["metadata"]
        if meta.get("deletionTimestamp"):
            return Result(finished=True)  # pods and secrets go with it (ownerReferences)
        status: Mapping[str, Any] = body.get("status") or {}
        if is_finished(status):
            return await self._finished(body)
        if (body.get("spec") or {}).get("cancelled"):
            return await self._cancel(body)
        heartbeat_due = self._heartbeat_due(body)
        if heartbeat_due is not None and heartbeat_due <= 0:
            last = (meta.get("annotations") or {}).get(HEARTBEAT_ANNOTATION) or "never"
            return await self._cancel(
                body, message=f"the client stopped sending heartbeats (last: {last}); the run was cancelled"
            )
        result = await self._reconcile_active(body, pod_hint)
        if heartbeat_due is not None and not result.finished:
            # Look again when the heartbeat would be overdue, unless something brings the run back sooner.
            result.requeue_after = min(result.requeue_after or heartbeat_due, heartbeat_due)
        return result

    def _heartbeat_due(self, body: Mapping[str, Any]) -> float | None:
        """Seconds until the client's heartbeat is overdue (≤ 0: it is), or None when the run asks for none."""
        timeout = (body.get("spec") or {}).get("heartbeatTimeoutSeconds")
        if not timeout:
            return None
        meta = body["metadata"]
        stamp = (meta.get("annotations") or {}).get(HEARTBEAT_ANNOTATION) or meta.get("creationTimestamp")
        try:
            last = parse_rfc3339(stamp)
        except (TypeError, ValueError):
            last = parse_rfc3339(meta["creationTimestamp"])
        return float(timeout) - (self.clock() - last).total_seconds() + 0.5

    async def _reconcile_active(self, body: Mapping[str, Any], pod_hint: PodHint | None) -> Result:
        result = Result()
        try:
            await self._run(body, result, pod_hint)
        except Halt as halt:
            await self._write(body, halt.reason, halt.message, **halt.fields)
            result.requeue_after = halt.requeue_after
            result.backoff = halt.backoff
            if halt.reason in (R.IMAGE_INSPECTION_FAILED, R.INVALID_SPEC, R.UPSTREAM_FAILED):
                self.events.record_soon(body, type_="Warning", reason=halt.reason.value, message=halt.message[:500])
                self.metrics.finished.labels(reason=halt.reason.value).inc()
                result.finished = True
        except _Requeue:
            result.requeue_after = 0
        except _Done:
            result.finished = is_finished(body.get("status"))
        return result

    async def _run(self, body: Mapping[str, Any], result: Result, pod_hint: PodHint | None) -> None:
        spec = body["spec"]
        source = await self._resolve_template(body)
        upstream = await self._upstream_outputs(body, result)
        resolved, input_volumes, output_volumes = self._validate(body, source, upstream)
        measurements = await self._measure(body, resolved, input_volumes, source)
        requests, limits, explanation = self._size(body, resolved, measurements)
        secrets = [*source.pull_secrets, *(await self._ensure_registry_secret(body, source))]
        status = body.get("status") or {}
        attempt = max(1, int(status.get("attempts") or 0))
        run_labels, run_annotations = propagated_metadata(
            body["metadata"].get("labels"), body["metadata"].get("annotations")
        )
        # Written together with the first pod's name (one status write per new pod, not two).
        first_fields: dict[str, Any] = {}
        if not status.get("attempts"):
            first_fields = {
                "attempts": attempt,
                "template": resolved.template,
                "image": source.image,
                "imageDigest": source.digest or None,
                "outputs": [location_of_volume(n, v) for n, v in output_volumes.items()],
                "inputs": [location_of_volume(n, v) for n, v in input_volumes.items()],
            }
        plan = pods.PodPlan(
            owner=_owner(body),
            attempt=attempt,
            image=source.image,
            command=resolved.command,
            env=list(resolved.env.items()),
            mounts=[
                *(
                    pods.ChannelMount(c.name, c.mounted_path, input_volumes[c.name], read_only=True)
                    for c in resolved.inputs
                ),
                *(
                    pods.ChannelMount(c.name, c.mounted_path, output_volumes[c.name], read_only=False)
                    for c in resolved.outputs
                ),
            ],
            requests=requests,
            limits=limits,
            image_pull_secrets=tuple(dict.fromkeys(secrets)),
            active_deadline_seconds=spec.get("timeoutSeconds"),
            labels={**run_labels, **resolved.labels},
            annotations={**run_annotations, **resolved.annotations},
            template=resolved.template,
        )
        if resolved.warnings and not status.get("podName"):
            text = "; ".join(w.format() for w in resolved.warnings)[:500]
            self.events.record_soon(body, type_="Warning", reason="SpecWarning", message=text)
        pod, created = await self._ensure_pod(
            body,
            plan,
            memory=_memory_summary(requests, limits, explanation),
            first_fields=first_fields,
            pod_hint=pod_hint,
        )
        if not created:  # a new pod has nothing to report yet: its watch events bring the run back
            await self._report(body, pod, plan)

    # ------------------------------------------------------------------ steps

    async def _resolve_template(self, body: Mapping[str, Any]) -> TemplateSource:
        extra = (
            [registry_secret_name(body["metadata"]["name"])] if body["spec"].get("registryCredentialsSecret") else []
        )
        if extra:
            # The registry Secret must exist before the image can be inspected with it.
            await self._ensure_registry_secret(body, None)
        try:
            return await self.templates.for_taskrun(body, extra_secrets=extra)
        except TemplateUnavailable as exc:
            if exc.reason == "WaitingForProcessingContainer":
                # Chaos fix (tests/chaos/test_registry_outage.py): back off (0.5 s doubling to 60 s) instead of a
                # fixed 2 s poll. The ProcessingContainer's reconcile wakes its waiting runs at once (Runtime._wake),
                # so the poll is only a safety net; at a fixed 2 s, N runs waiting through a registry outage cost
                # N/2 reconciles (and GETs) per second for as long as it lasts.
                raise Halt(R.WAITING_FOR_PROCESSING_CONTAINER, exc.message, backoff=True) from None
            if exc.transient:
                raise Halt(R.RESOLVING_IMAGE, f"{exc.reason}: {exc.message}", backoff=True) from None
            raise Halt(R.IMAGE_INSPECTION_FAILED, f"{exc.reason}: {exc.message}") from None

    async def _upstream_outputs(self, body: Mapping[str, Any], result: Result) -> dict[str, Any]:
        """The volumes of ``fromTaskRun`` inputs; waits while an upstream run is unfinished, fails when one failed
        or was deleted. Once the first attempt is decided, the locations recorded then are used (an upstream
        deleted later, with its data left on the claim, does not fail a run that already started)."""
        meta = body["metadata"]
        namespace = meta["namespace"]
        status = body.get("status") or {}
        bindings = [b for b in body["spec"].get("inputs") or [] if b.get("fromTaskRun")]
        if status.get("attempts"):
            recorded = {loc["name"]: volume_of_location(loc) for loc in status.get("inputs") or []}
            return {b["name"]: recorded[b["name"]] for b in bindings if recorded.get(b["name"]) is not None}
        seen = {u["name"]: u["uid"] for u in status.get("upstreams") or []}
        newly_seen: dict[str, str] = {}
        volumes: dict[str, Any] = {}
        waiting: list[str] = []
        for binding in bindings:
            ref = binding["fromTaskRun"]
            name = ref["name"]
            try:
                upstream = await self.kube.get(taskrun_path(namespace, name))
            except NotFound:
                upstream = None
            uid = (upstream or {}).get("metadata", {}).get("uid")
            if name in seen and seen[name] != uid:
                raise Halt(
                    R.UPSTREAM_FAILED,
                    f"upstream TaskRun {name!r} was deleted while this run waited for it; "
                    f"input {binding['name']!r} cannot be read",
                )
            if upstream is None:
                age = (self.clock() - parse_rfc3339(meta["creationTimestamp"])).total_seconds()
                if age > self.config.upstream_grace_seconds:
                    raise Halt(
                        R.UPSTREAM_FAILED,
                        f"upstream TaskRun {name!r} does not exist (waited {int(age)} s for it to be created)",
                    )
                waiting.append(f"{name} (not created yet)")
                result.waiting_on.append((namespace, name))
                continue
            if name not in seen:
                newly_seen[name] = uid
            ustatus = upstream.get("status") or {}
            if has_failed(ustatus):
                cond = succeeded_condition(ustatus) or {}
                raise Halt(
                    R.UPSTREAM_FAILED,
                    f"upstream TaskRun {name!r} failed ({cond.get('reason')}); "
                    f"input {binding['name']!r} cannot be read",
                )
            if not is_finished(ustatus):
                waiting.append(name)
                result.waiting_on.append((namespace, name))
                continue
            location = next((o for o in ustatus.get("outputs") or [] if o.get("name") == ref["output"]), None)
            volume = volume_of_location(location) if location else None
            if volume is None:
                have = ", ".join(o.get("name", "?") for o in ustatus.get("outputs") or []) or "none"
                raise Halt(
                    R.INVALID_SPEC,
                    f"spec.inputs[{binding['name']}].fromTaskRun: TaskRun {name!r} has no output "
                    f"{ref['output']!r} (it has: {have})",
                )
            volumes[binding["name"]] = volume
        upstreams = [{"name": n, "uid": u} for n, u in {**seen, **newly_seen}.items()]
        if waiting:
            # Upstream status changes wake this run up (see the work loop); the poll is a safety net.
            raise Halt(
                R.WAITING_FOR_UPSTREAM,
                "waiting for upstream TaskRuns: " + ", ".join(waiting),
                requeue_after=min(30.0, self.config.upstream_grace_seconds),
                fields={"upstreams": upstreams} if newly_seen else None,
            )
        if newly_seen:
            await self._patch_status(body, {"upstreams": upstreams})
        return volumes

    def _validate(
        self, body: Mapping[str, Any], source: TemplateSource, upstream: Mapping[str, Any]
    ) -> tuple[ResolvedTask, dict[str, Any], dict[str, Any]]:
        meta = body["metadata"]
        spec = body["spec"]
        problems = check_host_paths(spec, self.config.allowed_host_path_roots)
        if problems:
            raise Halt(R.INVALID_SPEC, "\n".join(f"{p.path}: {p.message}" for p in problems))
        try:
            template = source.container.template(spec["taskTemplate"])
        except SpecError as err:
            raise Halt(R.INVALID_SPEC, describe_spec_error(err, prefix="spec.")) from None
        input_volumes: dict[str, Any] = {}
        for binding in spec.get("inputs") or []:
            volume = upstream.get(binding["name"]) or volume_of_binding(binding)
            input_volumes[binding["name"]] = volume
        bound_outputs = {b["name"]: volume_of_binding(b) for b in spec.get("outputs") or []}
        output_volumes: dict[str, Any] = {}
        for channel in template.outputs:
            output_volumes[channel.name] = bound_outputs.pop(channel.name, None) or workspace_volume(
                claim=self.config.workspace_claim, taskrun=meta["name"], uid=meta["uid"], channel=channel.name
            )
        output_volumes.update({k: v for k, v in bound_outputs.items() if v is not None})  # unknown: merge reports
        document = task_document(
            name=meta["name"],
            image=source.image,
            spec=spec,
            input_volumes=input_volumes,
            output_volumes=output_volumes,
        )
        try:
            task = parse_task(json.dumps(document), source=f"TaskRun {meta['namespace']}/{meta['name']}", environ={})
            resolved = resolve(task, source.container)
            check_legacy_task(resolved, stage_image=self.config.measure_image)  # legacy images: migrating-legacy.md
        except SpecError as err:
            raise Halt(R.INVALID_SPEC, describe_spec_error(err, prefix="spec.")) from None
        return resolved, input_volumes, output_volumes

    async def _measure(
        self,
        body: Mapping[str, Any],
        resolved: ResolvedTask,
        input_volumes: Mapping[str, Any],
        source: TemplateSource,
    ) -> list[tuple[Any, Measurement]]:
        """Measure the inputs that carry scale rules, once per TaskRun, in a short-lived pod."""
        scaled = resolved.scaled_inputs
        if not scaled:
            return []
        status = body.get("status") or {}
        stored = status.get("measurements") or []
        if len(stored) == len(scaled):
            by_channel = {m["channel"]: m for m in stored}
            return [
                (
                    c.scale_rule,
                    Measurement(
                        channel=c.name,
                        mode=by_channel[c.name]["mode"],
                        measured_bytes=by_channel[c.name]["bytes"],
                        files_counted=by_channel[c.name].get("files", 0),
                    ),
                )
                for c in scaled
            ]
        if not self.config.measure_image:
            raise Halt(R.INVALID_SPEC, "the template has scale rules but the operator has no TASK_API_MEASURE_IMAGE")
        meta = body["metadata"]
        name = pods.measure_pod_name(meta["name"])
        path = core_path("pods", meta["namespace"], name)
        try:
            pod = await self.kube.get(path)
        except NotFound:
            items = [
                pods.MeasureItem(
                    channel=c.name,
                    volume=input_volumes[c.name],
                    rule=c.scale_rule.model_dump(mode="json", exclude_none=True) if c.scale_rule else {},
                )
                for c in scaled
            ]
            manifest = pods.build_measure_pod(
                owner=_owner(body),
                image=self.config.measure_image,
                items=items,
                # The run's own pull secrets too: the operator's image often lives in the same registry.
                image_pull_secrets=tuple(
                    dict.fromkeys([*self.config.measure_image_pull_secrets, *source.pull_secrets])
                ),
            )
            try:
                pod = await self.kube.create(core_path("pods", meta["namespace"]), manifest)
                self.metrics.pods_created.labels(role="measure").inc()
            except AlreadyExists:
                pod = await self.kube.get(path)
        phase, message = measure_result(pod)
        if phase in (Phase.PENDING, Phase.RUNNING):
            raise Halt(R.MEASURING, f"measuring the inputs in pod {name}", requeue_after=30)
        if phase is Phase.FAILED:
            raise Halt(R.INVALID_SPEC, f"measuring the inputs failed: {message.strip()[:500]}")
        try:
            reported = json.loads(message)
            measured = [Measurement.model_validate(m) for m in reported]
        except ValueError as exc:
            raise Halt(R.INVALID_SPEC, f"the measuring pod reported something unreadable: {exc}") from None
        by_channel = {m.channel: m for m in measured}
        await self._write(
            body,
            R.PENDING,
            "inputs measured",
            measurements=[
                {
                    "channel": m.channel,
                    "mode": str(m.mode.value),
                    "bytes": m.measured_bytes,
                    "files": m.files_counted,
                }
                for m in measured
            ],
        )
        await self._delete(path)
        return [(c.scale_rule, by_channel[c.name]) for c in scaled if c.name in by_channel]

    def _size(
        self, body: Mapping[str, Any], resolved: ResolvedTask, measurements: Sequence[tuple[Any, Measurement]]
    ) -> tuple[dict[str, str], dict[str, str], list[str]]:
        computed = compute_resources(
            static=resolved.resources, measurements=measurements, upper_bound=self.config.max_memory_bytes
        )
        requests = {k: str(v) for k, v in computed.requests.items()}
        limits = {k: str(v) for k, v in computed.limits.items()}
        explanation = list(computed.explanation)
        oom_kills = int((body.get("status") or {}).get("oomKills") or 0)
        if oom_kills and "memory" in limits:
            retry = body["spec"].get("retries") or {}
            factor = float(retry.get("memoryFactor", 1.5))
            bound = self.config.max_memory_bytes
            if retry.get("maxMemory"):
                bound = min(bound, int(parse_quantity(retry["maxMemory"])))
            before = int(parse_quantity(limits["memory"]))
            grown = grown_memory(before, factor=factor, oom_kills=oom_kills, bound=bound)
            limits["memory"] = format_bytes_quantity(grown)
            explanation.append(
                f"after {oom_kills} OOM kill(s): limit {format_bytes_quantity(before)} x {factor}^{oom_kills}"
                f" → {limits['memory']} (bound {format_bytes_quantity(bound)})"
            )
        return requests, limits, explanation

    async def _ensure_registry_secret(self, body: Mapping[str, Any], source: TemplateSource | None) -> list[str]:
        """Turn ``registryCredentialsSecret`` into a dockerconfigjson Secret owned by the TaskRun (gone with it)."""
        spec = body["spec"]
        ref = spec.get("registryCredentialsSecret")
        if not ref:
            return []
        meta = body["metadata"]
        name = registry_secret_name(meta["name"])
        path = core_path("secrets", meta["namespace"], name)
        try:
            await self.kube.get(path)
            return [name]
        except NotFound:
            pass
        try:
            credentials = await self.kube.get(core_path("secrets", meta["namespace"], ref["name"]))
        except NotFound:
            raise Halt(R.PENDING, f"registry credentials Secret {ref['name']!r} not found", backoff=True) from None
        data = credentials.get("data") or {}
        try:
            username = base64.b64decode(data["username"]).decode()
            password = base64.b64decode(data["password"]).decode()
        except (KeyError, ValueError):
            raise Halt(
                R.INVALID_SPEC,
                f"registry credentials Secret {ref['name']!r} needs the keys 'username' and 'password'",
            ) from None
        try:
            host = parse_reference(spec["image"]).registry
        except Exception as exc:  # the image adapter's InvalidReference
            raise Halt(R.INVALID_SPEC, f"spec.image: {exc}") from None
        auth = base64.b64encode(f"{username}:{password}".encode()).decode()
        config = json.dumps({"auths": {host: {"auth": auth}}}).encode()
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "labels": {pods.LABEL_MANAGED_BY: pods.MANAGER, pods.LABEL_TASKRUN_UID: meta["uid"]},
                "ownerReferences": [_owner(body).reference()],
            },
            "data": {".dockerconfigjson": base64.b64encode(config).decode()},
        }
        with suppress(AlreadyExists):
            await self.kube.create(core_path("secrets", meta["namespace"]), secret)
        return [name]

    async def _ensure_pod(
        self,
        body: Mapping[str, Any],
        plan: pods.PodPlan,
        *,
        memory: Mapping[str, Any],
        first_fields: Mapping[str, Any],
        pod_hint: PodHint | None,
    ) -> tuple[Mapping[str, Any], bool]:
        """The attempt's pod, and whether this pass created it."""
        meta = body["metadata"]
        status = body.get("status") or {}
        name = pods.task_pod_name(meta["name"], plan.attempt)
        path = core_path("pods", meta["namespace"], name)
        if status.get("podName") == name:
            if pod_hint is not None and pod_hint.name == name:
                if pod_hint.pod is not None:
                    return pod_hint.pod, False
            else:
                with suppress(NotFound):
                    return await self.kube.get(path), False
            # The status says this attempt's pod was created, and it is gone: someone deleted it.
            await self._pod_vanished(body, plan)
        manifest = pods.build_task_pod(plan)
        # Legacy (pre-Task-API) images only: a staging init container (docs/migrating-legacy.md); else unchanged.
        manifest = adapt_legacy_pod(manifest, stage_image=self.config.measure_image,
                                    stage_pull_secrets=self.config.measure_image_pull_secrets)  # fmt: skip
        created = True
        try:
            pod = await self.kube.create(core_path("pods", meta["namespace"]), manifest)
            self.metrics.pods_created.labels(role="task").inc()
        except AlreadyExists:
            # Created by an earlier pass that stopped before recording it (an operator restart): record it now.
            pod = await self.kube.get(path)
            created = False
        except KubeApiError as exc:
            if exc.transient:
                raise
            raise Halt(R.INVALID_SPEC, f"the API server refused the pod: {exc}") from None
        first = not status.get("startTime")
        fields: dict[str, Any] = {**first_fields, "podName": name, "memory": dict(memory)}
        if first:
            fields["startTime"] = self._now()
        await self._write(body, R.PENDING, f"pod {name} created", **fields)
        if first:
            self.events.record_soon(body, type_="Normal", reason="Started", message=f"created pod {name}")
        return pod, created

    async def _pod_vanished(self, body: Mapping[str, Any], plan: pods.PodPlan) -> NoReturn:
        name = pods.task_pod_name(body["metadata"]["name"], plan.attempt)
        await self._finish_attempt(body, R.POD_DELETED, f"pod {name} was deleted before the run finished", None)
        raise _Done()

    async def _report(self, body: Mapping[str, Any], pod: Mapping[str, Any], plan: pods.PodPlan) -> None:
        outcome = outcome_from_pod(pod)
        if (pod.get("metadata") or {}).get("deletionTimestamp") and not outcome.finished:
            outcome = PodOutcome(Phase.FAILED, R.POD_DELETED, f"pod {pod['metadata']['name']} is being deleted")
        fields: dict[str, Any] = {"podName": pod["metadata"]["name"]}
        if outcome.exit_code is not None:
            fields["exitCode"] = outcome.exit_code
        if not outcome.finished:
            status = body.get("status") or {}
            if outcome.reason == R.PENDING and not outcome.message and status.get("reason") == R.PENDING.value:
                return  # still pending, nothing new to say ("pod … created" stands): no write
            message = outcome.message or ("running" if outcome.phase is Phase.RUNNING else "waiting for the pod")
            was_running = status.get("reason") == R.RUNNING.value
            await self._write(body, outcome.reason, message, **fields)
            if outcome.phase is Phase.RUNNING and not was_running:
                name = pod["metadata"]["name"]
                self.events.record_soon(body, type_="Normal", reason="Running", message=f"pod {name} running")
            return
        await self._finish_attempt(body, outcome.reason, outcome.message, outcome.exit_code)

    async def _finish_attempt(
        self, body: Mapping[str, Any], reason: TaskRunReason, message: str, exit_code: int | None
    ) -> None:
        """An attempt ended: succeed, retry (growing memory after an OOM kill) or fail for good."""
        status = body.get("status") or {}
        attempt = max(1, int(status.get("attempts") or 1))
        fields: dict[str, Any] = {}
        if exit_code is not None:
            fields["exitCode"] = exit_code
        if reason == R.SUCCEEDED:
            await self._write(body, R.SUCCEEDED, "the task finished successfully", **fields)
            self.events.record_soon(body, type_="Normal", reason="Succeeded", message="the task finished")
            self.metrics.finished.labels(reason=reason.value).inc()
            return
        retry = body["spec"].get("retries") or {}
        if reason not in (R.CANCELLED, R.TIMED_OUT) and attempt <= int(retry.get("limit") or 0):
            oom = int(status.get("oomKills") or 0) + (1 if reason == R.OOM_KILLED else 0)
            await self._write(
                body,
                R.RETRYING,
                f"attempt {attempt} ended with {reason.value}: {message}; starting attempt {attempt + 1}",
                attempts=attempt + 1,
                oomKills=oom,
                **fields,
            )
            self.events.record_soon(
                body,
                type_="Warning",
                reason="Retrying",
                message=f"attempt {attempt} {reason.value}; retrying",
            )
            raise _Requeue()
        await self._write(body, reason, message, **fields)
        self.events.record_soon(body, type_="Warning", reason=reason.value, message=message[:500])
        self.metrics.finished.labels(reason=reason.value).inc()

    # ------------------------------------------------------------------ finished and cancelled runs

    async def _finished(self, body: Mapping[str, Any]) -> Result:
        """A finished run only needs its TTL applied: delete the pod once it is old enough."""
        ttl = (body.get("spec") or {}).get("ttlSecondsAfterFinished")
        status = body.get("status") or {}
        if ttl is None or status.get("podDeletedAt") or not status.get("podName"):
            return Result(finished=True)
        completed = status.get("completionTime")
        if not completed:
            return Result(finished=True)
        due = parse_rfc3339(completed) + timedelta(seconds=int(ttl))
        now = self.clock()
        if now < due:
            return Result(requeue_after=(due - now).total_seconds() + 0.5, finished=True)
        meta = body["metadata"]
        await self._delete(core_path("pods", meta["namespace"], status["podName"]))
        await self._patch_status(body, {"podDeletedAt": self._now()})
        return Result(finished=True)

    async def _cancel(self, body: Mapping[str, Any], *, message: str = "the TaskRun was cancelled") -> Result:
        meta = body["metadata"]
        status = body.get("status") or {}
        for name in {status.get("podName"), pods.measure_pod_name(meta["name"])}:
            if name:
                await self._delete(core_path("pods", meta["namespace"], name))
        await self._write(body, R.CANCELLED, message)
        self.events.record_soon(body, type_="Normal", reason="Cancelled", message=message)
        self.metrics.finished.labels(reason=R.CANCELLED.value).inc()
        return Result(finished=True)

    # ------------------------------------------------------------------ helpers

    def _now(self) -> str:
        return self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")

    async def _write(self, body: Mapping[str, Any], reason: TaskRunReason, message: str, **fields: Any) -> None:
        """Patch the status with a transition (only what changed), and keep ``body`` in step for later steps."""
        current = body.get("status") or {}
        patch = status_patch(
            current,
            reason=reason,
            message=message,
            now=self.clock(),
            generation=body["metadata"].get("generation"),
            **fields,
        )
        delta = changes(current, patch)
        if not delta:
            return
        await self._patch_status(body, delta)

    async def _patch_status(self, body: Mapping[str, Any], delta: Mapping[str, Any]) -> None:
        """Patch the status with the resourceVersion as a precondition: a decision made on a stale view of the run
        fails with Conflict (and the work loop looks again at a fresh copy) instead of being written."""
        meta = body["metadata"]
        patch: dict[str, Any] = {"status": delta}
        if meta.get("resourceVersion"):
            patch["metadata"] = {"resourceVersion": meta["resourceVersion"]}
        updated = await self.kube.merge_patch(taskrun_path(meta["namespace"], meta["name"], "status"), patch)
        merged = {**(body.get("status") or {}), **delta}
        body["status"] = merged  # type: ignore[index]
        new_version = (updated.get("metadata") or {}).get("resourceVersion")
        if new_version:
            meta["resourceVersion"] = new_version
            written = WRITTEN_VERSIONS.get()
            if written is not None:
                written.append(new_version)

    async def _delete(self, path: str) -> None:
        with suppress(NotFound):
            await self.kube.delete(path)


class _Requeue(Exception):
    """Internal: look at the run again at once (a new attempt starts)."""


class _Done(Exception):
    """Internal: the attempt was settled; nothing more this pass."""


def _owner(body: Mapping[str, Any]) -> pods.Owner:
    meta = body["metadata"]
    return pods.Owner(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])


def _memory_summary(requests: Mapping[str, str], limits: Mapping[str, str], explanation: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"explanation": explanation[:20]}
    if "memory" in requests:
        out["request"] = requests["memory"]
    if "memory" in limits:
        out["limit"] = limits["memory"]
    return out
