"""``make bench-scale``: every fleet figure of docs/scaling.md in one run, each beside its baseline.

One fresh fleet bed (100 fake nodes, kwok; no kubelet) and the operator as a host process, then in order:

1. F2 steady offered load (10 … 100 TaskRuns/s, 10 s each, up to the rate where p99 create→pod passes 1 s);
2. F1 + F3 burst of 2,000: time until every pod exists vs the same pods created directly; API cost per TaskRun;
3. the same burst with ``ttlSecondsAfterFinished: 0`` (ratio to the direct side of 2.);
4. F1 + F3 burst of 10,000;
5. F4 memory: the operator's RSS after those runs finished (idle, after 2., after 4.);
6. F4 restart with every TaskRun above present: resync time, writes to finished runs;
7. F5 the CPU an API request costs the operator's HTTP client, against HTTP/2 and aiohttp.

8. with ``--replicas 2`` (the default): the first burst again with a second replica standing by on the leader
   Lease, and the leader SIGKILLed once a third of the pods exist (ratio to the direct side of 2.).

Usage: python -m bench.scale [--nodes 100] [--sizes 2000 10000] [--replicas 1|2] [--keep] [--profile DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench import scale_burst, scale_client, scale_restart, scale_steady
from bench._fleet import MIB, fleet_session, run
from bench.scale_restart import Memory

#: Item 8 kills the leader once this share of the burst's pods exists.
KILL_AT = 0.33


async def main(
    *, nodes: int, sizes: list[int], keep: bool, profile: Path | None, steady_rates: list[float], replicas: int
) -> None:
    started = time.monotonic()
    async with fleet_session(nodes, keep=keep) as fx:
        await scale_steady.sweep(fx, steady_rates, seconds=10, run_time="2s")
        samples: list[tuple[int, int]] = []
        finished = 0
        first_direct: scale_burst.Side | None = None
        for index, n in enumerate(sizes):
            direct = await scale_burst.direct_side(fx, n, f"b{n}")
            first_direct = first_direct or direct
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
        if replicas == 2 and first_direct is not None:
            # Last among the operator's figures: the standby would take over the restart above, and the memory
            # figures belong to the replica that saw every run.
            n = first_direct.n
            op, failover = await scale_burst.failover_side(fx, n, f"b{n}-replicas", kill_at=KILL_AT)
            scale_burst.report_failover(op, first_direct, failover, nodes=nodes)
        print("\n== F5 the CPU of an API request, by HTTP client")
        await scale_client.main(2000, 32)
    print(f"\nbench-scale took {(time.monotonic() - started) / 60:.1f} min")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=100, help="fake nodes (default 100)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000], help="burst sizes")
    parser.add_argument("--rates", type=float, nargs="+", default=scale_steady.DEFAULT_RATES, help="steady rates")
    parser.add_argument(
        "--replicas", type=int, choices=(1, 2), default=2, help="2: also the first burst with a standby, leader killed"
    )
    parser.add_argument("--keep", action="store_true", help="leave the fleet bed up afterwards")
    parser.add_argument("--profile", type=Path, help="record the operator with py-spy during each burst")
    args = parser.parse_args()
    run(
        main(
            nodes=args.nodes,
            sizes=args.sizes,
            keep=args.keep,
            profile=args.profile,
            steady_rates=args.rates,
            replicas=args.replicas,
        )
    )
