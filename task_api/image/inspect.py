"""Reading ``processing-container.json`` out of an image in a registry, without pulling the image.

:func:`inspect_image` resolves a reference to a platform manifest and returns the parsed, validated
:class:`~task_api.spec.processing_container.ProcessingContainer` with the digest it belongs to:

1. a digest-pinned reference already in the cache costs no request; a tag costs one ``HEAD`` when a cache is
   given and already has the digest it points to;
2. otherwise the manifest is fetched (an index or manifest list is resolved to ``platform``, default
   ``linux/amd64``) and verified against its digest;
3. the config blob is read; if it carries the label :data:`~task_api.image.manifest.LABEL`, its value is the
   file (the fast path: no layer is read);
4. otherwise the layers are scanned top first (:mod:`task_api.image.layers`) until one contains or deletes
   ``/processing-container.json``; lower layers are never requested.

Every whole blob is verified against its digest. A layer in which the file is found is read further only
when at most :data:`VERIFY_TAIL_BYTES` remain, so a small top layer (the usual ``COPY
processing-container.json /``) is verified while a big one is abandoned right after the file; such layers
are listed in ``Inspection.unverified`` (the kubelet verifies them when it pulls the image by the same
digest).

Every inspection is bounded (:class:`~task_api.image.limits.InspectionLimits`: a deadline, a byte budget, caps on
manifest size, layers, index levels, links and redirects) and, when an
:class:`~task_api.image.egress.EgressPolicy` is given, confined to the hosts and addresses it allows.

Network I/O through :class:`~task_api.image.registry.RegistryClient`. Thread-safe: each call has its own
client; the cache is locked. :func:`inspect_image_async` runs it in a worker thread for asyncio callers
(kopf).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import ssl
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from task_api.image.auth import Credentials
from task_api.image.cache import CacheEntry, InspectionCache
from task_api.image.egress import EgressPolicy
from task_api.image.errors import InspectionTooLarge, ManifestUnsupported, SpecFileInvalid, SpecFileMissing
from task_api.image.layers import BlobReader, HitKind, normalise_path, resolve_link, scan_layer
from task_api.image.limits import InspectionLimits
from task_api.image.manifest import (
    LABEL,
    ImageManifest,
    Index,
    Platform,
    layer_compression,
    parse_config,
    parse_manifest,
    select_platform,
)
from task_api.image.reference import ImageReference, parse_reference
from task_api.image.registry import RegistryClient
from task_api.spec.errors import SpecError
from task_api.spec.load import parse_processing_container

if TYPE_CHECKING:
    from task_api.spec.processing_container import ProcessingContainer

__all__ = [
    "MAX_SPEC_BYTES",
    "SPEC_PATH",
    "VERIFY_TAIL_BYTES",
    "Inspection",
    "InspectionSource",
    "inspect_image",
    "inspect_image_async",
    "parse_spec_bytes",
]

#: Where the file lives in the image.
SPEC_PATH = "/processing-container.json"
#: The largest ``processing-container.json`` accepted (Kaapana's are a few KiB).
MAX_SPEC_BYTES = 1024 * 1024
#: After finding the file, a layer is read to its end (to verify its digest) only if this little remains.
VERIFY_TAIL_BYTES = 256 * 1024


class InspectionSource(enum.StrEnum):
    """Where an inspection's answer came from."""

    LABEL = "label"  # the image label, read from the config blob
    LAYER = "layer"  # the file, read from a layer
    CACHE = "cache"  # an earlier inspection of the same manifest digest
    DOCKER_ENGINE = "docker-engine"  # the local Docker engine (no registry)


@dataclass(frozen=True)
class Inspection:
    """The result of an inspection: the validated file and what image (digest) it belongs to."""

    container: ProcessingContainer
    #: The platform manifest's digest (``sha256:…``); for a local image without a registry digest, its ID.
    digest: str
    #: ``registry/repository@digest``, usable as a pod image.
    reference: str
    source: InspectionSource
    bytes_read: int
    requests: int
    #: The index (manifest list) digest when the reference named a multi-platform image.
    index_digest: str | None = None
    #: ``label`` or ``layer``: where the file was found (also on a cache hit).
    found_in: str = "layer"
    #: The layer digest that held the file, when found in a layer.
    layer: str | None = None
    #: Requests by kind: ``auth``, ``manifest``, ``blob`` (and ``engine`` for the local source).
    request_counts: Mapping[str, int] = field(default_factory=dict)
    #: Blobs read only partly, so not verified against their digest.
    unverified: tuple[str, ...] = ()
    #: The file's bytes as found (for ``--output json`` and the cache).
    raw: bytes = b""


