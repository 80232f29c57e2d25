"""One reconcile pass over a TaskRun, decided: ``(run, world, policy, now) → Decision``. Pure.

It reads top to bottom as Tekton's ``ReconcileKind`` does, a list of early exits::

    deleted → finished (TTL) → cancelled → heartbeat overdue → registry credentials → template → upstream runs
            → validate → measure the inputs → size the memory → registry Secret → the attempt's pod → what the pod says

Each step either hands its result to the next or ends the pass with a :class:`Decision`. Nothing here reads or
writes anything: the controller's *prepare* step gathered the :class:`World`, its *apply* step carries out the
decision, its *finish* step posts the events the change of condition calls for.

Why a pass may end early and come back: a run waits for things it cannot hurry (an upstream run, the measuring
pod, its own pod); the pod and TaskRun watches wake it when they change, and ``requeue_after`` is only a safety
net. Every name is deterministic, so deciding the same thing twice (after a crash, a Conflict) creates nothing
twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from pydantic import ValidationError

from task_api.core import pod as pods
from task_api.core.legacy import stage_transformer
from task_api.core.taskrun.bindings import (
    host_path_problems,
    location_of_volume,
    propagated_metadata,
    volume_of_binding,
    volume_of_location,
    workspace_volume,
)
from task_api.core.taskrun.conditions import find_condition, has_failed, is_finished, transition
from task_api.core.taskrun.decision import (
    Action,
    CreatePod,
    CreateSecret,
    Decision,
    DeletePod,
    DeleteRunPods,
    DeleteSecret,
    Note,
)
from task_api.core.taskrun.memory import MemoryPlan, plan_memory
from task_api.core.taskrun.objects import (
    build_registry_secret,
    credentials_secret_name,
    registry_secret_name,
    unusable_credentials_message,
)
from task_api.core.taskrun.observed_pods import ObservedPod, Phase, PodOutcome
from task_api.core.taskrun.run_task import describe_problems, resolve_run
from task_api.core.taskrun.secret_env import secret_env, secret_env_problems, stand_in_values
from task_api.core.taskrun.world import (
    CredentialsUnusable,
    Halt,
    Policy,
    RegistryCredentials,
    TemplateSource,
    World,
)
from task_api.core.times import format_rfc3339, parse_rfc3339
from task_api.spec import Measurement, ResolvedTask
from task_api.spec.crd.keys import ANNOTATION_HEARTBEAT, ROLE_MEASURE, ROLE_TASK
from task_api.spec.crd.taskrun import (
    ChannelMeasurement,
    TaskRunReason,
    TaskRunResource,
    TaskRunStatus,
    UpstreamRef,
)
from task_api.spec.errors import SpecError
from task_api.spec.scale_rule import ScaleRule

__all__ = ["current_pod", "decide", "heartbeat_due", "needs_pass", "refused", "stopping"]

R = TaskRunReason

#: Reasons a prepare-time halt ends the run with (the others are waited out).
_FINAL_HALTS = frozenset({R.IMAGE_INSPECTION_FAILED, R.INVALID_SPEC, R.UPSTREAM_FAILED})
#: How often a run waiting on a pod it cannot watch closely looks again anyway (the watch usually wakes it first).
_SAFETY_POLL = 30.0
#: Waits bounded by the pending timeout from the moment they began (``status.waitingSince``).
_BOUNDED_WAITS = frozenset({R.WAITING_FOR_CLAIM.value, R.WAITING_FOR_QUOTA.value})


class _End(Exception):
    """Internal: a step ended the pass with this decision (the early exits of the list above)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.status.reason)
        self.decision = decision


