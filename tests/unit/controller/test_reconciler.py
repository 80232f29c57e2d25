"""The whole reconciler in-process, against a fake API server (tests/fakes/kube_api.py) behind the same client:
restarts at every step, Conflicts, names held by others, cancel and TTL — the branches a real cluster cannot be made
to take on purpose. The real-cluster suites (tests/e2e, tests/chaos) cover the same operator end to end."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from task_api.controller.app import build_runtime
from task_api.controller.config import OperatorConfig
from task_api.controller.metrics import Metrics
from task_api.controller.pod_index import PodIndex
from task_api.controller.prepare import BUSY_RETRY_SECONDS, Preparer
from task_api.controller.runtime import Runtime
from task_api.controller.taskruns import TaskRunReconciler
from task_api.core.taskrun.observed_pods import observe_pod
from task_api.core.taskrun.world import Halt
from task_api.image.settings import InspectionSettings
from task_api.kube import ClusterAccess, Conflict, KubeClient
from task_api.kube.templates import TemplateResolver, TemplateUnavailable
from task_api.spec.crd import TaskRunResource
from tests.fakes.kube_api import FakeApiServer, OperatorCrashed
from tests.unit.core.taskrun_fixtures import CONTAINER, IMAGE, NS

CRD = "/apis/task-api.io/v1alpha1"
CORE = "/api/v1"
CONFIG = OperatorConfig(measure_image="reg.example/operator:1", workers=4)


def processing_container() -> dict[str, Any]:
    templates = [t.model_dump(mode="json", exclude_none=True, by_alias=True) for t in CONTAINER.templates]
    return {
        "apiVersion": "task-api.io/v1alpha1",
        "kind": "ProcessingContainer",
        "metadata": {"name": "hello", "namespace": NS, "generation": 1},
        "spec": {"image": "reg.example/hello:1"},
        "status": {
            "observedGeneration": 1,
            "conditions": [{"type": "Ready", "status": "True", "reason": "Inspected", "message": ""}],
            "resolvedImage": IMAGE,
            "digest": "sha256:" + "a" * 64,
            "templates": templates,
        },
    }


def taskrun(name: str = "hello", /, **spec: object) -> dict[str, Any]:
    return {
        "apiVersion": "task-api.io/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "processingContainerRef": {"name": "hello"},
            "taskTemplate": "checksum",
            "inputs": [{"name": "in", "persistentVolumeClaim": {"claimName": "data"}}],
            **spec,
        },
    }


SCALED: dict[str, object] = {
    "taskTemplate": "scaled",
    "inputs": [
        {"name": "in", "persistentVolumeClaim": {"claimName": "data"}},
        {"name": "more", "persistentVolumeClaim": {"claimName": "data", "subPath": "more"}},
    ],
}


def claim(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "status": {"phase": "Bound"},
    }


def bed(*runs: dict[str, Any], claims: tuple[str, ...] = ("data", "task-api-workspace")) -> FakeApiServer:
    fake = FakeApiServer()
    fake.put(CRD, NS, "processingcontainers", processing_container())
    for name in claims:
        fake.put(CORE, NS, "persistentvolumeclaims", claim(name))
    for body in runs:
        fake.put(CRD, NS, "taskruns", body)
    return fake


def client(fake: FakeApiServer) -> KubeClient:
    return KubeClient(ClusterAccess(server="http://fake.invalid"), transport=fake.transport())


def kubelet(fake: FakeApiServer, *, outcome: str = "ok") -> None:
    """One step of a node: pending pods start, running ones end (``oom``: task pods are OOM-killed)."""
    for pod in fake.items(CORE, NS, "pods"):
        name, phase = pod["metadata"]["name"], pod["status"].get("phase")
        container = pod["spec"]["containers"][0]["name"]
        if phase == "Pending":
            running = {"name": container, "state": {"running": {"startedAt": "2026-01-01T12:00:01Z"}}}
            fake.update(CORE, NS, "pods", name, {"status": {"phase": "Running", "containerStatuses": [running]}})
        elif phase == "Running":
            if container == "measure":
                message = json.dumps(
                    [{"channel": "in", "mode": "sum", "measured_bytes": 2**20, "files_counted": 2},
                     {"channel": "more", "mode": "max_file_size", "measured_bytes": 10, "files_counted": 1}]
                )  # fmt: skip
                ended = {"exitCode": 0, "message": message}
            elif outcome == "oom":
                ended = {"exitCode": 137, "reason": "OOMKilled"}
            else:
                ended = {"exitCode": 0, "reason": "Completed"}
            done = "Succeeded" if ended["exitCode"] == 0 else "Failed"
            status = {"phase": done, "containerStatuses": [{"name": container, "state": {"terminated": ended}}]}
            fake.update(CORE, NS, "pods", name, {"status": status})


def reconciler(fake: FakeApiServer, kube: KubeClient) -> tuple[TaskRunReconciler, Runtime]:
    runtime = build_runtime(kube, CONFIG, Metrics())
    return runtime.taskruns, runtime


async def drive(fake: FakeApiServer, name: str = "hello", *, passes: int = 40, outcome: str = "ok") -> TaskRunResource:
    """Reconcile the run pass after pass (the pod index fed from the fake, as the watch would) until it is
    finished; a node moves the pods on between passes."""
    async with client(fake) as kube:
        taskruns, runtime = reconciler(fake, kube)
        for _ in range(passes):
            for pod in fake.items(CORE, NS, "pods"):
                runtime.pods.seen(observe_pod(pod))
            run = TaskRunResource.model_validate(fake.get(CRD, NS, "taskruns", name))
            try:
                result = await taskruns.reconcile(run)
            except Conflict:
                continue
            if result.decision.finished and result.decision.requeue_after is None:
                await runtime.finish.drain()
                return TaskRunResource.model_validate(fake.get(CRD, NS, "taskruns", name))
            kubelet(fake, outcome=outcome)
    raise AssertionError(f"not finished after {passes} passes: {fake.get(CRD, NS, 'taskruns', name)}")


def run_async(factory: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(factory())  # type: ignore[arg-type]


def test_a_run_goes_from_pod_to_succeeded_with_one_pod() -> None:
    fake = bed(taskrun())
    done = run_async(lambda: drive(fake))
    assert done.status.reason == "Succeeded"
    assert fake.created["pods"] == ["hello-a1"]
    assert done.status.exit_code == 0


def test_a_scaled_run_measures_once_then_removes_the_measuring_pod() -> None:
    fake = bed(taskrun(**SCALED))
    done = run_async(lambda: drive(fake))
    assert done.status.reason == "Succeeded"
    assert fake.created["pods"] == ["hello-measure", "hello-a1"]
    assert fake.get(CORE, NS, "pods", "hello-measure") is None
    assert [m.channel for m in done.status.measurements] == ["in", "more"]


def test_oom_kills_retry_with_more_memory_until_the_limit() -> None:
    fake = bed(taskrun(retries={"limit": 2, "memoryFactor": 2}))
    done = run_async(lambda: drive(fake, outcome="oom"))
    assert done.status.reason == "OOMKilled"
    assert fake.created["pods"] == ["hello-a1", "hello-a2", "hello-a3"]
    pods = [fake.get(CORE, NS, "pods", p) or {} for p in ("hello-a1", "hello-a2", "hello-a3")]
    limits = [p["spec"]["containers"][0]["resources"]["limits"]["memory"] for p in pods]
    assert limits == ["64Mi", "128Mi", "256Mi"]
    assert (done.status.attempts, done.status.oom_kills) == (3, 3)


@pytest.mark.parametrize("spec", [{}, SCALED, {"retries": {"limit": 1}}], ids=["plain", "scaled", "retry"])
def test_a_restart_after_any_write_never_yields_a_second_pod(spec: dict[str, object]) -> None:
    """The operator dies right after its k-th write, for every k; a fresh operator (empty caches) carries on."""
    outcome = "oom" if spec.get("retries") else "ok"
    clean = bed(taskrun(**spec))
    expected = run_async(lambda: drive(clean, outcome=outcome))
    writes = sum(1 for r in clean.requests if not r.startswith("GET"))
    for k in range(1, writes + 1):
        fake = bed(taskrun(**spec))
        fake.crash_after_writes = k
        with contextlib.suppress(OperatorCrashed):
            run_async(lambda fake=fake: drive(fake, outcome=outcome))  # type: ignore[misc]
        done = run_async(lambda fake=fake: drive(fake, outcome=outcome))  # type: ignore[misc]
        created = Counter(fake.created.get("pods", []))
        assert all(n == 1 for n in created.values()), (k, created)
        assert set(created) == set(clean.created["pods"]), (k, created)
        assert done.status.reason == expected.status.reason, k
        # The status tells the same story as without the crash: a pod created by the operator that died before it
        # recorded it is adopted with everything its creation records (what ran, where the outputs went, memory).
        assert _story(done) == _story(expected), k


def _story(run: TaskRunResource) -> dict[str, Any]:
    """What a finished run's status says, the run's own uid (part of workspace paths) left out."""
    status = run.status
    memory = status.memory
    uid = (run.metadata.uid or "")[:8]

    def located(items: Any) -> list[str]:
        return [json.dumps(i.model_dump(), sort_keys=True).replace(uid, "<uid>") for i in items]

    return {
        "attempts": status.attempts,
        "oom_kills": status.oom_kills,
        "template": status.template,
        "image": status.image,
        "image_digest": status.image_digest,
        "outputs": located(status.outputs),
        "inputs": located(status.inputs),
        "pod_name": status.pod_name,
        "memory": (memory.request, memory.limit) if memory else None,
        "started": bool(status.start_time),
        "measurements": [m.model_dump() for m in status.measurements],
    }


def test_a_conflict_is_decided_again_on_fresh_data() -> None:
    """The user cancels between the operator's read and its write: the write fails, the next pass cancels."""
    fake = bed(taskrun())
    run_async(lambda: _first_pass(fake))
    kubelet(fake)

    def cancel_first(method: str, path: str, body: Any) -> None:
        if method == "PATCH" and path.endswith("/status") and fake.before_write is not None:
            fake.before_write = None
            fake.update(CRD, NS, "taskruns", "hello", {"spec": {"cancelled": True}})

    fake.before_write = cancel_first
    done = run_async(lambda: drive(fake))
    assert done.status.reason == "Cancelled"
    assert any(r.startswith("PATCH") for r in fake.requests)
    assert fake.items(CORE, NS, "pods") == []


