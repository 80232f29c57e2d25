"""Assemble and run the operator (I/O): configuration, API client, reconcilers, kopf, and the HTTP endpoint
serving ``/metrics`` (Prometheus), ``/healthz`` (liveness: kopf's watchers and our workers are running) and
``/readyz`` (readiness: also, the API server answered within the last 20 s)."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from contextlib import suppress

import kopf
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from task_api.controller.apply import Applier
from task_api.controller.config import ConfigError, OperatorConfig
from task_api.controller.finish import Finisher
from task_api.controller.handlers import register
from task_api.controller.metrics import Metrics
from task_api.controller.pod_index import PodIndex
from task_api.controller.prepare import Preparer
from task_api.controller.processing_containers import ProcessingContainerReconciler
from task_api.controller.runtime import Runtime
from task_api.controller.taskruns import TaskRunReconciler
from task_api.kube import ClusterAccess, KubeApiError, KubeClient
from task_api.kube.events import EventRecorder
from task_api.kube.templates import TemplateResolver
from task_api.spec.errors import TaskApiError

log = logging.getLogger("task_api.controller")


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """Kopf settings: no event posting of its own, no CRD scanning (fewer RBAC rights), watches that never stall
    silently (a server-side timeout ends each watch, which kopf then restarts)."""
    settings.posting.enabled = False
    settings.scanning.disabled = True
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = 60
    settings.batching.batch_window = 0.05


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


async def _serve_http(
    runtime: Runtime, metrics: Metrics, ready: asyncio.Event, probe: ApiProbe, port: int
) -> web.AppRunner:
    async def metrics_view(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        ok = runtime.alive and ready.is_set()
        return web.Response(status=200 if ok else 503, text="ok\n" if ok else "starting\n")

    async def readyz(_: web.Request) -> web.Response:
        if not (runtime.alive and ready.is_set()):
            return web.Response(status=503, text="starting\n")
        if not probe.ok:
            return web.Response(status=503, text=f"API server unreachable: {probe.last_error}\n")
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()  # noqa: S104 — scraped and probed from outside the pod
    return runner


def build_runtime(kube: KubeClient, config: OperatorConfig, metrics: Metrics) -> Runtime:
    """The reconcilers and their work loops, wired to one API client (tests wire a fake API server the same way)."""
    templates = TemplateResolver(kube, insecure_registries=config.insecure_registries)
    finish = Finisher(events=EventRecorder(kube), metrics=metrics)
    pods = PodIndex()
    taskruns = TaskRunReconciler(
        prepare=Preparer(kube=kube, templates=templates, pods=pods, workspace_claim=config.workspace_claim),
        apply=Applier(kube=kube, metrics=metrics),
        finish=finish,
        policy=config.policy(),
    )
    return Runtime(
        kube=kube,
        taskruns=taskruns,
        processing_containers=ProcessingContainerReconciler(kube=kube, templates=templates, finish=finish),
        pods=pods,
        finish=finish,
        metrics=metrics,
        workers=config.workers,
    )


async def run_operator(config: OperatorConfig) -> None:
    """I/O: run until SIGTERM/SIGINT."""
    access = ClusterAccess.load()
    metrics = Metrics()
    stop = asyncio.Event()
    ready = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with KubeClient(access, user_agent="task-api-operator") as kube:
        runtime = build_runtime(kube, config, metrics)
        registry = kopf.OperatorRegistry()
        register(registry, runtime)
        settings = kopf.OperatorSettings()
        configure_kopf(settings)
        probe = ApiProbe(kube)
        prober = asyncio.create_task(probe.run())
        runner = await _serve_http(runtime, metrics, ready, probe, config.metrics_port)
        runtime.start()
        kopf_stop: asyncio.Future[None] = loop.create_future()
        kopf_ready: asyncio.Future[None] = loop.create_future()
        operator = asyncio.create_task(
            kopf.operator(
                registry=registry,
                settings=settings,
                standalone=True,
                clusterwide=not config.namespaces,
                namespaces=config.namespaces,
                stop_flag=kopf_stop,
                ready_flag=kopf_ready,
            )
        )
        with suppress(asyncio.CancelledError):
            await asyncio.wait([asyncio.ensure_future(kopf_ready), operator], return_when=asyncio.FIRST_COMPLETED)
        ready.set()
        log.info("task-api operator running (workers=%d, metrics on :%d)", config.workers, config.metrics_port)
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([operator, stopper], return_when=asyncio.FIRST_COMPLETED)
        if not kopf_stop.done():
            kopf_stop.set_result(None)
        with suppress(Exception):
            await asyncio.wait_for(operator, timeout=10)
        prober.cancel()
        await runtime.stop()
        await runner.cleanup()


def main() -> int:
    """Entry point of ``python -m task_api.controller``."""
    try:
        config = OperatorConfig.from_env()
    except ConfigError as exc:  # a clear line, no traceback
        print(f"task-api operator: {exc}")  # noqa: T201
        return 2
    logging.basicConfig(
        level=getattr(logging, config.log_level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("kopf").setLevel(logging.WARNING)
    # Client libraries stay quiet even at DEBUG: their request logs are noise and must never carry credentials.
    for noisy in ("httpx", "httpcore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        asyncio.run(run_operator(config))
    except OSError as exc:  # e.g. the metrics port is taken: say so in one line
        log.error("task-api operator stopped: %s", exc)
        return 1
    except TaskApiError as exc:  # AccessError and the like: a clear line, no traceback
        log.error("task-api operator stopped: %s", exc)
        return 1
    return 0
