"""Where the API server is and how to authenticate: from a kubeconfig file or from inside a pod.

Only what the project needs is supported: client certificates, bearer tokens (inline or from a file that the
kubelet rotates) and a cluster CA. Exec and auth-provider plugins are refused with a clear error rather than
half-supported.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from task_api.spec.errors import TaskApiError

IN_CLUSTER_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class AccessError(TaskApiError):
    """No usable cluster configuration was found."""


@dataclass(frozen=True)
class ClusterAccess:
    """Connection settings for one API server."""

    server: str
    namespace: str = "default"
    ca_data: bytes | None = None
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = None
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    insecure_skip_tls_verify: bool = False

    def bearer_token(self) -> str | None:
        """I/O: the current token (re-read from its file, which the kubelet rotates)."""
        if self.token_file is not None:
            return self.token_file.read_text().strip()
        return self.token

    def ssl_context(self) -> ssl.SSLContext:
        """I/O: an SSL context trusting the cluster CA and presenting the client certificate, if any."""
        ctx = ssl.create_default_context()
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

    @classmethod
    def load(cls, *, kubeconfig: str | os.PathLike[str] | None = None, context: str | None = None) -> ClusterAccess:
        """I/O: in-cluster settings when running in a pod (and no kubeconfig is named), else the kubeconfig."""
        named = os.fspath(kubeconfig) if kubeconfig else os.environ.get("KUBECONFIG")
        if not named and (IN_CLUSTER_DIR / "token").exists() and os.environ.get("KUBERNETES_SERVICE_HOST"):
            return cls.in_cluster()
        path = Path(named.split(os.pathsep)[0]) if named else Path.home() / ".kube" / "config"
        return cls.from_kubeconfig(path, context=context)

    @classmethod
    def in_cluster(cls) -> ClusterAccess:
        """I/O: the pod's service account."""
        host = os.environ["KUBERNETES_SERVICE_HOST"]
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if ":" in host:
            host = f"[{host}]"
        ns_file = IN_CLUSTER_DIR / "namespace"
        return cls(
            server=f"https://{host}:{port}",
            namespace=ns_file.read_text().strip() if ns_file.exists() else "default",
            ca_data=(IN_CLUSTER_DIR / "ca.crt").read_bytes(),
            token_file=IN_CLUSTER_DIR / "token",
        )

    @classmethod
    def from_kubeconfig(cls, path: Path, *, context: str | None = None) -> ClusterAccess:
        """I/O: read a kubeconfig file."""
        try:
            doc = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise AccessError(f"{path}: cannot read the kubeconfig: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise AccessError(f"{path}: not a valid kubeconfig: {exc}") from None
        return cls.from_kubeconfig_dict(doc, context=context, base=path.parent, source=str(path))

    @classmethod
    def from_kubeconfig_dict(
        cls, doc: Any, *, context: str | None = None, base: Path = Path("."), source: str = "kubeconfig"
    ) -> ClusterAccess:
        """I/O only for files the kubeconfig names; otherwise pure."""
        if not isinstance(doc, Mapping):
            raise AccessError(f"{source}: not a kubeconfig (expected a mapping)")
        ctx_name = context or doc.get("current-context")
        contexts = {c["name"]: c.get("context", {}) for c in doc.get("contexts") or []}
        if ctx_name not in contexts:
            raise AccessError(f"{source}: context {ctx_name!r} not found; it has {sorted(contexts)}")
        ctx = contexts[ctx_name]
        clusters = {c["name"]: c.get("cluster", {}) for c in doc.get("clusters") or []}
        users = {u["name"]: u.get("user", {}) for u in doc.get("users") or []}
        cluster = clusters.get(ctx.get("cluster"))
        if cluster is None:
            raise AccessError(f"{source}: cluster {ctx.get('cluster')!r} of context {ctx_name!r} not found")
        user = users.get(ctx.get("user"), {})
        if "exec" in user or "auth-provider" in user:
            raise AccessError(f"{source}: user {ctx.get('user')!r} uses an exec/auth-provider plugin (unsupported)")

        def data(entry: Mapping[str, Any], key: str) -> bytes | None:
            if entry.get(f"{key}-data"):
                return base64.b64decode(str(entry[f"{key}-data"]))
            if entry.get(key):
                return (base / str(entry[key])).read_bytes()
            return None

        token = user.get("token")
        token_file = base / user["tokenFile"] if user.get("tokenFile") else None
        return cls(
            server=str(cluster["server"]).rstrip("/"),
            namespace=str(ctx.get("namespace") or "default"),
            ca_data=data(cluster, "certificate-authority"),
            client_cert_data=data(user, "client-certificate"),
            client_key_data=data(user, "client-key"),
            token=token,
            token_file=token_file,
            insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")),
        )
