"""F2 — end-to-end throughput at a steady offered load, and the load where p99 create→pod passes 1 s.

For each offered rate R (TaskRuns per second, for SECONDS seconds), records for every TaskRun the time from its
create call's return to the moment a pod watch sees its pod (create→pod) and to the moment a TaskRun watch sees
it final (create→final; kwok runs each pod for ``--run-time``). Throughput is finished runs per second over the
window from the first create to the last final. Baseline, measured in the same run at the same rate: bare pods
(copies of the operator's) created directly — create→pod is then the watch's own delay, and create→final what kwok
and the scheduler take. Rates go up until p99 create→pod passes 5 s (saturated).

Usage: python -m bench.scale_steady [RATE ...] [--seconds 10] [--run-time 2s] [--nodes 100] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from typing import Any

from bench._cluster import percentile, taskruns
from bench._fleet import Fleet, Tracker, direct_copy, fleet_session, fleet_taskrun, is_task_pod, run
from task_api.kube.client import core_path
from tests.fixtures.fleet import KWOK_RUN_TIME

DEFAULT_RATES = [2.0, 5.0, 10.0, 20.0, 40.0, 80.0]
#: Past this p99 create→pod the operator is saturated: higher rates would only queue more.
SATURATED = 5.0


@dataclass
class Steady:
    rate: float
    n: int
    to_pod: list[float]
    to_final: list[float]
    throughput: float
    missing: int

    def p(self, q: float, values: list[float] | None = None) -> float:
        return percentile(self.to_pod if values is None else values, q)


def _owner_key(pod: dict[str, Any]) -> str:
    labels = pod["metadata"].get("labels") or {}
    return str(labels.get("task-api.io/taskrun") or pod["metadata"]["name"])


async def offered(fx: Fleet, *, rate: float, seconds: float, run_time: str, direct: bool) -> Steady:
    """Create ``rate`` objects per second for ``seconds`` seconds in a fresh namespace and follow them."""
    label = f"{'direct' if direct else 'op'}-{rate:g}".replace(".", "-")
    namespace = f"scale-steady-{label}"
    await fx.namespace(namespace)
    kube = fx.kube
    total = int(rate * seconds)
    created: dict[str, float] = {}
    pod_seen: dict[str, float] = {}
    sample = dict(fx.sample_pod)
    sample["metadata"] = {
        **sample["metadata"],
        "annotations": {**(sample["metadata"].get("annotations") or {}), KWOK_RUN_TIME: run_time},
    }

    def body(i: int) -> tuple[str, dict[str, Any]]:
        if direct:
            return core_path("pods", namespace), direct_copy(sample, f"steady-{i}")
        return taskruns(namespace), fleet_taskrun(f"steady-{i}", fx.image, run_time=run_time)

    async with (
        Tracker(kube, core_path("pods", namespace), keep=is_task_pod) as pods,
        Tracker(kube, taskruns(namespace)) as runs,
    ):
        start = time.monotonic()
        pending = []
        for i in range(total):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))

            async def create(i: int = i) -> None:
                path, obj = body(i)
                await kube.create(path, obj)
                created[f"steady-{i}"] = time.monotonic()

            pending.append(asyncio.create_task(create()))
        await asyncio.gather(*pending)
        finals = pods if direct else runs
        try:
            await finals.wait("every run to finish", lambda t: len(t.final) >= total, timeout=120 + seconds)
        except SystemExit as exc:
            print(f"warning: {exc}")
        for pod_name, at in pods.added.items():
            pod_seen[pod_name] = at
    by_run = {}
    for pod_name, at in pod_seen.items():
        key = pod_name if direct else pod_name.rsplit("-a", 1)[0]
        by_run[key] = at
    # A pod created directly may be seen before its create call returns: the latency is then 0.
    to_pod = [max(0.0, by_run[k] - created[k]) for k in created if k in by_run]
    final_at = finals.final
    to_final = [max(0.0, final_at[k] - created[k]) for k in created if k in final_at]
    window = (max(final_at.values()) - start) if final_at else float("nan")
    return Steady(
        rate=rate,
        n=total,
        to_pod=to_pod,
        to_final=to_final,
        throughput=len(final_at) / window if final_at else 0.0,
        missing=total - len(to_pod),
    )


def line(label: str, s: Steady) -> str:
    return (
        f"  {label:8} create->pod p50 {s.p(0.5) * 1000:6.0f} ms p99 {s.p(0.99) * 1000:6.0f} ms | create->final "
        f"p50 {s.p(0.5, s.to_final):5.1f} s p99 {s.p(0.99, s.to_final):5.1f} s | {s.throughput:6.1f} finished/s"
        + (f" | {s.missing} pods not seen" if s.missing else "")
    )


async def sweep(fx: Fleet, rates: list[float], *, seconds: float, run_time: str) -> list[tuple[Steady, Steady]]:
    results: list[tuple[Steady, Steady]] = []
    print(f"\n== steady offered load, {seconds:g} s per rate, pods run {run_time}")
    for rate in rates:
        direct = await offered(fx, rate=rate, seconds=seconds, run_time=run_time, direct=True)
        op = await offered(fx, rate=rate, seconds=seconds, run_time=run_time, direct=False)
        results.append((op, direct))
        print(f"offered {rate:g} TaskRuns/s ({op.n} runs):", flush=True)
        print(line("operator", op))
        print(line("direct", direct))
        print(f"  ratio: throughput operator/direct {op.throughput / direct.throughput:.2f}; p99 create->pod "
              f"{op.p(0.99) * 1000:.0f} ms vs the watch's own {direct.p(0.99) * 1000:.0f} ms", flush=True)  # fmt: skip
        if op.p(0.99) > SATURATED:
            break
    passed = next((op.rate for op, _ in results if op.p(0.99) > 1.0), None)
    below = [op.rate for op, _ in results if op.p(0.99) <= 1.0]
    if passed is None:
        print(f"p99 create->pod stayed <= 1 s up to {max(rates):g} TaskRuns/s")
    else:
        print(f"p99 create->pod passes 1 s at {passed:g} TaskRuns/s (still <= 1 s at {max(below, default=0):g}/s)")
    return results


async def main(rates: list[float], *, seconds: float, run_time: str, nodes: int, keep: bool, reuse: bool) -> None:
    async with fleet_session(nodes, keep=keep, fresh=not reuse) as fx:
        await sweep(fx, rates, seconds=seconds, run_time=run_time)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("rates", type=float, nargs="*", default=DEFAULT_RATES, help="offered TaskRuns per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per rate (default 10)")
    parser.add_argument("--run-time", default="2s", help="how long kwok runs each pod (default 2s)")
    parser.add_argument("--nodes", type=int, default=100, help="fake nodes (default 100)")
    parser.add_argument("--keep", action="store_true", help="leave the fleet bed up afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the fleet bed as it is (default: a fresh cluster)")
    args = parser.parse_args()
    run(
        main(
            args.rates, seconds=args.seconds, run_time=args.run_time, nodes=args.nodes, keep=args.keep, reuse=args.reuse
        )
    )
