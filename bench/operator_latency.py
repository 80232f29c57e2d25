"""P2 — create→pod-created latency at a steady rate of TaskRuns.

Creates TaskRuns at RATE per second for SECONDS seconds and records, for each, the time from the create call's
return to the moment a pod watch sees the operator's pod. Prints p50/p90/p99/max (goal: p99 ≤ 1 s) and, as the
baseline measured in the same run, the same latency for pods created directly (the watch's own delay).

Usage: python -m bench.operator_latency [RATE] [SECONDS]   (default 5/s for 60 s)
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from bench._cluster import (
    build_bench_image,
    client,
    delete_namespace,
    fresh_namespace,
    local_claim,
    percentile,
    plain_pod,
    taskruns,
    testbed_info,
    trivial_taskrun,
    watch_pods,
)
from task_api.kube.client import core_path


async def steady(kube: Any, namespace: str, rate: float, seconds: float, make: Any) -> list[float]:
    created: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = asyncio.Event()

    def added(pod: dict[str, Any], at: float) -> None:
        labels = pod["metadata"].get("labels") or {}
        if labels.get("task-api.io/role", "task") != "task":
            return
        # A directly created pod's event may arrive before its create call returns: keep it, subtract later.
        seen.setdefault(labels.get("task-api.io/taskrun") or pod["metadata"]["name"], at)

    watcher = asyncio.create_task(watch_pods(kube, namespace, added, stop))
    await asyncio.sleep(0.5)
    total = int(rate * seconds)
    start = time.monotonic()
    pending = []
    for i in range(total):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        name = f"lat-{i}"
        path, body = make(name)

        async def create(name: str = name, path: str = path, body: dict[str, Any] = body) -> None:
            await kube.create(path, body)
            created[name] = time.monotonic()

        pending.append(asyncio.create_task(create()))
    await asyncio.gather(*pending)
    deadline = time.monotonic() + 60
    while len(set(created) & set(seen)) < total and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    stop.set()
    watcher.cancel()
    latencies = {key: max(0.0, seen[key] - created[key]) for key in created if key in seen}
    missing = total - len(latencies)
    if missing:
        print(f"warning: {missing} of {total} pods not seen within 60 s (counted as missing, not in percentiles)")
    return list(latencies.values())


def report(label: str, values: list[float]) -> None:
    p50, p90, p99 = (percentile(values, q) for q in (0.5, 0.9, 0.99))
    print(f"{label}: n={len(values)} p50={p50 * 1000:.0f} ms p90={p90 * 1000:.0f} ms p99={p99 * 1000:.0f} ms "
          f"max={max(values) * 1000:.0f} ms")  # fmt: skip


async def main(rate: float, seconds: float) -> None:
    info = testbed_info()
    image = await build_bench_image(info)
    async with client(info) as kube:
        ns_op, ns_direct = "bench-latency-operator", "bench-latency-direct"
        await fresh_namespace(kube, info, ns_op)
        await fresh_namespace(kube, info, ns_direct)
        await local_claim(kube, info, ns_op, "task-api-workspace")
        operator = await steady(kube, ns_op, rate, seconds, lambda n: (taskruns(ns_op), trivial_taskrun(n, image)))

        direct = await steady(
            kube, ns_direct, rate, seconds, lambda n: (core_path("pods", ns_direct), plain_pod(n, image))
        )
        await delete_namespace(kube, ns_op)
        await delete_namespace(kube, ns_direct)
    report(f"TaskRun create -> pod seen ({rate:g}/s for {seconds:g} s)", operator)
    report("baseline: pod create -> pod seen (watch delay)", direct)
    print(f"p99 goal <= 1000 ms: {'met' if percentile(operator, 0.99) <= 1.0 else 'NOT met'}")


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(float(args[0]) if args else 5.0, float(args[1]) if len(args) > 1 else 60.0))
