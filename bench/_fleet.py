"""Shared pieces of the fleet benchmarks (``bench/scale_*.py``, ``make bench-scale``; docs/scaling.md). Does I/O.

:func:`fleet_session` brings the fleet bed up (``hack/testbed`` profile ``scale``: control plane, registry and kwok's
fake nodes, no kubelet), pushes the fleet image, installs the operator's CRDs and RBAC, starts the operator as a
host process under its own ServiceAccount, and warms it up with one TaskRun; it yields a :class:`Fleet`.
:class:`Tracker` follows a collection through one watch; :func:`api_counts` reads the API server's own request
counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench._cluster import PULL_SECRET, fresh_namespace, local_claim, taskruns
from task_api.kube import ClusterAccess, KubeClient
from task_api.kube.client import core_path
from tests.fixtures.fleet import (
    KWOK_RUN_TIME,
    FleetBed,
    OperatorProcess,
    RequestKey,
    build_fleet_image,
    fleet_down,
    fleet_up,
    install_operator_identity,
    parse_request_counts,
)

CONCURRENCY = 32


def run(main: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run`` that also winds down on SIGTERM (a time-out), so :func:`fleet_session` stops the operator
    and takes the bed down."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    asyncio.run(main)


FINAL = frozenset({"Succeeded", "Failed"})
MIB = 1024 * 1024


def fleet_taskrun(
    name: str,
    image: str,
    *,
    ttl: int | None = None,
    run_time: str | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A TaskRun of the fleet image's ``work`` template (kwok plays its pod). Pure."""
    notes = dict(annotations or {})
    if run_time:
        notes[KWOK_RUN_TIME] = run_time
    spec: dict[str, Any] = {
        "image": image,
        "imagePullSecrets": [{"name": PULL_SECRET}],
        "taskTemplate": "work",
        "env": [{"name": "ITEM", "value": name}],
    }
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    return {
        "apiVersion": "task-api.io/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": name, **({"annotations": notes} if notes else {})},
        "spec": spec,
    }


def direct_copy(pod: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The baseline: the operator's pod for a TaskRun, as a bare pod of another name. Without its owner and its
    ``managed-by`` label, so the operator neither watches nor owns it; otherwise the same manifest. Pure."""
    meta = pod["metadata"]
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != "app.kubernetes.io/managed-by"}
    spec = {k: v for k, v in pod["spec"].items() if k != "nodeName"}
    return {
        "metadata": {"name": name, "labels": labels, "annotations": dict(meta.get("annotations") or {})},
        "spec": spec,
    }


async def create_all(
    kube: KubeClient, bodies: list[tuple[str, dict[str, Any]]], concurrency: int = CONCURRENCY
) -> None:
    """Create every object, ``concurrency`` requests at a time (the same for the operator's side and the direct one)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(path: str, body: dict[str, Any]) -> None:
        async with gate:
            await kube.create(path, body)

    await asyncio.gather(*(one(p, b) for p, b in bodies))


async def api_counts(kube: KubeClient) -> dict[RequestKey, float]:
    """The API server's ``apiserver_request_total`` now (the admin client may read ``/metrics``)."""
    response = await kube._http.get("/metrics", headers=kube._headers(), timeout=60)
    response.raise_for_status()
    return parse_request_counts(response.text)


async def event_count(kube: KubeClient, namespace: str) -> int:
    """Events in a namespace (one cheap LIST: a page of one and the server's count of the rest)."""
    page = await kube.request("GET", core_path("events", namespace), params={"limit": "1"})
    meta = page.get("metadata") or {}
    return len(page.get("items") or []) + int(meta.get("remainingItemCount") or 0)


async def settle(kube: KubeClient, namespace: str, *, quiet_for: float = 3.0, timeout: float = 180.0) -> None:
    """Wait until no Event has been added to ``namespace`` for ``quiet_for`` seconds: the operator posts Events in
    the background, after the status writes they describe, and they count in its API cost."""
    last = await event_count(kube, namespace)
    quiet_since = time.monotonic()
    deadline = quiet_since + timeout
    while time.monotonic() < deadline and time.monotonic() - quiet_since < quiet_for:
        await asyncio.sleep(0.5)
        now = await event_count(kube, namespace)
        if now != last:
            last, quiet_since = now, time.monotonic()


def phase_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("status") or {}).get("phase") or "")


