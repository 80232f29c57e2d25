"""Fixtures of the chaos suite: the e2e fixtures (the deployed operator, prepared namespaces, example images), the
suite's :class:`~tests.chaos._bed.Scale`, and the order of the scenarios (the secrets sweep runs last, over
everything the other scenarios left behind).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.chaos._bed import Scale
from tests.e2e.conftest import Namespace, Operator, example_image, operator, run_ns

__all__ = ["Namespace", "Operator", "chain_image", "example_image", "operator", "run_ns", "scale"]

LAST = "test_zz_secrets.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The secrets sweep greps what all other scenarios produced: move it behind them."""
    items.sort(key=lambda item: item.nodeid.split("::")[0].endswith(LAST))


@pytest.fixture(scope="session")
def scale() -> Scale:
    chosen = Scale.from_env()
    print(f"\n[chaos] scale={chosen.name} seed={chosen.seed} (replay with TASK_API_CHAOS_SEED={chosen.seed})")
    return chosen


@pytest.fixture(scope="session")
def chain_image(example_image: Callable[[str], str]) -> str:
    """examples/03-chain in the test bed registry (template ``produce``: no inputs, one output, fast)."""
    return example_image("03-chain")
