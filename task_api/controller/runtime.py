"""The operator's work loops (I/O): watch events go into work queues; workers reconcile one key at a time.

This is the edge where watched objects become typed: a TaskRun body is parsed once into a
:class:`~task_api.spec.crd.taskrun.TaskRunResource` when its event arrives, a pod into an
:class:`~task_api.core.taskrun.observed_pods.ObservedPod`; nothing below works on raw dictionaries.

Why a queue between kopf and the reconcilers: kopf delivers every event (pods report several per run); the queue
folds bursts for the same TaskRun into one reconcile, bounds concurrency, and gives each key backoff on failure —
the semantics of client-go's work queue, which Kubernetes controllers are built on.

Memory stays flat as finished runs pile up: a run's typed copy is held only while it is unfinished, and the
"who waits for whom" index holds only unfinished runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from task_api.controller.finish import Finisher
from task_api.controller.metrics import Metrics
from task_api.controller.pod_index import PodIndex, RunKey
from task_api.controller.processing_containers import ProcessingContainerReconciler
from task_api.controller.taskruns import Reconciled, TaskRunReconciler
from task_api.controller.workqueue import WorkQueue
from task_api.core.taskrun.conditions import is_finished
from task_api.core.taskrun.decide import needs_pass
from task_api.core.taskrun.observed_pods import observe_pod
from task_api.kube import Conflict, KubeApiError, KubeClient, NotFound
from task_api.kube.taskruns import taskrun_path
from task_api.kube.templates import processing_container_path
from task_api.spec.crd.processing_container import ProcessingContainerResource
from task_api.spec.crd.taskrun import TaskRunResource

log = logging.getLogger(__name__)

#: A watched object as kopf delivers it (plain JSON); parsed at once, here.
Body = Mapping[str, object]
#: How many finished runs' uids are remembered (their pods' events are then ignored without a GET).
_FINISHED_REMEMBERED = 50_000


@dataclass(frozen=True)
class _Unreadable:
    """A TaskRun whose body does not parse (the API server's schema and this operator's models disagree, e.g.
    during an upgrade): reported in the log, never reconciled on guesses."""

    error: str


class Runtime:
    """I/O: queues, workers and the event entry points the kopf handlers call."""

    def __init__(
        self,
        *,
        kube: KubeClient,
        taskruns: TaskRunReconciler,
        processing_containers: ProcessingContainerReconciler,
        pods: PodIndex,
        finish: Finisher,
        metrics: Metrics,
        workers: int = 16,
    ) -> None:
        self.kube = kube
        self.finish = finish
        self.taskruns = taskruns
        self.pcs = processing_containers
        self.pods = pods
        self.metrics = metrics
        self.workers = workers
        self.tr_queue: WorkQueue[RunKey] = WorkQueue()
        self.pc_queue: WorkQueue[RunKey] = WorkQueue()
        # The latest known copy of every *unfinished* TaskRun (from its watch, or as our own status writes left
        # it), so a reconcile woken by a pod event needs no GET. Finished runs are dropped: memory stays flat.
        self._runs: dict[RunKey, TaskRunResource | _Unreadable] = {}
        # The resourceVersion our own last status write produced for a run: the watch event echoing it carries
        # nothing the cached copy lacks, so it wakes no reconcile (and never replaces a fresher copy).
        self._own_versions: dict[RunKey, str] = {}
        self._pcons: dict[RunKey, ProcessingContainerResource] = {}
        # (kind, namespace, name) -> TaskRuns waiting for that object (upstream runs, ProcessingContainers).
        self._waiters: defaultdict[tuple[str, str, str], set[RunKey]] = defaultdict(set)
        # The uids of runs known to be finished (bounded): their pods' events wake nothing.
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self.alive = False

    # ------------------------------------------------------------------ events (called by kopf handlers)

    def taskrun_event(self, event_type: str | None, body: Body) -> None:
        key = _key(body)
        if event_type == "DELETED":
            self.tr_queue.discard(key)
            self._runs.pop(key, None)
            self._own_versions.pop(key, None)
            self._forget_waiter(key)
            self._wake("TaskRun", key)
            return
        self.metrics.observe_usage(body)
        try:
            run: TaskRunResource | _Unreadable = TaskRunResource.model_validate(body)
        except ValidationError as exc:
            run = _Unreadable(str(exc))
        if isinstance(run, TaskRunResource):
            if is_finished(run.status):
                self._wake("TaskRun", key)
                self._finished_run(key, run.metadata.uid)
                if not needs_pass(run):
                    return  # finished and settled: no pass, no GET, nothing kept (a resync costs nothing)
            if run.metadata.resource_version == self._own_versions.get(key):
                return  # the echo of our own write: the cached copy is as new or newer
        self._runs[key] = run
        self.tr_queue.add(key)

    def pod_event(self, event_type: str | None, body: Body) -> None:
        pod = observe_pod(body)
        if pod.owner_uid in self._finished:
            self.pods.gone(pod)  # a finished run's pod: nothing decides on it any more
            return
        key = self.pods.gone(pod) if event_type == "DELETED" else self.pods.seen(pod)
        if key is not None:
            self.tr_queue.add(key)

    def _finished_run(self, key: RunKey, uid: str) -> None:
        """Remember a run as finished (bounded), and let its pods go from the index."""
        self._finished[uid] = None
        self._finished.move_to_end(uid)
        if len(self._finished) > _FINISHED_REMEMBERED:
            self._finished.popitem(last=False)
        self.pods.forget(key)

    def processing_container_event(self, event_type: str | None, body: Body) -> None:
        key = _key(body)
        if event_type == "DELETED":
            self.pc_queue.discard(key)
            self._pcons.pop(key, None)
            self._wake("ProcessingContainer", key)
            return
        try:
            self._pcons[key] = ProcessingContainerResource.model_validate(body)
        except ValidationError as exc:
            log.warning("ProcessingContainer %s/%s does not parse, skipped: %s", *key, exc)
            return
        self.pc_queue.add(key)

    def _wake(self, kind: str, key: RunKey) -> None:
        for waiter in self._waiters.pop((kind, *key), set()):
            self.tr_queue.add(waiter)

    def _forget_waiter(self, key: RunKey) -> None:
        emptied = []
        for target, waiting in self._waiters.items():
            waiting.discard(key)
            if not waiting:
                emptied.append(target)
        for target in emptied:  # an entry per object once waited on would pile up as runs come and go
            del self._waiters[target]

    def held(self) -> dict[str, int]:
        """How many entries the per-object state holds, by container: all of it but ``finished uids`` (a bounded
        LRU of a few bytes a run) must come back to 0 once every run is finished and settled."""
        return {
            "runs": len(self._runs),
            "own versions": len(self._own_versions),
            "waiters": sum(len(waiting) for waiting in self._waiters.values()) + len(self._waiters),
            "pods": len(self.pods),
            "queued keys": self.tr_queue.keys_held(),
            "finished uids": len(self._finished),
        }

    # ------------------------------------------------------------------ workers

    def start(self) -> None:
        self.alive = True
        for index in range(self.workers):
            self._tasks.append(asyncio.create_task(self._tr_worker(), name=f"taskrun-worker-{index}"))
        for index in range(max(1, self.workers // 4)):
            self._tasks.append(asyncio.create_task(self._pc_worker(), name=f"pcon-worker-{index}"))

    async def stop(self) -> None:
        self.alive = False
        self.tr_queue.shutdown()
        self.pc_queue.shutdown()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.finish.drain()  # events still being posted, before the client closes

    async def _tr_worker(self) -> None:
        while True:
            key = await self.tr_queue.get()
            self.metrics.queue_depth.labels(kind="TaskRun").set(len(self.tr_queue))
            started = time.perf_counter()
            outcome = "error"
            try:
                outcome = await self._process_taskrun(key)
                self.tr_queue.forget_conflicts(key)
            except NotFound:
                self.tr_queue.discard(key)
                outcome = "gone"
            except Conflict:
                # Decided on a stale copy: look again at a fresh one, after a per-key backoff that starts at a few
                # milliseconds, so a writer that keeps colliding with another (a second operator, a client patching
                # in a loop) drifts apart from it instead of spinning.
                self._runs.pop(key, None)
                self.tr_queue.add_after_conflict(key)
                outcome = "conflict"
            except KubeApiError as exc:
                self._runs.pop(key, None)
                delay = self.tr_queue.add_rate_limited(key)
                log.warning("TaskRun %s/%s: %s (retrying in %.1fs)", *key, exc, delay)
            except Exception:  # a bug must not stop the worker: log it with its traceback, back off, go on
                self._runs.pop(key, None)
                delay = self.tr_queue.add_rate_limited(key)
                log.exception("TaskRun %s/%s: unexpected error (retrying in %.1fs)", *key, delay)
            finally:
                self.tr_queue.done(key)
                self.metrics.reconciles.labels(kind="TaskRun", result=outcome).inc()
                self.metrics.reconcile_seconds.labels(kind="TaskRun").observe(time.perf_counter() - started)

    async def _current(self, key: RunKey) -> TaskRunResource | _Unreadable:
        cached = self._runs.pop(key, None)
        if cached is not None:
            return cached
        body = await self.kube.get(taskrun_path(*key))
        try:
            return TaskRunResource.model_validate(body)
        except ValidationError as exc:
            return _Unreadable(str(exc))

    async def _process_taskrun(self, key: RunKey) -> str:
        """Reconcile one run and file what comes next (requeue, backoff, waiting); returns the metric's result."""
        run = await self._current(key)
        if isinstance(run, _Unreadable):
            log.warning("TaskRun %s/%s does not match this operator's schema, skipped: %s", *key, run.error)
            return "error"
        result = await self.taskruns.reconcile(run)
        self._remember(key, run, result)
        decision = result.decision
        self._forget_waiter(key)
        if not decision.finished:
            namespace = key[0]
            for upstream in decision.waiting_on:
                self._waiters[("TaskRun", namespace, upstream)].add(key)
            ref = run.spec.processing_container_ref
            if ref is not None:
                self._waiters[("ProcessingContainer", namespace, ref.name)].add(key)
        if decision.backoff:
            self.tr_queue.add_rate_limited(key)
            return "requeue"
        self.tr_queue.forget(key)
        if decision.requeue_after is not None:
            self.tr_queue.add_after(key, decision.requeue_after)
            return "requeue"
        return "ok"

    def _remember(self, key: RunKey, run: TaskRunResource, result: Reconciled) -> None:
        if result.decision.finished:
            self._own_versions.pop(key, None)
            self._finished_run(key, run.metadata.uid)
            return
        latest = result.run or run
        if result.run is not None and result.run.metadata.resource_version:
            self._own_versions[key] = result.run.metadata.resource_version
        if key not in self._runs:
            self._runs[key] = latest  # as our own write left it (a newer watch event, if any, replaces it)

    async def _pc_worker(self) -> None:
        while True:
            key = await self.pc_queue.get()
            outcome = "ok"
            started = time.perf_counter()
            try:
                outcome = await self._process_processing_container(key)
            except NotFound:
                self.pc_queue.discard(key)
            except KubeApiError as exc:
                delay = self.pc_queue.add_rate_limited(key)
                log.warning("ProcessingContainer %s/%s: %s (retrying in %.1fs)", *key, exc, delay)
                outcome = "error"
            except Exception:  # a bug must not stop the worker: log it with its traceback, back off, go on
                delay = self.pc_queue.add_rate_limited(key)
                log.exception("ProcessingContainer %s/%s: unexpected error (retrying in %.1fs)", *key, delay)
                outcome = "error"
            finally:
                self.pc_queue.done(key)
                self.metrics.reconciles.labels(kind="ProcessingContainer", result=outcome).inc()
                self.metrics.reconcile_seconds.labels(kind="ProcessingContainer").observe(time.perf_counter() - started)

    async def _process_processing_container(self, key: RunKey) -> str:
        pcon = self._pcons.pop(key, None)
        if pcon is None:
            pcon = ProcessingContainerResource.model_validate(await self.kube.get(processing_container_path(*key)))
        decision = await self.pcs.reconcile(pcon)
        if decision.ready is not None:
            self._wake("ProcessingContainer", key)
        if decision.backoff:
            self.pc_queue.add_rate_limited(key)
            return "requeue"
        self.pc_queue.forget(key)
        return "ok"


def _key(body: Body) -> RunKey:
    """Pure: a watched object's (namespace, name)."""
    meta = body.get("metadata")
    if not isinstance(meta, Mapping):
        return ("", "")
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
