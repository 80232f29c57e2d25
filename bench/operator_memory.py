"""P3 — the operator's memory as finished TaskRuns accumulate.

Creates N TaskRuns (trivial template, pods removed on completion) in waves, waits for them to finish, and samples
the operator's resident memory (VmRSS of its process, read from /proc on the node — the test bed runs it with the
host's PID namespace visible) after every wave. Prints the samples; goals: ≤ 150 MiB after N = 2000 and flat (the
last sample within 15 % of the one after the first wave). Baseline: the operator's RSS before the first wave.

Usage: python -m bench.operator_memory [N] [WAVE]   (default 2000 in waves of 250)
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from bench._cluster import (
    build_bench_image,
    client,
    delete_namespace,
    fresh_namespace,
    local_claim,
    taskruns,
    testbed_info,
    trivial_taskrun,
)

MIB = 1024 * 1024


def operator_rss(api_host: str) -> int:
    """VmRSS of this bed's operator process (``python -m task_api.controller``) in bytes.

    Private test beds each run an operator on this host: the one whose ``KUBERNETES_SERVICE_HOST`` is this bed's
    API server address is ours.
    """
    want = f"KUBERNETES_SERVICE_HOST={api_host}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if b"task_api.controller" not in cmdline or want not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            continue
    raise SystemExit("no running operator process found (deploy it: make deploy-testbed)")


async def finished_count(kube: Any, namespace: str) -> int:
    runs = await kube.list_items(taskruns(namespace))
    return sum(1 for r in runs if (r.get("status") or {}).get("phase") in ("Succeeded", "Failed"))


async def main(n: int, wave: int) -> None:
    info = testbed_info()
    image = await build_bench_image(info)
    namespace = "bench-memory"
    samples: list[tuple[int, int]] = [(0, operator_rss(info["node_ip"]))]
    async with client(info) as kube:
        await fresh_namespace(kube, info, namespace)
        await local_claim(kube, info, namespace, "task-api-workspace")
        gate = asyncio.Semaphore(16)

        async def create(i: int) -> None:
            async with gate:
                await kube.create(taskruns(namespace), trivial_taskrun(f"mem-{i}", image))

        for start in range(0, n, wave):
            count = min(wave, n - start)
            await asyncio.gather(*(create(i) for i in range(start, start + count)))
            while await finished_count(kube, namespace) < start + count:
                await asyncio.sleep(2)
            await asyncio.sleep(3)  # let the work queue settle
            samples.append((start + count, operator_rss(info["node_ip"])))
            print(f"{start + count:5d} finished TaskRuns: operator RSS {samples[-1][1] / MIB:.1f} MiB", flush=True)
        await delete_namespace(kube, namespace)
    base = samples[0][1]
    first, last = samples[1][1], samples[-1][1]
    print(f"baseline (before any run): {base / MIB:.1f} MiB")
    print(f"after {samples[-1][0]} finished runs: {last / MIB:.1f} MiB (ratio to baseline {last / base:.2f})")
    print(
        f"growth from the first wave to the last: {(last - first) / MIB:+.1f} MiB ({(last / first - 1) * 100:+.1f} %)"
    )
    print(f"goal <= 150 MiB: {'met' if last <= 150 * MIB else 'NOT met'}; flat (<= 15 %): "
          f"{'met' if last <= first * 1.15 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(int(args[0]) if args else 2000, int(args[1]) if len(args) > 1 else 250))
