"""F5 — the CPU an API request costs the operator's process, by HTTP client: the operator's own (httpx over
HTTP/1.1 with a pool of 64 connections, as ``task_api.kube.KubeClient`` makes it), httpx over HTTP/2 (one
connection, requests multiplexed, as client-go does), and aiohttp (kopf's client, already a dependency).

Each client sends N small GETs to the fleet bed's API server, 32 at a time (the operator's workers), and the
benchmark divides the process's CPU time by N. The baseline is the operator's client; py-spy showed its pool
bookkeeping (every request checks every pooled connection) and TLS handshakes as the largest share of the
operator's CPU under a burst (docs/scaling.md).

Usage: python -m bench.scale_client [N] [--concurrency 32]   (needs the fleet bed up: TESTBED_PROFILE=scale)
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx

from bench._fleet import run
from task_api.kube import ClusterAccess
from tests.fixtures.fleet import FleetBed

PATH = "/api/v1/namespaces/default"


async def _drive(n: int, concurrency: int, get: Callable[[], Awaitable[None]]) -> float:
    """CPU seconds of this process per request for ``n`` requests, ``concurrency`` at a time."""
    await get()  # connections and TLS set up before the clock starts
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await get()

    cpu = time.process_time()
    await asyncio.gather(*(one() for _ in range(n)))
    return (time.process_time() - cpu) / n


async def with_httpx(access: ClusterAccess, n: int, concurrency: int, *, http2: bool) -> float:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        base_url=access.server, verify=access.ssl_context(), limits=limits, http2=http2, timeout=60
    ) as client:

        async def get() -> None:
            (await client.get(PATH)).raise_for_status()

        return await _drive(n, concurrency, get)


async def with_aiohttp(access: ClusterAccess, n: int, concurrency: int) -> float:
    context: ssl.SSLContext = access.ssl_context()
    connector = aiohttp.TCPConnector(limit=64, ssl=context)
    async with aiohttp.ClientSession(base_url=access.server, connector=connector) as session:

        async def get() -> None:
            async with session.get(PATH) as response:
                response.raise_for_status()
                await response.read()

        return await _drive(n, concurrency, get)


async def main(n: int, concurrency: int) -> None:
    bed = FleetBed.load()
    access = ClusterAccess.from_kubeconfig(bed.kubeconfig)
    base = await with_httpx(access, n, concurrency, http2=False)
    print(f"{n} GETs, {concurrency} at a time, CPU of this process per request:")
    print(f"  httpx HTTP/1.1, pool of 64 (the operator's KubeClient; baseline): {base * 1000:.2f} ms")
    try:
        import h2  # noqa: F401, PLC0415 — httpx's HTTP/2 needs it

        h2_cost = await with_httpx(access, n, concurrency, http2=True)
        print(f"  httpx HTTP/2, one connection:                                  {h2_cost * 1000:.2f} ms "
              f"(ratio to baseline {h2_cost / base:.2f})")  # fmt: skip
    except ImportError:
        print("  httpx HTTP/2: not measured (the h2 package is not installed)")
    aio = await with_aiohttp(access, n, concurrency)
    print(f"  aiohttp, pool of 64:                                           {aio * 1000:.2f} ms "
          f"(ratio to baseline {aio / base:.2f})")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=3000, help="requests per client (default 3000)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (default 32)")
    args = parser.parse_args()
    run(main(args.n, args.concurrency))
