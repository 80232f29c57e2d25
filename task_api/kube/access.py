"""Where the API server is and how to authenticate (I/O): what the `kubernetes` package's loader reads.

:meth:`ClusterAccess.load` runs the package's kubeconfig loader (a ``KUBECONFIG`` list is merged; contexts and
namespaces; certificates, tokens and token files; exec credential plugins; auth-provider/OIDC refresh;
``proxy-url``; ``tls-server-name``) or its in-cluster loader (:mod:`task_api.kube._loader`). Requests still go
through :class:`~task_api.kube.client.KubeClient` (httpx, asynchronous); this module gives it what httpx needs:

* :meth:`ClusterAccess.ssl_context` — the cluster CA, the client certificate, and ``tls-server-name`` as the name
  the server's certificate is checked against (and sent as SNI), on every connection, through a proxy too;
* :meth:`ClusterAccess.httpx_options` — that context, ``proxy-url`` and :class:`KubeAuth`, which puts the current
  credentials on every request: loaded again once an exec plugin's ``expirationTimestamp`` has passed (as
  client-go does), every minute for a token file, and once more after a 401 (then the request is sent again).

A plugin that fails gives an :class:`AccessError` naming the plugin and its stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from task_api.spec.errors import TaskApiError

IN_CLUSTER_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class AccessError(TaskApiError):
    """No usable cluster configuration was found, or its credentials could not be obtained."""


class Credentials:
    """The ``Authorization`` header value, and when and how to obtain a new one. Thread-safe.

    ``reload`` (I/O) runs the loader again and returns the new value and the monotonic time it is due again
    (None: never). Without ``reload`` the value never changes (a static token, a client certificate).
    """

    def __init__(
        self,
        header: str | None = None,
        *,
        refresh_at: float | None = None,
        expires: float | None = None,
        reload: Callable[[], tuple[str | None, float | None, float | None]] | None = None,
        remote: bool = False,
    ) -> None:
        self._header = header
        self._refresh_at = refresh_at
        self._expires = expires
        self._reload = reload
        #: Loading again may run a program or ask an identity provider: async callers do it in a thread.
        self.remote = remote
        self._lock = threading.Lock()
        self.loads = 1

    def __repr__(self) -> str:  # never the token
        return f"Credentials(refreshable={self.refreshable}, refresh_at={self._refresh_at})"

    @property
    def refreshable(self) -> bool:
        return self._reload is not None

    @property
    def expires(self) -> float | None:
        """Wall-clock expiry of the current credentials, when the plugin gave one."""
        return self._expires

    def due(self) -> bool:
        """Pure (reads the clock): whether the next :meth:`header` loads again."""
        return self._refresh_at is not None and time.monotonic() >= self._refresh_at

    def header(self, *, rejected: str | None = None) -> str | None:
        """I/O when due: the current value. ``rejected``: the value the server just answered 401 to — loaded
        again unless another request has already done so (so a burst of 401s runs a plugin once)."""
        with self._lock:
            if self._reload is not None and (self.due() or (rejected is not None and rejected == self._header)):
                self._header, self._refresh_at, self._expires = self._reload()
                self.loads += 1
            return self._header


class KubeAuth(httpx.Auth):
    """httpx authentication with :class:`Credentials`: the header on each request; after a 401, new credentials
    and the request once more. Loads that may run a program happen in a worker thread, off the event loop."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    @staticmethod
    def _apply(request: httpx.Request, header: str | None) -> None:
        if header:
            request.headers["Authorization"] = header

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        sent = self.credentials.header()
        self._apply(request, sent)
        response = yield request
        if response.status_code == 401 and self.credentials.refreshable:
            self._apply(request, self.credentials.header(rejected=sent))
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        sent = await self._header()
        self._apply(request, sent)
        response = yield request
        if response.status_code == 401 and self.credentials.refreshable:
            self._apply(request, await self._header(rejected=sent))
            yield request

    async def _header(self, *, rejected: str | None = None) -> str | None:
        creds = self.credentials
        if creds.remote and (creds.due() or rejected is not None):
            return await asyncio.to_thread(creds.header, rejected=rejected)
        return creds.header(rejected=rejected)