async def _first_pass(fake: FakeApiServer) -> None:
    async with client(fake) as kube:
        taskruns, _ = reconciler(fake, kube)
        await taskruns.reconcile(TaskRunResource.model_validate(fake.get(CRD, NS, "taskruns", "hello")))


def test_a_pod_left_by_a_deleted_namesake_is_not_adopted() -> None:
    fake = bed(taskrun())
    stale = {
        "metadata": {
            "name": "hello-a1",
            "labels": {"task-api.io/role": "task", "task-api.io/taskrun-uid": "old-uid"},
            "ownerReferences": [{"kind": "TaskRun", "name": "hello", "uid": "old-uid", "controller": True}],
        },
        "spec": {"containers": [{"name": "task", "image": "x"}]},
        "status": {"phase": "Succeeded", "containerStatuses": [
            {"name": "task", "state": {"terminated": {"exitCode": 0}}}]},
    }  # fmt: skip
    fake.put(CORE, NS, "pods", stale)

    async def two_passes() -> TaskRunResource:
        async with client(fake) as kube:
            taskruns, _ = reconciler(fake, kube)  # an empty pod index: the create finds the name taken
            await taskruns.reconcile(TaskRunResource.model_validate(fake.get(CRD, NS, "taskruns", "hello")))
            return TaskRunResource.model_validate(fake.get(CRD, NS, "taskruns", "hello"))

    waiting = run_async(two_passes)
    assert waiting.status.reason == "Pending"
    assert "belongs to another object" in waiting.status.conditions[0].message
    assert not waiting.status.pod_name
    fake.remove(CORE, NS, "pods", "hello-a1")  # the garbage collector removes the orphan
    done = run_async(lambda: drive(fake))
    assert done.status.reason == "Succeeded"
    assert fake.created["pods"] == ["hello-a1"]