@dataclass
class _Pass:
    """The state of one pass: the run, what was read, and the status and actions decided so far."""

    run: TaskRunResource
    world: World
    policy: Policy
    now: datetime
    status: TaskRunStatus
    actions: list[Action] = field(default_factory=list)
    cleanup: list[Action] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.run.metadata.name

    def moved(self, reason: TaskRunReason, message: str) -> TaskRunStatus:
        return transition(
            self.status, reason=reason, message=message, now=self.now, generation=self.run.metadata.generation
        )

    def end(
        self,
        reason: TaskRunReason,
        message: str,
        *,
        requeue_after: float | None = None,
        backoff: bool = False,
        waiting_on: Sequence[str] = (),
    ) -> _End:
        if reason not in _BOUNDED_WAITS:
            self.status.waiting_since = None
        status = self.moved(reason, message)
        cleanup = list(self.cleanup)
        if is_finished(status):
            cleanup += _measure_pod_cleanup(self) + _registry_secret_cleanup(self)
        return _End(
            Decision(
                status=status,
                actions=tuple(self.actions),
                cleanup=tuple(cleanup),
                requeue_after=requeue_after,
                backoff=backoff,
                waiting_on=tuple(waiting_on),
                notes=tuple(self.notes),
            )
        )

    @property
    def pending_timeout(self) -> float:
        return float(self.run.spec.pending_timeout_seconds or self.policy.pending_timeout_seconds)

    def bounded_wait(self, waiting: TaskRunReason, final: TaskRunReason, message: str) -> _End:
        """Wait for what may never come (a claim, quota) — but no longer than the pending timeout, counted from when
        this kind of wait began."""
        if self.status.reason != waiting.value or not self.status.waiting_since:
            self.status.waiting_since = format_rfc3339(self.now)
        waited = (self.now - parse_rfc3339(self.status.waiting_since)).total_seconds()
        if waited > self.pending_timeout:
            return self.end(final, f"{message} (waited {int(waited)} s, the pending timeout)")
        return self.end(waiting, f"{message}; waiting up to {int(self.pending_timeout)} s", backoff=True)

    def halt(self, halt: Halt) -> _End:
        if halt.reason in _FINAL_HALTS:
            return self.end(halt.reason, halt.message)
        if halt.retry_after is not None:
            message = with_last_failure(halt, self.run.status)
            return self.end(halt.reason, message, requeue_after=halt.retry_after)
        return self.end(halt.reason, halt.message, backoff=True)


#: Joins the message of a run that waits for its turn to why its last attempt failed.
LAST_FAILURE = "; the last attempt: "


def with_last_failure(halt: Halt, before: TaskRunStatus) -> str:
    """Pure: the message of a run that only waits for its turn (``retry_after``: no inspection slot free), with why
    its last attempt failed when it did — a slow registry's ``InspectionTimedOut`` would otherwise show for the half
    second of back-off and then hide behind "no slot free" for as long as the run waits. Carried across passes
    that only waited; a wait that follows a wait adds nothing."""
    cond = find_condition(before.conditions)
    previous = cond.message if cond is not None and before.reason == halt.reason.value else ""
    if LAST_FAILURE in previous:
        last = previous.split(LAST_FAILURE, 1)[1]
    elif previous and previous.split(":", 1)[0] != halt.message.split(":", 1)[0]:
        last = previous
    else:
        return halt.message
    return f"{halt.message}{LAST_FAILURE}{last}"


# -- entry point ---------------------------------------------------------------------------------------------------


def stopping(run: TaskRunResource, now: datetime) -> bool:
    """Pure: whether this pass only winds the run down (deleted, finished, cancelled, heartbeat overdue), so the
    controller need not read its template or upstreams."""
    if run.metadata.deletion_timestamp or is_finished(run.status) or run.spec.cancelled:
        return True
    due = heartbeat_due(run, now)
    return due is not None and due <= 0


def needs_pass(run: TaskRunResource) -> bool:
    """Pure: whether a watch event of this run calls for a pass: an unfinished run always; a finished one only for
    its TTL or to mark an edited spec observed — so an operator restart with thousands of finished runs writes and
    reads nothing for them."""
    if not is_finished(run.status):
        return True
    generation = run.metadata.generation
    if generation is not None and run.status.observed_generation != generation:
        return True
    return run.spec.ttl_seconds_after_finished is not None and not run.status.pod_deleted_at


def current_pod(run: TaskRunResource, observed: Sequence[ObservedPod]) -> ObservedPod | None:
    """Pure: the pod of the run's current attempt, once the status recorded that attempt and the pod is the run's
    own. While it exists, only it decides what comes next (running, ended, retried): a pass then needs nothing
    else read — no template, no upstreams, no credentials."""
    if not run.status.attempts:
        return None
    name = pods.task_pod_name(run.metadata.name, run.status.attempts)
    if run.status.pod_name != name:
        return None  # its creation is not recorded yet: the full pass records it
    uid = run.metadata.uid
    return next((p for p in observed if p.name == name and p.role == ROLE_TASK and p.owner_uid == uid), None)


