"""The per-request cost of putting credentials on the operator's requests, before and after the loader change.

The operator's P1-P3 figures depend on the machine's load far more than on this (on a shared 2-core machine they
vary by a factor of three from one run to the next), so this isolates the one thing the change touched on the
request path, with httpx's in-memory transport (no network, no API server):

* baseline — as before: the token file re-read and an ``Authorization`` header set on every request;
* now — :class:`task_api.kube.access.KubeAuth`: the cached credentials (a token file is read again once a minute),
  a lock and a clock check per request, in httpx's authentication flow.

Prints the CPU time per request of each and the ratio. Usage: python -m bench.kube_auth_overhead [N] (default 20000)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

from task_api.kube.access import Credentials, KubeAuth


def answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"kind": "TaskRun"})


async def baseline(n: int, token_file: Path) -> float:
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="https://api") as client:
        start = time.process_time()
        for _ in range(n):
            token = token_file.read_text().strip()
            await client.get("/apis/x", headers={"Authorization": f"Bearer {token}"})
        return time.process_time() - start


async def now(n: int, token_file: Path) -> float:
    def reload() -> tuple[str | None, float | None, float | None]:
        return f"Bearer {token_file.read_text().strip()}", time.monotonic() + 60, None

    header, due, expires = reload()
    auth = KubeAuth(Credentials(header, refresh_at=due, expires=expires, reload=reload))
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="https://api", auth=auth) as client:
        start = time.process_time()
        for _ in range(n):
            await client.get("/apis/x")
        return time.process_time() - start


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        token_file = Path(tmp, "token")
        token_file.write_text("x" * 900)  # a service-account token's size
        base, new = [], []
        for _ in range(3):  # alternate, so machine load affects both alike
            base.append(await baseline(n, token_file))
            new.append(await now(n, token_file))
    b, w = min(base) / n * 1e6, min(new) / n * 1e6
    print(f"{n} requests through httpx's in-memory transport, best of 3:")
    print(f"  baseline (token file read, header per request): {b:6.1f} µs CPU/request")
    print(f"  now (KubeAuth, cached credentials):             {w:6.1f} µs CPU/request")
    print(f"  ratio now/baseline: {w / b:.2f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000))
