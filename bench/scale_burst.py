"""F1 — a burst of TaskRuns on the simulated fleet, and F3 — what each TaskRun costs the API server.

Creates N TaskRuns at once (32 requests at a time) and times until every one of their pods exists; as the baseline,
measured in the same run and first (so the operator's side faces the larger cluster), creates N copies of the pod
the operator makes for a TaskRun directly, with the same client and concurrency. Goal: the operator's rate at least
0.8 x the direct rate. Both sides then wait until every run (pod) is final, and the API server's own
``apiserver_request_total`` before and after gives the requests and writes per run, by verb and resource, beside
those of a bare pod (its 1 create; the scheduler's binding and kwok's status writes are the pod's lifecycle and
show on both sides). With ``--ttl`` the TaskRuns carry ``ttlSecondsAfterFinished: 0`` and the operator deletes
each pod once its run finished. With ``--replicas 2`` a second operator process stands by on the leader Lease during
the burst, and with ``--kill-at 0.33`` the leader is SIGKILLed once a third of the pods exist: the figures then
include the hand-over, and every run must still end Succeeded with exactly one pod.

Usage: python -m bench.scale_burst [N ...] [--ttl] [--replicas 2 [--kill-at SHARE]] [--nodes 100] [--keep]
(brings the fleet bed up fresh)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._cluster import taskruns
from bench._fleet import (
    MIB,
    Fleet,
    Tracker,
    api_counts,
    component_pids,
    cpu_snapshot,
    create_all,
    direct_copy,
    fleet_session,
    fleet_taskrun,
    is_task_pod,
    profiled,
    run,
    settle,
    top_frames,
)
from task_api.kube.client import core_path
from task_api.kube.lease import LeaseSettings
from tests.fixtures.fleet import WRITE_VERBS, OperatorProcess, by_verb_and_resource, request_delta

GOAL = 0.8
#: How long a standby waits out a leader that died without releasing the Lease (the operator's default).
LEASE_SECONDS = LeaseSettings(namespace="", name="", identity="").lease_duration
#: Who makes each write on this bed (docs/scaling.md, "API cost per TaskRun").
WRITERS = {
    ("POST", "task-api.io/taskruns"): "the user (this benchmark)",
    ("POST", "pods"): "the operator (direct side: this benchmark)",
    ("PATCH", "task-api.io/taskruns/status"): "the operator",
    ("POST", "events"): "the operator",
    ("PATCH", "events"): "the operator",
    ("POST", "pods/binding"): "kube-scheduler",
    ("POST", "events.k8s.io/events"): "kube-scheduler",
    ("PATCH", "pods/status"): "kwok (the kubelet's part)",
    ("DELETE", "pods"): "the operator's TTL delete, then kwok's final one",
    ("PUT", "coordination.k8s.io/leases"): "kwok's node leases (not per run)",
}


@dataclass
class Side:
    """One side of a burst: its times and what it cost."""

    n: int
    until_pods: float
    until_final: float
    requests: dict[tuple[str, str], float]
    cpu: dict[str, float] = field(default_factory=dict)
    #: CPU seconds each component used over the whole burst, until every run (pod) was final.
    cpu_total: dict[str, float] = field(default_factory=dict)
    #: Writes per second the API server took while this side's pods were being created (every client).
    write_rate: float = 0.0
    #: 429s the API server answered (API Priority and Fairness) in the window.
    throttled: float = 0.0
    #: Pods gone by the end (with a TTL of 0: every one, a minute after the last run finished).
    deleted: int = 0
    #: TaskRuns that ended Succeeded (the operator's side), and pods beyond one per TaskRun (a duplicate).
    succeeded: int = 0
    extra_pods: int = 0

    @property
    def rate(self) -> float:
        return self.n / self.until_pods

    def per_run(self, *, writes_only: bool) -> float:
        return sum(v for (verb, _), v in self.requests.items() if not writes_only or verb in WRITE_VERBS) / self.n


#: A fault played during a burst: given the pods' tracker and the burst's start, it returns once it is over.
Fault = Callable[[Tracker, float], Coroutine[Any, Any, None]]


async def _measure(
    fx: Fleet,
    *,
    n: int,
    namespace: str,
    bodies: list[tuple[str, dict[str, Any]]],
    ttl: bool,
    kind: str,
    fault: Fault | None = None,
) -> Side:
    kube = fx.kube
    await fx.namespace(namespace)
    pids = {**component_pids(fx.bed), "operator": fx.operator.pid}
    pids.update({f"standby {i + 1}": standby.pid for i, standby in enumerate(fx.standbys)})
    runs_path = taskruns(namespace)
    async with (
        Tracker(kube, core_path("pods", namespace), keep=is_task_pod) as pods,
        Tracker(kube, runs_path) as runs,
    ):
        before = await api_counts(kube)
        cpu_before = cpu_snapshot(pids)
        start = time.monotonic()
        playing = asyncio.create_task(fault(pods, start)) if fault is not None else None
        await create_all(kube, bodies)
        exist = await pods.wait(f"{n} {kind} pods to exist", lambda t: len(t.added) >= n, timeout=1800)
        if playing is not None:
            await playing  # its errors end the benchmark
        at_pods = await api_counts(kube)
        cpu_pods = cpu_snapshot(pids)
        if kind == "operator":
            final = await runs.wait(f"{n} TaskRuns to finish", lambda t: len(t.final) >= n, timeout=1800)
            if ttl:
                # A TTL of 0 deletes each pod as its run finishes; give stragglers a minute, then report what is left.
                with contextlib.suppress(SystemExit):
                    await pods.wait(f"{n} pods deleted after their TTL", lambda t: len(t.deleted) >= n, timeout=60)
        else:
            final = await pods.wait(f"{n} direct pods to finish", lambda t: len(t.final) >= n, timeout=1800)
        await settle(kube, namespace)  # the last status writes and Events land
        after = await api_counts(kube)
        cpu_after = cpu_snapshot(pids)
    window = request_delta(before, at_pods)
    writes_in_window = sum(v for key, v in window.items() if key.write)
    return Side(
        succeeded=sum(1 for phase in runs.phases.values() if phase == "Succeeded"),
        extra_pods=len(pods.added) - n,
        deleted=len(pods.deleted),
        n=n,
        until_pods=exist - start,
        until_final=final - start,
        requests=by_verb_and_resource(request_delta(before, after)),
        cpu={k: cpu_pods.get(k, 0.0) - v for k, v in cpu_before.items()},
        cpu_total={k: cpu_after.get(k, 0.0) - v for k, v in cpu_before.items()},
        write_rate=writes_in_window / (exist - start),
        throttled=sum(v for key, v in request_delta(before, after).items() if key.code == "429"),
    )


async def direct_side(fx: Fleet, n: int, label: str) -> Side:
    namespace = f"scale-{label}-direct"
    bodies = [(core_path("pods", namespace), direct_copy(fx.sample_pod, f"direct-{i}")) for i in range(n)]
    return await _measure(fx, n=n, namespace=namespace, bodies=bodies, ttl=False, kind="direct")


async def operator_side(fx: Fleet, n: int, label: str, *, ttl: bool, profile: Path | None = None) -> Side:
    """The TaskRuns' side; with ``profile``, py-spy samples the operator meanwhile (collapsed stacks there)."""
    namespace = f"scale-{label}-op"
    bodies = [(taskruns(namespace), fleet_taskrun(f"run-{i}", fx.image, ttl=0 if ttl else None)) for i in range(n)]
    with profiled(fx.operator.pid, profile):
        side = await _measure(fx, n=n, namespace=namespace, bodies=bodies, ttl=ttl, kind="operator")
    if profile is not None and profile.exists():
        print(f"\npy-spy: where the operator's time went during the burst of {n} (inclusive share of samples; "
              f"stacks in {profile}):")  # fmt: skip
        for frame, share in top_frames(profile.read_text()):
            print(f"  {share * 100:5.1f} %  {frame}")
    return side