def decide(run: TaskRunResource, world: World, policy: Policy, now: datetime) -> Decision:
    """Pure: what to do about ``run`` now."""
    if run.metadata.deletion_timestamp:
        return Decision(status=run.status)  # its pods and Secrets go with it (ownerReferences)
    step = _Pass(run=run, world=world, policy=policy, now=now, status=run.status.model_copy(deep=True))
    if is_finished(run.status):
        return _finished(step)
    due = heartbeat_due(run, now)
    try:
        if run.spec.cancelled:
            raise _stop(step, "the TaskRun was cancelled")
        if due is not None and due <= 0:
            last = run.metadata.annotations.get(ANNOTATION_HEARTBEAT) or "never"
            raise _stop(step, f"the client stopped sending heartbeats (last: {last}); the run was cancelled")
        decision = _active(step)
    except _End as ended:
        decision = ended.decision
    if due is not None and not decision.finished:
        # Look again when the heartbeat would be overdue, unless something brings the run back sooner.
        soonest = due if decision.requeue_after is None else min(decision.requeue_after, due)
        decision = replace(decision, requeue_after=soonest)
    ttl = run.spec.ttl_seconds_after_finished
    if decision.finished and ttl is not None:
        # The run ends in this pass, and nothing else may ever wake it (the echo of this very write is ignored):
        # come back when its TTL is due.
        decision = replace(decision, requeue_after=min(float(ttl), 10 * 366 * 24 * 3600.0) + 0.5)
    return decision


def heartbeat_due(run: TaskRunResource, now: datetime) -> float | None:
    """Pure: seconds until the client's heartbeat is overdue (≤ 0: it is), or None when the run asks for none."""
    timeout = run.spec.heartbeat_timeout_seconds
    if not timeout:
        return None
    created = run.metadata.creation_timestamp or format_rfc3339(now)
    try:
        last = parse_rfc3339(run.metadata.annotations.get(ANNOTATION_HEARTBEAT) or created)
    except ValueError:
        last = parse_rfc3339(created)  # a hand-edited, unreadable annotation counts as no heartbeat yet
    return float(timeout) - (now - last).total_seconds() + 0.5


def refused(
    run: TaskRunResource, *, what: str, message: str, status: int, foreign: bool, policy: Policy, now: datetime
) -> Decision:
    """Pure: the decision when the API server refused to create ``what`` (e.g. ``pod x-a1``) for a run.

    * a name held by another object is waited out (its owner is gone; the garbage collector removes it);
    * a ResourceQuota or LimitRange that has no room (403 "exceeded quota", "maximum … usage") is waited out like
      a full queue, up to the pending timeout (``WaitingForQuota`` → ``QuotaExceeded``);
    * a Pod Security refusal cannot pass by waiting: ``PodSecurityRejected`` with the server's words;
    * anything else (RBAC, another admission plugin, an invalid object) ends the run with the server's message.
    """
    step = _Pass(run=run, world=World(), policy=policy, now=now, status=run.status.model_copy(deep=True))
    try:
        if foreign:
            raise step.end(R.PENDING, f"{message}; waiting for it to be deleted", backoff=True)
        if status == 403 and ("exceeded quota" in message or _LIMIT_RANGE.search(message)):
            raise step.bounded_wait(R.WAITING_FOR_QUOTA, R.QUOTA_EXCEEDED, f"no room for {what}: {message}")
        if status == 403 and "violates PodSecurity" in message:
            raise step.end(R.POD_SECURITY_REJECTED, f"the namespace's Pod Security level refuses {what}: {message}")
        raise step.end(R.INVALID_SPEC, f"the API server refused {what}: {message}")
    except _End as ended:
        return ended.decision


#: LimitRanger's refusals ("maximum memory usage per Container is 1Gi, but limit is 2Gi").
_LIMIT_RANGE = re.compile(r"(maximum|minimum) \w+ usage per (Container|Pod)")


# -- finished and stopped runs -------------------------------------------------------------------------------------


def _finished(step: _Pass) -> Decision:
    """A finished run only needs its TTL applied (and its status to say it saw the latest spec)."""
    status = step.status
    generation = step.run.metadata.generation
    if generation is not None and status.observed_generation != generation:
        # A spec edited after the end changes nothing, but GitOps tools read "not yet observed" until we say so.
        status.observed_generation = generation
    ttl = step.run.spec.ttl_seconds_after_finished
    if ttl is None or status.pod_deleted_at or not status.pod_name or not status.completion_time:
        return Decision(status=status)
    try:
        due = parse_rfc3339(status.completion_time) + timedelta(seconds=ttl)
    except (ValueError, OverflowError):
        return Decision(status=status)  # a TTL beyond the calendar never expires
    if step.now < due:
        return Decision(status=status, requeue_after=(due - step.now).total_seconds() + 0.5)
    status.pod_deleted_at = format_rfc3339(step.now)
    return Decision(status=status, actions=(DeleteRunPods(step.run.metadata.uid),))


def _stop(step: _Pass, message: str) -> _End:
    """Cancel: every pod of the run is deleted first (found by label, so none is missed), then the status says so."""
    step.actions.append(DeleteRunPods(step.run.metadata.uid))
    return step.end(R.CANCELLED, message)


def _measure_pod_cleanup(step: _Pass) -> list[Action]:
    """The measuring pod, if one is left, goes when the run ends (a failed one would otherwise stay forever)."""
    return [DeletePod(p.name) for p in _own_pods(step, ROLE_MEASURE) if not p.deleting]