def test_cancel_stops_a_pod_the_status_never_recorded() -> None:
    """Crash right after the pod was created, before the status named it; then the run is cancelled."""
    fake = bed(taskrun())
    fake.crash_after_writes = 1
    with pytest.raises(OperatorCrashed):
        run_async(lambda: _first_pass(fake))
    assert fake.get(CORE, NS, "pods", "hello-a1") is not None
    assert not (fake.get(CRD, NS, "taskruns", "hello") or {}).get("status", {}).get("podName")
    fake.update(CRD, NS, "taskruns", "hello", {"spec": {"cancelled": True}})
    done = run_async(lambda: drive(fake))
    assert done.status.reason == "Cancelled"
    assert fake.items(CORE, NS, "pods") == []


def test_the_ttl_removes_every_attempts_pod() -> None:
    """The pass that finishes the run asks to come back when the TTL is due (nothing else would wake it); that pass
    deletes the pods of every attempt, found by the run's uid label."""
    fake = bed(taskrun(retries={"limit": 1}, ttlSecondsAfterFinished=0))
    done = run_async(lambda: drive(fake, outcome="oom"))
    assert fake.created["pods"] == ["hello-a1", "hello-a2"]
    assert fake.items(CORE, NS, "pods") == []
    assert done.status.pod_deleted_at
    assert any("labelSelector=task-api.io/taskrun-uid=" in r for r in fake.requests)