class _NamedServerContext(ssl.SSLContext):
    """An SSL context that checks the server's certificate against ``tls_server_name`` (and sends it as SNI)
    whatever host the connection goes to — directly or through a proxy's tunnel."""

    tls_server_name: str = ""

    def wrap_socket(  # type: ignore[override]  # noqa: PLR0917 — ssl.SSLContext.wrap_socket's signature
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        return super().wrap_socket(
            sock, server_side, do_handshake_on_connect, suppress_ragged_eofs, self.tls_server_name, session
        )

    def wrap_bio(  # type: ignore[override]
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        return super().wrap_bio(incoming, outgoing, server_side, self.tls_server_name, session)


@dataclass(frozen=True)
class ClusterAccess:
    """Connection settings for one API server (see the module's docstring)."""

    server: str
    namespace: str = "default"
    ca_data: bytes | None = field(default=None, repr=False)
    client_cert_data: bytes | None = field(default=None, repr=False)
    client_key_data: bytes | None = field(default=None, repr=False)
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = None
    credentials: Credentials = field(default_factory=Credentials)
    #: Where the settings came from, for messages: ``kubeconfig a:b (context c, user u)`` or ``in-cluster``.
    source: str = "settings"

    def authorization(self) -> str | None:
        """I/O when due: the ``Authorization`` header value (``Bearer …``, or ``Basic …`` for a kubeconfig user
        with username and password)."""
        return self.credentials.header()

    def bearer_token(self) -> str | None:
        """I/O when due: the current bearer token, without its scheme (None for certificates or basic auth)."""
        scheme, _, token = (self.authorization() or "").partition(" ")
        return token if scheme.lower() == "bearer" and token else None

    def expiration(self) -> datetime.datetime | None:
        """When the current credentials expire, if their plugin said so."""
        expires = self.credentials.expires
        return datetime.datetime.fromtimestamp(expires, tz=datetime.UTC) if expires is not None else None

    def ssl_context(self) -> ssl.SSLContext:
        """I/O: trusting the cluster CA, presenting the client certificate, checking ``tls-server-name``."""
        ctx = ssl.create_default_context() if not self.tls_server_name else _NamedServerContext(ssl.PROTOCOL_TLS_CLIENT)
        if isinstance(ctx, _NamedServerContext):
            ctx.tls_server_name = self.tls_server_name or ""
            ctx.load_default_certs()
        if self.insecure_skip_tls_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.ca_data:
            ctx.load_verify_locations(cadata=self.ca_data.decode())
        if self.client_cert_data and self.client_key_data:
            # ssl can only load a key pair from files: keep them in a private directory for the call only.
            with tempfile.TemporaryDirectory(prefix="task-api-") as tmp:
                cert = Path(tmp, "cert.pem")
                key = Path(tmp, "key.pem")
                cert.write_bytes(self.client_cert_data)
                key.touch(mode=0o600)
                key.write_bytes(self.client_key_data)
                ctx.load_cert_chain(str(cert), str(key))
        return ctx

    def httpx_options(self, *, verify: bool = True) -> dict[str, Any]:
        """I/O (builds the SSL context): keyword arguments for an ``httpx`` client talking to this server
        (``verify=False``: no TLS at all, for an in-memory transport)."""
        options: dict[str, Any] = {
            "base_url": self.server,
            "verify": self.ssl_context() if verify else False,
            "auth": KubeAuth(self.credentials),
        }
        if self.proxy_url:
            options["proxy"] = self.proxy_url
        return options

    @classmethod
    def load(cls, *, kubeconfig: str | os.PathLike[str] | None = None, context: str | None = None) -> ClusterAccess:
        """I/O: in-cluster settings when running in a pod (and no kubeconfig is named), else the kubeconfig:
        ``kubeconfig`` (a path, or a list separated by ``os.pathsep``), else ``$KUBECONFIG``, else
        ``~/.kube/config``."""
        named = os.fspath(kubeconfig) if kubeconfig else os.environ.get("KUBECONFIG")
        if not named and (IN_CLUSTER_DIR / "token").exists() and os.environ.get("KUBERNETES_SERVICE_HOST"):
            return cls.in_cluster()
        return cls.from_kubeconfig(named or Path.home() / ".kube" / "config", context=context)

    @classmethod
    def in_cluster(cls) -> ClusterAccess:
        """I/O: the pod's service account, through the package's in-cluster loader."""
        from task_api.kube import _loader  # noqa: PLC0415 — the package is imported only when needed

        try:
            reloader = _loader.in_cluster(IN_CLUSTER_DIR / "namespace")
        except _loader.ConfigException as exc:
            raise AccessError(f"in-cluster configuration: {exc}") from None
        return cls._from_reloader(reloader, source="in-cluster configuration")

    @classmethod
    def from_kubeconfig(cls, path: str | os.PathLike[str], *, context: str | None = None) -> ClusterAccess:
        """I/O: a kubeconfig file, or several separated by ``os.pathsep`` merged as kubectl merges them."""
        from task_api.kube import _loader  # noqa: PLC0415

        named = os.fspath(path)
        paths = [p for p in named.split(os.pathsep) if p]
        source = f"kubeconfig {named}"
        if not any(Path(p).expanduser().is_file() for p in paths):
            raise AccessError(f"{source}: no such file" + ("s" if len(paths) > 1 else ""))
        try:
            reloader, context_name, user = _loader.kubeconfig(paths, context=context)
        except _loader.ConfigException as exc:
            raise AccessError(f"{source}: {_loader_message(exc)}") from None
        except yaml.YAMLError as exc:
            raise AccessError(f"{source}: not valid YAML: {exc}") from None
        except OSError as exc:
            raise AccessError(f"{source}: {exc.filename or ''}: {exc.strerror or exc}") from None
        except (AttributeError, TypeError, KeyError) as exc:  # a document that is not a kubeconfig's mapping
            raise AccessError(f"{source}: not a kubeconfig ({type(exc).__name__}: {exc})") from None
        source = f"{source} (context {context_name!r}, user {user!r})"
        return cls._from_reloader(reloader, source=source)

    @classmethod
    def _from_reloader(cls, reloader: Any, *, source: str) -> ClusterAccess:
        from task_api.kube import _loader  # noqa: PLC0415

        def load() -> Any:
            try:
                return reloader.load()
            except _loader.ExecPluginFailed as exc:
                raise AccessError(
                    f"{source}: the exec credential plugin {exc.command!r} failed: {exc.detail}"
                ) from None
            except _loader.ConfigException as exc:
                raise AccessError(f"{source}: {_loader_message(exc)}") from None
            except OSError as exc:
                raise AccessError(f"{source}: {exc.filename or ''}: {exc.strerror or exc}") from None

        first = load()

        def reload() -> tuple[str | None, float | None, float | None]:
            again = load()
            return again.authorization, again.refresh_at, again.expires

        refreshable = first.refresh_at is not None or first.refreshes_remotely
        access = cls(
            server=first.server,
            namespace=first.namespace,
            ca_data=first.ca_data,
            client_cert_data=first.client_cert_data,
            client_key_data=first.client_key_data,
            insecure_skip_tls_verify=not first.verify,
            tls_server_name=first.tls_server_name,
            proxy_url=first.proxy_url,
            credentials=Credentials(
                first.authorization,
                refresh_at=first.refresh_at,
                expires=first.expires,
                reload=reload if refreshable else None,
                remote=first.refreshes_remotely,
            ),
            source=source,
        )
        access.check_proxy()
        return access

    def check_proxy(self) -> None:
        """Refuse a ``proxy-url`` httpx cannot use, with what to do about it."""
        if not self.proxy_url:
            return
        scheme = self.proxy_url.partition("://")[0].lower()
        if scheme not in ("http", "https", "socks5", "socks5h"):
            raise AccessError(
                f"{self.source}: proxy-url {self.proxy_url!r}: unsupported scheme (allowed: http, https, socks5)"
            )
        if scheme.startswith("socks"):
            try:
                import socksio  # type: ignore[import-not-found,unused-ignore] # noqa: F401, PLC0415
            except ImportError:
                raise AccessError(
                    f"{self.source}: proxy-url {self.proxy_url!r} is a SOCKS proxy: install httpx's SOCKS support "
                    "(pip install 'httpx[socks]')"
                ) from None


def _loader_message(exc: BaseException) -> str:
    """Pure: the package's ConfigException text without its generic prefix."""
    text = str(exc)
    for prefix in ("Invalid kube-config file. ", "Invalid kube-config. "):
        text = text.removeprefix(prefix)
    return text
