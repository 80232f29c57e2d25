"""The Airflow operator's API calls ride out a flapping API server (no cluster: the faults are raised by a fake).

Restarting the test bed's API server in the middle of a test would disturb every other test using it, so the
transient failures here are produced by a stand-in call; the retry logic itself is the real one.
"""

from __future__ import annotations

import asyncio

import pytest

from task_api.kube import ClusterAccess, KubeApiError, NotFound
from task_api.kube.taskruns import WATCH_ATTEMPTS, TaskRunApi, watch_failures_after


def api() -> TaskRunApi:
    return TaskRunApi(ClusterAccess(server="https://127.0.0.1:9"))


def test_transient_errors_are_retried_until_an_answer() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise KubeApiError("GET x: cannot reach the API server", transient=True)
        return "ok"

    assert asyncio.run(api()._retrying(flaky)) == "ok"
    assert len(calls) == 3


@pytest.mark.parametrize(
    ("error", "budget", "calls_wanted"),
    [
        (NotFound("GET x: not found", status=404), 30.0, 1),  # permanent: no second call
        (KubeApiError("GET x: down", transient=True), 0.2, 1),  # budget spent: the last error surfaces
    ],
)
def test_errors_that_retrying_cannot_fix_surface(error: KubeApiError, budget: float, calls_wanted: int) -> None:
    calls: list[int] = []

    async def failing() -> str:
        calls.append(1)
        raise error

    with pytest.raises(KubeApiError) as caught:
        asyncio.run(api()._retrying(failing, budget=budget))
    assert caught.value is error
    assert len(calls) == calls_wanted


def test_a_refused_watch_means_polling_and_flaky_ones_count_up() -> None:
    async def ended(error: BaseException | None) -> int:
        async def body() -> None:
            if error is not None:
                raise error

        task = asyncio.create_task(body())
        await asyncio.gather(task, return_exceptions=True)
        return watch_failures_after(task, 1)

    assert asyncio.run(ended(None)) == 0  # the server ended the watch: all is well
    assert asyncio.run(ended(KubeApiError("WATCH x: reset", transient=True))) == 2
    assert asyncio.run(ended(KubeApiError("WATCH x: HTTP 403", status=403))) == WATCH_ATTEMPTS  # no watch verb
    with pytest.raises(ValueError, match="bug"):
        asyncio.run(ended(ValueError("bug")))
