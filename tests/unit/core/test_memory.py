"""An attempt's memory: static values, scale rules, and growth after OOM kills."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from task_api.core.taskrun.memory import grown_memory, plan_memory
from task_api.spec import ResolvedTask, Resources
from task_api.spec.crd import RetryPolicy

MIB = 1024 * 1024


def task(requests: dict[str, str], limits: dict[str, str]) -> ResolvedTask:
    return ResolvedTask(name="t", image="i", template="x", resources=Resources(requests=requests, limits=limits))


def test_grown_memory_examples() -> None:
    assert grown_memory(100 * MIB, factor=2.0, oom_kills=1, bound=1024 * MIB) == 200 * MIB
    assert grown_memory(100 * MIB, factor=2.0, oom_kills=4, bound=1024 * MIB) == 1024 * MIB
    assert grown_memory(100 * MIB, factor=1.5, oom_kills=0, bound=1024 * MIB) == 100 * MIB


@given(
    limit=st.integers(min_value=MIB, max_value=64 * 1024 * MIB),
    factor=st.floats(min_value=1.0, max_value=16.0),
    kills=st.integers(min_value=0, max_value=10),
    bound=st.integers(min_value=MIB, max_value=128 * 1024 * MIB),
)
def test_grown_memory_is_monotonic_and_bounded(limit: int, factor: float, kills: int, bound: int) -> None:
    grown = grown_memory(limit, factor=factor, oom_kills=kills, bound=bound)
    more = grown_memory(limit, factor=factor, oom_kills=kills + 1, bound=bound)
    assert grown >= limit  # never shrinks below what failed
    assert more >= grown
    assert grown <= max(limit, bound)


def test_no_oom_kill_keeps_the_template_values() -> None:
    plan = plan_memory(task({"memory": "16Mi"}, {"memory": "64Mi"}), [], oom_kills=0, retry=None,
                       max_memory_bytes=1024 * MIB)  # fmt: skip
    assert (plan.requests, plan.limits) == ({"memory": "16Mi"}, {"memory": "64Mi"})


def test_an_oom_kill_grows_the_limit_and_the_request_with_it() -> None:
    plan = plan_memory(task({"memory": "16Mi"}, {"memory": "64Mi"}), [], oom_kills=2,
                       retry=RetryPolicy(limit=2, memory_factor=2.0), max_memory_bytes=1024 * MIB)  # fmt: skip
    assert plan.limits["memory"] == "256Mi"
    assert plan.requests["memory"] == "64Mi"  # 16Mi x 2^2, never above the limit
    assert plan.summary().limit == "256Mi"
    assert plan.explanation[-2:] == [
        "after 2 OOM kill(s): limit 64Mi x 2.0^2 → 256Mi (bound 1Gi)",
        "request 16Mi x 2.0^2 → 64Mi",
    ]


def test_the_default_factor_is_the_models() -> None:
    plan = plan_memory(task({}, {"memory": "100Mi"}), [], oom_kills=1, retry=None, max_memory_bytes=1024 * MIB)
    assert plan.limits["memory"] == "150Mi"  # RetryPolicy's memory_factor default, 1.5


@pytest.mark.parametrize("bad", ["1.2.3", "1MM", "lots"])
def test_an_unreadable_max_memory_is_a_value_error(bad: str) -> None:
    retry = RetryPolicy.model_construct(limit=1, memory_factor=2.0, max_memory=bad)
    with pytest.raises(ValueError):
        plan_memory(task({}, {"memory": "64Mi"}), [], oom_kills=1, retry=retry, max_memory_bytes=1024 * MIB)
