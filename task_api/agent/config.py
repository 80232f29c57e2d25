"""The node agent's settings, from environment variables (the DaemonSet sets them). Pure given the mapping."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from task_api.spec.errors import TaskApiError

__all__ = ["AgentConfig", "ConfigError"]


class ConfigError(TaskApiError):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class AgentConfig:
    """What the agent needs to know about its node."""

    node_name: str
    #: Where the host's /sys/fs/cgroup is mounted in the agent's container (read-only).
    cgroup_mount: Path = Path("/host/sys/fs/cgroup")
    #: The kubelet's --cgroup-root: the kubepods tree is found below it.
    cgroup_root: str = "/"
    #: Seconds between reads of the cgroups; the pod's cgroup outlives its containers by about 2 s.
    interval: float = 0.2
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AgentConfig:
        """Pure given ``env`` (defaults to ``os.environ``); a bad value raises :class:`ConfigError` naming it."""
        env = os.environ if env is None else env
        node = env.get("NODE_NAME", "").strip()
        if not node:
            raise ConfigError("NODE_NAME: not set (allowed: the node's name, from the downward API spec.nodeName)")
        raw = env.get("TASK_API_AGENT_INTERVAL", "0.2")
        try:
            interval = float(raw)
        except ValueError:
            interval = -1.0
        if not 0.02 <= interval <= 1.0:
            raise ConfigError(
                f"TASK_API_AGENT_INTERVAL: {raw!r} is not allowed (allowed: seconds from 0.02 to 1.0; the pod's cgroup "
                "is removed about 2 s after its containers end)"
            )
        root = env.get("TASK_API_AGENT_CGROUP_ROOT", "/").strip() or "/"
        if not root.startswith("/") or ".." in root.split("/"):
            raise ConfigError(
                f"TASK_API_AGENT_CGROUP_ROOT: {root!r} is not allowed (allowed: an absolute cgroup path without '..', "
                "the kubelet's --cgroup-root)"
            )
        level = env.get("TASK_API_LOG_LEVEL", "INFO").upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(f"TASK_API_LOG_LEVEL: {level!r} is not allowed (allowed: DEBUG, INFO, WARNING, ERROR)")
        return cls(
            node_name=node,
            cgroup_mount=Path(env.get("TASK_API_AGENT_CGROUP_MOUNT", "/host/sys/fs/cgroup")),
            cgroup_root=root,
            interval=interval,
            log_level=level,
        )