def _registry_secret_cleanup(step: _Pass) -> list[Action]:
    """The run's registry Secret goes when the run ends, not with the TaskRun (kept for months, it would hold a
    registry password as long). Never one the run does not own: the owner is checked again on deletion, as a pass
    that only follows the pod has not read it."""
    if step.run.spec.registry_credentials_secret is None:
        return []
    if step.world.registry_secret_owner not in (None, step.run.metadata.uid):
        return []
    return [DeleteSecret(registry_secret_name(step.name))]


# -- the active run ------------------------------------------------------------------------------------------------


def _active(step: _Pass) -> Decision:
    running = current_pod(step.run, step.world.pods)
    if running is not None:
        return _report(step, running)
    _credentials_usable(step)
    source = step.world.template
    if source is None:
        raise step.halt(Halt(R.RESOLVING_IMAGE, "the template was not read", transient=True))
    if isinstance(source, Halt):
        raise step.halt(source)
    _no_cycle(step)
    upstream = _upstream_volumes(step)
    resolved, inputs, outputs = _resolve(step, source, upstream)
    run_as = _run_as(step)
    _claims_exist(step, [*inputs.values(), *outputs.values()])
    measurements = _measurements(step, resolved, inputs, source)
    memory = _memory(step, resolved, measurements)
    secrets = (*source.pull_secrets, *_registry_secret(step))
    return _attempt(step, _Planned(source, resolved, inputs, outputs, memory, secrets, run_as))


@dataclass(frozen=True)
class _Planned:
    """Everything the attempt's pod is built from."""

    source: TemplateSource
    resolved: ResolvedTask
    inputs: dict[str, pods.ChannelVolume]
    outputs: dict[str, pods.ChannelVolume]
    memory: MemoryPlan
    pull_secrets: tuple[str, ...]
    run_as: pods.RunAs | None


def _no_cycle(step: _Pass) -> None:
    """A run that waits for itself, directly or through others, would wait forever: refuse it."""
    if step.status.attempts:
        return
    for binding in step.run.spec.inputs:
        if binding.from_task_run is not None and binding.from_task_run.name == step.name:
            raise step.end(R.UPSTREAM_CYCLE, f"spec.inputs[{binding.name}].fromTaskRun names this TaskRun itself")
    if step.world.upstream_cycle:
        chain = " → ".join(step.world.upstream_cycle)
        raise step.end(R.UPSTREAM_CYCLE, f"fromTaskRun upstreams wait for each other in a cycle: {chain}")


def _run_as(step: _Pass) -> pods.RunAs | None:
    """Task containers run as the administrator's non-root uid; as the image's own user (often root) only when the
    run asks (``spec.runAsRoot``) in a namespace the administrator allows (``TASK_API_ALLOW_ROOT_NAMESPACES``)."""
    policy, namespace = step.policy, step.run.metadata.namespace
    if not step.run.spec.run_as_root:
        return pods.RunAs(user=policy.run_as_user, group=policy.run_as_group, fs_group=policy.run_as_group)
    if policy.allows_root(namespace):
        return None
    allowed = ", ".join(policy.root_namespaces) or "none"
    raise step.end(
        R.INVALID_SPEC,
        f"spec.runAsRoot: root is not allowed in namespace {namespace} (given true; allowed in the namespaces "
        f"the administrator lists in TASK_API_ALLOW_ROOT_NAMESPACES: {allowed}); omit it to run as uid "
        f"{policy.run_as_user}",
    )


def _claims_exist(step: _Pass, volumes: Sequence[pods.ChannelVolume]) -> None:
    """Every claim the run mounts must exist before anything is created (a pod on a missing claim stays pending
    without a word); a claim may still be made (GitOps applies objects in any order), up to the pending timeout."""
    if step.status.attempts:
        return
    missing = sorted({v.claim_name for v in volumes if v.claim_name and step.world.claims.get(v.claim_name) is False})
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise step.bounded_wait(
            R.WAITING_FOR_CLAIM,
            R.CLAIM_NOT_FOUND,
            f"PersistentVolumeClaim {names} not found in namespace {step.run.metadata.namespace}",
        )


def _pending_too_long(step: _Pass, pod: ObservedPod) -> _End | None:
    """A pod pending longer than the pending timeout (no node fits it, its image never pulls) ends the run."""
    if pod.outcome.phase is not Phase.PENDING or not pod.created_at:
        return None
    waited = (step.now - parse_rfc3339(pod.created_at)).total_seconds()
    if waited <= step.pending_timeout:
        return None
    step.cleanup.append(DeletePod(pod.name))
    reason = R.UNSCHEDULABLE if pod.outcome.message.startswith("Unschedulable") else R.PENDING_TIMEOUT
    detail = pod.outcome.message or "no reason given"
    return step.end(reason, f"pod {pod.name} pending for {int(waited)} s (the pending timeout): {detail}")


