"""A connection pool left broken by a protocol error is replaced, not reused (pure: no network is reached)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from task_api.kube import ClusterAccess, KubeApiError, KubeClient


class BrokenPool:
    """Stands in for an httpx client whose HTTP/2 connection state machine has failed: every request raises."""

    def __init__(self) -> None:
        self.requests = 0
        self.closed = False

    async def request(self, *args: object, **kwargs: object) -> httpx.Response:
        self.requests += 1
        raise httpx.LocalProtocolError("Invalid input ConnectionInputs.SEND_HEADERS in state ConnectionState.CLOSED")

    async def aclose(self) -> None:
        self.closed = True


def test_a_protocol_error_retires_the_pool_once_and_later_requests_use_a_new_one() -> None:
    async def scenario() -> tuple[BrokenPool, object, object, KubeApiError]:
        kube = KubeClient(ClusterAccess(server="http://127.0.0.1:9"), http2=True)
        broken = BrokenPool()
        kube._http = broken  # type: ignore[assignment]
        with pytest.raises(KubeApiError) as caught:
            await kube.get("/api/v1/namespaces/a/pods/p")
        renewed = kube._http
        # Another request that was in flight on the broken pool fails later: the new pool stays.
        kube._renew_after_protocol_error(broken)  # type: ignore[arg-type]
        still = kube._http
        await asyncio.sleep(0)  # the retired pool closes in the background
        await kube.aclose()
        return broken, renewed, still, caught.value

    broken, renewed, still, error = asyncio.run(scenario())
    assert error.transient and "LocalProtocolError" in str(error)
    assert isinstance(renewed, httpx.AsyncClient) and still is renewed  # a new pool, kept
    assert broken.closed and broken.requests == 1
