"""Helpers for the measuring tests: build real directory trees in a temporary folder."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

#: A tree description: relative file path -> size in bytes (a str value makes a symlink to that target).
TreeSpec = Mapping[str, int | str]


def build_tree(root: Path, spec: TreeSpec) -> Path:
    """Create ``spec`` below ``root`` on the real filesystem and return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, what in spec.items():
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(what, str):
            path.symlink_to(what)
        else:
            path.write_bytes(b"x" * what)
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Callable[[TreeSpec], Path]:
    """Build a tree from a spec in a fresh folder: ``tree({"a/b.txt": 10})``."""
    counter = iter(range(1_000_000))

    def make(spec: TreeSpec) -> Path:
        return build_tree(tmp_path / f"t{next(counter)}", spec)

    return make
