"""The kopf handlers: thin on purpose. Each hands the event to the :class:`~task_api.controller.runtime.Runtime`.

Only ``on.event`` handlers are used: they keep no per-object progress in annotations and add no finalizers, so
the operator writes nothing to an object but its status. Pods are watched only when they carry the operator's
``app.kubernetes.io/managed-by`` label.
"""

from __future__ import annotations

import base64

import kopf
from kopf._cogs.structs import bodies, ephemera
from kopf._core.reactor.inventory import ResourceMemories, ResourceMemory

from task_api.controller.runtime import Runtime
from task_api.kube import ClusterAccess
from task_api.kube.access import AccessError
from task_api.spec.crd.common import GROUP, VERSION
from task_api.spec.crd.keys import LABEL_MANAGED_BY, MANAGER


def register(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    """Register the handlers in ``registry`` (I/O only through ``runtime``)."""

    # kopf passes the watch event's type as ``type`` (None for the initial listing).
    @kopf.on.event(GROUP, VERSION, "taskruns", registry=registry)
    async def taskrun_event(*, type: str, body: kopf.Body, **_: object) -> None:
        runtime.taskrun_event(type, dict(body))

    @kopf.on.event(GROUP, VERSION, "processingcontainers", registry=registry)
    async def processing_container_event(*, type: str, body: kopf.Body, **_: object) -> None:
        runtime.processing_container_event(type, dict(body))

    @kopf.on.event("", "v1", "pods", labels={LABEL_MANAGED_BY: MANAGER}, registry=registry)
    async def pod_event(*, type: str, body: kopf.Body, **_: object) -> None:
        runtime.pod_event(type, dict(body))

    @kopf.on.login(registry=registry)
    def login(**_: object) -> kopf.ConnectionInfo:
        # The same loader as the operator's own client (the kubernetes package's: in-cluster, or the kubeconfig
        # with exec plugins and auth providers). kopf's own service-account login hard-codes
        # https://kubernetes.default.svc; ours honours KUBERNETES_SERVICE_HOST/PORT (no cluster DNS is needed).
        # Loaded at every login: kopf logs in again after a 401 and once the credentials' expiration has passed,
        # which reads a rotated token or runs the exec plugin again.
        return connection_info(ClusterAccess.load())


def connection_info(access: ClusterAccess) -> kopf.ConnectionInfo:
    """I/O (may read a token file or run a plugin): kopf's connection settings from the operator's access."""
    if access.tls_server_name:
        # kopf's aiohttp client checks the certificate against the server URL's host and has no setting for another.
        raise AccessError(
            f"{access.source}: tls-server-name {access.tls_server_name!r} is not supported by the operator's watch "
            "client (kopf); use a server URL whose host the API server's certificate names"
        )
    authorization = access.authorization() or ""
    scheme, _, credential = authorization.partition(" ")
    username = password = None
    if scheme.lower() == "basic" and credential:
        username, _, password = base64.b64decode(credential).decode().partition(":")
    return kopf.ConnectionInfo(
        server=access.server,
        ca_data=access.ca_data,
        insecure=access.insecure_skip_tls_verify or None,
        scheme="Bearer" if scheme.lower() == "bearer" else None,
        token=access.bearer_token(),
        username=username,
        password=password,
        certificate_data=access.client_cert_data,
        private_key_data=access.client_key_data,
        default_namespace=access.namespace,
        proxy_url=access.proxy_url,
        expiration=access.expiration(),
    )


class NoDiffBase(kopf.DiffBaseStorage):
    """kopf keeps, for every event, a deep copy of the object to diff it with the last handled state — for
    on.create/on.update handlers, which this operator has none of. Building none saves a fifth of the operator's
    CPU per event under a burst (docs/scaling.md) and keeps nothing per object in memory."""

    def build(self, *, body: kopf.Body, extra_fields: object = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


class NoMemories(ResourceMemories):
    """kopf keeps a ``ResourceMemory`` (a memo, an error throttler, indexing and daemon state: six containers) for
    every object it has seen until the object is deleted — kept for daemons, timers, indices, resume handlers and
    handlers that fail, none of which this operator has: its ``on.event`` handlers hand the body over and return.
    Each event gets a fresh memory that is dropped once handled, so nothing grows with the objects present (finished
    TaskRuns and their pods stay for as long as their users keep them)."""

    async def recall(
        self,
        raw_body: bodies.RawBody,
        *,
        memobase: ephemera.AnyMemo | None = None,
        noticed_by_listing: bool = False,
        ephemeral: bool = False,
    ) -> ResourceMemory:
        return await super().recall(raw_body, memobase=memobase, noticed_by_listing=noticed_by_listing, ephemeral=True)
