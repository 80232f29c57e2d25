"""P1 — a burst of TaskRuns: time until every pod exists, against creating the same pods directly.

Creates N TaskRuns at once (trivial template, image given directly) and times until the operator has created
every pod; then, in the same run and on the same API server, creates N comparable pods directly with the same
client and concurrency. Each side starts once no namespace is Terminating (an earlier run's clean-up, or the other
side's pods, would skew it). Prints both times and the ratio (direct / operator; goal ≥ 0.5).

On this 2-core test bed the node starts the pods while later ones are still being created, and the kubelet and
containerd then take most of the CPU: the operator, which has to wait for each TaskRun, competes with them, while
the direct side is done in about two seconds, before they get going. ``--cordon`` marks the node unschedulable for
the run, so pods are created but never start, and both sides measure the API server and the operator alone.

Usage: python -m bench.operator_burst [N] [--cordon]   (default 300; needs the test bed and the deployed operator)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
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


@contextlib.asynccontextmanager
async def nodes_cordoned(kube: Any, cordon: bool) -> AsyncIterator[None]:
    """With ``cordon``, mark every node unschedulable for the block (and undo it after, whatever happens)."""
    if not cordon:
        yield
        return
    nodes = [node["metadata"]["name"] for node in await kube.list_items(core_path("nodes"))]
    try:
        for node in nodes:
            await kube.merge_patch(core_path("nodes", name=node), {"spec": {"unschedulable": True}})
        yield
    finally:
        for node in nodes:
            await kube.merge_patch(core_path("nodes", name=node), {"spec": {"unschedulable": False}})


async def main(n: int, cordon: bool) -> None:
    info = testbed_info()
    image = await build_bench_image(info)
    async with client(info) as kube, nodes_cordoned(kube, cordon):
        ns_op, ns_direct = "bench-burst-operator", "bench-burst-direct"
        runs = [(taskruns(ns_op), trivial_taskrun(f"burst-{i}", image)) for i in range(n)]
        pods = [(core_path("pods", ns_direct), plain_pod(f"direct-{i}", image)) for i in range(n)]
        # Each side starts on a quiet bed (fresh_namespace waits until no namespace is Terminating): the other
        # side's pods, running and then being deleted, would slow it.
        await fresh_namespace(kube, info, ns_op)
        await local_claim(kube, info, ns_op, "task-api-workspace")
        operator_s = await timed_until_pods(kube, ns_op, n, lambda: create_all(runs, kube))
        await delete_namespace(kube, ns_op)
        await fresh_namespace(kube, info, ns_direct)
        direct_s = await timed_until_pods(kube, ns_direct, n, lambda: create_all(pods, kube))
        await delete_namespace(kube, ns_direct)
    print(f"burst of {n}: operator {operator_s:.2f} s until every pod existed ({n / operator_s:.1f} pods/s)")
    print(f"burst of {n}: direct   {direct_s:.2f} s creating the same number of pods ({n / direct_s:.1f} pods/s)")
    print(f"ratio direct/operator = {direct_s / operator_s:.2f} (goal >= 0.5)" + (" [node cordoned]" if cordon else ""))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=300, help="TaskRuns (and direct pods) per side")
    parser.add_argument("--cordon", action="store_true", help="cordon the node: pods are created but never start")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.cordon))
