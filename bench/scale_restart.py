"""F4 — the operator's memory with many finished TaskRuns, and its resync after a restart.

Memory: the operator's RSS (host process, /proc) before its first run and after each wave of finished TaskRuns
(goal: ≤ 150 MiB after 10,000 and flat: the bytes per further finished run near 0).

Restart: with the finished runs present, M runs are left in flight (their pods running) and the operator is
stopped; while it is down, M more TaskRuns are created and the running pods finish. Then the operator starts, and
the benchmark times until every unfinished run was reconciled (the in-flight ones final, the new ones with a pod;
goal ≤ 60 s) and checks that no finished run was written to (their resourceVersions before and after; goal 0),
with the API requests of the resync by verb and resource. Baseline, in the same run: one LIST of every TaskRun and
every operator pod with the same client — what any resync must at least read.

Usage: python -m bench.scale_restart [FINISHED] [--wave 2500] [--unfinished 500] [--nodes 100] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass

from bench._cluster import taskruns
from bench._fleet import (
    MIB,
    Fleet,
    Tracker,
    api_counts,
    create_all,
    fleet_session,
    fleet_taskrun,
    is_task_pod,
    run,
)
from bench.scale_burst import costs_table_single
from task_api.kube.client import core_path
from tests.fixtures.fleet import by_verb_and_resource, operator_metric, request_delta

RSS_GOAL = 150 * MIB
RESYNC_GOAL = 60.0


@dataclass
class Memory:
    idle: int
    samples: list[tuple[int, int]]  # (finished runs, RSS bytes)

    @property
    def per_run(self) -> float:
        """Bytes of RSS per finished run between the first and the last sample."""
        (n0, r0), (n1, r1) = self.samples[0], self.samples[-1]
        return (r1 - r0) / max(1, n1 - n0)


async def finished_waves(fx: Fleet, total: int, wave: int, namespace: str = "scale-memory") -> Memory:
    """Create ``total`` TaskRuns in waves and sample the operator's RSS once each wave has finished."""
    await fx.namespace(namespace)
    samples: list[tuple[int, int]] = []
    async with Tracker(fx.kube, taskruns(namespace)) as runs:
        for start in range(0, total, wave):
            count = min(wave, total - start)
            bodies = [(taskruns(namespace), fleet_taskrun(f"mem-{i}", fx.image, run_time="1s"))
                      for i in range(start, start + count)]  # fmt: skip
            await create_all(fx.kube, bodies)
            goal = start + count

            def finished(t: Tracker, goal: int = goal) -> bool:
                return len(t.final) >= goal

            await runs.wait(f"{goal} runs final", finished, timeout=1800)
            await asyncio.sleep(3)  # the work queue settles
            samples.append((start + count, fx.operator.rss_bytes()))
            print(f"  {start + count:6d} finished TaskRuns: operator RSS {samples[-1][1] / MIB:.1f} MiB", flush=True)
    return Memory(idle=fx.rss_idle, samples=samples)


def report_memory(memory: Memory, *, finished_before: int = 0) -> None:
    last_n, last = memory.samples[-1]
    print(f"operator RSS: {memory.idle / MIB:.1f} MiB idle before any run (baseline); {last / MIB:.1f} MiB after "
          f"{last_n + finished_before} finished TaskRuns (ratio to baseline {last / memory.idle:.2f}; goal <= 150 MiB: "
          f"{'met' if last <= RSS_GOAL else 'NOT met'})")  # fmt: skip
    print(f"growth: {memory.per_run:+.0f} bytes per further finished run from {memory.samples[0][0]} to {last_n} "
          f"({(last / memory.samples[0][1] - 1) * 100:+.1f} %; flat goal <= 15 %: "
          f"{'met' if last <= memory.samples[0][1] * 1.15 else 'NOT met'})")  # fmt: skip


async def _list_all(fx: Fleet) -> tuple[float, dict[str, str], int]:
    """One LIST of every TaskRun and every operator pod: (seconds, {ns/name: resourceVersion} of finished runs, n)."""
    start = time.monotonic()
    runs = await fx.kube.list_items("/apis/task-api.io/v1alpha1/taskruns")
    await fx.kube.list_items(core_path("pods"), label_selector="app.kubernetes.io/managed-by=task-api-operator")
    seconds = time.monotonic() - start
    finished = {
        f"{r['metadata']['namespace']}/{r['metadata']['name']}": r["metadata"]["resourceVersion"]
        for r in runs
        if (r.get("status") or {}).get("phase") in ("Succeeded", "Failed")
    }
    return seconds, finished, len(runs)