def parse_spec_bytes(data: bytes, *, source: str, image: str) -> ProcessingContainer:
    """Parse and validate the file's bytes (pure); a :class:`SpecError` becomes :class:`SpecFileInvalid`."""
    if len(data) > MAX_SPEC_BYTES:
        raise SpecFileInvalid(
            f"{source}: the file is {len(data)} bytes; at most {MAX_SPEC_BYTES} bytes are allowed",
            image=image,
        )
    try:
        return parse_processing_container(data, source=source)
    except SpecError as exc:
        raise SpecFileInvalid.from_spec_error(exc, image=image) from None


def inspect_image(
    reference: str,
    *,
    credentials: Credentials | None = None,
    platform: str = "linux/amd64",
    insecure_registries: Collection[str] = (),
    cache: InspectionCache | None = None,
    timeout: float = 30.0,
    verify: ssl.SSLContext | str | bool = True,
    limits: InspectionLimits | None = None,
    egress: EgressPolicy | None = None,
) -> Inspection:
    """Read and validate ``processing-container.json`` of an image in a registry (network I/O).

    ``timeout`` applies to each connect/read/write, ``limits`` to the whole inspection (default
    :class:`InspectionLimits()`). ``egress`` confines where it may connect (default:
    :meth:`EgressPolicy.unrestricted`, with ``insecure_registries``). ``verify`` is passed to httpx (a CA bundle
    path or an SSLContext for private registries). Raises an :class:`~task_api.image.errors.ImageError`.
    """
    ref = parse_reference(reference)
    try:
        wanted = Platform.parse(platform)
    except ValueError as exc:
        raise ManifestUnsupported(str(exc), image=reference) from None
    wanted_text = str(wanted)

    repository = f"{ref.registry}/{ref.repository}"
    who = credentials.fingerprint() if credentials is not None else ""
    if cache is not None and ref.digest is not None and cache.may_read(repository, who):
        hit = _from_cache(ref, ref.digest, wanted_text, cache, requests={})
        if hit is not None:
            return hit

    with RegistryClient(
        ref,
        credentials=credentials,
        insecure_registries=insecure_registries,
        timeout=timeout,
        tokens=cache.tokens if cache is not None else None,
        verify=verify,
        limits=limits,
        egress=egress,
    ) as client:
        if cache is not None and len(cache) > 0 and (ref.digest is None or not cache.may_read(repository, who)):
            # One HEAD tells whether the tag still points at something we have read before — and, for a digest
            # this caller was not seen reading, whether the registry lets these credentials read it at all.
            head_digest = client.head_manifest(ref.manifest_ref) or ref.digest
            cache.remember_access(repository, who)
            if head_digest is not None:
                hit = _from_cache(ref, head_digest, wanted_text, cache, requests=dict(client.requests))
                if hit is not None:
                    return hit
        found = _inspect_remote(client, ref, wanted, cache)
        if cache is not None:
            cache.remember_access(repository, who)
        return found


async def inspect_image_async(
    reference: str,
    *,
    credentials: Credentials | None = None,
    platform: str = "linux/amd64",
    insecure_registries: Collection[str] = (),
    cache: InspectionCache | None = None,
    timeout: float = 30.0,
    verify: ssl.SSLContext | str | bool = True,
    limits: InspectionLimits | None = None,
    egress: EgressPolicy | None = None,
) -> Inspection:
    """:func:`inspect_image` in a worker thread, for asyncio callers such as kopf handlers."""
    return await asyncio.to_thread(
        inspect_image,
        reference,
        credentials=credentials,
        platform=platform,
        insecure_registries=insecure_registries,
        cache=cache,
        timeout=timeout,
        verify=verify,
        limits=limits,
        egress=egress,
    )


def _from_cache(
    ref: ImageReference, digest: str, platform: str, cache: InspectionCache, *, requests: Mapping[str, int]
) -> Inspection | None:
    index_digest = None
    manifest_digest = cache.platform_manifest(digest, platform)
    if manifest_digest is not None:
        index_digest = digest
    else:
        manifest_digest = digest
    entry = cache.get(manifest_digest)
    if entry is None:
        return None
    pinned = ref.pinned(manifest_digest)
    container = parse_spec_bytes(entry.data, source=_source_name(pinned, entry.found_in), image=pinned)
    return Inspection(
        container=container,
        digest=manifest_digest,
        reference=pinned,
        source=InspectionSource.CACHE,
        bytes_read=0,
        requests=sum(requests.values()),
        index_digest=index_digest,
        found_in=entry.found_in,
        request_counts=dict(requests),
        raw=entry.data,
    )


def _source_name(pinned: str, found_in: str) -> str:
    return f"{pinned} (label {LABEL})" if found_in == "label" else f"{pinned}:{SPEC_PATH}"


