"""Finding one file in a stack of layers: whiteout rules and streaming tar scanning.

An image's file system is its layers applied bottom to top. To read one file we go the other way: scan the top
layer first and stop at the first layer that *decides* the file —

* the layer contains the path: that is the file (or a link to follow, or a directory, which is an error);
* the layer deletes the path: a whiteout ``.wh.<name>`` for it or for one of its parent directories, an opaque
  marker ``.wh..wh..opq`` in one of its parent directories, or a parent directory replaced by a non-directory.
  Per the OCI image spec a whiteout only hides *lower* layers, so a layer that deletes the path is read to its
  end in case it also adds the path again.

Layers below the deciding one are never downloaded. A layer is read as a stream: :class:`BlobReader` pulls
raw chunks (counting them and hashing them for the digest check), the decompressor is chosen by sniffing
magic bytes (gzip, zstd, or plain tar — media types are not trusted), and ``tarfile`` walks the members in
stream mode.
As soon as the file is found, reading stops; the rest of the blob is not drained unless it is small.

:func:`member_effect`, :func:`normalise_path` and :func:`resolve_link` are pure. :class:`BlobReader` and
:func:`scan_layer` only consume an iterator of bytes handed to them (the registry client owns the network).
"""

from __future__ import annotations

import enum
import gzip
import hashlib
import posixpath
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

import zstandard

from task_api.image.errors import DigestMismatch, ManifestUnsupported, SpecFileInvalid

__all__ = [
    "BlobReader",
    "Effect",
    "HitKind",
    "LayerScan",
    "member_effect",
    "normalise_path",
    "resolve_link",
    "scan_layer",
]

_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Effect(enum.StrEnum):
    """What one tar member of a layer does to the path we look for."""

    NONE = "none"  # unrelated
    FOUND = "found"  # the member is the path itself
    DELETED = "deleted"  # the member hides the path in lower layers


class HitKind(enum.StrEnum):
    """What the path is in the layer that contains it."""

    FILE = "file"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    DIRECTORY = "directory"
    OTHER = "other"


@dataclass(frozen=True)
class LayerScan:
    """The outcome of scanning one layer: ``found`` (with the data or link), ``deleted``, or neither."""

    found: HitKind | None = None
    data: bytes | None = None
    link_target: str | None = None
    deleted: bool = False


def normalise_path(name: str) -> str:
    """A tar member name or image path as ``a/b/c``: no leading ``/`` or ``./``, no trailing ``/`` (pure)."""
    path = posixpath.normpath("/" + name.strip()).lstrip("/")
    return "" if path == "." else path


def member_effect(name: str, *, is_dir: bool, target: str) -> Effect:
    """What a layer member named ``name`` does to ``target`` (both image paths; pure).

    ``target`` must already be normalised (:func:`normalise_path`).
    """
    path = normalise_path(name)
    if path == target:
        return Effect.FOUND
    parent, base = posixpath.split(path)
    if base.startswith(_WHITEOUT):
        if base == _OPAQUE:
            # An opaque directory hides everything lower layers put below it.
            return Effect.DELETED if parent == "" or target.startswith(parent + "/") else Effect.NONE
        if base.startswith(_WHITEOUT + _WHITEOUT):
            return Effect.NONE  # other AUFS metadata (.wh..wh.plnk etc.), not a deletion
        hidden = posixpath.join(parent, base[len(_WHITEOUT) :])
        return Effect.DELETED if target == hidden or target.startswith(hidden + "/") else Effect.NONE
    if not is_dir and target.startswith(path + "/"):
        return Effect.DELETED  # a parent directory replaced by a file or link hides its old contents
    return Effect.NONE


def resolve_link(target: str, link: str) -> str:
    """Where a symlink at ``target`` pointing to ``link`` leads, as an image path (pure).

    Relative links resolve against the link's directory; ``..`` cannot climb above the root, as in a chroot.
    """
    if link.startswith("/"):
        return normalise_path(link)
    return normalise_path(posixpath.join(posixpath.dirname(target), link))