def test_events_are_posted_once_per_transition() -> None:
    fake = bed(taskrun())
    run_async(lambda: drive(fake))

    async def settle() -> None:
        await asyncio.sleep(0)

    run_async(settle)
    reasons = [e["reason"] for e in fake.items(CORE, NS, "events")]
    assert reasons == ["Succeeded"], reasons  # start and running are in the status; one Event per successful run


def test_the_work_loop_runs_a_burst_from_watch_events_alone() -> None:
    """The runtime with its queues and workers, fed by the fake's in-process watch: 20 runs, one pod each."""
    names = [f"run-{i}" for i in range(20)]
    fake = bed()

    async def scenario() -> None:
        async with client(fake) as kube:
            runtime = build_runtime(kube, CONFIG, Metrics())
            loop = asyncio.get_running_loop()

            def watch(event: str, plural: str, obj: dict[str, Any]) -> None:
                kind = {"taskruns": runtime.taskrun_event, "pods": runtime.pod_event,
                        "processingcontainers": runtime.processing_container_event}.get(plural)  # fmt: skip
                if kind is not None:
                    kind(None if event == "ADDED" else event, obj)
                if plural == "pods" and event != "DELETED":
                    loop.call_later(0.01, kubelet, fake)

            fake.on_change = watch
            runtime.start()
            for name in names:
                fake.put(CRD, NS, "taskruns", taskrun(name))
            for _ in range(500):
                runs = [fake.get(CRD, NS, "taskruns", n) or {} for n in names]
                if all((r.get("status") or {}).get("reason") == "Succeeded" for r in runs):
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)  # the last events (the final status's echo, pods ending) arrive
            held.update(runtime.held())
            await runtime.stop()

    held: dict[str, int] = {}
    run_async(scenario)
    # Nothing per finished run is kept but its uid (so its pods' late events wake nothing): memory stays flat.
    assert held == {"runs": 0, "own versions": 0, "waiters": 0, "pods": 0, "queued keys": 0, "finished uids": 20}
    reasons = Counter((fake.get(CRD, NS, "taskruns", n) or {}).get("status", {}).get("reason") for n in names)
    assert reasons == Counter({"Succeeded": 20})
    assert sorted(fake.created["pods"]) == sorted(f"{n}-a1" for n in names)
    # One create per run: a pass that comes before the pod's watch event finds the pod it just made (no
    # AlreadyExists round trips), and once the pod exists no pass reads the template again.
    assert sum(r == f"POST /api/v1/namespaces/{NS}/pods" for r in fake.requests) == len(names)
    template_reads = sum(r.endswith("/processingcontainers/hello") and r.startswith("GET") for r in fake.requests)
    assert template_reads <= 2 * len(names), template_reads


