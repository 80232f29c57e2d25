"""Manifests: OCI index, Docker manifest list, OCI image manifest, Docker v2 schema 2; platform selection.

Parsing checks exactly what the reader relies on (media types, descriptor fields, digests' form) and reports
anything else as :class:`ManifestUnsupported` naming the field. Docker schema 1 manifests are refused: they
are deprecated, unsigned in practice, and no current builder writes them.

Also here: the image label that carries ``processing-container.json`` (the fast path) and how layer media
types map to compressions.

Everything here is pure.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from task_api.image.errors import ManifestUnsupported, PlatformNotFound

__all__ = [
    "ACCEPT_MANIFESTS",
    "LABEL",
    "Compression",
    "Descriptor",
    "ImageConfig",
    "ImageManifest",
    "Index",
    "MediaType",
    "Platform",
    "layer_compression",
    "parse_config",
    "parse_manifest",
    "select_platform",
]

#: The image label whose value is the whole ``processing-container.json`` (set with ``docker build --label``).
LABEL = "io.task-api.processing-container"


class MediaType(enum.StrEnum):
    """Manifest media types this reader understands."""

    OCI_INDEX = "application/vnd.oci.image.index.v1+json"
    DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
    OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
    DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


_INDEX_TYPES = frozenset({MediaType.OCI_INDEX.value, MediaType.DOCKER_LIST.value})
_MANIFEST_TYPES = frozenset({MediaType.OCI_MANIFEST.value, MediaType.DOCKER_MANIFEST.value})
_SCHEMA1 = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)
#: The Accept header for manifest requests: every type we can read, most specific first.
ACCEPT_MANIFESTS = ", ".join(m.value for m in MediaType)

_DIGEST = re.compile(r"(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})")


class Compression(enum.StrEnum):
    """How a layer blob is compressed. The reader also sniffs magic bytes, since media types can lie."""

    GZIP = "gzip"
    ZSTD = "zstd"
    NONE = "none"


_LAYER_TYPES: Mapping[str, Compression] = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": Compression.GZIP,
    "application/vnd.oci.image.layer.v1.tar+gzip": Compression.GZIP,
    "application/vnd.oci.image.layer.v1.tar+zstd": Compression.ZSTD,
    "application/vnd.oci.image.layer.v1.tar": Compression.NONE,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": Compression.GZIP,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": Compression.ZSTD,
    "application/vnd.oci.image.layer.nondistributable.v1.tar": Compression.NONE,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": Compression.GZIP,
}


@dataclass(frozen=True)
class Platform:
    """``os/architecture[/variant]`` as in ``linux/arm64/v8``."""

    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``os/arch[/variant]`` (pure); raises ValueError with what is allowed."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"platform {text!r} is not os/architecture[/variant], e.g. linux/amd64")
        return cls(parts[0].lower(), parts[1].lower(), parts[2].lower() if len(parts) == 3 else None)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Descriptor:
    """A content descriptor: media type, digest and size of a blob or manifest."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Index:
    """An OCI index or Docker manifest list."""

    media_type: str
    manifests: tuple[Descriptor, ...]


@dataclass(frozen=True)
class ImageManifest:
    """An OCI image manifest or Docker v2 schema 2 manifest; ``layers`` are bottom first, as stored."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


@dataclass(frozen=True)
class ImageConfig:
    """The parts of an image config blob the reader uses."""

    labels: Mapping[str, str]
    os: str | None
    architecture: str | None
    diff_ids: tuple[str, ...]


def _fail(source: str, path: str, message: str) -> ManifestUnsupported:
    where = f"{source}: {path}: " if path else f"{source}: "
    return ManifestUnsupported(where + message, image=source)


def _descriptor(raw: Any, *, source: str, path: str) -> Descriptor:
    if not isinstance(raw, Mapping):
        raise _fail(source, path, f"expected a descriptor object, got {type(raw).__name__}")
    media_type, digest, size = raw.get("mediaType"), raw.get("digest"), raw.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise _fail(source, f"{path}.mediaType", "missing or not a string")
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise _fail(source, f"{path}.digest", f"given {digest!r}; allowed sha256:<64 hex> or sha512:<128 hex>")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _fail(source, f"{path}.size", f"given {size!r}; allowed a non-negative integer")
    platform = None
    raw_platform = raw.get("platform")
    if isinstance(raw_platform, Mapping):
        os_, arch = raw_platform.get("os"), raw_platform.get("architecture")
        if isinstance(os_, str) and isinstance(arch, str):
            variant = raw_platform.get("variant")
            platform = Platform(os_.lower(), arch.lower(), variant.lower() if isinstance(variant, str) else None)
    urls = raw.get("urls") or ()
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        platform=platform,
        urls=tuple(u for u in urls if isinstance(u, str)) if isinstance(urls, list) else (),
    )


def parse_manifest(body: bytes, content_type: str | None, *, source: str) -> Index | ImageManifest:
    """Parse a manifest body (pure). ``content_type`` is the response header, used when the body has no
    ``mediaType`` (OCI makes the field optional). Raises :class:`ManifestUnsupported` naming the field."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _fail(source, "", "the manifest is not valid JSON") from None
    if not isinstance(data, Mapping):
        raise _fail(source, "", "the manifest is not a JSON object")
    header_type = (content_type or "").split(";", 1)[0].strip()
    media_type = data.get("mediaType") or header_type
    if not isinstance(media_type, str):
        raise _fail(source, "mediaType", "not a string")
    if media_type in _SCHEMA1 or data.get("schemaVersion") == 1:
        raise _fail(source, "", "Docker schema 1 manifests are not supported; re-push the image with a current Docker")
    if media_type not in _INDEX_TYPES | _MANIFEST_TYPES:
        # OCI allows omitting mediaType: tell an index from a manifest by its fields.
        if "manifests" in data:
            media_type = MediaType.OCI_INDEX.value
        elif "config" in data and "layers" in data:
            media_type = MediaType.OCI_MANIFEST.value
        else:
            raise _fail(
                source,
                "mediaType",
                f"given {media_type!r}; allowed {', '.join(m.value for m in MediaType)}",
            )
    if media_type in _INDEX_TYPES:
        entries = data.get("manifests")
        if not isinstance(entries, list):
            raise _fail(source, "manifests", "missing or not a list")
        return Index(
            media_type=media_type,
            manifests=tuple(_descriptor(e, source=source, path=f"manifests[{i}]") for i, e in enumerate(entries)),
        )
    layers = data.get("layers")
    if not isinstance(layers, list):
        raise _fail(source, "layers", "missing or not a list")
    return ImageManifest(
        media_type=media_type,
        config=_descriptor(data.get("config"), source=source, path="config"),
        layers=tuple(_descriptor(layer, source=source, path=f"layers[{i}]") for i, layer in enumerate(layers)),
    )


