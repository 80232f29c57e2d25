"""The node agent's loop (I/O, asyncio): watch the node's task pods, read their cgroups, write finished peaks."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from task_api.agent.cgroups import CgroupReader
from task_api.agent.config import AgentConfig, ConfigError
from task_api.agent.tracker import TASK_POD_SELECTOR, Tracked, Tracker, merge_peaks, peak_entry
from task_api.kube import ClusterAccess, KubeApiError, KubeClient
from task_api.kube.peaks import record_peak
from task_api.kube.watch import list_and_watch
from task_api.spec.errors import TaskApiError

__all__ = ["Agent", "main"]

log = logging.getLogger("task_api.agent")


class Agent:
    """I/O: one node's agent."""

    def __init__(self, config: AgentConfig, access: ClusterAccess, kube: KubeClient) -> None:
        self.config = config
        self.access = access
        self.kube = kube
        self.tracker = Tracker()
        self.reader = CgroupReader(config.cgroup_mount, config.cgroup_root)
        self._writes: set[asyncio.Task[None]] = set()

    def on_event(self, kind: str, pod: Mapping[str, Any]) -> None:
        if kind == "DELETED":
            self.tracker.deleted(pod)
        else:
            self.tracker.observe(pod)

    def poll(self) -> None:
        """Read every followed pod's cgroups once, and start the writes of attempts that are final."""
        for tracked in self.tracker.to_read():
            ended = tracked.terminated
            reading = self.reader.read(tracked.pod.uid, tracked.qos)
            self.tracker.reading(tracked.pod.uid, reading, ended_before_read=ended)
            if not reading.present and tracked.cgroup_gone:
                self.reader.forget(tracked.pod.uid)
        self.tracker.tick()
        for tracked in self.tracker.ready():
            tracked.done = True
            task = asyncio.create_task(self._write(tracked))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)
        for tracked in self.tracker.unobservable():
            tracked.done = True
            log.info("pod %s/%s ended before its cgroup could be read; no peak recorded",
                     tracked.pod.namespace, tracked.pod.name)  # fmt: skip
        self.tracker.forget_deleted()

    async def _write(self, tracked: Tracked) -> None:
        pod = tracked.pod
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        entry = peak_entry(tracked, node=self.config.node_name, source=self.reader.source(), now=now)
        try:
            outcome = await record_peak(self.kube, namespace=pod.namespace, name=pod.taskrun, uid=pod.taskrun_uid,
                                        entry=entry, merge=merge_peaks)  # fmt: skip
        except KubeApiError as exc:
            if exc.transient:
                tracked.done = False  # the next poll tries again
            log.warning("TaskRun %s/%s attempt %d: peak not recorded: %s", pod.namespace, pod.taskrun, pod.attempt, exc)
            return
        log.info("TaskRun %s/%s attempt %d: peak %s (%d bytes) %s", pod.namespace, pod.taskrun, pod.attempt,
                 entry["peak"], entry["peakBytes"], outcome)  # fmt: skip

    async def run(self) -> None:
        if self.reader.layout is None:
            raise ConfigError(f"{self.config.cgroup_mount}: no cgroup v1 memory controller or cgroup v2 hierarchy here "
                              "(mount the host's /sys/fs/cgroup there, read-only)")  # fmt: skip
        if not self.reader.kubepods_present():
            log.warning("no kubepods tree under %s%s yet: is TASK_API_AGENT_CGROUP_ROOT the kubelet's --cgroup-root?",
                        self.reader.layout.memory_root, self.config.cgroup_root)  # fmt: skip
        log.info("node %s, %s under %s, root %s, every %.2f s", self.config.node_name, self.reader.source(),
                 self.config.cgroup_mount, self.config.cgroup_root, self.config.interval)  # fmt: skip
        watch = asyncio.create_task(
            list_and_watch(
                self.access,
                "/api/v1/pods",
                self.on_event,
                field_selector=f"spec.nodeName={self.config.node_name}",
                label_selector=TASK_POD_SELECTOR,
                user_agent="task-api-node-agent",
            )
        )
        try:
            while not watch.done():
                self.poll()
                await asyncio.sleep(self.config.interval)
            watch.result()  # re-raise what ended the watch
        finally:
            watch.cancel()
            if self._writes:
                await asyncio.gather(*self._writes, return_exceptions=True)


async def _serve(config: AgentConfig) -> None:
    access = ClusterAccess.load()
    async with KubeClient(access, user_agent="task-api-node-agent") as kube:
        agent = Agent(config, access, kube)
        runner = asyncio.create_task(agent.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runner.cancel)
        try:
            await runner
        except asyncio.CancelledError:
            log.info("stopping")


def main() -> int:
    """``python -m task_api.agent``: exit 2 on a configuration error, 1 when the API refuses the agent."""
    try:
        config = AgentConfig.from_env()
    except ConfigError as exc:
        sys.stderr.write(f"task-api agent: {exc}\n")
        return 2
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One line per request would drown what the agent says; its own lines name every write.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        asyncio.run(_serve(config))
    except TaskApiError as exc:
        sys.stderr.write(f"task-api agent: {exc}\n")
        return 1
    return 0
