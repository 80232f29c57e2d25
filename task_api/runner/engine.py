"""The Docker engine, spoken to through its HTTP API on the unix socket (httpx with a UDS transport).

:class:`Engine` is the interface the runner logic is written against — the handful of engine calls a local
run needs — so that logic can be unit-tested with a small in-memory engine; :class:`DockerEngine` is the real
one. The API version is pinned to 1.41 (Docker 20.10): every engine since accepts it, and the response shapes
the runner reads are the ones documented for it.

Why the raw API rather than the ``docker`` command: the runner needs structured answers (``State.OOMKilled``,
exit codes, the pull's progress stream, the multiplexed log stream) and a client that does not depend on
whichever ``docker`` binary happens to be first on ``PATH``.

Credentials for a pull travel only in the ``X-Registry-Auth`` header, built right before the request; they
never appear in an error message or a log line.

Network I/O (a unix socket, or loopback TCP).
"""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import httpx

from task_api.image.auth import Credentials
from task_api.image.reference import is_loopback_host, parse_reference
from task_api.runner.errors import ContainerNotFound, EngineError, EngineUnavailable, PullFailed

__all__ = [
    "API_VERSION",
    "DEFAULT_DOCKER_HOST",
    "DockerEngine",
    "Engine",
    "LogChunk",
    "LogDemuxer",
    "registry_auth_header",
]

API_VERSION = "v1.41"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

#: One piece of container output: (stream, bytes) with stream 1 = stdout, 2 = stderr.
LogChunk = tuple[int, bytes]


