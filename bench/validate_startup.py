"""How long does ``task-api validate`` take, compared to merely importing pydantic?

Runs, interleaved, N times each:

* baseline: ``python -c "import pydantic"`` — the floor any pydantic-based validator pays;
* for reference, the floor of any pydantic-based tool: import ``BaseModel``, build and use one tiny model;
* ``python -m task_api.cli validate examples/01-hello-world/processing-container.json``;
* ``python -m task_api.cli validate examples/01-hello-world/task.json --template …`` (parse + offline merge).

Prints the median wall time of each and its ratio to the baseline measured in the same run. The goal is a
ratio ≤ 1.5. Usage: ``.venv/bin/python bench/validate_startup.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "01-hello-world"
GOAL = 1.5

COMMANDS: dict[str, list[str]] = {
    "baseline: import pydantic": [sys.executable, "-c", "import pydantic"],
    # For reference: the least any pydantic model costs (import BaseModel, build and use one tiny model).
    "floor: one trivial pydantic model": [
        sys.executable,
        "-c",
        "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int\nM(x=1)",
    ],
    "validate processing-container.json": [
        sys.executable,
        "-m",
        "task_api.cli",
        "validate",
        str(EXAMPLE / "processing-container.json"),
    ],
    "validate task.json --template": [
        sys.executable,
        "-m",
        "task_api.cli",
        "validate",
        str(EXAMPLE / "task.json"),
        "--template",
        str(EXAMPLE / "processing-container.json"),
    ],
}


def once(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, check=False, env=env)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{command} failed: {result.stdout.decode()} {result.stderr.decode()}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as cache:
        # An installed package has .pyc files; this sandbox may set PYTHONDONTWRITEBYTECODE, which would make
        # every run recompile task-api's modules. Keep byte code in a throw-away cache instead of the tree.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        for command in COMMANDS.values():  # warm the page cache and the byte-code cache
            once(command, env)
        times: dict[str, list[float]] = {name: [] for name in COMMANDS}
        for _ in range(args.runs):
            for name, command in COMMANDS.items():  # interleaved, so load changes hit all alike
                times[name].append(once(command, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    baseline = medians["baseline: import pydantic"]
    print(f"runs per command: {args.runs} (median wall time)")
    worst = 0.0
    for name, median in medians.items():
        ratio = median / baseline
        if name.startswith("validate"):
            worst = max(worst, ratio)
        print(f"{name:40s} {median * 1000:8.1f} ms   ratio {ratio:4.2f}")
    print(f"worst validate ratio {worst:.2f} (goal ≤ {GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