def _pending_requeue(step: _Pass, pod: ObservedPod) -> float:
    """When to look at a pending pod again: when its pending timeout would pass (events usually come first)."""
    if not pod.created_at:
        return _SAFETY_POLL
    left = step.pending_timeout - (step.now - parse_rfc3339(pod.created_at)).total_seconds()
    return max(1.0, left + 1.0)


def _upstream_volumes(step: _Pass) -> dict[str, pods.ChannelVolume]:
    """The volumes of ``fromTaskRun`` inputs. Waits while an upstream is unfinished, fails when one failed or was
    deleted. Once the first attempt started, the locations recorded then are used (an upstream deleted later,
    its data left on the claim, does not fail a run that already started)."""
    run, status = step.run, step.status
    bindings = [b for b in run.spec.inputs if b.from_task_run is not None]
    if status.attempts:
        recorded = {loc.name: volume_of_location(loc) for loc in status.inputs}
        return {b.name: v for b in bindings if (v := recorded.get(b.name)) is not None}
    seen = {u.name: u.uid for u in status.upstreams}
    volumes: dict[str, pods.ChannelVolume] = {}
    waiting: list[str] = []
    for binding in bindings:
        ref = binding.from_task_run
        assert ref is not None
        view = step.world.upstreams.get(ref.name)
        if ref.name in seen and seen[ref.name] != (view.uid if view else None):
            raise step.end(
                R.UPSTREAM_FAILED,
                f"upstream TaskRun {ref.name!r} was deleted while this run waited for it; "
                f"input {binding.name!r} cannot be read",
            )
        if view is None:
            age = _age_seconds(step)
            if age > step.policy.upstream_grace_seconds:
                raise step.end(
                    R.UPSTREAM_FAILED,
                    f"upstream TaskRun {ref.name!r} does not exist (waited {int(age)} s for it to be created)",
                )
            waiting.append(ref.name)
            continue
        seen.setdefault(ref.name, view.uid)
        if has_failed(view.status):
            cond = find_condition(view.status.conditions)
            raise step.end(
                R.UPSTREAM_FAILED,
                f"upstream TaskRun {ref.name!r} failed ({cond.reason if cond else 'Failed'}); "
                f"input {binding.name!r} cannot be read",
            )
        if not is_finished(view.status):
            waiting.append(ref.name)
            continue
        location = next((o for o in view.status.outputs if o.name == ref.output), None)
        volume = volume_of_location(location) if location else None
        if volume is None:
            have = ", ".join(o.name for o in view.status.outputs) or "none"
            raise step.end(
                R.INVALID_SPEC,
                f"spec.inputs[{binding.name}].fromTaskRun: TaskRun {ref.name!r} has no output {ref.output!r} "
                f"(it has: {have})",
            )
        volumes[binding.name] = volume
    step.status.upstreams = [UpstreamRef(name=name, uid=uid) for name, uid in seen.items()]
    if waiting:
        shown = [n if step.world.upstreams.get(n) else f"{n} (not created yet)" for n in waiting]
        raise step.end(
            R.WAITING_FOR_UPSTREAM,
            "waiting for upstream TaskRuns: " + ", ".join(shown),
            requeue_after=min(_SAFETY_POLL, step.policy.upstream_grace_seconds),
            waiting_on=waiting,
        )
    return volumes


def _age_seconds(step: _Pass) -> float:
    created = step.run.metadata.creation_timestamp
    return (step.now - parse_rfc3339(created)).total_seconds() if created else 0.0


