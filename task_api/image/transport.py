"""The network under an inspection: every connect, read and write bounded by one deadline and one byte budget,
and every connection checked against the egress policy on the address actually used.

httpx bounds each read by a timeout, never a whole exchange: a registry sending one byte every 25 s satisfies a
30 s read timeout forever. So the client's connections go through :class:`GuardedBackend`, an httpcore network
backend that

* gives every operation at most the time left until the inspection's deadline (and raises
  :class:`~task_api.image.errors.InspectionTimedOut` once none is left);
* counts every byte received against the budget (:class:`~task_api.image.errors.InspectionTooLarge`);
* resolves the host itself, keeps the addresses the :class:`~task_api.image.egress.EgressPolicy` allows, and
  connects to one of those by address — TLS still verifies the certificate against the host name — so a name
  that resolves to something else at connect time than at check time (DNS rebinding) gains nothing.

Name resolution uses the system resolver, bounded by its own timeouts (``/etc/resolv.conf``), not the deadline.

I/O: sockets and DNS.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

from task_api.image.egress import EgressPolicy
from task_api.image.errors import InspectionTimedOut, InspectionTooLarge, RegistryUnavailable
from task_api.image.limits import InspectionLimits

__all__ = ["Guard", "GuardedBackend", "guarded_transport"]


class Guard:
    """One inspection's deadline and byte budget (thread-safe enough: one client, one thread at a time)."""

    def __init__(self, limits: InspectionLimits, *, image: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.image = image
        self._clock = clock
        self.deadline = clock() + limits.deadline_seconds
        self.bytes_received = 0

    def remaining(self) -> float:
        return self.deadline - self._clock()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def check(self) -> None:
        """Raise :class:`InspectionTimedOut` when the deadline has passed."""
        if self.expired():
            raise self.timed_out()

    def timed_out(self) -> InspectionTimedOut:
        return InspectionTimedOut(
            f"{self.image}: the inspection did not finish within {self.limits.deadline_seconds:g} s "
            f"({self.bytes_received} bytes received); the registry is too slow or stalls on purpose",
            image=self.image,
        )

    def clip(self, timeout: float | None) -> float:
        """The time an operation may wait: its own timeout, but never past the deadline."""
        left = self.remaining()
        if left <= 0:
            raise self.timed_out()
        return left if timeout is None else min(timeout, left)

    def count(self, received: int) -> None:
        self.bytes_received += received
        if self.bytes_received > self.limits.max_bytes:
            raise InspectionTooLarge(
                f"{self.image}: the inspection would read more than {self.limits.max_bytes} bytes from the network "
                "(TASK_API_INSPECT_MAX_BYTES); the image is too large to inspect, or the registry sends too much",
                image=self.image,
            )


class _GuardedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, guard: Guard) -> None:
        self._inner = inner
        self._guard = guard

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._inner.read(max_bytes, self._guard.clip(timeout))
        self._guard.count(len(data))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._guard.clip(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._guard.clip(timeout))
        return _GuardedStream(inner, self._guard)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's blocking socket backend, bounded by a :class:`Guard` and checked by an :class:`EgressPolicy`."""

    def __init__(self, guard: Guard, policy: EgressPolicy) -> None:
        self._guard = guard
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self._guard.check()
        addresses = _resolve(host, port, image=self._guard.image)
        allowed = [a for a in addresses if self._policy.address_allowed(host, port, a)]
        if not allowed:
            raise self._policy.refused_address(host, port, addresses, image=self._guard.image)
        last: Exception | None = None
        for address in allowed:
            try:
                stream = self._inner.connect_tcp(
                    str(address), port, self._guard.clip(timeout), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            return _GuardedStream(stream, self._guard)
        assert last is not None
        self._guard.check()
        raise last

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used for registries")

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, max(self._guard.remaining(), 0)))


def _resolve(host: str, port: int, *, image: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The host's addresses, in the resolver's order (I/O: DNS)."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise RegistryUnavailable(f"{image}: cannot resolve the host {host}", image=image) from None
    seen: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for family, *_, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in seen:
            seen.append(address)
    return seen


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over a :class:`GuardedBackend`.

    httpx takes no network backend, and ``HTTPTransport.__init__`` only builds ``self._pool``; this builds the same
    pool with ours instead (``handle_request`` and ``close`` use nothing else). The tests of the deadline and of
    the address checks fail if httpx ever stops honouring it.
    """

    def __init__(self, *, ssl_context: ssl.SSLContext, backend: GuardedBackend) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, max_connections=4, http1=True, http2=False, network_backend=backend
        )


def guarded_transport(*, guard: Guard, policy: EgressPolicy, verify: ssl.SSLContext | bool) -> httpx.BaseTransport:
    """An httpx transport whose every connection obeys ``guard`` and ``policy``."""
    context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=False)
    return _GuardedTransport(ssl_context=context, backend=GuardedBackend(guard, policy))
