"""The operator's work loops (I/O): kopf's watch events go into work queues; workers reconcile one key at a time.

Why a queue between kopf and the reconcilers: kopf delivers every event (pods report several per run); the queue
folds bursts for the same TaskRun into one reconcile, bounds concurrency, and gives each key backoff on failure —
the semantics of client-go's work queue, which Kubernetes controllers are built on.

Memory stays flat as finished runs pile up: a body is only held while its key waits in the queue, and the
"who waits for whom" index holds only unfinished runs.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from task_api.controller.metrics import Metrics
from task_api.controller.processing_containers import ProcessingContainerReconciler, pc_path
from task_api.controller.taskruns import WRITTEN_VERSIONS, Key, PodHint, TaskRunReconciler, taskrun_path
from task_api.controller.workqueue import WorkQueue
from task_api.core.pod import LABEL_ROLE, ROLE_TASK
from task_api.core.taskrun_status import is_finished
from task_api.kube import Conflict, KubeApiError, KubeClient, NotFound

log = logging.getLogger(__name__)


def owner_taskrun(pod: Mapping[str, Any]) -> Key | None:
    """Pure: the TaskRun controlling a pod, from its ownerReferences."""
    meta = pod.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == "TaskRun" and ref.get("controller"):
            return (meta.get("namespace", ""), ref.get("name", ""))
    return None


class Runtime:
    """I/O: queues, workers and the event entry points the kopf handlers call."""

    def __init__(
        self,
        *,
        kube: KubeClient,
        taskruns: TaskRunReconciler,
        processing_containers: ProcessingContainerReconciler,
        metrics: Metrics,
        workers: int = 16,
    ) -> None:
        self.kube = kube
        self.taskruns = taskruns
        self.pcs = processing_containers
        self.metrics = metrics
        self.workers = workers
        self.tr_queue: WorkQueue[Key] = WorkQueue()
        self.pc_queue: WorkQueue[Key] = WorkQueue()
        # The latest known body of every *unfinished* TaskRun (from its watch, or as our own status writes left
        # it), so a reconcile woken by a pod event needs no GET. Finished runs are dropped: memory stays flat.
        self._tr_bodies: dict[Key, Mapping[str, Any]] = {}
        # The resourceVersions our own status writes produced in a run's last reconcile: the watch events echoing
        # them carry nothing the cached body lacks, so they wake no reconcile (and never replace a fresher cache).
        self._own_versions: dict[Key, set[str]] = {}
        # The latest pod seen for a run (None: deleted), consumed by the next reconcile of that run.
        self._pod_hints: dict[Key, PodHint] = {}
        self._pc_bodies: dict[Key, Mapping[str, Any]] = {}
        # (kind, namespace, name) -> TaskRuns waiting for that object (upstream runs, ProcessingContainers).
        self._waiters: defaultdict[tuple[str, str, str], set[Key]] = defaultdict(set)
        self._tasks: list[asyncio.Task[None]] = []
        self.alive = False

    # ------------------------------------------------------------------ events (called by kopf handlers)

    def taskrun_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if event_type == "DELETED":
            self.tr_queue.discard(key)
            self._tr_bodies.pop(key, None)
            self._pod_hints.pop(key, None)
            self._own_versions.pop(key, None)
            self._forget_waiter(key)
            self._wake("TaskRun", key)
            return
        if is_finished(body.get("status")):
            self._wake("TaskRun", key)
        version = (body.get("metadata") or {}).get("resourceVersion")
        if version is not None and version in self._own_versions.get(key, ()):
            return  # the echo of our own write: the cached body is as new or newer
        self._tr_bodies[key] = body
        self.tr_queue.add(key)

    def pod_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        key = owner_taskrun(body)
        if key is None:
            return
        labels = (body.get("metadata") or {}).get("labels") or {}
        if labels.get(LABEL_ROLE) == ROLE_TASK:
            name = body["metadata"]["name"]
            self._pod_hints[key] = PodHint(name, None if event_type == "DELETED" else body)
        self.tr_queue.add(key)

    def processing_container_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if event_type == "DELETED":
            self.pc_queue.discard(key)
            self._pc_bodies.pop(key, None)
            self._wake("ProcessingContainer", key)
            return
        self._pc_bodies[key] = body
        self.pc_queue.add(key)

    def _wake(self, kind: str, key: Key) -> None:
        for waiter in self._waiters.pop((kind, *key), set()):
            self.tr_queue.add(waiter)

    def _forget_waiter(self, key: Key) -> None:
        for waiting in self._waiters.values():
            waiting.discard(key)

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

    async def _tr_worker(self) -> None:
        while True:
            key = await self.tr_queue.get()
            self.metrics.queue_depth.labels(kind="TaskRun").set(len(self.tr_queue))
            started = time.perf_counter()
            outcome = "error"
            try:
                outcome = await self._process_taskrun(key)
            except NotFound:
                self.tr_queue.discard(key)
                outcome = "gone"
            except Conflict:
                # Decided on a stale copy: look again at a fresh one, now.
                self._tr_bodies.pop(key, None)
                self._pod_hints.pop(key, None)
                self.tr_queue.add(key)
                outcome = "conflict"
            except KubeApiError as exc:
                self._tr_bodies.pop(key, None)
                delay = self.tr_queue.add_rate_limited(key)
                log.warning("TaskRun %s/%s: %s (retrying in %.1fs)", *key, exc, delay)
            except Exception:
                self._tr_bodies.pop(key, None)
                delay = self.tr_queue.add_rate_limited(key)
                log.exception("TaskRun %s/%s: unexpected error (retrying in %.1fs)", *key, delay)
            finally:
                self.tr_queue.done(key)
                self.metrics.reconciles.labels(kind="TaskRun", result=outcome).inc()
                self.metrics.reconcile_seconds.labels(kind="TaskRun").observe(time.perf_counter() - started)

    async def _process_taskrun(self, key: Key) -> str:
        """Reconcile one run and file what comes next (requeue, backoff, waiting); returns the metric's result."""
        body = self._tr_bodies.pop(key, None)
        if body is None:
            body = await self.kube.get(taskrun_path(*key))
        working = copy.deepcopy(dict(body))
        written: list[str] = []
        WRITTEN_VERSIONS.set(written)
        result = await self.taskruns.reconcile(working, pod_hint=self._pod_hints.pop(key, None))
        if result.finished:
            self._own_versions.pop(key, None)
        else:
            self._own_versions[key] = set(written)
            if key not in self._tr_bodies:
                # As our own writes left it (a newer watch event, if any, replaces it).
                self._tr_bodies[key] = working
        self._forget_waiter(key)
        for upstream in result.waiting_on:
            self._waiters[("TaskRun", *upstream)].add(key)
        spec = body.get("spec") or {}
        if spec.get("processingContainerRef") and not result.finished:
            self._waiters[("ProcessingContainer", key[0], spec["processingContainerRef"]["name"])].add(key)
        if result.backoff:
            self.tr_queue.add_rate_limited(key)
            return "requeue"
        self.tr_queue.forget(key)
        if result.requeue_after is not None:
            self.tr_queue.add_after(key, result.requeue_after)
            return "requeue"
        return "ok"

    async def _pc_worker(self) -> None:
        while True:
            key = await self.pc_queue.get()
            outcome = "ok"
            started = time.perf_counter()
            try:
                body = self._pc_bodies.pop(key, None)
                if body is None:
                    body = await self.kube.get(pc_path(*key))
                result = await self.pcs.reconcile(copy.deepcopy(dict(body)))
                if result.backoff:
                    self.pc_queue.add_rate_limited(key)
                    outcome = "requeue"
                else:
                    self.pc_queue.forget(key)
                if result.ready is not None:
                    self._wake("ProcessingContainer", key)
            except NotFound:
                self.pc_queue.discard(key)
            except KubeApiError as exc:
                delay = self.pc_queue.add_rate_limited(key)
                log.warning("ProcessingContainer %s/%s: %s (retrying in %.1fs)", *key, exc, delay)
                outcome = "error"
            except Exception:
                delay = self.pc_queue.add_rate_limited(key)
                log.exception("ProcessingContainer %s/%s: unexpected error (retrying in %.1fs)", *key, delay)
                outcome = "error"
            finally:
                self.pc_queue.done(key)
                self.metrics.reconciles.labels(kind="ProcessingContainer", result=outcome).inc()
                self.metrics.reconcile_seconds.labels(kind="ProcessingContainer").observe(time.perf_counter() - started)
