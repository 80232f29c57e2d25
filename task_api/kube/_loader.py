"""The `kubernetes` package's configuration loaders, run and read back into plain values (I/O).

Everything a kubeconfig can say is understood by the package, not by us: a ``KUBECONFIG`` list merged as kubectl
merges it (:class:`KubeConfigMerger`: the first file that names a cluster, user or context wins), contexts and
their namespaces, client certificates, tokens and token files, exec credential plugins, auth providers (OIDC and gcp
refresh, the refreshed tokens written back to the file as kubectl does), ``proxy-url``, ``tls-server-name``,
``insecure-skip-tls-verify``; and the in-cluster service account (:class:`InClusterConfigLoader`).

Two things are changed, each in a small subclass: the package logs a failing exec plugin and carries on
unauthenticated, here it raises :class:`ExecPluginFailed` naming the plugin and its stderr (the plugin still runs
through the package's :class:`ExecProvider`, which writes ``KUBERNETES_EXEC_INFO`` and checks the
``ExecCredential`` it prints); and in a merged list the first file's ``current-context`` wins, as in kubectl.

This module imports the package (about 0.4 s and 20 MiB: bench/kube_access_cost.py); :mod:`task_api.kube.access`
imports it only when a configuration is loaded, so importing ``task_api.kube`` stays cheap for Airflow's DAG parser.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes.client import Configuration
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.dateutil import parse_rfc3339
from kubernetes.config.exec_provider import ExecProvider
from kubernetes.config.incluster_config import SERVICE_CERT_FILENAME, SERVICE_TOKEN_FILENAME, InClusterConfigLoader
from kubernetes.config.kube_config import FileOrData, KubeConfigLoader, KubeConfigMerger

__all__ = ["ConfigException", "ExecPluginFailed", "Loaded", "Reloader", "in_cluster", "kubeconfig"]

log = logging.getLogger(__name__)

#: How often a token read from a file (in-cluster, or a kubeconfig's ``tokenFile``) is read again: the kubelet
#: rotates projected service-account tokens (client-go re-reads them at the same pace).
TOKEN_FILE_PERIOD = 60.0
#: Longest plugin stderr kept in an error message.
STDERR_LIMIT = 2000


class ExecPluginFailed(Exception):
    """An exec credential plugin could not be run, failed, or printed no usable ExecCredential."""

    def __init__(self, command: str, detail: str) -> None:
        super().__init__(f"{command}: {detail}")
        self.command = command
        self.detail = detail


@dataclass(frozen=True)
class Loaded:
    """What one run of a loader found. Certificates as bytes (the package's temporary files are gone)."""

    server: str
    namespace: str
    authorization: str | None = field(repr=False)
    #: Monotonic time after which the credentials are to be loaded again (None: never).
    refresh_at: float | None
    #: Wall-clock expiry of the credentials, when known (an exec plugin's ``expirationTimestamp``, gcp).
    expires: float | None
    ca_data: bytes | None
    client_cert_data: bytes | None
    client_key_data: bytes | None = field(repr=False)
    verify: bool
    tls_server_name: str | None
    proxy_url: str | None
    #: Whether loading again may run a program or ask an identity provider (exec, auth-provider).
    refreshes_remotely: bool


class _Loader(KubeConfigLoader):
    """The package's kubeconfig loader, except that a failing exec plugin raises instead of being logged."""

    def _load_from_exec_plugin(self) -> bool | None:
        user: Any = self._user
        if "exec" not in user:
            return None
        spec = user["exec"]
        command = " ".join([str(spec.safe_get("command") or "?"), *(str(a) for a in spec.safe_get("args") or [])])
        cluster: Any = self._cluster
        base_path = self._get_base_path(cluster.path)
        try:
            status = ExecProvider(spec, base_path, cluster).run()
        except ConfigException as exc:
            raise ExecPluginFailed(command, _trim(str(exc).removeprefix("exec: "))) from None
        except OSError as exc:
            raise ExecPluginFailed(command, f"cannot run it: {exc.strerror or exc}") from None
        if not isinstance(status, dict):
            raise ExecPluginFailed(command, "its ExecCredential has no status")
        if status.get("token"):
            self.token = f"Bearer {status['token']}"
        elif status.get("clientCertificateData") and status.get("clientKeyData"):
            for attr, key in (("cert_file", "clientCertificateData"), ("key_file", "clientKeyData")):
                data = FileOrData(
                    status,
                    None,
                    data_key_name=key,
                    file_base_path=base_path,
                    base64_file_content=False,
                    temp_file_path=self._temp_file_path,
                )
                setattr(self, attr, data.as_file())
        else:
            raise ExecPluginFailed(
                command, "its ExecCredential status has neither token nor clientCertificateData and clientKeyData"
            )
        if status.get("expirationTimestamp"):
            try:
                self.expiry = parse_rfc3339(status["expirationTimestamp"])
            except ValueError as exc:
                raise ExecPluginFailed(command, f"status.expirationTimestamp: {exc}") from None
        return True


class _Merger(KubeConfigMerger):
    """The package's merger with kubectl's rule for ``current-context`` too: the first file that sets it wins
    (the package lets the last one win, unlike its own rule for clusters, users and contexts)."""

    def load_config(self, path: str) -> None:
        merged: Any = self.config_merged
        first = merged.value.get("current-context") if merged is not None else None
        super().load_config(path)
        if first:
            merged.value["current-context"] = first


def _trim(text: str) -> str:
    text = text.strip()
    return text if len(text) <= STDERR_LIMIT else "…" + text[-STDERR_LIMIT:]


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def _persist_quietly(save: Callable[[], None]) -> Callable[[], None]:
    """The merger's ``save_changes`` (refreshed auth-provider tokens written back), never fatal on a read-only file."""

    def persist() -> None:
        try:
            save()
        except OSError as exc:
            log.warning("cannot save the refreshed credentials into the kubeconfig: %s", exc.strerror or exc)

    return persist


class Reloader:
    """Runs one loader again and again (each run may execute a plugin or read a rotated token). Not thread-safe."""

    def __init__(
        self, loader: Any, *, private: Path, namespace: Callable[[], str], token_file: bool, remote: bool
    ) -> None:
        self._loader = loader
        self._private = private
        self._namespace = namespace
        self._token_file = token_file
        self._remote = remote

    def load(self) -> Loaded:
        """I/O: run the loader (plugins, token files, auth-provider refresh) and read back what it set."""
        config = Configuration()
        if hasattr(self._loader, "expiry"):
            del self._loader.expiry  # the previous run's; a plugin that now gives none must not keep it
        try:
            self._loader.load_and_set(config)
            ca, cert, key = _read(config.ssl_ca_cert), _read(config.cert_file), _read(config.key_file)
        finally:
            shutil.rmtree(self._private, ignore_errors=True)  # files the package wrote; a user's own stay
        expiry = getattr(self._loader, "expiry", None)
        expires = expiry.timestamp() if expiry is not None else None
        refresh_at = None
        if expires is not None:
            refresh_at = time.monotonic() + max(0.0, expires - time.time())
        elif self._token_file:
            refresh_at = time.monotonic() + TOKEN_FILE_PERIOD
        return Loaded(
            server=str(config.host).rstrip("/"),
            namespace=self._namespace(),
            # Stripped as client-go strips token files (the package keeps their final newline).
            authorization=str(config.api_key.get("BearerToken") or "").strip() or None,
            refresh_at=refresh_at,
            expires=expires,
            ca_data=ca,
            client_cert_data=cert,
            client_key_data=key,
            verify=bool(config.verify_ssl),
            tls_server_name=config.tls_server_name or None,
            proxy_url=config.proxy or None,
            refreshes_remotely=self._remote,
        )


def _private_dir() -> Path:
    """A new private directory for the files the package writes (inline certificates and keys). It is emptied
    after every load: the package would otherwise leave keys in /tmp until the process exits."""
    return Path(tempfile.mkdtemp(prefix="task-api-kube-"))


def kubeconfig(paths: list[str], *, context: str | None) -> tuple[Reloader, str, str]:
    """I/O: the package's loader for the merged files (missing ones skipped, as kubectl does).

    Returns the reloader, the context's name and its user's name.
    """
    merger = _Merger(os.pathsep.join(paths))
    if merger.config is None:
        raise ConfigException("no kubeconfig file found")
    private = _private_dir()
    loader = _Loader(
        config_dict=merger.config,
        active_context=context,
        config_base_path=None,
        config_persister=_persist_quietly(merger.save_changes),
        temp_file_path=str(private),
    )
    user: dict[str, Any] = loader._user.value if loader._user is not None else {}
    current: dict[str, Any] = loader.current_context
    settings: dict[str, Any] = current.get("context") or {}

    def namespace() -> str:
        return str(settings.get("namespace") or "default")

    reloader = Reloader(
        loader,
        private=private,
        namespace=namespace,
        token_file=bool(user.get("tokenFile")) and not user.get("token") and "exec" not in user,
        remote="exec" in user or "auth-provider" in user,
    )
    return reloader, str(current.get("name")), str(settings.get("user") or "")


def in_cluster(namespace_file: Path) -> Reloader:
    """I/O: the package's in-cluster loader (service-account token, CA, ``KUBERNETES_SERVICE_HOST``/``PORT``)."""
    loader = InClusterConfigLoader(
        token_filename=SERVICE_TOKEN_FILENAME, cert_filename=SERVICE_CERT_FILENAME, try_refresh_token=False
    )

    def namespace() -> str:
        return namespace_file.read_text().strip() if namespace_file.exists() else "default"

    return Reloader(loader, private=_private_dir(), namespace=namespace, token_file=True, remote=False)
