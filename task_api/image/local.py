"""Reading ``processing-container.json`` out of an image that exists only in the local Docker engine.

Uses the engine API over its socket, never the image's command:

1. ``GET /images/{name}/json`` — the image's labels (the fast path) and its ID and repository digests;
2. otherwise ``POST /containers/create`` (the entrypoint replaced by a path that does not exist, networking
   off; the container is never started), ``GET /containers/{id}/archive?path=/processing-container.json``
   for a tar of just that file as the merged file system shows it (whiteouts are the engine's business),
   then ``DELETE /containers/{id}?force=1&v=1`` (also removing anonymous volumes the image declares).

``docker_host`` is ``unix:///path/to/docker.sock`` or ``tcp://host:port`` (plain HTTP, loopback only); it
defaults to ``$DOCKER_HOST`` or ``unix:///var/run/docker.sock``.

Network I/O (a unix socket). Thread-safe: each call has its own client.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
import urllib.parse
from collections import Counter
from typing import Any

import httpx

from task_api.image.errors import (
    DockerEngineError,
    ImageNotFound,
    InvalidReference,
    SpecFileInvalid,
    SpecFileMissing,
)
from task_api.image.inspect import (
    MAX_SPEC_BYTES,
    SPEC_PATH,
    Inspection,
    InspectionSource,
    parse_spec_bytes,
)
from task_api.image.layers import resolve_link
from task_api.image.manifest import LABEL
from task_api.image.reference import is_loopback_host, parse_reference

__all__ = ["DEFAULT_DOCKER_HOST", "inspect_local_image"]

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
_IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{12,64}")
_MAX_LINK_HOPS = 8


def _client(docker_host: str, timeout: float) -> httpx.Client:
    if docker_host.startswith("unix://"):
        transport = httpx.HTTPTransport(uds=docker_host[len("unix://") :])
        return httpx.Client(transport=transport, base_url="http://docker", timeout=timeout, trust_env=False)
    if docker_host.startswith("tcp://"):
        hostport = docker_host[len("tcp://") :].rstrip("/")
        if not is_loopback_host(hostport):
            raise DockerEngineError(
                f"docker host {docker_host}: only a unix socket or a loopback tcp:// address is supported"
            )
        return httpx.Client(base_url=f"http://{hostport}", timeout=timeout, trust_env=False)
    raise DockerEngineError(f"docker host {docker_host!r}: expected unix:///path or tcp://127.0.0.1:port")


def inspect_local_image(reference: str, *, docker_host: str | None = None, timeout: float = 60.0) -> Inspection:
    """Read and validate ``processing-container.json`` of a local Docker image (I/O: the engine API)."""
    host = docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    if not _IMAGE_ID.fullmatch(reference):
        parse_reference(reference)  # a clear InvalidReference before asking the engine
    requests: Counter[str] = Counter()
    bytes_read = 0
    with _client(host, timeout) as client:

        def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
            requests["engine"] += 1
            try:
                return client.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise DockerEngineError(
                    f"{reference}: the Docker engine at {host} did not answer ({type(exc).__name__})",
                    image=reference,
                ) from None

        quoted = urllib.parse.quote(reference, safe="")
        r = call("GET", f"/images/{quoted}/json")
        if r.status_code == 404:
            raise ImageNotFound(f"{reference}: no such image in the local Docker engine", image=reference)
        _check(r, reference, "inspect the image")
        info = r.json()
        bytes_read += len(r.content)
        image_id = str(info.get("Id", ""))
        digest, pinned = _pinned(reference, info, image_id)
        labels = (info.get("Config") or {}).get("Labels") or {}
        label = labels.get(LABEL) if isinstance(labels, dict) else None
        if isinstance(label, str):
            data, found_in = label.encode("utf-8"), "label"
        else:
            data, read = _read_file(call, reference, image_id)
            bytes_read += read
            found_in = "layer"
    source = f"{pinned} (label {LABEL})" if found_in == "label" else f"{pinned}:{SPEC_PATH}"
    container = parse_spec_bytes(data, source=source, image=pinned)
    return Inspection(
        container=container,
        digest=digest,
        reference=pinned,
        source=InspectionSource.DOCKER_ENGINE,
        bytes_read=bytes_read,
        requests=sum(requests.values()),
        found_in=found_in,
        request_counts=dict(requests),
        raw=data,
    )


def _pinned(reference: str, info: dict[str, Any], image_id: str) -> tuple[str, str]:
    """The registry digest matching the reference's repository, else the image ID (pure)."""
    repo_digests = [d for d in info.get("RepoDigests") or [] if isinstance(d, str) and "@" in d]
    if not _IMAGE_ID.fullmatch(reference):
        ref = parse_reference(reference)
        for entry in repo_digests:
            name, digest = entry.split("@", 1)
            try:
                other = parse_reference(name)
            except InvalidReference:
                continue  # an odd engine entry is just not a match
            if other.name == ref.name:
                return digest, ref.pinned(digest)
    return image_id, image_id


def _check(r: httpx.Response, reference: str, what: str) -> None:
    if r.status_code >= 400:
        try:
            message = str(r.json().get("message", ""))[:300]
        except ValueError:
            message = ""
        raise DockerEngineError(
            f"{reference}: the Docker engine could not {what}: {r.status_code} {message}".rstrip(),
            image=reference,
        )


def _read_file(call: Any, reference: str, image_id: str) -> tuple[bytes, int]:
    """Create a container (never started), copy the file out of it, remove it. Returns (data, bytes read)."""
    body = {
        "Image": image_id or reference,
        # Never started; should anything start it anyway, this entrypoint does not exist, so nothing runs.
        "Entrypoint": ["/.task-api-inspect-never-runs"],
        "Cmd": [],
        "NetworkDisabled": True,
        "Labels": {"io.task-api.inspect": "1"},
        "HostConfig": {"NetworkMode": "none"},
    }
    r = call("POST", "/containers/create", json=body)
    _check(r, reference, "create a container to read the file from")
    container_id = str(r.json()["Id"])
    total = 0
    try:
        target = SPEC_PATH.lstrip("/")
        for _ in range(_MAX_LINK_HOPS):
            r = call("GET", f"/containers/{container_id}/archive", params={"path": "/" + target})
            if r.status_code == 404:
                raise SpecFileMissing(
                    f"{reference}: the image has neither the label {LABEL} nor the file /{target}",
                    image=reference,
                )
            _check(r, reference, f"copy /{target} out of a container")
            total += len(r.content)
            with tarfile.open(fileobj=io.BytesIO(r.content), mode="r:") as tar:
                member = tar.next()
                if member is None:
                    raise SpecFileMissing(f"{reference}: /{target} is empty in the engine's copy", image=reference)
                if member.issym():
                    target = resolve_link(target, member.linkname)
                    continue
                if not member.isreg():
                    raise SpecFileInvalid(f"{reference}: /{target} is not a regular file", image=reference)
                if member.size > MAX_SPEC_BYTES:
                    raise SpecFileInvalid(
                        f"{reference}: /{target} is {member.size} bytes; at most {MAX_SPEC_BYTES} allowed",
                        image=reference,
                    )
                extracted = tar.extractfile(member)
                return (extracted.read() if extracted is not None else b""), total
        raise SpecFileInvalid(f"{reference}: /{target}: too many symbolic links", image=reference)
    finally:
        call("DELETE", f"/containers/{container_id}", params={"force": "1", "v": "1"})