def test_a_run_waits_for_its_claim_and_starts_once_it_exists() -> None:
    fake = bed(taskrun(), claims=("task-api-workspace",))
    run_async(lambda: _first_pass(fake))
    waiting = (fake.get(CRD, NS, "taskruns", "hello") or {})["status"]
    assert waiting["reason"] == "WaitingForClaim"
    assert "PersistentVolumeClaim 'data' not found" in waiting["conditions"][0]["message"]
    assert "pods" not in fake.created  # nothing was created for a run that cannot start
    fake.put(CORE, NS, "persistentvolumeclaims", claim("data"))
    assert run_async(lambda: drive(fake)).status.reason == "Succeeded"


def test_runs_that_wait_for_each_other_fail_as_a_cycle() -> None:
    fake = bed(
        taskrun("a", inputs=[{"name": "in", "fromTaskRun": {"name": "b", "output": "out"}}]),
        taskrun("b", inputs=[{"name": "in", "fromTaskRun": {"name": "c", "output": "out"}}]),
        taskrun("c", inputs=[{"name": "in", "fromTaskRun": {"name": "a", "output": "out"}}]),
    )
    done = run_async(lambda: drive(fake, "a"))
    assert done.status.reason == "UpstreamCycle"
    assert "a → b → c → a" in done.status.conditions[0].message


def test_a_quota_of_two_pods_queues_six_runs_and_all_succeed() -> None:
    """Refused creations wait for room (WaitingForQuota), never fail; never more than two pods at once."""
    names = [f"q-{i}" for i in range(6)]
    fake = bed(*(taskrun(n, ttlSecondsAfterFinished=0) for n in names))
    fake.pod_quota = 2
    reasons_seen: set[str] = set()
    fake.on_change = lambda event, plural, obj: reasons_seen.add(str((obj.get("status") or {}).get("reason")))

    async def rounds() -> None:
        async with client(fake) as kube:
            taskruns, runtime = reconciler(fake, kube)
            for _ in range(60):
                for pod in fake.items(CORE, NS, "pods"):
                    runtime.pods.seen(observe_pod(pod))
                for name in names:
                    run = TaskRunResource.model_validate(fake.get(CRD, NS, "taskruns", name))
                    if run.status.pod_deleted_at:
                        continue
                    with contextlib.suppress(Conflict):
                        await taskruns.reconcile(run)
                for pod in fake.items(CORE, NS, "pods"):
                    if not any(pod["metadata"]["name"].startswith(n) for n in names if _finished(fake, n)):
                        continue
                    runtime.pods.gone(observe_pod(pod))
                kubelet(fake)
                if all(_finished(fake, n) for n in names):
                    break
            await runtime.finish.drain()

    run_async(rounds)
    reasons = Counter((fake.get(CRD, NS, "taskruns", n) or {})["status"]["reason"] for n in names)
    assert reasons == Counter({"Succeeded": 6})
    assert fake.peak_pods == 2
    assert "WaitingForQuota" in reasons_seen  # the queue was used, not bypassed


def _finished(fake: FakeApiServer, name: str) -> bool:
    return bool(((fake.get(CRD, NS, "taskruns", name) or {}).get("status") or {}).get("completionTime"))


def test_a_resync_of_finished_runs_costs_no_request() -> None:
    """An operator restart lists every TaskRun and pod: settled finished runs and their pods wake nothing."""
    fake = bed(*(taskrun(f"done-{i}") for i in range(30)))
    for i in range(30):
        run_async(lambda i=i: drive(fake, f"done-{i}"))  # type: ignore[misc]
    fake.requests.clear()

    async def resync() -> int:
        async with client(fake) as kube:
            runtime = build_runtime(kube, CONFIG, Metrics())
            runtime.start()
            for obj in fake.items(CRD, NS, "taskruns"):
                runtime.taskrun_event(None, obj)
            for obj in fake.items(CORE, NS, "pods"):
                runtime.pod_event(None, obj)
            await asyncio.sleep(0.3)
            queued = len(runtime.tr_queue)
            await runtime.stop()
            return queued + len(runtime.pods)

    assert run_async(resync) == 0
    assert fake.requests == []


