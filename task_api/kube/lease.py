"""Leader election on a ``coordination.k8s.io/v1`` Lease, as client-go's ``leaderelection`` does (I/O).

Several operator replicas run; one holds the Lease and reconciles, the others wait, ready to take over. The holder
renews the Lease every ``retry_period``; when it cannot renew for ``renew_deadline`` it must stop at once (a
leader cut off from the API server by a partition stops before the Lease expires, so two never act together).
Another replica takes the Lease once it has seen no renewal for ``lease_duration`` — measured on its own clock from
when it *observed* the last change, so clock skew between nodes does not matter. A leader that shuts down cleanly
releases the Lease, and a standby takes over within one ``retry_period``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from task_api.core.times import format_micro_rfc3339
from task_api.kube.client import KubeClient, resource_path
from task_api.kube.errors import AlreadyExists, Conflict, KubeApiError, NotFound

log = logging.getLogger(__name__)

__all__ = ["LeaderElector", "LeaseSettings"]


@dataclass(frozen=True)
class LeaseSettings:
    """Where the Lease is, who we are, and the timings (client-go's defaults: 15 s / 10 s / 2 s)."""

    namespace: str
    name: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


def lease_path(namespace: str, name: str | None = None) -> str:
    """Pure: the REST path of a namespace's Leases, or of one."""
    return resource_path(group="coordination.k8s.io", version="v1", plural="leases", namespace=namespace, name=name)


class LeaderElector:
    """I/O: acquires, renews and releases one Lease."""

    def __init__(self, kube: KubeClient, settings: LeaseSettings, *, clock: Any = time.monotonic) -> None:
        self._kube = kube
        self._s = settings
        self._clock = clock
        # The last (holder, renewTime) seen, and when we saw it change (our clock).
        self._observed: tuple[str, str] | None = None
        self._observed_at = 0.0
        self.leading = False

    async def acquire(self) -> None:
        """I/O: wait until this replica holds the Lease (an API server that does not answer is waited out)."""
        while True:
            try:
                if await self.try_acquire_or_renew():
                    break
            except KubeApiError as exc:
                log.warning("leader election: reading the Lease failed: %s", exc)
            await asyncio.sleep(self._s.retry_period)
        self.leading = True
        log.info("leader election: %s holds Lease %s/%s", self._s.identity, self._s.namespace, self._s.name)

    async def keep(self) -> None:
        """I/O: renew until renewing fails for ``renew_deadline``; then return (the caller must stop leading).

        Each try is cut off when the deadline comes, as client-go's context does: a request that hangs (a partition
        that drops packets, an API server waiting for its etcd) must not keep a leader leading past the deadline,
        and past the Lease's expiry, while another replica takes over."""
        last_renewed = self._clock()
        while True:
            await asyncio.sleep(self._s.retry_period)
            left = self._s.renew_deadline - (self._clock() - last_renewed)
            try:
                renewed = await asyncio.wait_for(self.try_acquire_or_renew(), timeout=max(left, 0.001))
            except KubeApiError as exc:
                log.warning("leader election: renewing the Lease failed: %s", exc)
                renewed = False
            except TimeoutError:
                log.warning("leader election: renewing the Lease got no answer within the renew deadline")
                renewed = False
            now = self._clock()
            if renewed:
                last_renewed = now
            elif now - last_renewed >= self._s.renew_deadline:
                self.leading = False
                log.error("leader election: could not renew the Lease for %.0f s; stopping", now - last_renewed)
                return

    async def release(self) -> None:
        """I/O: give the Lease up (a clean shutdown), so a standby takes over at once."""
        if not self.leading:
            return
        self.leading = False
        try:
            lease = await self._kube.get(lease_path(self._s.namespace, self._s.name))
            if _spec(lease).get("holderIdentity") != self._s.identity:
                return
            patch = {
                "metadata": {"resourceVersion": lease["metadata"]["resourceVersion"]},
                "spec": {"holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": _now()},
            }
            await self._kube.merge_patch(lease_path(self._s.namespace, self._s.name), patch)
        except KubeApiError as exc:  # the Lease expires by itself then
            log.warning("leader election: releasing the Lease failed: %s", exc)

    async def try_acquire_or_renew(self) -> bool:
        path = lease_path(self._s.namespace, self._s.name)
        duration = max(1, round(self._s.lease_duration))
        now = _now()
        try:
            lease = await self._kube.get(path)
        except NotFound:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self._s.name, "namespace": self._s.namespace},
                "spec": {
                    "holderIdentity": self._s.identity,
                    "leaseDurationSeconds": duration,
                    "acquireTime": now,
                    "renewTime": now,
                    "leaseTransitions": 0,
                },
            }
            try:
                await self._kube.create(lease_path(self._s.namespace), body)
            except (AlreadyExists, Conflict):
                return False
            return True
        spec = _spec(lease)
        holder = str(spec.get("holderIdentity") or "")
        seen = (holder, str(spec.get("renewTime") or ""))
        if seen != self._observed:
            self._observed, self._observed_at = seen, self._clock()
        held_for = float(spec.get("leaseDurationSeconds") or self._s.lease_duration)
        if holder and holder != self._s.identity and self._clock() - self._observed_at < held_for:
            return False  # someone else holds a Lease that is still fresh
        changes: dict[str, Any] = {
            "holderIdentity": self._s.identity,
            "leaseDurationSeconds": duration,
            "renewTime": now,
        }
        if holder != self._s.identity:
            changes["acquireTime"] = now
            changes["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        patch = {"metadata": {"resourceVersion": lease["metadata"]["resourceVersion"]}, "spec": changes}
        try:
            await self._kube.merge_patch(path, patch)
        except Conflict:
            return False  # another replica wrote first: look again next round
        return True


def _spec(lease: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = lease.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _now() -> str:
    return format_micro_rfc3339(datetime.now(UTC))