def _resolve(
    step: _Pass, source: TemplateSource, upstream: dict[str, pods.ChannelVolume]
) -> tuple[ResolvedTask, dict[str, pods.ChannelVolume], dict[str, pods.ChannelVolume]]:
    """The run merged with its template (every rule the CLI checks, checked the same way), and its volumes."""
    run, policy = step.run, step.policy
    problems = host_path_problems(run.spec, policy.allowed_host_path_roots)
    if problems:
        raise step.end(R.INVALID_SPEC, "\n".join(p.format() for p in problems))
    try:
        template = source.container.template(run.spec.task_template)
    except SpecError as err:
        raise step.end(R.INVALID_SPEC, describe_problems(err, prefix="spec.")) from None
    inputs: dict[str, pods.ChannelVolume] = {}
    for binding in run.spec.inputs:
        volume = upstream.get(binding.name) or volume_of_binding(binding)
        if volume is not None:
            inputs[binding.name] = volume
    bound: dict[str, pods.ChannelVolume | None] = {b.name: volume_of_binding(b) for b in run.spec.outputs}
    outputs: dict[str, pods.ChannelVolume] = {}
    for channel in template.outputs:
        outputs[channel.name] = bound.pop(channel.name, None) or workspace_volume(
            claim=policy.workspace_claim, taskrun=run.metadata.name, uid=run.metadata.uid, channel=channel.name
        )
    outputs.update({n: v for n, v in bound.items() if v is not None})  # channels the template lacks: the merge reports
    secret_problems = secret_env_problems(run.spec, template)
    if secret_problems:
        raise step.end(R.INVALID_SPEC, "\n".join(p.format() for p in secret_problems))
    try:
        resolved = resolve_run(
            run,
            source.container,
            image=source.image,
            input_volumes=inputs,
            output_volumes=outputs,
            stage_image=policy.measure_image,
            stand_ins=stand_in_values(run.spec, template),
        )
    except SpecError as err:
        raise step.end(R.INVALID_SPEC, describe_problems(err, prefix="spec.")) from None
    return resolved, inputs, outputs


def _measurements(
    step: _Pass, resolved: ResolvedTask, inputs: dict[str, pods.ChannelVolume], source: TemplateSource
) -> list[tuple[ScaleRule, Measurement]]:
    """The measured sizes of inputs that carry scale rules: from the status, else from the measuring pod (made
    once per run; its result is recorded, then it is deleted)."""
    scaled = [(c, c.scale_rule) for c in resolved.scaled_inputs if c.scale_rule is not None]
    if not scaled:
        return []
    stored = {m.channel: m for m in step.status.measurements}
    if len(stored) == len(scaled) and all(c.name in stored for c, _ in scaled):
        return [(rule, _measurement(stored[c.name])) for c, rule in scaled]
    if not step.policy.measure_image:
        raise step.end(R.INVALID_SPEC, "the template has scale rules but the operator has no TASK_API_MEASURE_IMAGE")
    name = pods.measure_pod_name(step.name)
    found = next((p for p in _own_pods(step, ROLE_MEASURE) if p.name == name), None)
    if found is None:
        items = [
            pods.MeasureItem(
                channel=c.name, volume=inputs[c.name], rule=rule.model_dump(mode="json", exclude_none=True)
            )
            for c, rule in scaled
        ]
        # The run's own pull secrets too: the operator's image often lives in the same registry.
        secrets = tuple(dict.fromkeys([*step.policy.measure_image_pull_secrets, *source.pull_secrets]))
        manifest = pods.build_measure_pod(
            owner=_owner(step.run), image=step.policy.measure_image, items=items, image_pull_secrets=secrets
        )
        step.actions.append(CreatePod(manifest, ROLE_MEASURE))
        raise step.end(R.MEASURING, f"measuring the inputs in pod {name}", requeue_after=_SAFETY_POLL)
    outcome = found.outcome
    if (ended := _pending_too_long(step, found)) is not None:
        raise ended
    if outcome.phase in (Phase.PENDING, Phase.RUNNING):
        message = f"measuring the inputs in pod {name}" + (f": {outcome.message}" if outcome.message else "")
        raise step.end(R.MEASURING, message, requeue_after=min(_SAFETY_POLL, _pending_requeue(step, found)))
    if outcome.phase is Phase.FAILED:
        raise step.end(R.INVALID_SPEC, f"measuring the inputs failed: {outcome.message.strip()[:500]}")
    try:
        measured = [Measurement.model_validate(m) for m in json.loads(outcome.message)]
    except (ValueError, TypeError, ValidationError) as exc:
        raise step.end(R.INVALID_SPEC, f"the measuring pod reported something unreadable: {exc}") from None
    by_channel = {m.channel: m for m in measured}
    step.status.measurements = [
        ChannelMeasurement(channel=m.channel, mode=m.mode.value, bytes=m.measured_bytes, files=m.files_counted)
        for m in measured
    ]
    step.cleanup.append(DeletePod(name))  # only once the status holds its result
    return [(rule, by_channel[c.name]) for c, rule in scaled if c.name in by_channel]


def _measurement(stored: ChannelMeasurement) -> Measurement:
    return Measurement(
        channel=stored.channel, mode=stored.mode, measured_bytes=stored.bytes, files_counted=stored.files
    )


def _memory(step: _Pass, resolved: ResolvedTask, measurements: list[tuple[ScaleRule, Measurement]]) -> MemoryPlan:
    try:
        return plan_memory(
            resolved,
            measurements,
            oom_kills=step.status.oom_kills,
            retry=step.run.spec.retries,
            max_memory_bytes=step.policy.max_memory_bytes,
            right_sizing=step.world.right_sizing,
            history=step.world.history,
        )
    except ValueError as exc:
        raise step.end(R.INVALID_SPEC, f"spec.retries.maxMemory: {exc}") from None


