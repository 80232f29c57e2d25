"""The operator's HTTP endpoint (I/O): ``/metrics`` (Prometheus), ``/healthz`` (liveness) and ``/readyz``
(readiness).

* liveness: the process works — a standby waiting for the Lease is alive; a leader is alive while kopf's watches
  and the work loops run;
* readiness: also, the API server answered within the last 20 s (a pod that cannot reach it is never reported
  ready; liveness does not depend on it: restarting the operator would not bring the API server back).
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from task_api.controller.metrics import Metrics
from task_api.controller.runtime import Runtime
from task_api.kube import KubeApiError, KubeClient


class ApiProbe:
    """I/O: asks the API server for /version every few seconds; ``/readyz`` is OK only while that works, so a
    pod that cannot reach its API server is never reported ready (liveness does not depend on it: restarting the
    operator would not bring the API server back)."""

    def __init__(self, kube: KubeClient, *, interval: float = 5.0, stale_after: float = 20.0) -> None:
        self._kube = kube
        self._interval = interval
        self._stale_after = stale_after
        self.last_ok = -1e9
        self.last_error = "not probed yet"

    @property
    def ok(self) -> bool:
        return time.monotonic() - self.last_ok < self._stale_after

    async def run(self) -> None:
        while True:
            try:
                await self._kube.get("/version")
                self.last_ok = time.monotonic()
            except KubeApiError as exc:
                self.last_error = str(exc)
            await asyncio.sleep(self._interval)


class Health:
    """What the endpoints report: starting, standing by (not the leader), or leading (with the work loops)."""

    def __init__(self, probe: ApiProbe, metrics: Metrics) -> None:
        self.probe = probe
        self._metrics = metrics
        self._state = "starting"
        self._runtime: Runtime | None = None

    def standby(self) -> None:
        self._state = "standby"
        self._metrics.leader.set(0)

    def leading(self, runtime: Runtime) -> None:
        self._state = "leading"
        self._runtime = runtime
        self._metrics.leader.set(1)

    @property
    def alive(self) -> bool:
        if self._state == "standby":
            return True
        return self._state == "leading" and self._runtime is not None and self._runtime.alive


async def serve_http(health: Health, metrics: Metrics, port: int) -> web.AppRunner:
    """I/O: serve the three endpoints on ``port`` (SO_REUSEPORT: replicas sharing a host network can all bind)."""

    async def metrics_view(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        ok = health.alive
        return web.Response(status=200 if ok else 503, text="ok\n" if ok else "starting\n")

    async def readyz(_: web.Request) -> web.Response:
        if not health.alive:
            return web.Response(status=503, text="starting\n")
        if not health.probe.ok:
            return web.Response(status=503, text=f"API server unreachable: {health.probe.last_error}\n")
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "0.0.0.0", port, reuse_port=True)  # noqa: S104 — scraped and probed from outside
    await site.start()
    return runner
