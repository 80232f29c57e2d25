"""Benchmark: warm ``testbed-up`` time to Node Ready, against etcd alone starting, measured in the same run.

What it does, all on this machine:

1. baseline: starts the test bed's own etcd binary alone (temp data dir, free 127.0.0.1 ports, plain HTTP)
   and times it until ``/health`` answers healthy; stops it; ``--runs`` times;
2. warm up: with the binaries, certificates and pause image already cached (a first ``up.sh`` makes sure),
   takes the bed down (not timed) and times ``hack/testbed/up.sh``; ``up.sh`` writes the moment its node
   went Ready and the moment the cluster was usable (node untainted, ``default`` ServiceAccount made) to
   ``.up-seconds``; the script's wall-clock time is measured here too; ``--runs`` times;
3. prints medians, every run, and the ratio warm-up-to-Ready / etcd alone; goal: Node Ready ≤ 60 s.

By default it uses a separate bed (``hack/testbed/profiles/bench.env``: its own directory, addresses, ports
and cgroups) so that it never restarts the shared bed that tests may be using, and removes it at the end;
``--shared`` measures the shared bed instead (and leaves it up).

Run as root: ``.venv/bin/python bench/testbed_up.py [--runs 3] [--shared]``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HACK = ROOT / "hack"
GOAL_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def versions() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (HACK / "versions.env").read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.startswith("#")}


def etcd_alone_seconds(etcd: Path) -> float:
    """Starts etcd in a temp dir and returns the seconds until /health says healthy."""
    client, peer = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="bench-etcd-") as data:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [
                str(etcd),
                "--data-dir", data,
                "--listen-client-urls", f"http://127.0.0.1:{client}",
                "--advertise-client-urls", f"http://127.0.0.1:{client}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", f"default=http://127.0.0.1:{peer}",
                "--listen-metrics-urls", "", "--log-level", "error", "--unsafe-no-fsync",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{client}/health", timeout=1) as answer:
                        if b'"health":"true"' in answer.read():
                            return time.perf_counter() - start
                except OSError:
                    pass
                if proc.poll() is not None:
                    sys.exit(f"etcd exited with {proc.returncode} before it was healthy")
                time.sleep(0.02)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def script(name: str, *args: str, env: dict[str, str]) -> float:
    """Runs a test bed script; returns its wall-clock seconds; exits with its output if it fails."""
    start = time.perf_counter()
    done = subprocess.run([str(HACK / "testbed" / name), *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{name} {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return time.perf_counter() - start


def state_dir(env: dict[str, str]) -> Path:
    if "TESTBED_PROFILE" in env:
        profile = HACK / "testbed" / "profiles" / f"{env['TESTBED_PROFILE']}.env"
        for line in profile.read_text().splitlines():
            if line.startswith("TASK_API_TESTBED_DIR="):
                return Path(line.split("=", 1)[1].strip())
    return Path(env.get("TASK_API_TESTBED_DIR", "/var/lib/task-api/testbed"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each measurement (default 3)")
    parser.add_argument("--shared", action="store_true", help="measure the shared bed (it is restarted)")
    options = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the test bed creates interfaces, mounts and cgroups")

    env = dict(os.environ)
    if not options.shared:
        env["TESTBED_PROFILE"] = "bench"
    pins = versions()
    cache = Path(os.environ.get("TASK_API_CACHE", Path.home() / ".cache" / "task-api"))
    etcd = cache / "etcd" / pins["ETCD_VERSION"] / "etcd"
    state = state_dir(env)

    print(f"test bed: {state} (Kubernetes {pins['KUBE_VERSION']}, etcd {pins['ETCD_VERSION']}), {os.cpu_count()} CPUs")
    # Warm caches: binaries built, certificates issued, pause image saved. Not timed.
    script("up.sh", env=env)

    baseline = [etcd_alone_seconds(etcd) for _ in range(options.runs)]
    ready, usable, wall, down = [], [], [], []
    for _ in range(options.runs):
        down.append(script("down.sh", "--quiet", env=env))
        wall.append(script("up.sh", env=env))
        marks = dict(item.split("=") for item in (state / ".up-seconds").read_text().split())
        ready.append(float(marks["ready"]))
        usable.append(float(marks["usable"]))
    noop = script("up.sh", env=env)
    if not options.shared:
        script("down.sh", "--purge", "--quiet", env=env)

    def show(label: str, values: list[float]) -> None:
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {label:<44} median {statistics.median(values):6.2f} s   (runs: {runs})")

    print("figures:")
    show("baseline: etcd alone, start to healthy", baseline)
    show("warm testbed-up: start to Node Ready", ready)
    show("warm testbed-up: start to usable", usable)
    show("warm testbed-up: whole script (wall clock)", wall)
    show("testbed-down with the bed up", down)
    print(f"  {'testbed-up when already up (no-op)':<44} {noop:13.2f} s")
    ratio = statistics.median(ready) / statistics.median(baseline)
    print(f"ratio: warm up to Node Ready / etcd alone = {ratio:.1f}x")
    verdict = "PASS" if statistics.median(ready) <= GOAL_SECONDS else "MISS"
    print(f"goal: Node Ready <= {GOAL_SECONDS:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
