"""Benchmark: what recording the peak memory costs a local run (``run --watch`` samples it by default).

``task-api run TASK --watch`` (the sampler reads the cgroup's high-water mark every 20 ms from a thread) against
``task-api run TASK --watch --no-monitor-memory``, alternately, ``--repeat`` times each, on the same two workloads as
``bench/run_overhead.py``: the checksum example (milliseconds of work: the fixed cost shows) and the compress
template on 64 MiB (seconds of work). Prints the median wall time and the task-api process's CPU time (user +
system, from ``getrusage`` of the child) per side, and the ratio monitored / not monitored; and, first, the sampler
thread's own CPU against a container that only sleeps (in-process, so without the noise of whole runs).

Usage: ``.venv/bin/python -m bench.monitor_cost [--repeat N]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.run_overhead import EXAMPLE, IMAGE, prepare_workdir, reset_outputs
from task_api.runner.engine import DockerEngine
from task_api.runner.errors import ContainerNotFound
from task_api.runner.memory import PeakSampler

DOCKER = "/usr/bin/docker"

ROOT = Path(__file__).resolve().parents[1]


def one(work: Path, *, monitor: bool) -> tuple[float, float, int | None]:
    """Wall seconds, CPU seconds of the task-api process, and the recorded peak (None when not monitored)."""
    args = [sys.executable, "-m", "task_api.cli", "run", "bench-task.json", "--watch", "--no-pull"]
    if not monitor:
        args.append("--no-monitor-memory")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, cwd=work, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"task-api run failed ({done.returncode}): {done.stderr[-800:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    record = json.loads(next(work.glob("task_run-*.json")).read_text())
    return wall, cpu, (record.get("status") or {}).get("peak_memory_bytes")


def cleanup(engine: DockerEngine, work: Path) -> None:
    for path in work.glob("task_run-*.json"):
        with contextlib.suppress(ContainerNotFound):
            engine.remove_container(json.loads(path.read_text())["container_id"], force=True)
    reset_outputs(work)


def sampler_alone(engine: DockerEngine, seconds: float = 10.0) -> None:
    """The sampler thread's own CPU against a container that only sleeps: the cost without the noise of a run."""
    container = subprocess.run([DOCKER, "run", "-d", "--rm", IMAGE, "sleep", str(int(seconds) + 20)],
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    try:
        idle0 = resource.getrusage(resource.RUSAGE_SELF)
        time.sleep(seconds)
        idle1 = resource.getrusage(resource.RUSAGE_SELF)
        sampler = PeakSampler(engine, container).start()
        time.sleep(seconds)
        peak = sampler.stop()
        busy = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        subprocess.run([DOCKER, "rm", "-f", container], capture_output=True, check=False)
    idle = (idle1.ru_utime - idle0.ru_utime) + (idle1.ru_stime - idle0.ru_stime)
    used = (busy.ru_utime - idle1.ru_utime) + (busy.ru_stime - idle1.ru_stime)
    print(f"sampler alone ({PeakSampler.INTERVAL * 1000:.0f} ms interval): {used:.3f} s CPU in {seconds:.0f} s = "
          f"{100 * used / seconds:.2f} % of a core (the same process idle: {idle:.3f} s); peak read {peak} bytes "
          f"from {sampler.source}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    subprocess.run([str(EXAMPLE / "build.sh"), IMAGE], check=True, capture_output=True)
    small = prepare_workdir("monitor-small", task_file="task.json", input_bytes=0)
    large = prepare_workdir("monitor-64m", task_file="task-compress.json", input_bytes=64 * 2**20)
    workloads = [("checksum, 3 small files", small), ("compress, 64 MiB input", large)]
    with DockerEngine() as engine:
        sampler_alone(engine)
        for label, work in workloads:
            cleanup(engine, work)
            one(work, monitor=True)  # warm-up: page cache, image layers
            cleanup(engine, work)
            sides: dict[bool, list[tuple[float, float, int | None]]] = {True: [], False: []}
            for _ in range(args.repeat):
                for monitor in (True, False):
                    sides[monitor].append(one(work, monitor=monitor))
                    cleanup(engine, work)
            wall = {m: statistics.median(r[0] for r in runs) for m, runs in sides.items()}
            cpu = {m: statistics.median(r[1] for r in runs) for m, runs in sides.items()}
            spread = statistics.pstdev(r[0] for r in sides[False]) / wall[False] if wall[False] else 0.0
            peaks = [r[2] for r in sides[True]]
            print(f"{label}: monitored {wall[True]:.3f} s wall / {cpu[True]:.3f} s CPU, not monitored "
                  f"{wall[False]:.3f} s / {cpu[False]:.3f} s; ratio wall {wall[True] / wall[False]:.3f}, CPU "
                  f"{cpu[True] / cpu[False]:.3f} (run-to-run spread of the baseline {100 * spread:.1f} %); "
                  f"peaks recorded {sum(p is not None for p in peaks)}/{len(peaks)}")  # fmt: skip
            cleanup(engine, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