@dataclass
class Failover:
    """The leader SIGKILLed mid-burst: when, and how long until the standby led and made pods again."""

    pods_at_kill: int = 0
    killed_after: float = 0.0  # seconds into the burst
    leading_after: float = 0.0  # seconds from the kill until the standby's task_api_leader gauge said 1
    pods_after: float = 0.0  # seconds from the kill until the first pod created once the standby led


def kill_leader(fx: Fleet, standby: OperatorProcess, at_pods: int, record: Failover) -> Fault:
    """A fault: once ``at_pods`` pods exist, SIGKILL the leader (no Lease release: the standby must wait the Lease
    out, as after a node failure) and time the hand-over into ``record``."""

    async def play(pods: Tracker, start: float) -> None:
        await pods.wait(f"{at_pods} pods before the leader is killed", lambda t: len(t.added) >= at_pods, 1800)
        killed = time.monotonic()
        await asyncio.to_thread(fx.operator.kill)
        record.pods_at_kill, record.killed_after = len(pods.added), killed - start
        deadline = killed + 120
        while not await asyncio.to_thread(standby.is_leader):
            if time.monotonic() > deadline:
                raise SystemExit(f"the standby did not take over within 120 s (log: {standby.log_path})")
            await asyncio.sleep(0.2)
        leading = time.monotonic()
        fx.promote(standby)
        record.leading_after = leading - killed
        # Pods the dead leader had in flight may still land: count from the moment the standby led.
        resumed = await pods.wait(
            "a pod made by the new leader", lambda t: any(at > leading for at in t.added.values()), 600
        )
        record.pods_after = resumed - killed

    return play


