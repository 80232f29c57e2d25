"""The operator's configuration, read from environment variables (set from the ``task-api-config`` ConfigMap).

Every key is documented in ``docs/deploy.md``. Parsing is pure (:meth:`OperatorConfig.from_env` takes a mapping).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from task_api.core.host_paths import HostPathRefused, check_root
from task_api.core.taskrun.world import Policy
from task_api.image.settings import InspectionSettings
from task_api.spec.errors import TaskApiError
from task_api.spec.quantity import parse_quantity


class ConfigError(TaskApiError):
    """A configuration value is invalid."""


@dataclass(frozen=True)
class OperatorConfig:
    """What the administrator decides."""

    #: Node directories TaskRuns may mount through ``hostPath`` (none by default).
    allowed_host_path_roots: tuple[str, ...] = ()
    #: PVC, in each TaskRun's namespace, receiving outputs the TaskRun leaves unbound.
    workspace_claim: str = "task-api-workspace"
    #: Image of the measuring pod (the operator's own image: it carries ``python -m task_api.measure``).
    measure_image: str = ""
    #: Pull secrets (in each TaskRun's namespace) for the measuring image, if it needs any.
    measure_image_pull_secrets: tuple[str, ...] = ()
    #: Registries reached over plain HTTP (loopback ones always are).
    insecure_registries: tuple[str, ...] = ()
    #: Upper bound for memory computed by scale rules or grown after OOM kills, in bytes.
    max_memory_bytes: int = 16 * 1024**3
    #: Concurrent reconciles.
    workers: int = 128
    #: Port of the HTTP listener: Prometheus /metrics, /healthz (liveness) and /readyz (readiness).
    metrics_port: int = 8080
    #: How long a TaskRun waits for a ``fromTaskRun`` upstream that does not exist yet before it fails.
    upstream_grace_seconds: float = 300.0
    #: How long a TaskRun may wait for a claim, for quota or for a node, unless its ``pendingTimeoutSeconds`` says.
    pending_timeout_seconds: float = 3600.0
    log_level: str = "INFO"
    namespaces: tuple[str, ...] = field(default_factory=tuple)
    #: Run as one of several replicas: only the holder of the Lease reconciles (on unless set to false).
    leader_election: bool = True
    #: The Lease's name, and its namespace (default: the operator's own namespace).
    lease_name: str = "task-api-operator"
    lease_namespace: str = ""
    #: The uid and gid task containers run as (never 0: root only where ``root_namespaces`` allow it).
    run_as_user: int = 1000
    run_as_group: int = 1000
    #: Namespaces whose TaskRuns may set ``spec.runAsRoot`` (``*``: all).
    root_namespaces: tuple[str, ...] = ()
    #: Limits, egress policy and concurrency of image inspections (``TASK_API_INSPECT_*``, ``TASK_API_EGRESS_*``).
    inspection: InspectionSettings = field(default_factory=InspectionSettings)

    def policy(self) -> Policy:
        """Pure: the part of the configuration the reconciler's decisions depend on."""
        return Policy(
            workspace_claim=self.workspace_claim,
            allowed_host_path_roots=self.allowed_host_path_roots,
            measure_image=self.measure_image,
            measure_image_pull_secrets=self.measure_image_pull_secrets,
            max_memory_bytes=self.max_memory_bytes,
            upstream_grace_seconds=self.upstream_grace_seconds,
            pending_timeout_seconds=self.pending_timeout_seconds,
            run_as_user=self.run_as_user,
            run_as_group=self.run_as_group,
            root_namespaces=self.root_namespaces,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorConfig:
        """Pure given ``env`` (defaults to ``os.environ``)."""
        env = os.environ if env is None else env

        def items(key: str) -> tuple[str, ...]:
            return tuple(x.strip() for x in env.get(key, "").replace("\n", ",").split(",") if x.strip())

        # A trailing '/' is how many people write a directory; anything else odd about a root is refused.
        roots = tuple(r.rstrip("/") or "/" for r in items("TASK_API_ALLOWED_HOST_PATH_ROOTS"))
        for root in roots:
            try:
                check_root(root)
            except HostPathRefused as refused:
                raise ConfigError(f"TASK_API_ALLOWED_HOST_PATH_ROOTS: {refused}") from None
        max_memory = env.get("TASK_API_MAX_MEMORY", "16Gi")
        try:
            max_bytes = int(parse_quantity(max_memory))
        except ValueError as exc:
            raise ConfigError(f"TASK_API_MAX_MEMORY: {exc}") from None
        try:
            workers = int(env.get("TASK_API_WORKERS", "128"))
            grace = float(env.get("TASK_API_UPSTREAM_GRACE_SECONDS", "300"))
            pending = float(env.get("TASK_API_PENDING_TIMEOUT_SECONDS", "3600"))
            port = int(env.get("TASK_API_METRICS_PORT", "8080"))
        except ValueError as exc:
            raise ConfigError(
                f"TASK_API_WORKERS/TASK_API_METRICS_PORT/TASK_API_UPSTREAM_GRACE_SECONDS/"
                f"TASK_API_PENDING_TIMEOUT_SECONDS: {exc}"
            ) from None
        run_as_user = _id(env, "TASK_API_RUN_AS_USER")
        try:
            inspection = InspectionSettings.from_env(env, workers=max(1, workers))
        except ValueError as exc:  # the message names the key
            raise ConfigError(str(exc)) from None
        return cls(
            allowed_host_path_roots=roots,
            workspace_claim=env.get("TASK_API_WORKSPACE_CLAIM", "task-api-workspace") or "task-api-workspace",
            measure_image=env.get("TASK_API_MEASURE_IMAGE", ""),
            measure_image_pull_secrets=items("TASK_API_MEASURE_IMAGE_PULL_SECRETS"),
            insecure_registries=items("TASK_API_INSECURE_REGISTRIES"),
            max_memory_bytes=max_bytes,
            workers=max(1, workers),
            metrics_port=port,
            upstream_grace_seconds=max(0.0, grace),
            pending_timeout_seconds=max(1.0, pending),
            log_level=env.get("TASK_API_LOG_LEVEL", "INFO").upper(),
            namespaces=items("TASK_API_NAMESPACES"),
            leader_election=_flag(env, "TASK_API_LEADER_ELECTION", default=True),
            lease_name=env.get("TASK_API_LEASE_NAME", "task-api-operator") or "task-api-operator",
            lease_namespace=env.get("TASK_API_LEASE_NAMESPACE", ""),
            run_as_user=run_as_user,
            run_as_group=_id(env, "TASK_API_RUN_AS_GROUP", default=run_as_user),
            root_namespaces=items("TASK_API_ALLOW_ROOT_NAMESPACES"),
            inspection=inspection,
        )


def _flag(env: Mapping[str, str], key: str, *, default: bool) -> bool:
    """Pure: a boolean setting (true/false, yes/no, 1/0); anything else is a ConfigError naming the key."""
    raw = env.get(key, "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "yes", "1", "on"):
        return True
    if raw in ("false", "no", "0", "off"):
        return False
    raise ConfigError(f"{key}: {raw!r} is not a boolean (allowed: true or false)")


def _id(env: Mapping[str, str], key: str, *, default: int = 1000) -> int:
    """Pure: a uid or gid for task containers: 1 to 2^31-1 (0 is root, which only runAsRoot may ask for)."""
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 1 <= value <= 2**31 - 1:
        raise ConfigError(f"{key}: {raw!r} is not a non-root id (allowed: 1 to 2147483647)")
    return value
