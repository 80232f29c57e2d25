"""``make bench-scale``: every fleet figure of docs/scaling.md in one run, each beside its baseline.

One fresh fleet bed (100 fake nodes, kwok; no kubelet) and the operator as a host process, then in order:

1. F2 steady offered load (10 … 100 TaskRuns/s, 10 s each, up to the rate where p99 create→pod passes 1 s);
2. F1 + F3 burst of 2,000: time until every pod exists vs the same pods created directly; API cost per TaskRun;
3. the same burst with ``ttlSecondsAfterFinished: 0`` (ratio to the direct side of 2.);
4. F1 + F3 burst of 10,000;
5. F4 memory: the operator's RSS after those runs finished (idle, after 2., after 4.);
6. F4 restart with every TaskRun above present: resync time, writes to finished runs;
7. F5 the CPU an API request costs the operator's HTTP client, against HTTP/2 and aiohttp.

A 2-replica variant needs leader election, which the operator does not have yet: ``--replicas 2`` says so and
stops (the hook is :func:`replicas_supported`).

Usage: python -m bench.scale [--nodes 100] [--sizes 2000 10000] [--keep] [--profile DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench import scale_burst, scale_client, scale_restart, scale_steady
from bench._fleet import MIB, fleet_session, run
from bench.scale_restart import Memory


def replicas_supported(replicas: int) -> None:
    """The hook for the 2-replica variant: once the operator elects a leader (a Lease), start ``replicas`` operator
    processes in :func:`bench._fleet.fleet_session`, measure the same burst, and kill the leader mid-burst to time
    the hand-over. Until then only one replica is meaningful."""
    if replicas != 1:
        raise SystemExit(
            f"--replicas {replicas}: the operator has no leader election yet, so two replicas would both reconcile "
            "every TaskRun; see docs/scaling.md, 'Past one operator process'"
        )


async def main(*, nodes: int, sizes: list[int], keep: bool, profile: Path | None, steady_rates: list[float]) -> None:
    started = time.monotonic()
    async with fleet_session(nodes, keep=keep) as fx:
        await scale_steady.sweep(fx, steady_rates, seconds=10, run_time="2s")
        samples: list[tuple[int, int]] = []
        finished = 0
        for index, n in enumerate(sizes):
            direct = await scale_burst.direct_side(fx, n, f"b{n}")
            out = profile / f"burst-{n}.txt" if profile else None
            op = await scale_burst.operator_side(fx, n, f"b{n}", ttl=False, profile=out)
            scale_burst.report(f"burst {n}", op, direct, nodes=nodes)
            finished += n
            samples.append((finished, fx.operator.rss_bytes()))
            print(f"operator RSS {samples[-1][1] / MIB:.1f} MiB after {finished} finished TaskRuns", flush=True)
            if index == 0:
                ttl = await scale_burst.operator_side(fx, n, f"b{n}-ttl", ttl=True)
                scale_burst.report(f"burst {n} with ttlSecondsAfterFinished: 0", ttl, direct, nodes=nodes)
                finished += n
        print("\n== memory")
        scale_restart.report_memory(Memory(idle=fx.rss_idle, samples=samples))
        await scale_restart.restart(fx, unfinished=500)
        print("\n== F5 the CPU of an API request, by HTTP client")
        await scale_client.main(2000, 32)
    print(f"\nbench-scale took {(time.monotonic() - started) / 60:.1f} min")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=100, help="fake nodes (default 100)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000], help="burst sizes")
    parser.add_argument("--rates", type=float, nargs="+", default=scale_steady.DEFAULT_RATES, help="steady rates")
    parser.add_argument("--replicas", type=int, default=1, help="operator replicas (only 1 until leader election)")
    parser.add_argument("--keep", action="store_true", help="leave the fleet bed up afterwards")
    parser.add_argument("--profile", type=Path, help="record the operator with py-spy during each burst")
    args = parser.parse_args()
    replicas_supported(args.replicas)
    run(main(nodes=args.nodes, sizes=args.sizes, keep=args.keep, profile=args.profile, steady_rates=args.rates))