def test_conflicts_back_off_per_key_and_the_backoff_resets_after_a_pass() -> None:
    """Another writer keeps changing the run between the operator's read and its write (its watch event not yet
    delivered): each Conflict re-queues the key after a per-key delay doubling from a few milliseconds — never at
    once, so two writers cannot spin — and the count resets once a pass gets through."""
    fake = bed()
    conflicts_left = [3]

    def race(method: str, path: str, body: Any) -> None:
        if method == "PATCH" and path.endswith("/taskruns/hello/status") and conflicts_left[0] > 0:
            conflicts_left[0] -= 1
            stored = fake.get(CRD, NS, "taskruns", "hello") or {}
            stored["metadata"]["resourceVersion"] = str(int(stored["metadata"]["resourceVersion"]) + 100_000)

    async def scenario() -> tuple[list[float], int, float]:
        async with client(fake) as kube:
            metrics = Metrics()
            runtime = build_runtime(kube, CONFIG, metrics)
            delays: list[float] = []
            schedule = runtime.tr_queue.add_after_conflict

            def spy(key: tuple[str, str]) -> float:
                delays.append(schedule(key))
                return delays[-1]

            runtime.tr_queue.add_after_conflict = spy  # type: ignore[method-assign]
            loop = asyncio.get_running_loop()

            def watch(event: str, plural: str, obj: dict[str, Any]) -> None:
                if plural == "taskruns":
                    runtime.taskrun_event(None if event == "ADDED" else event, obj)
                elif plural == "pods":
                    runtime.pod_event(None if event == "ADDED" else event, obj)
                    if event != "DELETED":
                        loop.call_later(0.01, kubelet, fake)

            fake.on_change = watch
            fake.before_write = race
            runtime.start()
            fake.put(CRD, NS, "taskruns", taskrun())
            for _ in range(500):
                if ((fake.get(CRD, NS, "taskruns", "hello") or {}).get("status") or {}).get("reason") == "Succeeded":
                    break
                await asyncio.sleep(0.02)
            left = runtime.tr_queue.conflicts((NS, "hello"))
            await runtime.stop()
            counted = metrics.registry.get_sample_value(
                "task_api_reconciles_total", {"kind": "TaskRun", "result": "conflict"}
            )
            return delays, left, float(counted or 0)

    delays, left, counted = run_async(scenario)
    assert (fake.get(CRD, NS, "taskruns", "hello") or {})["status"]["reason"] == "Succeeded"
    assert delays == [0.005, 0.01, 0.02]
    assert counted == 3
    assert left == 0  # reset by the pass that got through
    assert fake.created["pods"] == ["hello-a1"]


def test_a_host_path_output_fails_the_run_before_any_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "CONFIG", replace(CONFIG, allowed_host_path_roots=("/srv/data",)))
    fake = bed(taskrun(outputs=[{"name": "out", "hostPath": {"path": "/srv/data/out"}}]))
    run = run_async(lambda: drive(fake))
    condition = run.status.conditions[0]
    assert (run.status.reason, condition.status) == ("InvalidSpec", "False")
    assert condition.message.startswith("spec.outputs[0].hostPath.path: outputs cannot go to host paths")
    assert fake.items(CORE, NS, "pods") == []


def test_the_pod_runs_as_the_configured_non_root_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "CONFIG", replace(CONFIG, run_as_user=2000, run_as_group=3000))
    fake = bed(taskrun())
    run = run_async(lambda: drive(fake))
    assert run.status.reason == "Succeeded"
    (pod,) = fake.items(CORE, NS, "pods")
    security = pod["spec"]["containers"][0]["securityContext"]
    assert (security["runAsNonRoot"], security["runAsUser"], security["runAsGroup"]) == (True, 2000, 3000)
    assert pod["spec"]["securityContext"]["fsGroup"] == 3000


# -- registry credentials and inspection (docs/security.md) ----------------------------------------------------------


def basic_auth(name: str, *, opted_in: bool = True, **extra: Any) -> dict[str, Any]:
    labels = {"task-api.io/registry-credentials": "true"} if opted_in else {}
    data = {"username": base64.b64encode(b"u").decode(), "password": base64.b64encode(b"hunter2").decode()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "labels": labels, **extra}, "data": data}