class BlobReader:
    """A readable byte stream over raw blob chunks that counts, hashes and bounds what it pulls.

    ``expected_size`` and ``expected_digest`` come from the descriptor: more bytes than the size is a
    :class:`DigestMismatch` at once; at the end of the stream the size and digest are checked (when the whole
    blob was read). ``bytes_read`` counts every byte pulled from ``chunks``, including buffered ones.
    """

    def __init__(self, chunks: Iterator[bytes], *, expected_size: int, expected_digest: str, source: str) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self._eof = False
        self.bytes_read = 0
        self.expected_size = expected_size
        self.expected_digest = expected_digest
        self.source = source
        algorithm = expected_digest.split(":", 1)[0]
        self._hash = hashlib.new(algorithm)
        self.verified = False

    def _pull(self) -> bool:
        if self._eof:
            return False
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self._eof = True
            self._finish()
            return False
        self.bytes_read += len(chunk)
        if self.bytes_read > self.expected_size:
            raise DigestMismatch(
                f"{self.source}: blob {self.expected_digest} is longer than the {self.expected_size} bytes "
                "its descriptor declares",
                image=self.source,
            )
        self._hash.update(chunk)
        self._buffer += chunk
        return True

    def _finish(self) -> None:
        if self.bytes_read != self.expected_size:
            # Fewer bytes than declared: the transfer was cut short (the registry client maps a closed
            # connection to RegistryUnavailable before we get here; this catches a lying Content-Length).
            raise DigestMismatch(
                f"{self.source}: blob {self.expected_digest} has {self.bytes_read} bytes, its descriptor "
                f"declares {self.expected_size}",
                image=self.source,
            )
        actual = f"{self._hash.name}:{self._hash.hexdigest()}"
        if actual != self.expected_digest:
            raise DigestMismatch(
                f"{self.source}: blob content hashes to {actual}, expected {self.expected_digest}",
                image=self.source,
            )
        self.verified = True

    def peek(self, n: int) -> bytes:
        """Up to ``n`` bytes from the front without consuming them."""
        while len(self._buffer) < n and self._pull():
            pass
        return bytes(self._buffer[:n])

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all when negative); b"" at the end."""
        if size is None or size < 0:
            while self._pull():
                pass
            size = len(self._buffer)
        while not self._buffer and self._pull():
            pass
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        """Read the rest of the blob (to verify its digest)."""
        self._buffer.clear()
        while self._pull():
            self._buffer.clear()

    @property
    def remaining(self) -> int:
        """Bytes of the blob not yet pulled, per its descriptor."""
        return self.expected_size - self.bytes_read


def _decompressed(reader: BlobReader) -> IO[bytes]:
    head = reader.peek(4)
    if head.startswith(_GZIP_MAGIC):
        return cast(IO[bytes], gzip.GzipFile(fileobj=cast(Any, reader), mode="rb"))
    if head.startswith(_ZSTD_MAGIC):
        return cast(
            IO[bytes],
            zstandard.ZstdDecompressor().stream_reader(cast(Any, reader), read_across_frames=True),
        )
    return cast(IO[bytes], reader)


def scan_layer(reader: BlobReader, target: str, *, max_size: int, source: str, layer: str) -> LayerScan:
    """Scan one layer's stream for ``target`` and stop as soon as it is found (consumes ``reader``).

    Returns the file's bytes (at most ``max_size``, else :class:`SpecFileInvalid`), a link to follow, or
    whether the layer deletes the path. Corrupt compression or tar data is :class:`ManifestUnsupported`.
    """
    deleted = False
    try:
        stream = _decompressed(reader)
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                effect = member_effect(member.name, is_dir=member.isdir(), target=target)
                if effect is Effect.DELETED:
                    deleted = True
                    continue  # a whiteout hides only lower layers; this layer may still add the path
                if effect is Effect.NONE:
                    continue
                if member.isreg():
                    if member.size > max_size:
                        raise SpecFileInvalid(
                            f"{source}: /{target} in layer {layer} is {member.size} bytes; "
                            f"at most {max_size} bytes are allowed",
                            image=source,
                        )
                    extracted = tar.extractfile(member)
                    data = extracted.read(max_size + 1) if extracted is not None else b""
                    return LayerScan(found=HitKind.FILE, data=data)
                if member.issym():
                    return LayerScan(found=HitKind.SYMLINK, link_target=member.linkname)
                if member.islnk():
                    return LayerScan(found=HitKind.HARDLINK, link_target=normalise_path(member.linkname))
                if member.isdir():
                    return LayerScan(found=HitKind.DIRECTORY)
                return LayerScan(found=HitKind.OTHER)
    except (tarfile.TarError, zlib.error, zstandard.ZstdError, EOFError, gzip.BadGzipFile) as exc:
        raise ManifestUnsupported(
            f"{source}: layer {layer} is not a readable tar stream (gzip, zstd or plain): {exc}", image=source
        ) from None
    return LayerScan(deleted=deleted)
