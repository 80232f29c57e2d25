"""Assemble and run the operator (I/O): configuration, API client, leader election, reconcilers, kopf, and the
HTTP endpoints of :mod:`task_api.controller.health`.

With leader election on (the default), every replica serves its health endpoints at once; only the one holding the
Lease (:mod:`task_api.kube.lease`) watches and reconciles. The others stand by, healthy and ready, and take over
when the leader releases the Lease (a clean shutdown) or stops renewing it."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import uuid
from contextlib import suppress

import kopf

from task_api.controller.apply import Applier
from task_api.controller.config import ConfigError, OperatorConfig
from task_api.controller.finish import Finisher
from task_api.controller.handlers import NoDiffBase, NoMemories, register
from task_api.controller.health import ApiProbe, Health, serve_http
from task_api.controller.metrics import Metrics
from task_api.controller.pod_index import PodIndex
from task_api.controller.prepare import Preparer
from task_api.controller.processing_containers import ProcessingContainerReconciler
from task_api.controller.runtime import Runtime
from task_api.controller.taskruns import TaskRunReconciler
from task_api.kube import ClusterAccess, KubeClient
from task_api.kube.events import EventRecorder
from task_api.kube.lease import LeaderElector, LeaseSettings
from task_api.kube.templates import TemplateResolver
from task_api.spec.errors import TaskApiError

log = logging.getLogger("task_api.controller")

#: Objects per page of kopf's initial listing (and of its relisting after a watch expired).
LIST_CHUNK = 200
#: Seconds an object's kopf worker waits for another event before it ends.
WORKER_IDLE = 0.5


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """Kopf settings: no event posting of its own, no CRD scanning (fewer RBAC rights), watches that never stall
    silently (a server-side timeout ends each watch, which kopf then restarts), no diff bases (only on.event
    handlers: nothing would read them).

    Memory (docs/scaling.md, F4): the initial listing is read in pages of :data:`LIST_CHUNK` objects, and an
    object's worker ends :data:`WORKER_IDLE` seconds after its last event (kopf's default is 5 s) — a worker holds
    its object's last body, so with kopf's defaults a restart had every object present parsed at once (the
    operator's RSS peaked at 270 MiB with 4,000 objects and stayed high after). The handlers only hand an event
    over, so a worker started again for a later event costs next to nothing."""
    settings.posting.enabled = False
    settings.scanning.disabled = True
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.watching.chunk_size = LIST_CHUNK
    settings.networking.request_timeout = 60
    settings.queueing.idle_timeout = WORKER_IDLE
    settings.persistence.diffbase_storage = NoDiffBase()


def build_runtime(kube: KubeClient, config: OperatorConfig, metrics: Metrics) -> Runtime:
    """The reconcilers and their work loops, wired to one API client (tests wire a fake API server the same way)."""
    templates = TemplateResolver(kube, insecure_registries=config.insecure_registries, settings=config.inspection)
    finish = Finisher(events=EventRecorder(kube), metrics=metrics)
    pods = PodIndex()
    taskruns = TaskRunReconciler(
        prepare=Preparer(kube=kube, templates=templates, pods=pods, workspace_claim=config.workspace_claim),
        apply=Applier(kube=kube, metrics=metrics, pods=pods),
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


async def run_operator(config: OperatorConfig) -> int:
    """I/O: run until SIGTERM/SIGINT (exit code 0). A replica that loses the leadership it held (it could not renew
    the Lease, e.g. during an API server outage) stops reconciling at once and stands by again with the same
    identity: it takes the Lease back as soon as the API server answers, unless another replica took it meanwhile.
    Restarting the process instead would cost a new identity's wait for the Lease to expire, and a crash-looping
    container's back-off."""
    access = ClusterAccess.load()
    metrics = Metrics()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with KubeClient(access, user_agent="task-api-operator", http2=True) as kube:
        health = Health(ApiProbe(kube), metrics)
        prober = asyncio.create_task(health.probe.run())
        server = await serve_http(health, metrics, config.metrics_port)
        elector = _elector(kube, config, access)
        try:
            while True:
                if elector is not None and not await _wait_for_leadership(elector, stop, health):
                    return 0
                lost = await _lead(kube, config, metrics=metrics, health=health, stop=stop, elector=elector)
                if not lost:
                    return 0
        finally:
            if elector is not None:
                await elector.release()
            prober.cancel()
            await server.cleanup()


def _elector(kube: KubeClient, config: OperatorConfig, access: ClusterAccess) -> LeaderElector | None:
    if not config.leader_election:
        return None
    # The pod's name says which replica leads (kubectl get lease); the suffix keeps a restarted process distinct.
    identity = f"{os.environ.get('POD_NAME') or socket.gethostname()}-{uuid.uuid4().hex[:6]}"
    namespace = config.lease_namespace or access.namespace
    return LeaderElector(kube, LeaseSettings(namespace=namespace, name=config.lease_name, identity=identity))


async def _wait_for_leadership(elector: LeaderElector, stop: asyncio.Event, health: Health) -> bool:
    """I/O: stand by until the Lease is ours (True) or we are told to stop (False)."""
    health.standby()
    acquiring = asyncio.create_task(elector.acquire())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([acquiring, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not acquiring.done():
        acquiring.cancel()
        return False
    acquiring.result()  # an acquisition that failed is no leadership: the error ends the process
    return True


async def _lead(
    kube: KubeClient,
    config: OperatorConfig,
    *,
    metrics: Metrics,
    health: Health,
    stop: asyncio.Event,
    elector: LeaderElector | None,
) -> bool:
    """I/O: run the reconcilers and kopf's watches until stopped (False) or until the leadership is lost (True)."""
    runtime = build_runtime(kube, config, metrics)
    registry = kopf.OperatorRegistry()
    register(registry, runtime)
    settings = kopf.OperatorSettings()
    configure_kopf(settings)
    loop = asyncio.get_running_loop()
    runtime.start()
    # Created before kopf starts, so that kopf's own shutdown neither waits for them nor cancels them (it treats
    # every task created after its start as its own). The Lease is renewed from now on: kopf's start-up (listing
    # every TaskRun) may take longer than the Lease lasts.
    keeper = asyncio.create_task(elector.keep()) if elector is not None else None
    stopping = asyncio.create_task(stop.wait())
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
            memories=NoMemories(),  # kopf's per-object memories: nothing this operator reads
        )
    )
    with suppress(asyncio.CancelledError):
        await asyncio.wait([asyncio.ensure_future(kopf_ready), operator], return_when=asyncio.FIRST_COMPLETED)
    # kopf installs SIGTERM/SIGINT handlers of its own when it starts; ours decide the order of the shutdown.
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    health.leading(runtime)
    log.info("task-api operator leading (workers=%d, metrics on :%d)", config.workers, config.metrics_port)
    done, _ = await asyncio.wait(
        [operator, stopping, *([keeper] if keeper else [])], return_when=asyncio.FIRST_COMPLETED
    )
    lost = keeper is not None and keeper in done
    await stop_leading(runtime, elector, keeper=keeper, lost=lost, metrics=metrics)
    stopping.cancel()
    if not kopf_stop.done():
        kopf_stop.set_result(None)
    with suppress(Exception):
        await asyncio.wait_for(operator, timeout=10)  # cancelled if it takes longer: none of it outlives this call
    if lost:
        log.warning("task-api operator lost the Lease: reconciling stopped, standing by again")
    return lost


async def stop_leading(
    runtime: Runtime, elector: LeaderElector | None, *, keeper: asyncio.Task[None] | None, lost: bool, metrics: Metrics
) -> None:
    """I/O: stop reconciling, then give the Lease up. The work loops go first: once they are stopped this replica
    writes nothing more, so a standby may take over at once (a clean shutdown releases the Lease within moments, not
    after kopf's watches have wound down); a replica that could not renew stops its writes before the Lease runs out
    for the others."""
    if keeper is not None and not keeper.done():
        keeper.cancel()
        with suppress(asyncio.CancelledError):
            await keeper
    await runtime.stop()
    metrics.leader.set(0)
    if elector is not None and not lost:
        await elector.release()


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
        return asyncio.run(run_operator(config))
    except OSError as exc:  # e.g. the metrics port is taken: say so in one line
        log.error("task-api operator stopped: %s", exc)
        return 1
    except TaskApiError as exc:  # AccessError and the like: a clear line, no traceback
        log.error("task-api operator stopped: %s", exc)
        return 1