async def failover_side(fx: Fleet, n: int, label: str, *, kill_at: float) -> tuple[Side, Failover | None]:
    """The burst with a second replica standing by; with ``kill_at`` > 0 the leader is SIGKILLed once that share
    of the pods exists. Every run must still end Succeeded with one pod (reported: lost and duplicated)."""
    standby = await fx.start_standby()
    namespace = f"scale-{label}-op"
    bodies = [(taskruns(namespace), fleet_taskrun(f"run-{i}", fx.image)) for i in range(n)]
    record = Failover() if kill_at > 0 else None
    fault = kill_leader(fx, standby, max(1, int(n * kill_at)), record) if record is not None else None
    side = await _measure(fx, n=n, namespace=namespace, bodies=bodies, ttl=False, kind="operator", fault=fault)
    return side, record


def report_failover(op: Side, direct: Side, failover: Failover | None, *, nodes: int) -> None:
    label = "burst {n} with 2 replicas" + (", the leader SIGKILLed mid-burst" if failover else " (no fault)")
    report(label.format(n=op.n), op, direct, nodes=nodes)
    if failover is not None:
        print(f"leader SIGKILLed {failover.killed_after:.1f} s into the burst, with {failover.pods_at_kill} of "
              f"{op.n} pods made; the standby led {failover.leading_after:.1f} s later (the Lease lasts "
              f"{LEASE_SECONDS:.0f} s) and its first pod came {failover.pods_after:.1f} s after the kill")  # fmt: skip
    print(f"runs Succeeded: {op.succeeded} of {op.n}; lost (not Succeeded): {op.n - op.succeeded}; "
          f"duplicated (pods beyond one per run): {op.extra_pods}")  # fmt: skip


def report(label: str, op: Side, direct: Side, *, nodes: int) -> None:
    ratio = op.rate / direct.rate
    print(f"\n== {label}: burst of {op.n} TaskRuns on {nodes} fake nodes")
    print(f"operator: {op.until_pods:7.1f} s until every pod existed ({op.rate:6.1f} pods/s); every run final after "
          f"{op.until_final:.1f} s")  # fmt: skip
    print(f"direct:   {direct.until_pods:7.1f} s creating the same pods     ({direct.rate:6.1f} pods/s); every pod "
          f"final after {direct.until_final:.1f} s")  # fmt: skip
    print(f"ratio operator/direct rate = {ratio:.2f} (goal >= {GOAL}: {'met' if ratio >= GOAL else 'NOT met'})")
    if "ttl" in label.lower():
        print(f"pods deleted by their TTL within 60 s of the last run finishing: {op.deleted} of {op.n}")
    print(f"API server writes/s while the pods were created (all clients): operator side {op.write_rate:.0f}, "
          f"direct side {direct.write_rate:.0f}; 429s answered: operator side {op.throttled:.0f}")  # fmt: skip
    cpu = ", ".join(f"{k} {v:.1f}" for k, v in sorted(op.cpu.items(), key=lambda kv: -kv[1]) if v >= 0.05)
    print(f"CPU seconds until every pod existed (operator side): {cpu}")
    total = ", ".join(f"{k} {v * 1000 / op.n:.1f}" for k, v in sorted(op.cpu_total.items(), key=lambda kv: -kv[1])
                      if v >= 0.05)  # fmt: skip
    print(f"CPU milliseconds per TaskRun over its whole life: {total}")
    print(f"API cost per TaskRun: {op.per_run(writes_only=False):.2f} requests, {op.per_run(writes_only=True):.2f} "
          f"writes; per bare pod: {direct.per_run(writes_only=False):.2f} requests, "
          f"{direct.per_run(writes_only=True):.2f} writes (its own: 1 create)")  # fmt: skip
    print(costs_table(op, direct))