def select_platform(index: Index, platform: Platform, *, source: str) -> Descriptor:
    """The descriptor in ``index`` for ``platform`` (pure).

    OS and architecture must match. A requested variant must match too (``arm64`` without variant means
    ``v8``); without a requested variant an exact variant-less entry wins over one with a variant. Entries
    without a platform, or with ``unknown/unknown`` (build attestations), are never chosen. Raises
    :class:`PlatformNotFound` listing the platforms the index has.
    """
    default_variant = {"arm64": "v8"}

    def variant_of(p: Platform) -> str | None:
        return p.variant or default_variant.get(p.architecture)

    candidates: list[Descriptor] = []
    for d in index.manifests:
        p = d.platform
        if p is None or p.os != platform.os or p.architecture != platform.architecture:
            continue
        if d.media_type not in _MANIFEST_TYPES | _INDEX_TYPES:
            continue
        if platform.variant is not None and variant_of(p) != variant_of(platform):
            continue
        candidates.append(d)
    if candidates:
        candidates.sort(key=lambda d: d.platform is not None and d.platform.variant is not None)
        return candidates[0]
    available = sorted({str(d.platform) for d in index.manifests if d.platform and d.platform.os != "unknown"})
    raise PlatformNotFound(
        f"{source}: the image index has no manifest for platform {platform}; "
        f"available: {', '.join(available) or 'none'}",
        image=source,
    )


def parse_config(body: bytes, *, source: str) -> ImageConfig:
    """Parse an image config blob (pure): labels, os/architecture and the layers' diff IDs."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _fail(source, "config", "the image config blob is not valid JSON") from None
    if not isinstance(data, Mapping):
        raise _fail(source, "config", "the image config blob is not a JSON object")
    inner = data.get("config") or {}
    labels_raw = inner.get("Labels") if isinstance(inner, Mapping) else None
    labels = (
        {k: v for k, v in labels_raw.items() if isinstance(k, str) and isinstance(v, str)}
        if isinstance(labels_raw, Mapping)
        else {}
    )
    rootfs = data.get("rootfs") or {}
    diff_ids: Sequence[Any] = rootfs.get("diff_ids") or [] if isinstance(rootfs, Mapping) else []
    return ImageConfig(
        labels=labels,
        os=data.get("os") if isinstance(data.get("os"), str) else None,
        architecture=data.get("architecture") if isinstance(data.get("architecture"), str) else None,
        diff_ids=tuple(d for d in diff_ids if isinstance(d, str)),
    )


def layer_compression(descriptor: Descriptor, *, source: str, path: str) -> Compression:
    """The compression a layer's media type declares (pure); unknown or encrypted layers are refused."""
    media_type = descriptor.media_type.split(";", 1)[0].strip()
    if media_type.endswith("+encrypted"):
        raise _fail(source, path, f"encrypted layers ({media_type}) are not supported")
    found = _LAYER_TYPES.get(media_type)
    if found is None:
        raise _fail(
            source,
            f"{path}.mediaType",
            f"given {media_type!r}; allowed one of {', '.join(sorted(_LAYER_TYPES))}",
        )
    return found