def _credentials_usable(step: _Pass) -> None:
    """Before anything is inspected with them: the ``registryCredentialsSecret`` opts in, and the run's registry
    Secret, if one exists, is the run's own.

    A refused credentials Secret gets one message whatever the cause (missing, unreadable, not opted in, wrong
    keys), so the status cannot tell a tenant whether a Secret they cannot read exists. It ends the run — except the
    one a client creates right after the TaskRun (``<run>-credentials``: the Airflow operator, ``task-api run``),
    which is waited for during the upstream grace period, with the same message whether it is missing or not."""
    ref = step.run.spec.registry_credentials_secret
    if ref is None:
        return
    name = registry_secret_name(step.name)
    owner = step.world.registry_secret_owner
    if owner == "":
        raise step.end(
            R.INVALID_SPEC,
            f"Secret {name!r} exists and does not belong to this TaskRun: the run's registry Secret must be its own "
            "(delete that Secret, or give the TaskRun another name)",
        )
    if owner is not None and owner != step.run.metadata.uid:
        raise step.end(
            R.PENDING,
            f"Secret {name!r} belongs to an earlier TaskRun of this name; waiting for it to be deleted",
            backoff=True,
        )
    if not isinstance(step.world.credentials, CredentialsUnusable):
        return
    message = unusable_credentials_message(ref.name)
    grace = step.policy.upstream_grace_seconds
    if ref.name == credentials_secret_name(step.name) and _age_seconds(step) <= grace:
        raise step.end(R.PENDING, f"{message}; waiting up to {int(grace)} s for its client to create it", backoff=True)
    raise step.end(R.INVALID_SPEC, message)


def _registry_secret(step: _Pass) -> list[str]:
    """The run's pull Secret made from ``registryCredentialsSecret`` (owned by the run; deleted when it ends)."""
    if step.run.spec.registry_credentials_secret is None:
        return []
    name = registry_secret_name(step.name)
    if step.world.registry_secret_owner == step.run.metadata.uid:
        return [name]
    credentials = step.world.credentials
    if isinstance(credentials, Halt):
        raise step.halt(credentials)
    if not isinstance(credentials, RegistryCredentials):
        raise step.halt(Halt(R.PENDING, "the registry credentials were not read", transient=True))
    manifest = build_registry_secret(
        step.run, registry=credentials.registry, username=credentials.username, password=credentials.password
    )
    step.actions.append(CreateSecret(manifest))
    return [name]


# -- the attempt's pod ---------------------------------------------------------------------------------------------


def _attempt(step: _Pass, planned: _Planned) -> Decision:
    status = step.status
    attempt = max(1, status.attempts)
    name = pods.task_pod_name(step.name, attempt)
    found = next((p for p in step.world.pods if p.name == name and p.role == ROLE_TASK), None)
    if found is not None and found.owner_uid != step.run.metadata.uid:
        raise step.end(
            R.PENDING,
            f"pod {name} belongs to an earlier TaskRun of this name; waiting for it to be deleted",
            backoff=True,
        )
    if found is None and status.pod_name == name:
        # The status says this attempt's pod was created, and it is gone: someone deleted it.
        return _attempt_ended(step, R.POD_DELETED, f"pod {name} was deleted before the run finished", None)
    if found is None:
        return _create_pod(step, planned, attempt)
    if status.pod_name != name:
        # Created by a pass that ended before its status write (the operator died, a Conflict, another replica that
        # lost the Lease): record the attempt as its creation would have.
        _record_attempt(step, planned, attempt)
    return _report(step, found)