def costs_table(op: Side, direct: Side) -> str:
    """The requests per run of both sides, by verb and resource, each write with who makes it. Pure."""
    keys = sorted(set(op.requests) | set(direct.requests), key=lambda k: (-op.requests.get(k, 0.0), k))
    lines = [f"  {'verb':7} {'resource':34} {'per TaskRun':>11} {'per bare pod':>12}  by"]
    for key in keys:
        a, b = op.requests.get(key, 0.0) / op.n, direct.requests.get(key, 0.0) / direct.n
        if max(a, b) < 0.005:
            continue
        lines.append(f"  {key[0]:7} {key[1]:34} {a:11.2f} {b:12.2f}  {WRITERS.get(key, '')}")
    return "\n".join(lines)


def costs_table_single(requests: Mapping[tuple[str, str], float], *, divisor: float, label: str) -> str:
    """Requests by verb and resource, divided by ``divisor``, each write with who makes it. Pure."""
    lines = [f"  {'verb':7} {'resource':34} {label:>11}  by"]
    for key in sorted(requests, key=lambda k: (-requests[k], k)):
        value = requests[key] / divisor
        if value >= 0.005:
            lines.append(f"  {key[0]:7} {key[1]:34} {value:11.2f}  {WRITERS.get(key, '')}")
    return "\n".join(lines)


def summary(op: Side, direct: Side) -> Mapping[str, float]:
    return {"operator_s": op.until_pods, "direct_s": direct.until_pods, "ratio": op.rate / direct.rate}


async def main(
    sizes: list[int],
    *,
    ttl: bool,
    nodes: int,
    keep: bool,
    reuse: bool,
    profile: Path | None = None,
    workers: int | None = None,
    replicas: int = 1,
    kill_at: float = 0.0,
) -> None:
    async with fleet_session(nodes, keep=keep, fresh=not reuse, workers=workers) as fx:
        for n in sizes:
            direct = await direct_side(fx, n, f"b{n}")
            if replicas == 2:
                op, failover = await failover_side(fx, n, f"b{n}-replicas", kill_at=kill_at)
                report_failover(op, direct, failover, nodes=nodes)
                continue
            out = profile / f"burst-{n}.txt" if profile else None
            op = await operator_side(fx, n, f"b{n}" + ("-ttl" if ttl else ""), ttl=ttl, profile=out)
            report(f"burst {n}" + (" with ttlSecondsAfterFinished: 0" if ttl else ""), op, direct, nodes=nodes)
            print(f"operator RSS {fx.operator.rss_bytes() / MIB:.1f} MiB (idle before any run {fx.rss_idle / MIB:.1f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("sizes", type=int, nargs="*", default=[2000], help="TaskRuns per burst (default 2000)")
    parser.add_argument("--ttl", action="store_true", help="ttlSecondsAfterFinished: 0 (pods deleted when done)")
    parser.add_argument("--nodes", type=int, default=100, help="fake nodes (default 100)")
    parser.add_argument("--keep", action="store_true", help="leave the fleet bed up afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the fleet bed as it is (default: a fresh cluster)")
    parser.add_argument("--profile", type=Path, help="record the operator with py-spy into this directory")
    parser.add_argument("--workers", type=int, help="the operator's TASK_API_WORKERS (default: its own, 32)")
    parser.add_argument("--replicas", type=int, choices=(1, 2), default=1, help="2: a standby replica beside it")
    parser.add_argument(
        "--kill-at",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="with --replicas 2: SIGKILL the leader once this share of the pods exists (e.g. 0.33)",
    )
    args = parser.parse_args()
    if args.kill_at and args.replicas != 2:
        parser.error("--kill-at needs --replicas 2 (someone must take over)")
    run(
        main(
            args.sizes,
            ttl=args.ttl,
            nodes=args.nodes,
            keep=args.keep,
            reuse=args.reuse,
            profile=args.profile,
            workers=args.workers,
            replicas=args.replicas,
            kill_at=args.kill_at,
        )
    )