def _inspect_remote(
    client: RegistryClient, ref: ImageReference, wanted: Platform, cache: InspectionCache | None
) -> Inspection:
    limits = client.limits
    body, content_type, digest = client.get_manifest(ref.manifest_ref)
    manifest = parse_manifest(body, content_type, source=str(ref))
    index_digest: str | None = None
    depth = 0
    while isinstance(manifest, Index):
        depth += 1
        if depth > limits.max_index_depth:
            raise InspectionTooLarge(
                f"{ref}: indexes nested deeper than {limits.max_index_depth} (TASK_API_INSPECT_MAX_INDEX_DEPTH)",
                image=str(ref),
            )
        index_digest = index_digest or digest
        chosen = select_platform(manifest, wanted, source=str(ref))
        outer = digest
        body, content_type, digest = client.get_manifest(chosen.digest, expected_size=chosen.size)
        manifest = parse_manifest(body, content_type, source=ref.pinned(digest))
        if cache is not None:
            cache.remember_platform(outer, str(wanted), digest)
    pinned = ref.pinned(digest)
    if len(manifest.layers) > limits.max_layers:
        raise InspectionTooLarge(
            f"{pinned}: the image has {len(manifest.layers)} layers; at most {limits.max_layers} are inspected "
            "(TASK_API_INSPECT_MAX_LAYERS)",
            image=pinned,
        )

    if cache is not None:
        entry = cache.get(digest)
        if entry is not None:
            hit = _from_cache(ref, digest, str(wanted), cache, requests=dict(client.requests))
            if hit is not None:
                return dataclasses.replace(hit, index_digest=index_digest)

    config = parse_config(client.get_blob(manifest.config.digest, size=manifest.config.size), source=pinned)
    label = config.labels.get(LABEL)
    unverified: tuple[str, ...] = ()
    layer: str | None = None
    if label is not None:
        data, found_in = label.encode("utf-8"), "label"
    else:
        data, layer, unverified = _find_in_layers(client, manifest, pinned, max_link_hops=limits.max_link_hops)
        found_in = "layer"
    container = parse_spec_bytes(data, source=_source_name(pinned, found_in), image=pinned)
    if cache is not None:
        cache.put(digest, CacheEntry(data=data, found_in=found_in))
    return Inspection(
        container=container,
        digest=digest,
        reference=pinned,
        source=InspectionSource.LABEL if found_in == "label" else InspectionSource.LAYER,
        bytes_read=client.bytes_read,
        requests=sum(client.requests.values()),
        index_digest=index_digest,
        found_in=found_in,
        layer=layer,
        request_counts=dict(client.requests),
        unverified=unverified,
        raw=data,
    )


def _find_in_layers(
    client: RegistryClient, manifest: ImageManifest, pinned: str, *, max_link_hops: int = InspectionLimits.max_link_hops
) -> tuple[bytes, str, tuple[str, ...]]:
    """Scan layers top first for the file; follow links; stop at the layer that decides (network I/O)."""
    target = normalise_path(SPEC_PATH)
    layers = manifest.layers
    unverified: list[str] = []
    hops = 0
    i = len(layers) - 1
    while i >= 0:
        desc = layers[i]
        where = f"layers[{i}]"
        layer_compression(desc, source=pinned, path=where)
        with client.stream_blob(desc.digest) as chunks:
            reader = BlobReader(chunks, expected_size=desc.size, expected_digest=desc.digest, source=pinned)
            try:
                scan = scan_layer(reader, target, max_size=MAX_SPEC_BYTES, source=pinned, layer=desc.digest)
            except (ManifestUnsupported, SpecFileInvalid):
                # Garbled data is more likely damage than a bad image: a digest mismatch says so precisely.
                if reader.remaining <= VERIFY_TAIL_BYTES:
                    reader.drain()
                raise
            if scan.found is None or reader.remaining <= VERIFY_TAIL_BYTES:
                reader.drain()  # small remainder: read it so the layer's digest is checked
            else:
                unverified.append(desc.digest)  # stop here: the rest of a big layer is not downloaded
        if scan.found is HitKind.FILE and scan.data is not None:
            return scan.data, desc.digest, tuple(unverified)
        if scan.found in (HitKind.SYMLINK, HitKind.HARDLINK) and scan.link_target is not None:
            hops += 1
            if hops > max_link_hops:
                raise SpecFileInvalid(
                    f"{pinned}: /{target} is a chain of more than {max_link_hops} links", image=pinned
                )
            if scan.found is HitKind.SYMLINK:
                target = resolve_link(target, scan.link_target)
                i = len(layers) - 1  # a symlink's target is looked up in the whole file system again
            else:
                target = scan.link_target  # a hard link's target is an earlier member of the same layer
            continue
        if scan.found is not None:
            raise SpecFileInvalid(
                f"{pinned}: /{target} in layer {desc.digest} is a {scan.found.value}, not a regular file",
                image=pinned,
            )
        if scan.deleted:
            raise SpecFileMissing(
                f"{pinned}: layer {where} ({desc.digest}) deletes /{target} (whiteout); the image has no "
                f"{SPEC_PATH} and no label {LABEL}",
                image=pinned,
            )
        i -= 1
    raise SpecFileMissing(
        f"{pinned}: the image has neither the label {LABEL} nor the file /{target} (searched all {len(layers)} layers)",
        image=pinned,
    )
