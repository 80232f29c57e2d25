"""The chaos suite's results file and the table rendered from it.

Each scenario records one row (scenario, runs, lost, duplicated, stuck, recovery time, notes, scale, seed) into
``build/chaos/results.json`` as it finishes; :func:`render` turns the rows into the markdown table that
docs/reliability.md carries. Run ``python -m tests.chaos.results`` to print the table, or with ``--write-docs`` to
replace the table between the markers in docs/reliability.md (commit that from a full-size run).

:func:`render` and :func:`replace_block` are pure; :func:`record`, :func:`load` and :func:`main` do file I/O.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("TASK_API_CHAOS_RESULTS", ROOT / "build" / "chaos" / "results.json"))
DOC = ROOT / "docs" / "reliability.md"
START = "<!-- chaos-results:start (written by python -m tests.chaos.results --write-docs) -->"
END = "<!-- chaos-results:end -->"


@dataclass
class Row:
    """One scenario's outcome. ``recovery_s`` is the worst recovery time measured in it; lost / duplicated / stuck
    are counted from the scenario's pod watch and the TaskRuns' final state. None: not applicable (the secrets sweep
    runs no TaskRuns)."""

    scenario: str
    runs: int
    lost: int | None
    duplicated: int | None
    stuck: int | None
    recovery_s: float | None
    notes: str
    scale: str = ""
    seed: int = 0
    figures: dict[str, Any] = field(default_factory=dict)
    finished_at: str = ""


def load(path: Path = RESULTS) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    data: dict[str, dict[str, Any]] = json.loads(path.read_text())
    return data


def record(row: Row, path: Path = RESULTS) -> None:
    """Add or replace the scenario's row in the results file, and print it (the scenario's figures)."""
    row.finished_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = load(path)
    rows[row.scenario] = asdict(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
    path.with_suffix(".md").write_text(render(rows))
    print(f"\n[chaos] {row.scenario}: {json.dumps(asdict(row), sort_keys=True)}")


def render(rows: dict[str, dict[str, Any]]) -> str:
    """The markdown table, rows in scenario order. Pure."""
    lines = [
        "| scenario | scale | runs | lost | duplicated | stuck | recovery time | notes |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for key in sorted(rows):
        r = rows[key]
        recovery = "—" if r.get("recovery_s") is None else f"{float(r['recovery_s']):.1f} s"
        notes = str(r.get("notes", "")).replace("|", "\\|").replace("\n", " ")
        lost, duplicated, stuck = (_count(r.get(k)) for k in ("lost", "duplicated", "stuck"))
        lines.append(
            f"| {r['scenario']} | {r.get('scale', '')} | {r['runs']} | {lost} | {duplicated} "
            f"| {stuck} | {recovery} | {notes} |"
        )
    seeds = sorted({f"{r.get('scale')}:{r.get('seed')}" for r in rows.values()})
    when = max((str(r.get("finished_at", "")) for r in rows.values()), default="")
    lines.append("")
    lines.append(f"Seeds (scale:seed): {', '.join(seeds) or '—'}; last scenario finished {when or '—'}.")
    return "\n".join(lines) + "\n"


def _count(value: object) -> str:
    """A count for the table; "—" where it does not apply. Pure."""
    return "—" if value is None else str(value)


def replace_block(document: str, table: str) -> str:
    """``document`` with the text between the START and END markers replaced by ``table``. Pure."""
    head, start, rest = document.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"the markers {START!r} and {END!r} are missing")
    return f"{head}{START}\n{table}{END}{tail}"


def main(argv: list[str]) -> int:
    rows = load()
    if not rows:
        print(f"{RESULTS}: no results yet; run `make chaos` first", file=sys.stderr)
        return 1
    table = render(rows)
    if "--write-docs" in argv:
        DOC.write_text(replace_block(DOC.read_text(), table))
        print(f"wrote the table into {DOC}")
    else:
        print(table, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