def with_credentials(secret: str) -> dict[str, Any]:
    """A run of the ProcessingContainer (no registry is reached here) whose pods pull with ``secret``'s login."""
    return taskrun(image="reg.example/hello:1", registryCredentialsSecret={"name": secret})


@pytest.mark.parametrize("secret", [None, basic_auth("creds", opted_in=False), {"metadata": {"name": "creds"}}])
def test_a_credentials_secret_is_refused_alike_whether_missing_unlabelled_or_without_keys(
    secret: dict[str, Any] | None,
) -> None:
    fake = bed(with_credentials("creds"))
    if secret is not None:
        fake.put(CORE, NS, "secrets", secret)
    done = run_async(lambda: drive(fake))
    assert (done.status.reason, done.status.conditions[0].message) == (
        "InvalidSpec",
        "registry credentials Secret 'creds' is not usable: it must exist, carry the label "
        "task-api.io/registry-credentials=true, and hold username and password",
    )
    assert fake.created.get("secrets") is None and fake.created.get("pods") is None


def test_the_per_run_registry_secret_is_made_then_deleted_when_the_run_succeeds() -> None:
    fake = bed(with_credentials("creds"))
    fake.put(CORE, NS, "secrets", basic_auth("creds"))
    done = run_async(lambda: drive(fake))
    assert done.status.reason == "Succeeded"
    assert fake.created["secrets"] == ["hello-registry"]
    assert fake.get(CORE, NS, "secrets", "hello-registry") is None
    assert fake.get(CORE, NS, "secrets", "creds") is not None  # the tenant's own Secret stays


def test_a_planted_registry_secret_is_neither_used_nor_deleted() -> None:
    fake = bed(with_credentials("creds"))
    fake.put(CORE, NS, "secrets", basic_auth("creds"))
    fake.put(CORE, NS, "secrets", basic_auth("hello-registry", opted_in=False))
    done = run_async(lambda: drive(fake))
    assert done.status.reason == "InvalidSpec"
    assert "'hello-registry' exists and does not belong to this TaskRun" in done.status.conditions[0].message
    assert fake.created.get("pods") is None
    assert fake.get(CORE, NS, "secrets", "hello-registry") is not None


def test_a_run_finding_no_inspection_slot_waits_with_a_transient_reason() -> None:
    async def scenario() -> TemplateUnavailable:
        async with client(FakeApiServer()) as kube:
            resolver = TemplateResolver(kube, settings=InspectionSettings(slots=1, slots_per_namespace=1))
            assert resolver.gate is not None and resolver.gate.try_acquire(NS)  # a slow inspection holds the slot
            with pytest.raises(TemplateUnavailable) as caught:
                await resolver.for_image(NS, "reg.example/hello:1")
            return caught.value

    refused = run_async(scenario)
    assert (refused.reason.value, refused.cause, refused.transient) == ("ResolvingImage", "InspectionSlotsBusy", True)


def test_a_run_finding_no_inspection_slot_looks_again_shortly_not_after_a_growing_backoff() -> None:
    """Slots free as inspections end: a run that waits for one must not back off to a minute while the runs that
    keep them busy (a slow registry of the same tenant) take every slot that frees."""
    body = taskrun(image="reg.example/hello:1")
    del body["spec"]["processingContainerRef"]  # the image is inspected, not a ProcessingContainer read
    run = TaskRunResource.model_validate(body)

    async def scenario() -> Any:
        async with client(FakeApiServer()) as kube:
            resolver = TemplateResolver(kube, settings=InspectionSettings(slots=1, slots_per_namespace=1))
            assert resolver.gate is not None and resolver.gate.try_acquire(NS)
            preparer = Preparer(kube=kube, templates=resolver, pods=PodIndex(), workspace_claim="task-api-workspace")
            return (await preparer.world(run, datetime.now(UTC))).template

    halt = run_async(scenario)
    assert isinstance(halt, Halt) and halt.transient
    assert (halt.reason.value, halt.retry_after) == ("ResolvingImage", BUSY_RETRY_SECONDS)
