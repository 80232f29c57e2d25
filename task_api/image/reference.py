"""Image references: parsing and normalising ``[registry[:port]/]repository[:tag][@digest]``.

The grammar follows the distribution project's reference package (the one Docker and containerd use):

* the first path component is a registry host when it contains ``.`` or ``:`` or is ``localhost``;
  otherwise the image lives on Docker Hub (``docker.io``) and a one-component name gets ``library/``;
* repository path components are lower case ``[a-z0-9]+`` joined by ``.``, ``_``, ``__`` or ``-``;
* a tag is ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``; without tag and digest the tag is ``latest``;
* a digest is ``sha256:<64 hex>`` or ``sha512:<128 hex>``; with both tag and digest the digest wins.

Docker Hub's API lives on ``registry-1.docker.io`` although images are named ``docker.io/…``.

Everything here is pure.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from task_api.image.errors import InvalidReference

__all__ = [
    "DOCKER_HUB",
    "ImageReference",
    "is_loopback_host",
    "parse_reference",
    "registry_mismatch",
    "registry_url_host",
    "split_host_port",
]

DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})
_DOCKER_HUB_API = "registry-1.docker.io"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*")
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})")
_EXPECTED = "[registry[:port]/]repository[:tag][@sha256:<64 hex digits>]"


@dataclass(frozen=True)
class ImageReference:
    """A parsed, normalised image reference. ``str()`` gives the canonical form."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def api_host(self) -> str:
        """The host[:port] whose ``/v2/`` API serves this image (Docker Hub's differs from its name)."""
        return _DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def manifest_ref(self) -> str:
        """What goes after ``/manifests/``: the digest when pinned, else the tag (``latest`` by default)."""
        return self.digest or self.tag or "latest"

    def pinned(self, digest: str) -> str:
        """``registry/repository@digest`` — usable as a pod's image, independent of later tag moves."""
        return f"{self.name}@{digest}"

    def with_digest(self, digest: str) -> ImageReference:
        """The same reference pinned to ``digest`` (the tag is kept for display)."""
        return replace(self, digest=digest)

    def __str__(self) -> str:
        out = self.name
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out


def _invalid(reference: str, why: str) -> InvalidReference:
    return InvalidReference(f"image reference {reference!r} is invalid: {why}; expected {_EXPECTED}", image=reference)


def parse_reference(reference: str) -> ImageReference:
    """Parse and normalise an image reference (pure); :class:`InvalidReference` says what is wrong."""
    text = reference.strip()
    if not text:
        raise _invalid(reference, "it is empty")
    if any(c.isspace() for c in text):
        raise _invalid(reference, "it contains white space")
    if "://" in text:
        raise _invalid(reference, "a reference has no URL scheme (drop 'https://')")

    digest: str | None = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise _invalid(reference, f"digest {digest!r} is not sha256:<64 lower-case hex> or sha512:<128 hex>")

    # A tag is the part after the last ':' when that part has no '/': 'host:5000/repo' has a port, not a tag.
    tag: str | None = None
    last = text.rsplit("/", 1)[-1]
    if ":" in last:
        text, tag = text.rsplit(":", 1)
        if not _TAG.fullmatch(tag):
            raise _invalid(reference, f"tag {tag!r} must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}")

    parts = text.split("/")
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        registry, path = first, parts[1:]
        if not _HOST.fullmatch(registry):
            raise _invalid(reference, f"registry host {registry!r} is not a host name or IP with optional port")
        if registry.lower() in _DOCKER_HUB_ALIASES:
            registry = DOCKER_HUB
    else:
        registry, path = DOCKER_HUB, parts
    if registry == DOCKER_HUB and len(path) == 1:
        path = ["library", *path]
    for component in path:
        if not _COMPONENT.fullmatch(component):
            raise _invalid(
                reference,
                f"repository component {component!r} must be lower case letters and digits, "
                "joined by '.', '_', '__' or '-'",
            )
    repository = "/".join(path)
    if len(registry) + 1 + len(repository) > 255:
        raise _invalid(reference, "the name is longer than 255 characters")
    if tag is None and digest is None:
        tag = "latest"
    return ImageReference(registry=registry, repository=repository, tag=tag, digest=digest)


def registry_url_host(url: str) -> str:
    """The registry a ``registryUrl`` (the guide's spelling: a host, often with a scheme or a project path, such as
    ``https://registry.example.org/project``) names: its host and port, Docker Hub's aliases as ``docker.io``. Pure.

    Without a scheme it is read as the front of an image reference is (Kaapana writes images as
    ``{{ registryUrl }}/name:tag``): a first component without a dot or a port, other than ``localhost``, is a
    Docker Hub namespace (``myorg`` → ``docker.io``), as Docker reads ``myorg/name:tag``."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    host = (rest if sep else scheme).split("/", 1)[0]
    if not sep and not ("." in host or ":" in host or host == "localhost"):
        return DOCKER_HUB
    return DOCKER_HUB if host.lower() in _DOCKER_HUB_ALIASES else host


def registry_mismatch(image: str, registry_url: str) -> tuple[str, str] | None:
    """``(image's registry, registryUrl's)`` when ``registry_url`` names another registry than ``image``'s; None
    when they agree. Pure; raises :class:`InvalidReference` for a malformed image."""
    have, want = parse_reference(image).registry, registry_url_host(registry_url)
    return None if have == want else (have, want)


def split_host_port(host: str) -> tuple[str, int | None]:
    """``'127.0.0.1:5000'`` -> ``('127.0.0.1', 5000)``; ``'[::1]:5000'`` -> ``('::1', 5000)`` (pure)."""
    if host.startswith("["):
        inner, _, rest = host[1:].partition("]")
        return inner, int(rest[1:]) if rest.startswith(":") else None
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit():
        return name, int(port)
    return host, None


def is_loopback_host(host: str) -> bool:
    """Whether ``host[:port]`` names this machine: ``localhost``, 127.0.0.0/8 or ::1 (pure, no DNS)."""
    name, _ = split_host_port(host)
    if name.lower() == "localhost" or name.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