@dataclass
class Tracker:
    """Follows one collection through a watch: which objects exist, their phase, when each was first seen and first
    seen final. ``keep`` decides which objects count (default: all)."""

    kube: KubeClient
    path: str
    keep: Callable[[Mapping[str, Any]], bool] = lambda _: True
    added: dict[str, float] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    deleted: dict[str, float] = field(default_factory=dict)
    phases: dict[str, str] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Tracker:
        listed = await self.kube.request("GET", self.path, params={"limit": "1"})
        version = (listed.get("metadata") or {}).get("resourceVersion", "")
        self._task = asyncio.create_task(self._run(version))
        await asyncio.sleep(0.3)  # the watch is established before anything it must see is created
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, version: str) -> None:
        http = self.kube._http
        while True:
            params = {"watch": "1", "timeoutSeconds": "1800", "resourceVersion": version, "allowWatchBookmarks": "true"}
            try:
                async with http.stream(
                    "GET", self.path, params=params, headers=self.kube._headers(), timeout=None
                ) as response:
                    async for line in response.aiter_lines():
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        obj = event.get("object") or {}
                        version = (obj.get("metadata") or {}).get("resourceVersion", version)
                        if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                            self._see(event["type"], obj, time.monotonic())
            except httpx.HTTPError:
                await asyncio.sleep(0.2)

    def _see(self, kind: str, obj: Mapping[str, Any], at: float) -> None:
        if not self.keep(obj):
            return
        name = obj["metadata"]["name"]
        self.added.setdefault(name, at)
        if kind == "DELETED":
            self.deleted.setdefault(name, at)
        phase = phase_of(obj)
        self.phases[name] = phase
        if phase in FINAL:
            self.final.setdefault(name, at)
        self._changed.set()

    async def wait(self, what: str, done: Callable[[Tracker], bool], timeout: float) -> float:
        """Wait until ``done(self)``; returns the monotonic time it became true. Raises with ``what`` on time-out."""
        deadline = time.monotonic() + timeout
        while not done(self):
            self._changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(left, 5))
        return time.monotonic()


def is_task_pod(pod: Mapping[str, Any]) -> bool:
    labels: Mapping[str, str] = (pod.get("metadata") or {}).get("labels") or {}
    return labels.get("task-api.io/role", "task") == "task"


@dataclass
class Fleet:
    """A fleet bed with the operator running beside it."""

    bed: FleetBed
    kube: KubeClient
    image: str
    operator: OperatorProcess
    #: A task pod the operator made (warm-up), the template of the direct baseline's pods.
    sample_pod: dict[str, Any]
    #: The operator's RSS before its first TaskRun.
    rss_idle: int
    #: How to start one more replica of the same operator (another port and log): see :meth:`start_standby`.
    replica: Callable[[int], OperatorProcess]
    #: Replicas started by :meth:`start_standby` that have not taken over yet.
    standbys: list[OperatorProcess] = field(default_factory=list)

    async def namespace(self, name: str) -> None:
        """A fresh namespace with the registry pull secret and the workspace claim."""
        await setup_namespace(self.kube, self.bed, name)

    async def start_standby(self) -> OperatorProcess:
        """A second replica beside the leader; it stands by on the Lease (checked), as a Deployment's second pod
        would. Started only when a scenario needs it: a standby would take over any other measurement's stop."""
        standby = self.replica(len(self.standbys) + 2)
        await asyncio.to_thread(standby.start)
        if await asyncio.to_thread(standby.is_leader):
            raise SystemExit("the second replica leads at once: the first one does not hold the Lease")
        self.standbys.append(standby)
        return standby

    def promote(self, standby: OperatorProcess) -> None:
        """The standby took over: it is the operator the rest of the run measures."""
        self.standbys.remove(standby)
        self.operator = standby


async def setup_namespace(kube: KubeClient, bed: FleetBed, name: str) -> None:
    """A fresh namespace with the registry pull secret and the workspace claim (a Bound hostPath volume: no fake
    node mounts anything, but the scheduler binds the claim as it would anywhere)."""
    await fresh_namespace(kube, bed.info, name)
    await local_claim(kube, bed.info, name, "task-api-workspace")