class Engine(Protocol):
    """The engine calls a local run needs. Implementations raise :mod:`task_api.runner.errors` only."""

    def image_inspect(self, reference: str) -> dict[str, Any] | None:
        """The image's inspect document, or None when the engine does not have it."""

    def pull(
        self,
        reference: str,
        *,
        credentials: Credentials | None,
        on_progress: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        """Pull ``reference``; ``on_progress`` gets each status message of the pull stream."""

    def create_container(self, config: Mapping[str, Any], *, name: str | None = None) -> str:
        """Create (not start) a container; returns its full ID."""

    def start_container(self, container_id: str) -> None: ...

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        """The container's inspect document; :class:`ContainerNotFound` when it is gone."""

    def wait_container(self, container_id: str) -> int:
        """Block until the container stops; returns its exit code."""

    def logs(
        self, container_id: str, *, follow: bool, tail: int | None = None, timestamps: bool = False
    ) -> Iterator[LogChunk]:
        """The container's output so far (and, with ``follow``, until it stops)."""

    def stats(self, container_id: str) -> dict[str, Any]:
        """One sample of the container's resource usage."""

    def stop_container(self, container_id: str, *, timeout: int = 10) -> None: ...

    def remove_container(self, container_id: str, *, force: bool = False) -> None: ...

    def list_containers(self, *, labels: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """All containers (running or not), optionally only those carrying ``labels``."""


def registry_auth_header(credentials: Credentials, server: str) -> str:
    """The ``X-Registry-Auth`` value for ``credentials`` on ``server``: base64url of a JSON object (pure)."""
    if credentials.identity_token is not None:
        doc = {"identitytoken": credentials.identity_token.get_secret_value(), "serveraddress": server}
    else:
        doc = {
            "username": credentials.username,
            "password": credentials.password.get_secret_value(),
            "serveraddress": server,
        }
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


class LogDemuxer:
    """Splits the engine's multiplexed log stream into (stream, bytes) chunks (pure; fed incrementally).

    Without a TTY the engine frames output as ``[stream, 0, 0, 0, size (4 bytes, big-endian)]`` + payload.
    A frame may arrive split across reads; the remainder waits for the next :meth:`feed`.
    """

    HEADER = 8

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[LogChunk]:
        self._buffer += data
        chunks: list[LogChunk] = []
        while len(self._buffer) >= self.HEADER:
            stream = self._buffer[0]
            size = int.from_bytes(self._buffer[4:8], "big")
            if len(self._buffer) < self.HEADER + size:
                break
            payload = bytes(self._buffer[self.HEADER : self.HEADER + size])
            del self._buffer[: self.HEADER + size]
            chunks.append((stream, payload))
        return chunks

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a whole frame."""
        return len(self._buffer)


def _message(response: httpx.Response) -> str:
    try:
        data = json.loads(response.read())
    except (ValueError, httpx.HTTPError):
        return response.reason_phrase
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])[:500]
    return response.reason_phrase


class DockerEngine:
    """The real engine. ``docker_host`` is ``unix:///path`` or a loopback ``tcp://host:port``; the default is
    ``$DOCKER_HOST`` or ``unix:///var/run/docker.sock``."""

    def __init__(self, docker_host: str | None = None, *, timeout: float = 60.0) -> None:
        self.docker_host = docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
        self._timeout = timeout
        self._client = self._make_client()

    def _make_client(self) -> httpx.Client:
        host = self.docker_host
        if host.startswith("unix://"):
            # No TLS on a unix socket: skipping the CA bundle saves ~40 ms per command (verify is never used).
            transport = httpx.HTTPTransport(uds=host[len("unix://") :], verify=False)
            return httpx.Client(
                transport=transport, base_url=f"http://docker/{API_VERSION}", timeout=self._timeout, trust_env=False
            )
        if host.startswith("tcp://"):
            hostport = host[len("tcp://") :].rstrip("/")
            if not is_loopback_host(hostport):
                raise EngineUnavailable(
                    f"docker host {host}: only a unix socket or a loopback tcp:// address is supported"
                )
            return httpx.Client(base_url=f"http://{hostport}/{API_VERSION}", timeout=self._timeout, trust_env=False)
        raise EngineUnavailable(f"docker host {host!r}: expected unix:///path or tcp://127.0.0.1:port")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> DockerEngine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------------------

    def _unavailable(self, exc: httpx.HTTPError) -> EngineUnavailable:
        return EngineUnavailable(
            f"the Docker engine at {self.docker_host} does not answer ({type(exc).__name__}); "
            "is it running? (hack/docker-up.sh starts it)"
        )

    def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        not_found: type[EngineError] | None = None,
        timeout: httpx.Timeout | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        try:
            response = self._client.request(method, path, timeout=timeout or self._timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise self._unavailable(exc) from None
        if response.status_code == 404 and not_found is not None:
            raise not_found(f"{what}: {_message(response)}", status=404)
        if response.status_code >= 400:
            raise EngineError(
                f"{what}: the engine answered {response.status_code}: {_message(response)}",
                status=response.status_code,
            )
        return response

    @staticmethod
    def _quote(value: str) -> str:
        return urllib.parse.quote(value, safe="")

    # -- images -----------------------------------------------------------------------------------------------

    def image_inspect(self, reference: str) -> dict[str, Any] | None:
        try:
            response = self._client.get(f"/images/{self._quote(reference)}/json")
        except httpx.HTTPError as exc:
            raise self._unavailable(exc) from None
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise EngineError(f"inspect image {reference}: {_message(response)}", status=response.status_code)
        data: dict[str, Any] = response.json()
        return data

    def pull(
        self,
        reference: str,
        *,
        credentials: Credentials | None,
        on_progress: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        ref = parse_reference(reference)
        params = {"fromImage": ref.name, "tag": ref.digest or ref.tag or "latest"}
        headers = {}
        if credentials is not None:
            headers["X-Registry-Auth"] = registry_auth_header(credentials, ref.api_host)
        try:
            with self._client.stream(
                "POST", "/images/create", params=params, headers=headers, timeout=httpx.Timeout(60.0, read=None)
            ) as response:
                if response.status_code >= 400:
                    raise PullFailed(f"pull {reference}: {_message(response)}")
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue
                    if not isinstance(event, dict):
                        continue
                    if event.get("error"):
                        raise PullFailed(f"pull {reference}: {str(event['error'])[:500]}")
                    if on_progress is not None:
                        on_progress(event)
        except httpx.HTTPError as exc:
            raise self._unavailable(exc) from None

    # -- containers -------------------------------------------------------------------------------------------

    def create_container(self, config: Mapping[str, Any], *, name: str | None = None) -> str:
        params = {"name": name} if name else {}
        response = self._request(
            "POST", "/containers/create", what="create the container", params=params, json=dict(config)
        )
        container_id: str = response.json()["Id"]
        return container_id

    def start_container(self, container_id: str) -> None:
        self._request(
            "POST",
            f"/containers/{self._quote(container_id)}/start",
            what=f"start container {container_id[:12]}",
            not_found=ContainerNotFound,
        )

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        response = self._request(
            "GET",
            f"/containers/{self._quote(container_id)}/json",
            what=f"container {container_id[:12]}",
            not_found=ContainerNotFound,
        )
        data: dict[str, Any] = response.json()
        return data

    def wait_container(self, container_id: str) -> int:
        response = self._request(
            "POST",
            f"/containers/{self._quote(container_id)}/wait",
            what=f"wait for container {container_id[:12]}",
            not_found=ContainerNotFound,
            timeout=httpx.Timeout(60.0, read=None),
        )
        return int(response.json().get("StatusCode", -1))

    def logs(
        self, container_id: str, *, follow: bool, tail: int | None = None, timestamps: bool = False
    ) -> Iterator[LogChunk]:
        params = {
            "stdout": "1",
            "stderr": "1",
            "follow": "1" if follow else "0",
            "timestamps": "1" if timestamps else "0",
            "tail": "all" if tail is None else str(tail),
        }
        path = f"/containers/{self._quote(container_id)}/logs"
        try:
            with self._client.stream("GET", path, params=params, timeout=httpx.Timeout(60.0, read=None)) as response:
                if response.status_code == 404:
                    raise ContainerNotFound(f"container {container_id[:12]}: {_message(response)}", status=404)
                if response.status_code >= 400:
                    raise EngineError(f"logs of {container_id[:12]}: {_message(response)}", status=response.status_code)
                # The runner never allocates a TTY, so the stream is always multiplexed.
                demux = LogDemuxer()
                for data in response.iter_raw():
                    yield from demux.feed(data)
        except httpx.HTTPError as exc:
            raise self._unavailable(exc) from None

    def stats(self, container_id: str) -> dict[str, Any]:
        response = self._request(
            "GET",
            f"/containers/{self._quote(container_id)}/stats",
            what=f"stats of container {container_id[:12]}",
            not_found=ContainerNotFound,
            params={"stream": "0"},
        )
        data: dict[str, Any] = response.json()
        return data

    def stop_container(self, container_id: str, *, timeout: int = 10) -> None:
        self._request(
            "POST",
            f"/containers/{self._quote(container_id)}/stop",
            what=f"stop container {container_id[:12]}",
            not_found=ContainerNotFound,
            params={"t": str(timeout)},
            timeout=httpx.Timeout(60.0, read=timeout + 30.0),
        )

    def remove_container(self, container_id: str, *, force: bool = False) -> None:
        self._request(
            "DELETE",
            f"/containers/{self._quote(container_id)}",
            what=f"remove container {container_id[:12]}",
            not_found=ContainerNotFound,
            params={"force": "1" if force else "0", "v": "1"},
        )

    def list_containers(self, *, labels: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        params: dict[str, str] = {"all": "1"}
        if labels:
            params["filters"] = json.dumps({"label": [f"{k}={v}" for k, v in labels.items()]})
        response = self._request("GET", "/containers/json", what="list containers", params=params)
        data: list[dict[str, Any]] = response.json()
        return data
