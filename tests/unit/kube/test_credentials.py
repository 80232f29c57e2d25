"""When credentials are loaded again, and how a request is sent again after a 401.

No I/O: ``reload`` is a function of the test, the transport httpx's in-memory one. The same against the real API
server: tests/e2e/test_cluster_access.py.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from task_api.kube.access import Credentials, KubeAuth


class Issuer:
    """Hands out token-1, token-2, ... and counts the loads."""

    def __init__(self, lifetime: float | None) -> None:
        self.count = 0
        self.lifetime = lifetime

    def __call__(self) -> tuple[str | None, float | None, float | None]:
        self.count += 1
        due = time.monotonic() + self.lifetime if self.lifetime is not None else None
        return f"Bearer token-{self.count}", due, None


def creds(issuer: Issuer, *, remote: bool = False) -> Credentials:
    header, due, expires = issuer()
    return Credentials(header, refresh_at=due, expires=expires, reload=issuer, remote=remote)


def test_static_credentials_never_reload() -> None:
    static = Credentials("Bearer x")
    assert static.header() == static.header(rejected="Bearer x") == "Bearer x"
    assert not static.refreshable and not static.due()


def test_loaded_again_only_when_due() -> None:
    issuer = Issuer(lifetime=3600)
    c = creds(issuer)
    assert [c.header(), c.header()] == ["Bearer token-1", "Bearer token-1"]
    expired = Issuer(lifetime=-1)
    c = creds(expired)
    assert [c.header(), c.header()] == ["Bearer token-2", "Bearer token-3"]


def test_a_rejection_reloads_once_per_rejected_value() -> None:
    issuer = Issuer(lifetime=None)
    c = creds(issuer)
    assert c.header(rejected="Bearer token-1") == "Bearer token-2"
    assert c.header(rejected="Bearer token-1") == "Bearer token-2"  # someone else's 401 for the old one
    assert issuer.count == 2
    assert c.header(rejected="Bearer token-2") == "Bearer token-3"


def server(valid: set[str], seen: list[str | None]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("Authorization")
        seen.append(auth)
        return httpx.Response(200 if auth in valid else 401, json={})

    return httpx.MockTransport(answer)


@pytest.mark.parametrize("remote", [False, True])
def test_async_flow_sends_again_with_new_credentials_after_a_401(remote: bool) -> None:
    issuer = Issuer(lifetime=None)
    seen: list[str | None] = []

    async def go() -> int:
        async with httpx.AsyncClient(
            transport=server({"Bearer token-2"}, seen), auth=KubeAuth(creds(issuer, remote=remote))
        ) as client:
            return (await client.get("https://api.test/x")).status_code

    assert asyncio.run(go()) == 200
    assert seen == ["Bearer token-1", "Bearer token-2"]


def test_sync_flow_gives_up_after_one_retry() -> None:
    issuer = Issuer(lifetime=None)
    seen: list[str | None] = []
    with httpx.Client(transport=server(set(), seen), auth=KubeAuth(creds(issuer))) as client:
        assert client.get("https://api.test/x").status_code == 401
    assert seen == ["Bearer token-1", "Bearer token-2"]


def test_static_credentials_are_not_retried() -> None:
    seen: list[str | None] = []
    with httpx.Client(transport=server(set(), seen), auth=KubeAuth(Credentials("Bearer s"))) as client:
        assert client.get("https://api.test/x").status_code == 401
    assert seen == ["Bearer s"]
