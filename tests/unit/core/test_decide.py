"""The reconciler's decisions, table by table: every reason and transition of docs/operator.md, including the
branches a real cluster cannot reach on purpose (an upstream re-created under the same name, a measurement count
that no longer matches, a pod left by a deleted namesake, a TTL beyond the calendar)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest

from task_api.core.memory_usage import InputSize, Observation
from task_api.core.pod import measure_pod_name, task_pod_name
from task_api.core.rightsize import RightSizingSettings
from task_api.core.taskrun.changes import status_patch
from task_api.core.taskrun.decide import current_pod, decide, needs_pass, refused, stopping
from task_api.core.taskrun.decision import CreatePod, CreateSecret, Decision, DeletePod, DeleteRunPods
from task_api.core.taskrun.objects import registry_login
from task_api.core.taskrun.observed_pods import Phase
from task_api.core.taskrun.world import CredentialsUnusable, Halt, RegistryCredentials, UpstreamView, World
from task_api.spec.crd import TaskRunReason as R
from task_api.spec.crd import TaskRunResource, TaskRunStatus
from tests.unit.core.taskrun_fixtures import (
    NAME,
    NOW,
    POLICY,
    UID,
    finished_status,
    measure_pod,
    measured,
    pod,
    resolving_status,
    run,
    running_status,
    world,
)

A1 = task_pod_name(NAME, 1)
A2 = task_pod_name(NAME, 2)
MEASURE = measure_pod_name(NAME)


def decided(r: TaskRunResource, w: World, *, at: timedelta = timedelta()) -> Decision:
    return decide(r, w, POLICY, NOW + at)


def kinds(actions: tuple[Any, ...]) -> list[str]:
    """``CreatePod:hello-a1``, ``DeleteRunPods``, … for comparing action lists."""
    out = []
    for action in actions:
        name = getattr(action, "name", "")
        out.append(f"{type(action).__name__}:{name}" if name else type(action).__name__)
    return out


@dataclass(frozen=True)
class Case:
    """One row: a run and its world, and what the pass must decide."""

    id: str
    run: TaskRunResource
    world: World
    reason: str
    actions: list[str] = field(default_factory=list)
    cleanup: list[str] = field(default_factory=list)
    requeue_after: float | None = None
    backoff: bool = False
    message: str = ""


def check(case: Case) -> Decision:
    decision = decided(case.run, case.world)
    assert decision.status.reason == case.reason, decision.status.conditions
    assert kinds(decision.actions) == case.actions
    assert kinds(decision.cleanup) == case.cleanup
    assert decision.requeue_after == case.requeue_after
    assert decision.backoff is case.backoff
    if case.message:
        assert case.message in decision.status.conditions[0].message
    return decision


# -- early exits: finished, cancelled, heartbeats, the template --------------------------------------------------

EARLY = [
    Case("finished: nothing to do", run(status=finished_status()), World(), "Succeeded"),
    Case(
        "finished with a TTL not due yet: look again when it is",
        run({"ttlSecondsAfterFinished": 600}, status=finished_status()),
        World(),
        "Succeeded",
        requeue_after=(timedelta(seconds=600) - timedelta(seconds=10)).total_seconds() + 0.5,
    ),
    Case(
        "finished with a TTL due: every pod of the run goes (not only the last attempt's)",
        run({"ttlSecondsAfterFinished": 5}, status=finished_status("Failed", attempts=2)),
        World(),
        "Failed",
        actions=["DeleteRunPods"],
    ),
    Case(
        "finished with the longest TTL the CRD admits (ten years): due then, no overflow",
        run({"ttlSecondsAfterFinished": 10 * 366 * 24 * 3600}, status=finished_status()),
        World(),
        "Succeeded",
        requeue_after=10 * 366 * 24 * 3600 - 10 + 0.5,
    ),
    Case(
        "cancelled: every pod of the run is deleted before the status says so",
        run({"cancelled": True}, status=running_status()),
        world(pods=(pod(),)),
        "Cancelled",
        actions=["DeleteRunPods"],
        message="the TaskRun was cancelled",
    ),
    Case(
        "cancelled while measuring: the measuring pod goes too",
        run({"cancelled": True}),
        world(pods=(measure_pod(Phase.RUNNING),)),
        "Cancelled",
        actions=["DeleteRunPods"],
        cleanup=[f"DeletePod:{MEASURE}"],
    ),
    Case(
        "the client's heartbeat stopped: cancelled",
        run(
            {"heartbeatTimeoutSeconds": 30},
            meta={"annotations": {"task-api.io/heartbeat": "2026-01-01T11:59:00Z"}},
            status=running_status(),
        ),
        world(pods=(pod(),)),
        "Cancelled",
        actions=["DeleteRunPods"],
        message="stopped sending heartbeats (last: 2026-01-01T11:59:00Z)",
    ),
    Case(
        "ProcessingContainer not ready yet: wait with backoff",
        run({"image": None, "processingContainerRef": {"name": "pc"}}),
        World(template=Halt(R.WAITING_FOR_PROCESSING_CONTAINER, "waiting for pc", transient=True)),
        "WaitingForProcessingContainer",
        backoff=True,
    ),
    Case(
        "the registry is unreachable: wait with backoff",
        run(),
        World(template=Halt(R.RESOLVING_IMAGE, "RegistryUnavailable: down", transient=True)),
        "ResolvingImage",
        backoff=True,
    ),
    Case(
        "no inspection slot free: look again shortly, without the growing backoff",
        run(),
        World(template=Halt(R.RESOLVING_IMAGE, "InspectionSlotsBusy: busy", transient=True, retry_after=2.0)),
        "ResolvingImage",
        requeue_after=2.0,
    ),
    Case(
        "the image has no processing-container.json: fail for good",
        run(),
        World(template=Halt(R.IMAGE_INSPECTION_FAILED, "ProcessingContainerMissing: none")),
        "ImageInspectionFailed",
    ),
]


@pytest.mark.parametrize("case", EARLY, ids=lambda c: c.id)
def test_early_exits(case: Case) -> None:
    check(case)


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        ("InspectionSlotsBusy: busy", "InspectionSlotsBusy: all in use"),
        ("InspectionTimedOut: slow", "InspectionSlotsBusy: all in use; the last attempt: InspectionTimedOut: slow"),
        ("InspectionSlotsBusy: a; the last attempt: X: y", "InspectionSlotsBusy: all in use; the last attempt: X: y"),
    ],
)
def test_a_wait_for_a_turn_says_exactly_this_about_the_last_failure(before: str, expected: str) -> None:
    halt = Halt(R.RESOLVING_IMAGE, "InspectionSlotsBusy: all in use", transient=True, retry_after=2.0)
    decision = decided(run(status=resolving_status(before)), World(template=halt))
    assert decision.status.conditions[0].message == expected
    assert (decision.status.reason, decision.requeue_after, decision.backoff) == ("ResolvingImage", 2.0, False)


def test_a_deleted_run_is_left_to_the_garbage_collector() -> None:
    decision = decided(run({"cancelled": True}, meta={"deletionTimestamp": "2026-01-01T12:00:00Z"}), World())
    assert decision.actions == () and decision.cleanup == ()
    assert status_patch(TaskRunStatus(), decision.status) == {}


def test_a_spec_edited_after_the_end_is_observed_but_changes_nothing() -> None:
    before = run({"env": [{"name": "ALGORITHM", "value": "sha512"}]}, meta={"generation": 3}, status=finished_status())
    decision = decided(before, World())
    assert status_patch(before.status, decision.status) == {"observedGeneration": 3}
    assert decision.actions == ()


def test_the_ttl_records_when_the_pods_went() -> None:
    decision = decided(run({"ttlSecondsAfterFinished": 0}, status=finished_status()), World())
    assert decision.status.pod_deleted_at == "2026-01-01T12:00:00Z"
    assert decision.actions == (DeleteRunPods(UID),)
    after = run({"ttlSecondsAfterFinished": 0}, status=finished_status(podDeletedAt="2026-01-01T12:00:00Z"))
    assert decided(after, World()).actions == ()


def test_heartbeats_bring_the_run_back_when_they_would_be_overdue() -> None:
    beat = {"task-api.io/heartbeat": "2026-01-01T11:59:50Z"}
    decision = decided(run({"heartbeatTimeoutSeconds": 30}, meta={"annotations": beat}, status=running_status()),
                       world(pods=(pod(),)))  # fmt: skip
    assert decision.status.reason == "Running"
    assert decision.requeue_after == pytest.approx(20.5)
    # An unreadable annotation counts as no heartbeat since creation (11:59:00): overdue.
    broken = run({"heartbeatTimeoutSeconds": 30}, meta={"annotations": {"task-api.io/heartbeat": "yesterday"}})
    assert decided(broken, world()).status.reason == "Cancelled"


def test_stopping_runs_read_nothing_but_their_pods() -> None:
    assert stopping(run(status=finished_status()), NOW)
    assert stopping(run({"cancelled": True}), NOW)
    assert stopping(run(meta={"deletionTimestamp": "2026-01-01T12:00:00Z"}), NOW)
    assert not stopping(run(), NOW)


# -- upstream runs -------------------------------------------------------------------------------------------------

FROM_UP = {"name": "in", "fromTaskRun": {"name": "up", "output": "out"}}


def upstream(
    reason: str = "Succeeded", uid: str = "up-uid", outputs: list[dict[str, Any]] | None = None
) -> UpstreamView:
    state = {"Succeeded": "True", "Running": "Unknown"}.get(reason, "False")
    status = {
        "conditions": [{"type": "Succeeded", "status": state, "reason": reason}],
        "outputs": [{"name": "out", "claimName": "ws", "subPath": "task-api/up/out"}] if outputs is None else outputs,
    }
    return UpstreamView(uid=uid, status=TaskRunStatus.model_validate(status))


UPSTREAM = [
    Case(
        "upstream not created yet: wait",
        run({"inputs": [FROM_UP]}),
        world(upstreams={"up": None}),
        "WaitingForUpstream",
        requeue_after=30.0,
        message="up (not created yet)",
    ),
    Case(
        "upstream never created within the grace: fail",
        run({"inputs": [FROM_UP]}, meta={"creationTimestamp": "2026-01-01T11:00:00Z"}),
        world(upstreams={"up": None}),
        "UpstreamFailed",
        message="does not exist (waited 3600 s",
    ),
    Case(
        "upstream running: wait",
        run({"inputs": [FROM_UP]}),
        world(upstreams={"up": upstream("Running")}),
        "WaitingForUpstream",
        requeue_after=30.0,
    ),
    Case(
        "upstream failed: fail, saying why",
        run({"inputs": [FROM_UP]}),
        world(upstreams={"up": upstream("OOMKilled")}),
        "UpstreamFailed",
        message="failed (OOMKilled)",
    ),
    Case(
        "upstream deleted and re-created while waiting: its uid changed",
        run({"inputs": [FROM_UP]}, status={"upstreams": [{"name": "up", "uid": "old-uid"}]}),
        world(upstreams={"up": upstream("Running", uid="new-uid")}),
        "UpstreamFailed",
        message="was deleted while this run waited",
    ),
    Case(
        "upstream deleted while waiting",
        run({"inputs": [FROM_UP]}, status={"upstreams": [{"name": "up", "uid": "old-uid"}]}),
        world(upstreams={"up": None}),
        "UpstreamFailed",
    ),
    Case(
        "upstream finished without that output",
        run({"inputs": [FROM_UP]}),
        world(upstreams={"up": upstream(outputs=[{"name": "other", "claimName": "c"}])}),
        "InvalidSpec",
        message="has no output 'out' (it has: other)",
    ),
    Case(
        "upstream finished: the pod reads its output",
        run({"inputs": [FROM_UP]}),
        world(upstreams={"up": upstream()}),
        "Pending",
        actions=[f"CreatePod:{A1}"],
    ),
]


@pytest.mark.parametrize("case", UPSTREAM, ids=lambda c: c.id)
def test_upstream_runs(case: Case) -> None:
    check(case)


def test_waiting_records_the_upstreams_seen_and_names_them_for_wake_ups() -> None:
    decision = decided(run({"inputs": [FROM_UP]}), world(upstreams={"up": upstream("Running")}))
    assert [(u.name, u.uid) for u in decision.status.upstreams] == [("up", "up-uid")]
    assert decision.waiting_on == ("up",)


def test_an_upstream_deleted_after_the_first_attempt_started_does_not_matter() -> None:
    status = running_status(inputs=[{"name": "in", "claimName": "ws", "subPath": "task-api/up/out"}])
    decision = decided(run({"inputs": [FROM_UP]}, status=status), world(upstreams={}, pods=(pod(),)))
    assert decision.status.reason == "Running"


def test_the_upstreams_output_is_mounted_read_only() -> None:
    decision = decided(run({"inputs": [FROM_UP]}), world(upstreams={"up": upstream()}))
    manifest = decision.actions[0].manifest  # type: ignore[union-attr]
    mount = next(m for m in manifest["spec"]["containers"][0]["volumeMounts"] if m["mountPath"] == "/data/in")
    assert mount["readOnly"] is True and mount["subPath"] == "task-api/up/out"


PLAIN_IN = {"name": "in", "persistentVolumeClaim": {"claimName": "data"}}

# -- validation against the template -------------------------------------------------------------------------------

INVALID = [
    Case(
        "host path with no allowed root",
        run({"inputs": [{"name": "in", "hostPath": {"path": "/etc"}}]}),
        world(),
        "InvalidSpec",
        message="spec.inputs[0].hostPath.path",
    ),
    Case("no such template", run({"taskTemplate": "nope"}), world(), "InvalidSpec", message="'nope'"),
    Case(
        "env value outside the choices",
        run({"env": [{"name": "ALGORITHM", "value": "md4"}]}),
        world(),
        "InvalidSpec",
        message="spec.env[0]",
    ),
    Case(
        "a variable that is not adjustable",
        run({"env": [{"name": "FIXED", "value": "2"}]}),
        world(),
        "InvalidSpec",
        message="FIXED",
    ),
    Case(
        "an input the template lacks",
        run({"inputs": [PLAIN_IN, {"name": "extra", "persistentVolumeClaim": {"claimName": "c"}}]}),
        world(),
        "InvalidSpec",
        message="extra",
    ),
    Case("an input left unbound", run({"inputs": []}), world(), "InvalidSpec", message="in"),
]


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.id)
def test_invalid_specs_fail_with_the_field_path(case: Case) -> None:
    decision = check(case)
    assert decision.actions == ()


ROOTED = replace(POLICY, allowed_host_path_roots=("/data",))


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"outputs": [{"name": "out", "hostPath": {"path": "/data/out"}}]},
         "spec.outputs[0].hostPath.path: outputs cannot go to host paths"),
        ({"inputs": [{"name": "in", "hostPath": {"path": "/data/a\u202eb"}}]}, "spec.inputs[0].hostPath.path"),
        ({"inputs": [{"name": "in", "hostPath": {"path": "/data/e\u0301"}}]}, "normal form NFC"),
        ({"inputs": [{"name": "in", "hostPath": {"path": "/data/" + "n" * 256}}]}, "longer than 255 bytes"),
    ],
    ids=["output", "bidi-override", "not-nfc", "long-component"],
)  # fmt: skip
def test_host_paths_are_refused_before_any_pod(spec: dict[str, Any], words: str) -> None:
    decision = decide(run(spec), world(), ROOTED, NOW)
    assert decision.status.reason == "InvalidSpec"
    assert decision.actions == ()
    assert decision.finished
    assert words in decision.status.conditions[0].message


def test_a_host_path_input_under_a_root_is_mounted_read_only() -> None:
    decision = decide(run({"inputs": [{"name": "in", "hostPath": {"path": "/data/in"}}]}), world(), ROOTED, NOW)
    manifest = decision.actions[0].manifest  # type: ignore[union-attr]
    (host,) = [v for v in manifest["spec"]["volumes"] if "hostPath" in v]
    assert host["hostPath"] == {"path": "/data/in", "type": "Directory"}
    mount = next(m for m in manifest["spec"]["containers"][0]["volumeMounts"] if m["name"] == host["name"])
    assert mount["readOnly"] is True and mount["recursiveReadOnly"] == "IfPossible"


def _task_container(decision: Decision) -> dict[str, Any]:
    manifest = decision.actions[-1].manifest  # type: ignore[union-attr]
    container: dict[str, Any] = manifest["spec"]["containers"][0]
    return container


def test_task_containers_run_as_the_policys_non_root_user_by_default() -> None:
    decision = decide(run(), world(), replace(POLICY, run_as_user=4242, run_as_group=4343), NOW)
    security = _task_container(decision)["securityContext"]
    assert (security["runAsNonRoot"], security["runAsUser"], security["runAsGroup"]) == (True, 4242, 4343)
    manifest = decision.actions[-1].manifest  # type: ignore[union-attr]
    assert manifest["spec"]["securityContext"]["fsGroup"] == 4343


def test_root_is_refused_outside_the_allowed_namespaces() -> None:
    policy = replace(POLICY, root_namespaces=("kaapana",))
    decision = decide(run({"runAsRoot": True}), world(), policy, NOW)
    assert decision.status.reason == "InvalidSpec" and decision.actions == ()
    message = decision.status.conditions[0].message
    assert message.startswith("spec.runAsRoot: root is not allowed in namespace team-a")
    assert "TASK_API_ALLOW_ROOT_NAMESPACES: kaapana" in message


@pytest.mark.parametrize("allowed", [("team-a",), ("*",)])
def test_root_where_allowed_keeps_the_images_user(allowed: tuple[str, ...]) -> None:
    decision = decide(run({"runAsRoot": True}), world(), replace(POLICY, root_namespaces=allowed), NOW)
    security = _task_container(decision)["securityContext"]
    assert "runAsUser" not in security and "runAsNonRoot" not in security
    assert security["allowPrivilegeEscalation"] is False and security["capabilities"] == {"drop": ["ALL"]}


def _from_secret(name: str, secret: str = "token", key: str = "value") -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def test_an_env_value_from_a_secret_reaches_the_pod_as_a_reference() -> None:
    decision = decided(run({"env": [_from_secret("ALGORITHM")]}), world())
    env = {e["name"]: e for e in _task_container(decision)["env"]}
    assert env["ALGORITHM"] == {"name": "ALGORITHM", "valueFrom": {"secretKeyRef": {"name": "token", "key": "value"}}}
    assert decision.status.reason == "Pending"
    (note,) = decision.notes
    assert note.reason == "EnvFromSecret" and "type and choices are not checked" in note.message


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ([_from_secret("FIXED")], "spec.env[0].valueFrom: FIXED is not adjustable in template"),
        ([{"name": "ALGORITHM", "value": "sha512"}, _from_secret("UNDECLARED")],
         "spec.env[1].valueFrom: UNDECLARED is not declared by template"),
    ],
    ids=["not-adjustable", "undeclared"],
)  # fmt: skip
def test_only_adjustable_declared_variables_come_from_secrets(env: list[dict[str, Any]], words: str) -> None:
    decision = decided(run({"env": env}), world())
    assert decision.status.reason == "InvalidSpec" and decision.actions == ()
    message = decision.status.conditions[0].message
    assert words in message and "allowed ALGORITHM" in message


def test_a_literal_value_beside_a_secret_one_is_still_checked_at_its_own_position() -> None:
    decision = decided(run({"env": [_from_secret("ALGORITHM"), {"name": "ALGORITHM2", "value": "x"}]}), world())
    assert decision.status.reason == "Pending"  # undeclared literal: passed with a warning, as before
    decision = decided(run({"env": [_from_secret("ALGORITHM"), {"name": "FIXED", "value": "2"}]}), world())
    assert "spec.env[1].value: FIXED is not adjustable" in decision.status.conditions[0].message


def test_a_literal_placeholder_in_env_and_command_is_passed_through() -> None:
    decision = decided(
        run({"env": [{"name": "ALGORITHM", "value": "sha256"}, {"name": "EXTRA", "value": "{{ env.HOME }}"}],
             "command": ["echo", "{{ env.USER }}"]}),
        world(),
    )  # fmt: skip
    manifest = decision.actions[0].manifest  # type: ignore[union-attr]
    container = manifest["spec"]["containers"][0]
    assert {"name": "EXTRA", "value": "{{ env.HOME }}"} in container["env"]
    assert container["command"] == ["echo", "{{ env.USER }}"]
    # An undeclared variable passes with a warning event, once.
    assert [n.reason for n in decision.notes] == ["SpecWarning"]


# -- measuring the inputs ------------------------------------------------------------------------------------------

SCALED = {"taskTemplate": "scaled", "inputs": [PLAIN_IN, {"name": "more", "persistentVolumeClaim": {"claimName": "m"}}]}

MEASURING = [
    Case(
        "no measurement yet: start the measuring pod",
        run(SCALED),
        world(),
        "Measuring",
        actions=[f"CreatePod:{MEASURE}"],
        requeue_after=30.0,
    ),
    Case(
        "measuring pod running: wait",
        run(SCALED),
        world(pods=(measure_pod(Phase.RUNNING),)),
        "Measuring",
        requeue_after=30.0,
    ),
    Case(
        "measuring pod failed: fail, and remove it",
        run(SCALED),
        world(pods=(measure_pod(Phase.FAILED, "no such dir"),)),
        "InvalidSpec",
        cleanup=[f"DeletePod:{MEASURE}"],
        message="measuring the inputs failed: no such dir",
    ),
    Case(
        "measuring pod reported nonsense",
        run(SCALED),
        world(pods=(measure_pod(Phase.SUCCEEDED, "not json"),)),
        "InvalidSpec",
        cleanup=[f"DeletePod:{MEASURE}"],
        message="unreadable",
    ),
    Case(
        "measured: the pod is created and the measuring pod removed once the status holds the result",
        run(SCALED),
        world(
            pods=(measure_pod(Phase.SUCCEEDED, measured(("in", "sum", 100 * 2**20), ("more", "max_file_size", 10))),)
        ),
        "Pending",
        actions=[f"CreatePod:{A1}"],
        cleanup=[f"DeletePod:{MEASURE}"],
    ),
    Case(
        "the stored measurements no longer match the rules: measure again",
        run(SCALED, status={"measurements": [{"channel": "in", "mode": "sum", "bytes": 1}]}),
        world(),
        "Measuring",
        actions=[f"CreatePod:{MEASURE}"],
        requeue_after=30.0,
    ),
]


@pytest.mark.parametrize("case", MEASURING, ids=lambda c: c.id)
def test_measuring(case: Case) -> None:
    check(case)


def test_measurements_size_the_memory_and_are_recorded() -> None:
    message = measured(("in", "sum", 100 * 2**20), ("more", "max_file_size", 10))
    decision = decided(run(SCALED), world(pods=(measure_pod(Phase.SUCCEEDED, message),)))
    assert [(m.channel, m.bytes) for m in decision.status.measurements] == [("in", 100 * 2**20), ("more", 10)]
    assert decision.status.memory is not None
    limit = decision.status.memory.limit or ""
    assert limit.endswith("Mi") and int(limit[:-2]) >= 200  # scale factor 2 on 100 MiB
    container = decision.actions[0].manifest["spec"]["containers"][0]  # type: ignore[union-attr]
    assert container["resources"]["limits"]["memory"] == limit


def test_without_a_measuring_image_scale_rules_cannot_run() -> None:
    decision = decide(run(SCALED), world(), POLICY.__class__(), NOW)
    assert decision.status.reason == "InvalidSpec"
    assert "TASK_API_MEASURE_IMAGE" in decision.status.conditions[0].message


# -- the attempt's pod ---------------------------------------------------------------------------------------------

ATTEMPTS = [
    Case(
        "first pass: create the first attempt's pod",
        run(),
        world(),
        "Pending",
        actions=[f"CreatePod:{A1}"],
        message=f"pod {A1} created",
    ),
    Case("pod running", run(status=running_status()), world(pods=(pod(),)), "Running"),
    Case(
        "pod succeeded",
        run(status=running_status()),
        world(pods=(pod(phase=Phase.SUCCEEDED, reason=R.SUCCEEDED, exit_code=0),)),
        "Succeeded",
    ),
    Case(
        "pod failed, no retries left",
        run(status=running_status()),
        world(pods=(pod(phase=Phase.FAILED, reason=R.FAILED, message="exit 3", exit_code=3),)),
        "Failed",
        message="exit 3",
    ),
    Case(
        "pod OOM-killed with a retry left: the next attempt, at once",
        run({"retries": {"limit": 1}}, status=running_status()),
        world(pods=(pod(phase=Phase.FAILED, reason=R.OOM_KILLED, exit_code=137),)),
        "Retrying",
        requeue_after=0,
        message="starting attempt 2",
    ),
    Case(
        "a timed-out attempt is not retried",
        run({"retries": {"limit": 3}}, status=running_status()),
        world(pods=(pod(phase=Phase.FAILED, reason=R.TIMED_OUT),)),
        "TimedOut",
    ),
    Case(
        "the pod was deleted by someone",
        run(status=running_status()),
        world(pods=()),
        "PodDeleted",
        message="was deleted before the run finished",
    ),
    Case(
        "the pod is being deleted",
        run(status=running_status()),
        world(pods=(pod(deleting=True),)),
        "PodDeleted",
        message="is being deleted",
    ),
    Case(
        "a pod of that name belongs to a deleted namesake: wait for it to go, never adopt it",
        run(),
        world(pods=(pod(phase=Phase.SUCCEEDED, reason=R.SUCCEEDED, owner_uid="old-uid"),)),
        "Pending",
        backoff=True,
        message="belongs to an earlier TaskRun",
    ),
]


@pytest.mark.parametrize("case", ATTEMPTS, ids=lambda c: c.id)
def test_attempts(case: Case) -> None:
    check(case)


def test_the_first_pod_records_what_runs_and_where_the_data_is() -> None:
    decision = decided(run(), world())
    status = decision.status
    assert (status.attempts, status.pod_name, status.template) == (1, A1, "checksum")
    assert status.image == world().template.image  # type: ignore[union-attr]
    assert status.start_time == "2026-01-01T12:00:00Z"
    assert [o.name for o in status.outputs] == ["out"]
    assert status.outputs[0].sub_path == f"task-api/{NAME}-{UID[:8]}/out"
    assert [i.claim_name for i in status.inputs] == ["data"]
    assert status.memory is not None and (status.memory.request, status.memory.limit) == ("16Mi", "64Mi")


def test_a_pod_made_by_a_pass_that_never_wrote_its_status_is_recorded_like_a_new_one() -> None:
    """The operator (or a leader that lost its Lease) created the pod and ended before its status write: the next
    pass adopts the pod and records the attempt exactly as the creating pass would have."""
    created = decided(run(), world()).status
    adopted = decided(run(), world(pods=(pod(),))).status
    for key in ("attempts", "pod_name", "template", "image", "image_digest", "outputs", "inputs", "memory"):
        assert getattr(adopted, key) == getattr(created, key), key
    assert adopted.start_time and adopted.reason == "Running"
    grown = running_status(attempts=2, oomKills=1, podName=A1, reason="Retrying")
    retry = {"retries": {"limit": 2, "memoryFactor": 2}}
    second = decided(run(retry, status=grown), world(pods=(pod(1, Phase.FAILED, R.OOM_KILLED, exit_code=137), pod(2))))
    assert second.status.pod_name == A2
    assert second.status.memory is not None and second.status.memory.limit == "128Mi"  # the grown attempt's


def test_still_pending_with_nothing_new_writes_nothing() -> None:
    before = run(status=running_status())
    decision = decided(before, world(pods=(pod(phase=Phase.PENDING, reason=R.PENDING),)))
    assert status_patch(before.status, decision.status) == {}


def test_an_oom_kill_grows_the_next_attempts_memory() -> None:
    retrying = running_status(attempts=2, oomKills=1, podName=A1, reason="Retrying")
    decision = decided(run({"retries": {"limit": 2, "memoryFactor": 2}}, status=retrying), world(pods=(pod(1),)))
    assert kinds(decision.actions) == [f"CreatePod:{A2}"]
    container = decision.actions[0].manifest["spec"]["containers"][0]  # type: ignore[union-attr]
    assert container["resources"]["limits"]["memory"] == "128Mi"  # 64Mi x 2^1
    assert decision.status.memory is not None and decision.status.memory.limit == "128Mi"
    assert any("OOM" in line for line in decision.status.memory.explanation)


def test_the_retry_counts_attempts_and_oom_kills() -> None:
    decision = decided(
        run({"retries": {"limit": 1}}, status=running_status()),
        world(pods=(pod(phase=Phase.FAILED, reason=R.OOM_KILLED, exit_code=137),)),
    )
    assert (decision.status.attempts, decision.status.oom_kills, decision.status.exit_code) == (2, 1, 137)


def test_an_unreadable_max_memory_fails_the_run_instead_of_looping() -> None:
    retrying = running_status(attempts=2, oomKills=1, reason="Retrying")
    decision = decided(run({"retries": {"limit": 2, "maxMemory": "1.2.3"}}, status=retrying), world(pods=(pod(1),)))
    assert decision.status.reason == "InvalidSpec"
    assert "spec.retries.maxMemory" in decision.status.conditions[0].message


def test_the_pod_inherits_the_runs_labels_and_is_locked_down() -> None:
    decision = decided(run(meta={"labels": {"network-access-ctp": "true"}}), world())
    manifest = decision.actions[0].manifest  # type: ignore[union-attr]
    assert manifest["metadata"]["labels"]["network-access-ctp"] == "true"
    assert manifest["metadata"]["labels"]["task-api.io/taskrun-uid"] == UID
    assert manifest["metadata"]["ownerReferences"][0]["uid"] == UID
    security = manifest["spec"]["containers"][0]["securityContext"]
    assert security["allowPrivilegeEscalation"] is False


# -- the registry Secret -------------------------------------------------------------------------------------------

CREDS = RegistryCredentials(registry="reg.example", username="u", password="p4ss")
WITH_SECRET = {"registryCredentialsSecret": {"name": "creds"}}


def test_registry_credentials_become_a_pull_secret_owned_by_the_run_before_the_pod() -> None:
    decision = decided(run(WITH_SECRET), world(credentials=CREDS))
    assert kinds(decision.actions) == [f"CreateSecret:{NAME}-registry", f"CreatePod:{A1}"]
    secret = decision.actions[0]
    assert isinstance(secret, CreateSecret)
    assert secret.manifest["metadata"]["ownerReferences"][0]["uid"] == UID
    assert "p4ss" not in repr(decision)  # the credentials never show in a decision's repr (logs)
    pod_manifest = decision.actions[1].manifest  # type: ignore[union-attr]
    assert {"name": f"{NAME}-registry"} in pod_manifest["spec"]["imagePullSecrets"]


def test_an_owned_registry_secret_is_used_as_it_is() -> None:
    decision = decided(run(WITH_SECRET), world(registry_secret_owner=UID))
    assert kinds(decision.actions) == [f"CreatePod:{A1}"]


@pytest.mark.parametrize(
    ("owner", "reason", "final"),
    [
        ("", "InvalidSpec", True),  # planted by someone (no TaskRun of this name controls it): fail, naming it
        ("uid-of-a-deleted-namesake", "Pending", False),  # the garbage collector is taking it: wait
    ],
)
def test_a_registry_secret_of_another_owner_is_never_used(owner: str, reason: str, final: bool) -> None:
    decision = decided(run(WITH_SECRET), world(registry_secret_owner=owner, credentials=CREDS, template=None))
    assert decision.status.reason == reason and decision.backoff is not final
    assert f"{NAME}-registry" in decision.status.conditions[0].message
    assert decision.actions == ()
    assert decision.cleanup == ()  # a Secret the run does not own is never deleted either


UNUSABLE = CredentialsUnusable("creds")
REFUSED_CREDENTIALS = (
    "registry credentials Secret 'creds' is not usable: it must exist, carry the label "
    "task-api.io/registry-credentials=true, and hold username and password"
)


def test_a_credentials_secret_that_is_not_usable_ends_the_run_with_one_message() -> None:
    decision = decided(run(WITH_SECRET), world(credentials=UNUSABLE, template=None))
    assert decision.status.reason == "InvalidSpec" and decision.finished
    assert decision.status.conditions[0].message == REFUSED_CREDENTIALS
    assert decision.actions == ()


@pytest.mark.parametrize(
    ("age", "reason"),
    [
        (timedelta(seconds=10), "Pending"),  # its client creates it right after the TaskRun: wait
        (timedelta(seconds=400), "InvalidSpec"),  # past the upstream grace (300 s): it is not coming
    ],
)
def test_the_credentials_secret_a_client_makes_is_waited_for_during_the_grace(age: timedelta, reason: str) -> None:
    secret = f"{NAME}-credentials"
    r = run({"registryCredentialsSecret": {"name": secret}})
    decision = decided(r, world(credentials=CredentialsUnusable(secret), template=None), at=age)
    assert decision.status.reason == reason
    assert decision.status.conditions[0].message.startswith(f"registry credentials Secret {secret!r} is not usable")


@pytest.mark.parametrize(
    ("secret", "usable"),
    [
        (None, False),  # missing or forbidden
        ({"metadata": {}, "data": {"username": "dQ==", "password": "cA=="}}, False),  # not opted in
        ({"metadata": {"labels": {"task-api.io/registry-credentials": "yes"}}, "data": {}}, False),
        ({"metadata": {"labels": {"task-api.io/registry-credentials": "true"}}, "data": {"tls.crt": "eA=="}}, False),
        ({"metadata": {"labels": {"task-api.io/registry-credentials": "true"}}, "data": {"username": "%%"}}, False),
        (
            {"metadata": {"labels": {"task-api.io/registry-credentials": "true"}},
             "data": {"username": "dQ==", "password": "cA=="}},
            True,
        ),
    ],
)  # fmt: skip
def test_only_an_opted_in_secret_with_both_keys_gives_a_login(secret: dict[str, Any] | None, usable: bool) -> None:
    assert registry_login(secret) == (("u", "p") if usable else None)


def test_the_registry_secret_goes_when_the_run_ends() -> None:
    ended = pod(1, Phase.SUCCEEDED, R.SUCCEEDED, exit_code=0)
    decision = decided(run(WITH_SECRET, status=running_status()), World(pods=(ended,)))
    assert decision.status.reason == "Succeeded"
    # Only after the status write; apply checks that the run owns it (a pass following the pod has not read it).
    assert kinds(decision.cleanup) == [f"DeleteSecret:{NAME}-registry"]
    assert decision.actions == ()


def test_a_run_refused_before_its_pod_deletes_its_registry_secret_too() -> None:
    decision = decided(run(WITH_SECRET), world(credentials=UNUSABLE, template=None))
    assert decision.finished and kinds(decision.cleanup) == [f"DeleteSecret:{NAME}-registry"]


def test_credentials_that_cannot_be_read_say_why() -> None:
    halt = Halt(R.INVALID_SPEC, "spec.image: not a reference")
    decision = decided(run(WITH_SECRET), world(credentials=halt))
    assert decision.status.reason == "InvalidSpec" and decision.actions == ()


def test_the_registry_secret_stays_while_the_run_retries() -> None:
    r = run({**WITH_SECRET, "retries": {"limit": 1}}, status=running_status())
    failed = pod(1, Phase.FAILED, R.FAILED, exit_code=1)
    decision = decided(r, World(pods=(failed,)))
    assert decision.status.reason == "Retrying"
    assert "DeleteSecret" not in " ".join(kinds(decision.cleanup))


def test_a_run_without_registry_credentials_deletes_no_secret() -> None:
    decision = decided(run(status=running_status()), World(pods=(pod(1, Phase.SUCCEEDED, R.SUCCEEDED, exit_code=0),)))
    assert decision.finished and decision.cleanup == ()


# -- refusals from the API server ----------------------------------------------------------------------------------


def refusal(message: str, *, status: int = 403, foreign: bool = False, r: TaskRunResource | None = None,
            at: timedelta = timedelta()) -> Decision:  # fmt: skip
    return refused(r or run(), what=f"pod {A1}", message=message, status=status, foreign=foreign, policy=POLICY,
                   now=NOW + at)  # fmt: skip


QUOTA = 'pods "hello-a1" is forbidden: exceeded quota: two-pods, requested: pods=1, used: pods=2, limited: pods=2'
LIMIT = 'pods "hello-a1" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi'
PSA = 'pods "hello-a1" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true'


@pytest.mark.parametrize(
    ("message", "status", "foreign", "reason", "backoff"),
    [
        ("admission webhook denied", 403, False, "InvalidSpec", False),
        ("Pod is invalid: spec.volumes[0].name", 422, False, "InvalidSpec", False),
        (f"pod {A1} exists and belongs to another object", 409, True, "Pending", True),
        (QUOTA, 403, False, "WaitingForQuota", True),
        (LIMIT, 403, False, "WaitingForQuota", True),
        (PSA, 403, False, "PodSecurityRejected", False),
    ],
)
def test_refusals_from_the_api_server(message: str, status: int, foreign: bool, reason: str, backoff: bool) -> None:
    decision = refusal(message, status=status, foreign=foreign)
    assert decision.status.reason == reason
    assert decision.backoff is backoff
    assert message in decision.status.conditions[0].message


def test_waiting_for_quota_ends_after_the_pending_timeout_counted_from_the_first_refusal() -> None:
    first = refusal(QUOTA)
    assert first.status.waiting_since == "2026-01-01T12:00:00Z"
    later = run({"pendingTimeoutSeconds": 60}, status=first.status.model_dump(by_alias=True, exclude_none=True))
    still = refusal(QUOTA, r=later, at=timedelta(seconds=50))
    assert still.status.reason == "WaitingForQuota"
    assert still.status.waiting_since == "2026-01-01T12:00:00Z"  # counted from the first refusal
    ended = refusal(QUOTA, r=later, at=timedelta(seconds=61))
    assert ended.status.reason == "QuotaExceeded" and ended.finished
    # Room found: the next pass creates the pod and the wait is over.
    moved_on = decided(later, world())
    assert moved_on.status.reason == "Pending" and moved_on.status.waiting_since is None


# -- bounded waits: claims, pending pods, cycles -------------------------------------------------------------------


def test_a_missing_claim_is_waited_for_up_to_the_pending_timeout() -> None:
    waiting = decided(run({"pendingTimeoutSeconds": 120}), world(claims={"data": False, "task-api-workspace": True}))
    assert waiting.status.reason == "WaitingForClaim" and waiting.backoff and waiting.actions == ()
    assert "'data' not found in namespace team-a" in waiting.status.conditions[0].message
    again = run({"pendingTimeoutSeconds": 120}, status=waiting.status.model_dump(by_alias=True, exclude_none=True))
    failed = decided(again, world(claims={"data": False}), at=timedelta(seconds=121))
    assert failed.status.reason == "ClaimNotFound" and failed.finished
    found = decided(again, world(claims={"data": True, "task-api-workspace": True}), at=timedelta(seconds=30))
    assert kinds(found.actions) == [f"CreatePod:{A1}"]


def test_the_workspace_claim_is_a_claim_too() -> None:
    decision = decided(run(), world(claims={"data": True, "task-api-workspace": False}))
    assert decision.status.reason == "WaitingForClaim"
    assert "task-api-workspace" in decision.status.conditions[0].message


def test_a_pod_no_node_takes_ends_the_run_after_the_pending_timeout_and_is_removed() -> None:
    stuck = pod(phase=Phase.PENDING, reason=R.PENDING, message="Unschedulable: 0/1 nodes: insufficient memory")
    stuck = replace(stuck, created_at="2026-01-01T10:59:00Z")
    decision = decided(run(status=running_status()), world(pods=(stuck,)))
    assert decision.status.reason == "Unschedulable" and decision.finished
    assert "insufficient memory" in decision.status.conditions[0].message
    assert DeletePod(A1) in decision.cleanup
    young = replace(stuck, created_at="2026-01-01T11:59:30Z")
    waiting = decided(run({"pendingTimeoutSeconds": 100}, status=running_status()), world(pods=(young,)))
    assert waiting.status.reason == "Pending"
    assert waiting.requeue_after == pytest.approx(71.0)  # wakes when the timeout would pass


def test_an_image_that_never_pulls_ends_as_a_pending_timeout() -> None:
    stuck = replace(pod(phase=Phase.PENDING, reason=R.PENDING, message="ImagePullBackOff: not found"),
                    created_at="2026-01-01T10:00:00Z")  # fmt: skip
    decision = decided(run(status=running_status()), world(pods=(stuck,)))
    assert decision.status.reason == "PendingTimeout"


def test_an_unschedulable_measuring_pod_ends_the_run_too() -> None:
    stuck = replace(measure_pod(Phase.PENDING, "Unschedulable: no node"), created_at="2026-01-01T10:00:00Z")
    decision = decided(run(SCALED), world(pods=(stuck,)))
    assert decision.status.reason == "Unschedulable"
    assert DeletePod(MEASURE) in decision.cleanup


def test_a_run_naming_itself_upstream_is_refused_at_once() -> None:
    decision = decided(run({"inputs": [{"name": "in", "fromTaskRun": {"name": NAME, "output": "out"}}]}), world())
    assert decision.status.reason == "UpstreamCycle" and decision.finished


def test_a_cycle_through_other_runs_is_refused_with_the_chain() -> None:
    decision = decided(run({"inputs": [FROM_UP]}), world(upstreams={"up": upstream("Running")},
                                                       upstream_cycle=(NAME, "up", "mid", NAME)))  # fmt: skip
    assert decision.status.reason == "UpstreamCycle"
    assert "hello → up → mid → hello" in decision.status.conditions[0].message


# -- the decision is total: a measuring pod never outlives its run -----------------------------------------------


@pytest.mark.parametrize(
    ("spec", "pods", "reason"),
    [
        ({"taskTemplate": "nope"}, (measure_pod(Phase.SUCCEEDED, "[]"),), "InvalidSpec"),
        ({}, (pod(phase=Phase.SUCCEEDED, reason=R.SUCCEEDED), measure_pod(Phase.SUCCEEDED, "[]")), "Succeeded"),
    ],
)
def test_a_finishing_pass_removes_a_leftover_measuring_pod(
    spec: dict[str, Any], pods: tuple[Any, ...], reason: str
) -> None:
    status = running_status() if reason == "Succeeded" else None
    decision = decided(run(spec, status=status), world(pods=pods))
    assert decision.status.reason == reason
    assert DeletePod(MEASURE) in decision.cleanup


def test_create_actions_name_their_objects() -> None:
    decision = decided(run(), world())
    (create,) = decision.actions
    assert isinstance(create, CreatePod) and create.role == "task" and create.name == A1


# -- right-sizing --------------------------------------------------------------------------------------------------


def _history(runs: int) -> tuple[Observation, ...]:
    """Earlier runs whose peak was 1.5 x their 'in' input (the rules give 2 x 'in' for the limit)."""
    return tuple(
        Observation(image="img", template="scaled", run=f"ns/r{i}", attempt=1,
                    inputs=(InputSize("in", "sum", size), InputSize("more", "max_file_size", 10)),
                    limit_bytes=2 * size, peak_bytes=size * 3 // 2, rule_type="limit")
        for i, size in enumerate(range(40 * 2**20, (40 + 10 * runs) * 2**20, 10 * 2**20))
    )  # fmt: skip


def _sized(history: tuple[Observation, ...], *, enabled: bool = True) -> Decision:
    message = measured(("in", "sum", 100 * 2**20), ("more", "max_file_size", 10))
    return decided(
        run(SCALED),
        world(pods=(measure_pod(Phase.SUCCEEDED, message),), history=history,
              right_sizing=RightSizingSettings(enabled=enabled, min_runs=5)),
    )  # fmt: skip


def test_right_sizing_uses_the_learned_rule_once_enough_runs_have_peaks() -> None:
    rules = _sized(_history(6), enabled=False)
    learned = _sized(_history(6))
    assert learned.status.memory is not None and rules.status.memory is not None
    assert learned.status.memory.sized_by == "learned"
    assert any(line.startswith("right-sizing: learned from 6 runs") for line in learned.status.memory.explanation)
    as_bytes = {
        m: int(m.removesuffix("Mi")) for m in (learned.status.memory.limit or "", rules.status.memory.limit or "")
    }
    assert as_bytes[learned.status.memory.limit or ""] < as_bytes[rules.status.memory.limit or ""]
    container = learned.actions[0].manifest["spec"]["containers"][0]  # type: ignore[union-attr]
    assert container["resources"]["limits"]["memory"] == learned.status.memory.limit


def test_right_sizing_waits_for_enough_runs_and_says_so() -> None:
    few = _sized(_history(3))
    assert few.status.memory is not None and few.status.memory.sized_by == "rules"
    assert any("3 of 5 runs" in line for line in few.status.memory.explanation)


def test_right_sizing_hands_back_to_the_rules_after_an_oom_kill() -> None:
    retrying = running_status(attempts=2, oomKills=1, podName=A1, reason="Retrying",
                              measurements=[{"channel": "in", "mode": "sum", "bytes": 100 * 2**20},
                                            {"channel": "more", "mode": "max_file_size", "bytes": 10}])  # fmt: skip
    decision = decided(
        run({**SCALED, "retries": {"limit": 2}}, status=retrying),
        world(pods=(pod(1),), history=_history(6), right_sizing=RightSizingSettings(enabled=True, min_runs=5)),
    )
    assert decision.status.memory is not None and decision.status.memory.sized_by == "oom-escalation"


def test_the_agents_peaks_survive_the_operators_memory_write() -> None:
    recorded = {"memory": {"peak": "20Mi", "peaks": [{"attempt": 1, "pod": A1, "peakBytes": 20 * 2**20,
                                                       "peak": "20Mi", "source": "cgroup v1 pod"}]}}  # fmt: skip
    before = run({"retries": {"limit": 1}}, status=running_status(attempts=2, reason="Retrying", **recorded))
    decision = decided(before, world(pods=(pod(1),)))
    assert decision.status.memory is not None and decision.status.memory.peak == "20Mi"
    assert "peaks" not in status_patch(before.status, decision.status).get("memory", {})


def test_a_run_that_finishes_comes_back_when_its_ttl_is_due() -> None:
    """Nothing else wakes a finished run (the echo of the final status write is ignored as our own)."""
    done = pod(phase=Phase.SUCCEEDED, reason=R.SUCCEEDED, exit_code=0)
    decision = decided(run({"ttlSecondsAfterFinished": 30}, status=running_status()), world(pods=(done,)))
    assert decision.status.reason == "Succeeded" and decision.requeue_after == 30.5
    no_ttl = decided(run(status=running_status()), world(pods=(done,)))
    assert no_ttl.requeue_after is None


@pytest.mark.parametrize(
    ("spec", "status", "meta", "needed"),
    [
        ({}, None, {}, True),  # unfinished
        ({}, finished_status(), {}, False),  # settled
        ({"ttlSecondsAfterFinished": 60}, finished_status(), {}, True),  # its TTL is still to come
        ({"ttlSecondsAfterFinished": 60}, finished_status(podDeletedAt="2026-01-01T12:00:00Z"), {}, False),
        ({}, finished_status(), {"generation": 2}, True),  # an edited spec to mark observed
    ],
)
def test_which_watch_events_call_for_a_pass(
    spec: dict[str, Any], status: dict[str, Any] | None, meta: dict[str, Any], needed: bool
) -> None:
    assert needs_pass(run(spec, status=status, meta=meta)) is needed


def test_the_short_pass_waits_for_the_attempt_to_be_recorded() -> None:
    """A retry's pod created by a pass whose status write was lost: the status still names the earlier attempt's pod,
    so the short pass (pod only, nothing else read) does not take it; the full pass records its memory first."""
    recorded = run(status={"attempts": 2, "podName": task_pod_name(NAME, 1), "reason": "Pending"})
    assert current_pod(recorded, (pod(attempt=2),)) is None
    settled = run(status={"attempts": 2, "podName": task_pod_name(NAME, 2), "reason": "Pending"})
    assert current_pod(settled, (pod(attempt=2),)) == pod(attempt=2)


# -- volumes and pull policy a TaskRun names -------------------------------------------------------------------------

NFS_IN = {"name": "in", "nfs": {"server": "nfs.example", "path": "/exports/a", "subPath": "x", "readOnly": True}}
NFS_OUT = {"name": "out", "nfs": {"server": "nfs.example", "path": "/exports/b"}}
RO_CLAIM = {"name": "in", "persistentVolumeClaim": {"claimName": "data", "readOnly": True}}


def _task_pod(spec: dict[str, Any]) -> tuple[dict[str, Any], Decision]:
    decision = decided(run(spec), world())
    (create,) = decision.actions
    assert isinstance(create, CreatePod)
    return dict(create.manifest), decision


@pytest.mark.parametrize(
    ("spec", "volumes", "recorded_out"),
    [
        (
            {"inputs": [NFS_IN], "outputs": [NFS_OUT]},
            [{"nfs": {"server": "nfs.example", "path": "/exports/a", "readOnly": True}},
             {"nfs": {"server": "nfs.example", "path": "/exports/b", "readOnly": False}}],
            {"name": "out", "nfsServer": "nfs.example", "nfsPath": "/exports/b"},
        ),
        (
            {"inputs": [RO_CLAIM], "outputs": [{"name": "out", "persistentVolumeClaim": {"claimName": "results"}}]},
            [{"persistentVolumeClaim": {"claimName": "data", "readOnly": True}},
             {"persistentVolumeClaim": {"claimName": "results", "readOnly": False}}],
            {"name": "out", "claimName": "results"},
        ),
    ],
    ids=["nfs", "read-only-claim"],
)  # fmt: skip
def test_bound_volumes_reach_the_pod_and_the_status(
    spec: dict[str, Any], volumes: list[dict[str, Any]], recorded_out: dict[str, Any]
) -> None:
    manifest, decision = _task_pod(spec)
    task_volumes = [{k: v for k, v in vol.items() if k != "name"} for vol in manifest["spec"]["volumes"]]
    for expected in volumes:
        assert expected in task_volumes
    (out,) = decision.status.outputs
    assert out.model_dump(by_alias=True, exclude_none=True) == recorded_out


@pytest.mark.parametrize(("given", "expected"), [(None, "IfNotPresent"), ("Always", "Always"), ("Never", "Never")])
def test_the_pull_policy_reaches_the_task_container(given: str | None, expected: str) -> None:
    manifest, _ = _task_pod({"imagePullPolicy": given} if given else {})
    (task,) = [c for c in manifest["spec"]["containers"] if c["name"] == "task"]
    assert task["imagePullPolicy"] == expected