async def _warm_up(kube: KubeClient, image: str) -> dict[str, Any]:
    """One TaskRun end to end: the operator has inspected the image, and its pod is the direct side's template."""
    namespace = "scale-warmup"
    async with Tracker(kube, core_path("pods", namespace), keep=is_task_pod) as pods:
        await kube.create(taskruns(namespace), fleet_taskrun("warmup", image, run_time="1s"))
        await pods.wait("the warm-up TaskRun's pod to finish", lambda t: len(t.final) >= 1, timeout=600)
    items = await kube.list_items(core_path("pods", namespace), label_selector="task-api.io/role=task")
    return items[0]


@contextlib.asynccontextmanager
async def fleet_session(
    nodes: int,
    *,
    fresh: bool = True,
    keep: bool = False,
    workers: int | None = None,
) -> AsyncIterator[Fleet]:
    """The fleet bed with ``nodes`` fake nodes (a new cluster unless ``fresh`` is False) and the operator; both are
    stopped afterwards (the bed stays up with ``keep``)."""
    started = time.monotonic()
    bed = await asyncio.to_thread(fleet_up, nodes, fresh=fresh)
    image = await asyncio.to_thread(build_fleet_image, bed)
    kubeconfig = await asyncio.to_thread(install_operator_identity, bed)
    measure_image = f"{bed.registry}/task-api/operator:fleet"  # never pulled: kwok plays the measuring pods

    def replica(number: int) -> OperatorProcess:
        return OperatorProcess(bed, kubeconfig, measure_image=measure_image, workers=workers,
                               port=bed.operator_port + number - 1, name=f"operator-{number}")  # fmt: skip

    operator = OperatorProcess(bed, kubeconfig, measure_image=measure_image, workers=workers)
    fleet: Fleet | None = None
    kube = KubeClient(ClusterAccess.from_kubeconfig(bed.kubeconfig), max_connections=64)
    try:
        await setup_namespace(kube, bed, "scale-warmup")
        await asyncio.to_thread(operator.start)
        rss_idle = operator.rss_bytes()
        sample = await _warm_up(kube, image)
        print(
            f"fleet bed: {bed.nodes} fake nodes, operator pid {operator.pid} (RSS {rss_idle / MIB:.1f} MiB idle), "
            f"ready in {time.monotonic() - started:.0f} s",
            flush=True,
        )
        fleet = Fleet(
            bed=bed, kube=kube, image=image, operator=operator, sample_pod=sample, rss_idle=rss_idle, replica=replica
        )
        yield fleet
    finally:
        for process in [operator, *(([fleet.operator, *fleet.standbys]) if fleet else [])]:
            await asyncio.to_thread(process.stop)
        await kube.aclose()
        if not keep:
            await asyncio.to_thread(fleet_down)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def component_pids(bed: FleetBed) -> dict[str, int]:
    """The bed's daemons (from their PID files) — for CPU accounting beside the operator's."""
    pids: dict[str, int] = {}
    for file in (bed.state_dir / "run").glob("*.pid"):
        with contextlib.suppress(ValueError, IndexError):
            pids[file.stem] = int(file.read_text().split()[0])
    return pids


def cpu_snapshot(pids: Mapping[str, int]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, pid in pids.items():
        with contextlib.suppress(OSError):
            out[name] = cpu_seconds(pid)
    return out


@contextlib.contextmanager
def profiled(pid: int, output: Path | None, *, rate: int = 67) -> Iterator[None]:
    """``py-spy record`` attached to ``pid`` for the block (nothing when ``output`` is None), writing collapsed
    stacks to ``output`` (for :func:`top_frames`; flamegraph.pl and speedscope draw them)."""
    if output is None:
        yield
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).with_name("py-spy"))
    argv = [spy, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--output", str(output)]
    # --nonblocking: sampling never pauses the operator, so the figures measured meanwhile stay honest.
    recorder = subprocess.Popen([*argv, "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            recorder.wait(timeout=60)
        except subprocess.TimeoutExpired:
            recorder.kill()


def top_frames(collapsed: str, *, limit: int = 15) -> list[tuple[str, float]]:
    """The functions most often on the stack in py-spy's collapsed output (inclusive share of samples), each
    counted once per sample. Pure."""
    total = 0
    inclusive: dict[str, int] = {}
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        # "function (file.py:line)": one function, whatever line of it was running.
        for frame in {re.sub(r":\d+\)$", ")", f) for f in stack.split(";")}:
            inclusive[frame] = inclusive.get(frame, 0) + count
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])[:limit]
    return [(frame, n / total) for frame, n in ranked] if total else []
