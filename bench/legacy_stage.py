"""Benchmark: staging a legacy layout (task_api.legacy.stage) against ``cp -a`` of the same input, in the same run.

The input is a batch of 100 elements x 200 files (1 B - 16 KiB, about 160 MiB), made in a temporary directory.
Each round stages it three ways into fresh directories, alternating: ``cp -a`` of the whole input (the baseline:
what copying the data costs at least), ``--stage copy`` and ``--stage link``. Medians are printed with their ratio
to the baseline. Expectation: copy ~ 1.x baseline (it copies the same bytes, plus a chmod walk); link a small
fraction of it (no data is copied, one link per element).

Usage: ``.venv/bin/python bench/legacy_stage.py [--repeat N] [--elements N] [--files N]``
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from task_api.core.legacy import LegacyLayout, StageKind
from task_api.legacy.stage import stage


def build(root: Path, elements: int, files: int) -> int:
    rng = random.Random(20261125)
    payload = rng.randbytes(16384)
    total = 0
    for e in range(elements):
        folder = root / f"element{e:03d}"
        folder.mkdir(parents=True)
        for f in range(files):
            size = rng.randint(1, 16384)
            (folder / f"img{f:03d}.dcm").write_bytes(payload[:size])
            total += size
    return total


def layout(base: Path, kind: StageKind) -> LegacyLayout:
    return LegacyLayout(
        workflow_dir=str(base / "workflow"),
        operator_in_dir="in",
        operator_out_dir="out",
        run_id="bench",
        input="input",
        input_path="/task-api/legacy/inputs/input",
        output="output",
        output_path="/task-api/legacy/outputs/output",
        stage=kind,
    )


def timed_stage(source: Path, scratch: Path, kind: StageKind) -> float:
    target = Path(tempfile.mkdtemp(dir=scratch))
    started = time.perf_counter()
    stage(layout(target, kind), {}, workflow_root=target / "workflow", input_root=source, output_root=target / "out")
    elapsed = time.perf_counter() - started
    shutil.rmtree(target)
    return elapsed


def timed_cp(source: Path, scratch: Path) -> float:
    target = Path(tempfile.mkdtemp(dir=scratch))
    started = time.perf_counter()
    subprocess.run(["cp", "-a", str(source), str(target / "copy")], check=True)
    elapsed = time.perf_counter() - started
    shutil.rmtree(target)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--elements", type=int, default=100)
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="task-api-bench-legacy-") as tmp:
        base = Path(tmp)
        source = base / "input"
        total = build(source, args.elements, args.files)
        print(f"input: {args.elements} elements x {args.files} files, {total / 2**20:.1f} MiB")
        timed_cp(source, base)  # warm-up: page cache and dentries, untimed
        results: dict[str, list[float]] = {"cp -a (baseline)": [], "stage copy": [], "stage link": []}
        for _ in range(args.repeat):
            results["cp -a (baseline)"].append(timed_cp(source, base))
            results["stage copy"].append(timed_stage(source, base, StageKind.COPY))
            results["stage link"].append(timed_stage(source, base, StageKind.LINK))
        baseline = statistics.median(results["cp -a (baseline)"])
        for name, values in results.items():
            median = statistics.median(values)
            ratio = median / baseline
            print(f"{name:18s} median {median * 1000:8.1f} ms  ({ratio:5.2f} x baseline)  runs {len(values)}")


if __name__ == "__main__":
    main()