def _create_pod(step: _Pass, planned: _Planned, attempt: int) -> Decision:
    run, status = step.run, step.status
    source, resolved, inputs, outputs = planned.source, planned.resolved, planned.inputs, planned.outputs
    labels, annotations = propagated_metadata(run.metadata.labels, run.metadata.annotations)
    plan = pods.PodPlan(
        owner=_owner(run),
        attempt=attempt,
        image=source.image,
        command=resolved.command,
        env=list(resolved.env.items()),
        mounts=[
            *(pods.ChannelMount(c.name, c.mounted_path, inputs[c.name], read_only=True) for c in resolved.inputs),
            *(pods.ChannelMount(c.name, c.mounted_path, outputs[c.name], read_only=False) for c in resolved.outputs),
        ],
        requests=planned.memory.requests,
        limits=planned.memory.limits,
        image_pull_secrets=tuple(dict.fromkeys(planned.pull_secrets)),
        active_deadline_seconds=run.spec.timeout_seconds,
        labels={**labels, **resolved.labels},
        annotations={**annotations, **resolved.annotations},
        template=resolved.template,
        image_pull_policy=run.spec.image_pull_policy or "IfNotPresent",
        run_as=planned.run_as,
        secret_env={n: pods.SecretKey(r.name, r.key) for n, r in secret_env(run.spec).items()},
    )
    stage = stage_transformer(
        stage_image=step.policy.measure_image, stage_pull_secrets=step.policy.measure_image_pull_secrets
    )
    step.actions.append(CreatePod(pods.build_task_pod(plan, transformers=(stage,)), ROLE_TASK))
    if resolved.warnings and not status.pod_name:
        text = "; ".join(w.format() for w in resolved.warnings)[:500]
        step.notes.append(Note("Warning", "SpecWarning", text))
    from_secrets = secret_env(run.spec)
    if from_secrets and not status.pod_name:
        names = ", ".join(f"{n} (Secret {r.name!r}, key {r.key!r})" for n, r in from_secrets.items())
        text = f"the pod reads {names}; the template's type and choices are not checked for values from Secrets"
        step.notes.append(Note("Normal", "EnvFromSecret", text[:500]))
    _record_attempt(step, planned, attempt)
    raise step.end(R.PENDING, f"pod {status.pod_name} created")


def _record_attempt(step: _Pass, planned: _Planned, attempt: int) -> None:
    """What the status records of an attempt once its pod exists."""
    status = step.status
    if not status.attempts:
        # Decided once, before the first pod: what runs, and where every channel's data is.
        status.attempts = attempt
        status.template = planned.resolved.template
        status.image = planned.source.image
        status.image_digest = planned.source.digest or None
        status.outputs = [location_of_volume(n, v) for n, v in planned.outputs.items()]
        status.inputs = [location_of_volume(n, v) for n, v in planned.inputs.items()]
    status.pod_name = pods.task_pod_name(step.name, attempt)
    status.memory = planned.memory.summary(recorded=status.memory)
    if not status.start_time:
        status.start_time = format_rfc3339(step.now)


def _report(step: _Pass, pod: ObservedPod) -> Decision:
    """What the attempt's pod says: still going (a new reason, maybe), or ended."""
    outcome = pod.outcome
    if pod.deleting and not outcome.finished:
        outcome = PodOutcome(Phase.FAILED, R.POD_DELETED, f"pod {pod.name} is being deleted")
    step.status.pod_name = pod.name
    if outcome.exit_code is not None:
        step.status.exit_code = outcome.exit_code
    if outcome.finished:
        return _attempt_ended(step, outcome.reason, outcome.message, outcome.exit_code)
    if (ended := _pending_too_long(step, pod)) is not None:
        raise ended
    requeue = _pending_requeue(step, pod) if outcome.phase is Phase.PENDING else None
    if outcome.reason is R.PENDING and not outcome.message and step.status.reason == R.PENDING.value:
        # Still pending, nothing new to say ("pod … created" stands): no write, only the timeout's wake-up.
        return Decision(status=step.status, requeue_after=requeue)
    message = outcome.message or ("running" if outcome.phase is Phase.RUNNING else "waiting for the pod")
    raise step.end(outcome.reason, message, requeue_after=requeue)


def _attempt_ended(step: _Pass, reason: TaskRunReason, message: str, exit_code: int | None) -> Decision:
    """An attempt ended: succeed, retry (the next attempt's memory grows after an OOM kill) or fail for good."""
    status = step.status
    attempt = max(1, status.attempts)
    if exit_code is not None:
        status.exit_code = exit_code
    if reason is R.SUCCEEDED:
        raise step.end(R.SUCCEEDED, "the task finished successfully")
    if reason is R.OOM_KILLED:
        status.oom_kills += 1  # every attempt that ended so, the last one too (the memory report counts them)
    limit = step.run.spec.retries.limit if step.run.spec.retries else 0
    if reason not in (R.CANCELLED, R.TIMED_OUT) and attempt <= limit:
        status.attempts = attempt + 1
        raise step.end(
            R.RETRYING,
            f"attempt {attempt} ended with {reason.value}: {message}; starting attempt {attempt + 1}",
            requeue_after=0,
        )
    raise step.end(reason, message)


# -- helpers -------------------------------------------------------------------------------------------------------


def _own_pods(step: _Pass, role: str) -> list[ObservedPod]:
    uid = step.run.metadata.uid
    return [p for p in step.world.pods if p.role == role and p.owner_uid == uid]


def _owner(run: TaskRunResource) -> pods.Owner:
    return pods.Owner(name=run.metadata.name, namespace=run.metadata.namespace, uid=run.metadata.uid)
