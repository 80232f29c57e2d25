"""Benchmark: read processing-container.json out of a 1 GiB image vs. ``docker pull`` of the same image.

What it does, all on this machine:

1. starts Debian's ``docker-registry`` with a bcrypt htpasswd on a free 127.0.0.1 port (a temp dir);
2. builds ``FROM scratch`` + static busybox + 1 GiB of random (incompressible) data + the JSON on top, with the
   real Docker engine, and pushes it (the random data is generated once, under ``~/.cache/task-api/``);
3. removes the image locally, then times ``inspect_image`` cold (no cache) and ``docker pull`` — the baseline,
   measured in the same run — and prints both times, bytes read and the ratio;
4. inspects again with a cache, by tag and by digest, and prints the request counts (goal: no blob request).

Goals (printed as PASS/MISS, never asserted by tests): ≤ 64 KiB read; inspection ≤ 1/20 of the pull time.

Run: ``.venv/bin/python bench/inspect_vs_pull.py [--size-mib 1024] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fixtures' helpers start the registry and drive the Docker client

from task_api.image import Credentials, InspectionCache, inspect_image  # noqa: E402
from tests.fixtures.docker import BUSYBOX_DOCKERFILE, DockerEngine, make_context, random_file  # noqa: E402
from tests.fixtures.registry import HTPASSWD_BIN, _start_registry, _stop  # noqa: E402

PC_JSON = """{
  "name": "bench",
  "description": "a 1 GiB image with the file in the top layer",
  "templates": [{"identifier": "main", "description": "benchmark", "env": [],
                 "inputs": [], "outputs": [{"name": "out", "mounted_path": "/out"}], "command": ["true"]}]
}
"""


def build_and_push(engine: DockerEngine, work: Path, host: str, password: str, size_mib: int) -> str:
    """Build the big image and push it; returns its tag (I/O: Docker engine, registry)."""
    t0 = time.perf_counter()
    big = random_file(size_mib * 1024 * 1024)
    print(f"random data: {big} ({big.stat().st_size / 2**20:.0f} MiB) ready in {time.perf_counter() - t0:.1f} s")
    context = make_context(
        work / "ctx",
        BUSYBOX_DOCKERFILE + "COPY big.bin /big.bin\nCOPY processing-container.json /\n",
        {"big.bin": big, "processing-container.json": PC_JSON},
    )
    tag = f"{host}/bench/big:v1"
    t0 = time.perf_counter()
    engine.build(context, tag)
    engine.login(host, "bench", password)
    digest = engine.push(tag)
    print(f"built and pushed {tag} ({digest}) in {time.perf_counter() - t0:.1f} s")
    return tag


def measure(engine: DockerEngine, tag: str, credentials: Credentials, repeat: int, size_mib: int) -> bool:
    """Time cold inspections and the pull baseline, then cached inspections; print the figures."""
    engine.remove(tag)  # the pull below must download everything
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = inspect_image(tag, credentials=credentials)
        times.append(time.perf_counter() - t0)
    assert result is not None
    inspect_s = statistics.median(times)

    t0 = time.perf_counter()
    engine.run("pull", tag)
    pull_s = time.perf_counter() - t0
    engine.remove(tag)

    cache = InspectionCache()
    inspect_image(tag, credentials=credentials, cache=cache)
    by_tag = inspect_image(tag, credentials=credentials, cache=cache)
    by_digest = inspect_image(result.reference, credentials=credentials, cache=cache)

    ratio = pull_s / inspect_s
    samples = ", ".join(f"{t * 1000:.1f}" for t in times)
    print()
    print(f"image                      {tag} ({size_mib} MiB random layer + the JSON on top)")
    print(f"docker pull (baseline)     {pull_s * 1000:10.1f} ms")
    print(f"inspect_image (cold)       {inspect_s * 1000:10.1f} ms  median of {repeat}: {samples}")
    print(f"ratio pull / inspect       {ratio:10.1f} x")
    print(f"bytes read by inspect      {result.bytes_read:10d} B   (source {result.source.value})")
    print(f"requests, cold inspect     {result.requests:10d}     {dict(result.request_counts)}")
    print(f"requests, cached by tag    {by_tag.requests:10d}     {dict(by_tag.request_counts)} ({by_tag.source})")
    print(f"requests, cached by digest {by_digest.requests:10d}     {dict(by_digest.request_counts)}")
    print()
    goals = [
        ("bytes read <= 64 KiB", result.bytes_read <= 64 * 1024),
        ("inspect <= 1/20 of pull", ratio >= 20),
        ("cached re-inspection makes no blob request", by_tag.request_counts.get("blob", 0) == 0),
        ("digest-pinned cached inspection makes no request", by_digest.requests == 0),
    ]
    for name, ok in goals:
        print(f"{'PASS' if ok else 'MISS'}  {name}")
    return all(ok for _, ok in goals)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the random layer (MiB)")
    parser.add_argument("--repeat", type=int, default=5, help="cold inspections to time (median is reported)")
    args = parser.parse_args()

    subprocess.run([str(ROOT / "hack" / "install-deps.sh")], check=True)
    subprocess.run([str(ROOT / "hack" / "docker-up.sh")], check=True)
    work = Path(tempfile.mkdtemp(prefix="task-api-bench-"))
    password = secrets.token_urlsafe(12)
    subprocess.run([HTPASSWD_BIN, "-Bbc", str(work / "htpasswd"), "bench", password], check=True, capture_output=True)
    host, registry = _start_registry(work, f"auth:\n  htpasswd:\n    realm: bench\n    path: {work / 'htpasswd'}\n")
    (work / "docker-config").mkdir()
    engine = DockerEngine(config_dir=work / "docker-config")
    tag = f"{host}/bench/big:v1"
    try:
        tag = build_and_push(engine, work, host, password, args.size_mib)
        ok = measure(engine, tag, Credentials.basic("bench", password), args.repeat, args.size_mib)
        return 0 if ok else 1
    finally:
        engine.remove(tag)
        _stop(registry)
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    sys.exit(main())
