"""P1 — a burst of TaskRuns: time until every pod exists, against creating the same pods directly.

Creates N TaskRuns at once (trivial template, image given directly) and times until the operator has created
every pod; then, in the same run and on the same API server, creates N comparable pods directly with the same
client and concurrency. Prints both times and the ratio (direct / operator; goal ≥ 0.5).

Usage: python -m bench.operator_burst [N]   (default 300; needs the test bed and the deployed operator)
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
    plain_pod,
    taskruns,
    testbed_info,
    trivial_taskrun,
    watch_pods,
)
from task_api.kube.client import core_path

CONCURRENCY = 32


async def create_all(bodies: list[tuple[str, dict[str, Any]]], kube: Any) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(path: str, body: dict[str, Any]) -> None:
        async with gate:
            await kube.create(path, body)

    await asyncio.gather(*(one(p, b) for p, b in bodies))


async def timed_until_pods(kube: Any, namespace: str, n: int, create: Any) -> float:
    seen: set[str] = set()
    done = asyncio.Event()
    stop = asyncio.Event()

    def added(pod: dict[str, Any], _: float) -> None:
        if pod["metadata"].get("labels", {}).get("task-api.io/role", "task") == "task":
            seen.add(pod["metadata"]["name"])
        if len(seen) >= n:
            done.set()

    watcher = asyncio.create_task(watch_pods(kube, namespace, added, stop))
    await asyncio.sleep(0.5)  # the watch is established
    start = time.monotonic()
    await create()
    await asyncio.wait_for(done.wait(), timeout=600)
    elapsed = time.monotonic() - start
    stop.set()
    watcher.cancel()
    return elapsed


async def main(n: int) -> None:
    info = testbed_info()
    image = await build_bench_image(info)
    async with client(info) as kube:
        ns_op, ns_direct = "bench-burst-operator", "bench-burst-direct"
        await fresh_namespace(kube, info, ns_op)
        await fresh_namespace(kube, info, ns_direct)
        await local_claim(kube, info, ns_op, "task-api-workspace")
        runs = [(taskruns(ns_op), trivial_taskrun(f"burst-{i}", image)) for i in range(n)]
        pods = [(core_path("pods", ns_direct), plain_pod(f"direct-{i}", image)) for i in range(n)]
        operator_s = await timed_until_pods(kube, ns_op, n, lambda: create_all(runs, kube))
        direct_s = await timed_until_pods(kube, ns_direct, n, lambda: create_all(pods, kube))
        await delete_namespace(kube, ns_op)
        await delete_namespace(kube, ns_direct)
    print(f"burst of {n}: operator {operator_s:.2f} s until every pod existed ({n / operator_s:.1f} pods/s)")
    print(f"burst of {n}: direct   {direct_s:.2f} s creating the same number of pods ({n / direct_s:.1f} pods/s)")
    print(f"ratio direct/operator = {direct_s / operator_s:.2f} (goal >= 0.5)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
