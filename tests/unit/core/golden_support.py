"""Golden-file comparison: ``UPDATE_GOLDEN=1 pytest`` rewrites the files; review the diff before committing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

GOLDEN = Path(__file__).parent / "golden"


def assert_golden(name: str, actual: Any) -> None:
    path = GOLDEN / f"{name}.yaml"
    rendered = yaml.safe_dump(actual, sort_keys=True, width=120)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(rendered)
    assert path.exists(), f"golden file {path} missing: run with UPDATE_GOLDEN=1 and review it"
    expected = yaml.safe_load(path.read_text())
    assert actual == expected, f"{name}: differs from {path} (UPDATE_GOLDEN=1 to rewrite, then review the diff)"
