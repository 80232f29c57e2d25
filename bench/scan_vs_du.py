"""Benchmark: task_api.measure's input scan against ``du -sb`` on the same tree, in the same run.

The tree has 200 000 small files (200 items x 10 series x 100 files, 1 B - 4 KiB each, like a DICOM export)
and is cached under ``~/.cache/task-api/bench/`` so later runs skip the minute it takes to create. Both
tools run alternately, after one untimed warm-up each (so both read a warm dentry/inode cache), and the
medians are compared. Goal: scan <= 1.25 x du.

Usage: ``.venv/bin/python bench/scan_vs_du.py [--repeat N] [--root DIR]``
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from task_api.measure import measure
from task_api.measure._scan import auto_workers
from task_api.spec.scale_rule import ScaleRule

LAYOUT = (200, 10, 100)  # items, series per item, files per series
GOAL = 1.25
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "task-api" / "bench"


def build(root: Path) -> int:
    """Create the tree unless a complete one is cached; return the total size of its files."""
    items, series, files = LAYOUT
    marker = root / ".complete"
    rng = random.Random(20240611)
    sizes = [rng.randint(1, 4096) for _ in range(items * series * files)]
    if marker.exists() and marker.read_text() == str(sum(sizes)):
        return sum(sizes)
    if root.exists():
        shutil.rmtree(root)
    started = time.perf_counter()
    payload = b"\0" * 4096
    index = 0
    for i in range(items):
        for s in range(series):
            folder = root / f"study{i:03d}" / f"series{s:02d}"
            folder.mkdir(parents=True)
            for f in range(files):
                (folder / f"img{f:03d}.dcm").write_bytes(payload[: sizes[index]])
                index += 1
    # The marker is hidden and lies outside every study; it is counted by both tools alike.
    marker.write_text(str(sum(sizes)))
    print(f"built {len(sizes)} files in {time.perf_counter() - started:.1f} s under {root}")
    return sum(sizes)


def time_du(root: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["du", "-sb", str(root)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def time_scan(root: Path, rule: ScaleRule, *, workers: int) -> tuple[float, int]:
    started = time.perf_counter()
    result = measure(root, rule, channel="bench", workers=workers)
    return time.perf_counter() - started, result.files_counted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each tool (default 7)")
    parser.add_argument("--root", type=Path, default=CACHE / "scan-200k", help="where the tree is cached")
    args = parser.parse_args()

    total = build(args.root)
    expected_files = LAYOUT[0] * LAYOUT[1] * LAYOUT[2]
    rule = ScaleRule.model_validate({"scale_factor": 1, "type": "limit", "mode": "sum", "target_glob": "*.dcm"})
    everything = ScaleRule.model_validate({"scale_factor": 1, "type": "limit", "mode": "sum"})
    workers = auto_workers()

    # Warm-up, and a correctness check: the scan must find every file and every byte.
    time_du(args.root)
    found = measure(args.root, rule, channel="bench")
    assert found.files_counted == expected_files and found.measured_bytes == total, found

    du, scan, scan_all, scan_seq = [], [], [], []
    for _ in range(args.repeat):
        du.append(time_du(args.root))
        elapsed, files = time_scan(args.root, everything, workers=0)
        scan_all.append(elapsed)
        elapsed, files = time_scan(args.root, rule, workers=0)
        assert files == expected_files
        scan.append(elapsed)
        elapsed, files = time_scan(args.root, rule, workers=1)
        scan_seq.append(elapsed)

    base = statistics.median(du)
    print(f"tree: {expected_files} files, {total} bytes; {workers} processes; {args.repeat} runs each, medians")
    print(f"du -sb                          {base * 1000:8.1f} ms   1.00x (baseline)")
    rows = [
        ("scan, all files", scan_all),
        ("scan, target_glob *.dcm", scan),
        ("scan, *.dcm, one process", scan_seq),
    ]
    for label, samples in rows:
        median = statistics.median(samples)
        print(f"{label:<31} {median * 1000:8.1f} ms   {median / base:4.2f}x")
    ratio = statistics.median(scan) / base
    print(f"goal: scan <= {GOAL:.2f}x du -> {'met' if ratio <= GOAL else 'NOT met'} ({ratio:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