async def restart(fx: Fleet, *, unfinished: int, namespace: str = "scale-restart") -> dict[str, float]:
    await fx.namespace(namespace)
    kube = fx.kube
    half = unfinished // 2
    async with (
        Tracker(kube, core_path("pods", namespace), keep=is_task_pod) as pods,
        Tracker(kube, taskruns(namespace)) as runs,
    ):
        # In flight: pods running for 20 s; the operator stops once all exist.
        await create_all(kube, [(taskruns(namespace), fleet_taskrun(f"inflight-{i}", fx.image, run_time="20s"))
                                for i in range(half)])  # fmt: skip
        await pods.wait("the in-flight runs' pods", lambda t: len(t.added) >= half, timeout=600)
        await asyncio.to_thread(fx.operator.stop)
        down_at = time.monotonic()
        await create_all(kube, [(taskruns(namespace), fleet_taskrun(f"new-{i}", fx.image, run_time="20s"))
                                for i in range(half)])  # fmt: skip
        # The in-flight pods finish while the operator is down.
        await pods.wait("the in-flight pods to finish", lambda t: len(t.final) >= half, timeout=600)
        list_s, finished_before, total_runs = await _list_all(fx)
        before = await api_counts(kube)
        start = time.monotonic()
        await asyncio.to_thread(fx.operator.start)
        ready = time.monotonic() - start
        inflight = [f"inflight-{i}" for i in range(half)]
        new_pods = [f"new-{i}-a1" for i in range(half)]
        done = await runs.wait(
            "every unfinished run reconciled",
            lambda t: all(n in t.final for n in inflight) and all(p in pods.added for p in new_pods),
            timeout=600,
        )
        resync = done - start
        # Until the operator's queue is empty: the finished runs' events are being worked through too.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            depth = operator_metric(fx.operator.metrics(), "task_api_workqueue_depth", kind="TaskRun")
            if depth == 0:
                break
            await asyncio.sleep(1)
        drained = time.monotonic() - start
        after = await api_counts(kube)
    _, finished_after, _ = await _list_all(fx)
    written = sum(1 for key, version in finished_before.items() if finished_after.get(key) != version)
    requests = by_verb_and_resource(request_delta(before, after))
    print(f"\n== restart with {total_runs} TaskRuns present ({len(finished_before)} finished), operator down "
          f"{start - down_at:.0f} s")  # fmt: skip
    print(f"operator ready (watches running) {ready:.1f} s after start; every unfinished run ({half} in flight, "
          f"{half} new) reconciled after {resync:.1f} s (goal <= {RESYNC_GOAL:.0f} s: "
          f"{'met' if resync <= RESYNC_GOAL else 'NOT met'}); queue empty after {drained:.1f} s")  # fmt: skip
    print(f"baseline: one LIST of every TaskRun and operator pod took {list_s:.1f} s (ratio resync/list "
          f"{resync / list_s:.1f})")  # fmt: skip
    print(f"finished runs written to during the resync: {written} of {len(finished_before)} (goal 0: "
          f"{'met' if written == 0 else 'NOT met'})")  # fmt: skip
    print(f"operator RSS after the resync: {fx.operator.rss_bytes() / MIB:.1f} MiB")
    print("API requests of the resync (whole cluster, all clients), by verb and resource:")
    print(costs_table_single(requests, divisor=1, label="total"))
    return {"resync_s": resync, "written": written, "list_s": list_s}


async def main(finished: int, *, wave: int, unfinished: int, nodes: int, keep: bool, reuse: bool) -> None:
    async with fleet_session(nodes, keep=keep, fresh=not reuse) as fx:
        if finished > 0:  # 0: only the restart, with whatever a reused bed holds
            print(f"\n== memory: {finished} TaskRuns in waves of {wave}")
            memory = await finished_waves(fx, finished, wave)
            report_memory(memory)
        await restart(fx, unfinished=unfinished)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("finished", type=int, nargs="?", default=10000, help="finished TaskRuns (default 10000)")
    parser.add_argument("--wave", type=int, default=2500, help="TaskRuns per wave (default 2500)")
    parser.add_argument("--unfinished", type=int, default=500, help="unfinished runs at the restart (default 500)")
    parser.add_argument("--nodes", type=int, default=100, help="fake nodes (default 100)")
    parser.add_argument("--keep", action="store_true", help="leave the fleet bed up afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the fleet bed as it is (default: a fresh cluster)")
    args = parser.parse_args()
    run(
        main(
            args.finished,
            wave=args.wave,
            unfinished=args.unfinished,
            nodes=args.nodes,
            keep=args.keep,
            reuse=args.reuse,
        )
    )
