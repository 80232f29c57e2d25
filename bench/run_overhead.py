"""Benchmark: ``task-api run --watch`` against a plain ``docker run`` of the same container, in the same run.

For each workload the script runs ``task-api run TASK --watch`` once (warm-up), reads the container task-api
created back from the engine and turns it into the equivalent ``docker run`` command line — same image,
entrypoint and command, environment, user, bind mounts (read-only inputs), memory limit and reservation, CPU
limit and shares, labels — so both sides start the very same container. Then both run alternately, ``--repeat``
times each; outputs and containers are removed between runs (not timed). Medians are compared.

Workloads (``examples/01-hello-world``, built locally from its Dockerfile):

* ``checksum, 3 small files`` — the example as it is: the container's work takes milliseconds, so this shows
  task-api's fixed cost (Python start-up, reading and validating the task, measuring, the record);
* ``compress, 64 MiB input`` and ``256 MiB input`` — the compress template on generated, compressible
  input (cached under ``~/.cache/task-api/bench/``): containers doing real work for seconds.

Goal: task-api <= 1.2 x docker run in wall time.

Usage: ``.venv/bin/python bench/run_overhead.py [--repeat N]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from task_api.runner.engine import DockerEngine
from task_api.runner.errors import ContainerNotFound

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "01-hello-world"
DOCKER = "/usr/bin/docker"
IMAGE = "task-api-example/hello-world:dev"
GOAL = 1.2
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "task-api" / "bench"


def prepare_workdir(name: str, *, task_file: str, input_bytes: int) -> Path:
    """A copy of the example whose input holds ``input_bytes`` more of generated data (cached)."""
    work = CACHE / f"run-overhead-{name}"
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("output", "task_run-*.json"))
    if input_bytes:
        blob = CACHE / f"compressible-{input_bytes}.bin"
        if not blob.exists() or blob.stat().st_size != input_bytes:
            rng = random.Random(7)
            words = [bytes(rng.choices(range(97, 123), k=rng.randint(2, 9))) for _ in range(4096)]
            with blob.open("wb") as handle:
                written = 0
                while written < input_bytes:
                    chunk = b" ".join(rng.choices(words, k=8192))[: input_bytes - written]
                    handle.write(chunk)
                    written += len(chunk)
        os.link(blob, work / "input" / "data.bin")
    (work / "bench-task.json").write_text((work / task_file).read_text())
    return work


def docker_args(inspect: dict[str, Any], name: str) -> list[str]:
    """The ``docker run`` command line that starts the container ``inspect`` describes."""
    config, host = inspect["Config"], inspect["HostConfig"]
    args = [DOCKER, "run", "--name", name]
    for mount in host.get("Mounts") or []:
        spec = f"type=bind,source={mount['Source']},target={mount['Target']}"
        args += ["--mount", spec + (",readonly" if mount.get("ReadOnly") else "")]
    for item in config.get("Env") or []:
        if not item.startswith("PATH="):
            args += ["-e", item]
    for key, value in (config.get("Labels") or {}).items():
        args += ["--label", f"{key}={value}"]
    if config.get("User"):
        args += ["--user", config["User"]]
    if host.get("Memory"):
        args += ["--memory", str(host["Memory"])]
    if host.get("MemorySwap"):
        args += ["--memory-swap", str(host["MemorySwap"])]
    if host.get("MemoryReservation"):
        args += ["--memory-reservation", str(host["MemoryReservation"])]
    if host.get("NanoCpus"):
        args += ["--cpus", str(host["NanoCpus"] / 1e9)]
    if host.get("CpuShares"):
        args += ["--cpu-shares", str(host["CpuShares"])]
    entrypoint = config.get("Entrypoint") or []
    if entrypoint:
        args += ["--entrypoint", entrypoint[0]]
    args.append(config["Image"])
    args += entrypoint[1:] + (config.get("Cmd") or [])
    return args


def reset_outputs(work: Path) -> None:
    shutil.rmtree(work / "output", ignore_errors=True)
    (work / "output").mkdir()
    for record in work.glob("task_run-*.json"):
        record.unlink()


def timed(args: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:4])} failed ({done.returncode}): {done.stderr[-800:]}")
    return elapsed


def _remove_recorded(engine: DockerEngine, work: Path) -> None:
    for path in work.glob("task_run-*.json"):
        with contextlib.suppress(ContainerNotFound):
            engine.remove_container(json.loads(path.read_text())["container_id"], force=True)
        path.unlink()


def bench(engine: DockerEngine, label: str, work: Path, repeat: int) -> tuple[float, float]:
    task_api = [sys.executable, "-m", "task_api.cli", "run", "bench-task.json", "--watch"]
    reset_outputs(work)
    timed(task_api, work)  # warm-up; also the container to copy
    record = json.loads(next(work.glob("task_run-*.json")).read_text())
    inspect = engine.inspect_container(record["container_id"])
    engine.remove_container(record["container_id"], force=True)
    ours, theirs = [], []
    name = ""
    try:
        for index in range(repeat):
            reset_outputs(work)
            ours.append(timed(task_api, work))
            _remove_recorded(engine, work)
            reset_outputs(work)
            name = f"task-api-bench-{os.getpid()}-{index}"
            theirs.append(timed(docker_args(inspect, name), work))
            engine.remove_container(name, force=True)
            name = ""
    finally:  # also when interrupted: leave no containers behind
        _remove_recorded(engine, work)
        if name:
            with contextlib.suppress(ContainerNotFound):
                engine.remove_container(name, force=True)
    reset_outputs(work)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"{label:<28} docker run {b * 1000:7.0f} ms   task-api run --watch {a * 1000:7.0f} ms   "
          f"{a / b:4.2f}x   (+{(a - b) * 1000:.0f} ms)")  # fmt: skip
    return a, b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each side (default 7)")
    args = parser.parse_args()
    subprocess.run([str(ROOT / "hack" / "docker-up.sh")], check=True)
    subprocess.run([str(EXAMPLE / "build.sh"), IMAGE], check=True, stdout=subprocess.DEVNULL)
    CACHE.mkdir(parents=True, exist_ok=True)
    workloads = [
        ("checksum, 3 small files", prepare_workdir("checksum", task_file="task.json", input_bytes=0)),
        ("compress, 64 MiB input", prepare_workdir("compress", task_file="task-compress.json", input_bytes=64 << 20)),
        (
            "compress, 256 MiB input",
            prepare_workdir("compress-256", task_file="task-compress.json", input_bytes=256 << 20),
        ),
    ]
    print(f"{args.repeat} runs each, alternating, medians of wall time")
    results = []
    with DockerEngine() as engine:
        for label, work in workloads:
            results.append((label, *bench(engine, label, work, args.repeat)))
    for label, ours, theirs in results:
        ratio = ours / theirs
        print(
            f"goal task-api <= {GOAL:.1f}x docker run, {label}: {'met' if ratio <= GOAL else 'NOT met'} ({ratio:.2f}x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
