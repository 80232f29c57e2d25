"""Whiteout rules and streaming layer scans over in-memory tar blobs (pure: no network, no disk)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from collections.abc import Iterator

import pytest
import zstandard

from task_api.image.errors import DigestMismatch, ManifestUnsupported, SpecFileInvalid
from task_api.image.layers import (
    BlobReader,
    Effect,
    HitKind,
    member_effect,
    normalise_path,
    resolve_link,
    scan_layer,
)

TARGET = "processing-container.json"


class TestWhiteouts:
    @pytest.mark.parametrize(
        ("name", "is_dir", "target", "effect"),
        [
            ("processing-container.json", False, TARGET, Effect.FOUND),
            ("./processing-container.json", False, TARGET, Effect.FOUND),
            ("/processing-container.json", False, TARGET, Effect.FOUND),
            (".wh.processing-container.json", False, TARGET, Effect.DELETED),
            ("./.wh.processing-container.json", False, TARGET, Effect.DELETED),
            (".wh.other.json", False, TARGET, Effect.NONE),
            ("etc/.wh.processing-container.json", False, TARGET, Effect.NONE),  # another directory
            ("app/.wh.config", False, "app/config/pc.json", Effect.DELETED),  # a parent directory removed
            ("app/.wh..wh..opq", False, "app/pc.json", Effect.DELETED),  # opaque parent
            ("app/sub/.wh..wh..opq", False, "app/pc.json", Effect.NONE),  # opaque below, not a parent
            ("app/.wh..wh..opq", False, "application/pc.json", Effect.NONE),  # prefix, not a parent
            (".wh..wh..opq", False, TARGET, Effect.DELETED),  # an opaque root
            (".wh..wh.plnk", False, TARGET, Effect.NONE),  # AUFS metadata, not a deletion
            ("app", False, "app/pc.json", Effect.DELETED),  # directory replaced by a file
            ("app", True, "app/pc.json", Effect.NONE),  # a directory entry changes nothing
            ("app/pc.json/", True, "app/pc.json", Effect.FOUND),  # the path is a directory here
            ("bin/busybox", False, TARGET, Effect.NONE),
        ],
    )
    def test_member_effect(self, name: str, is_dir: bool, target: str, effect: Effect) -> None:
        assert member_effect(name, is_dir=is_dir, target=target) is effect

    @pytest.mark.parametrize(
        ("name", "path"),
        [("./a/b/", "a/b"), ("/a//b", "a/b"), ("a/./b/../c", "a/c"), (".", ""), ("../../etc", "etc")],
    )
    def test_normalise(self, name: str, path: str) -> None:
        assert normalise_path(name) == path

    @pytest.mark.parametrize(
        ("target", "link", "resolved"),
        [
            (TARGET, "/etc/pc.json", "etc/pc.json"),
            (TARGET, "etc/pc.json", "etc/pc.json"),
            ("a/b/pc.json", "../c/pc.json", "a/c/pc.json"),
            (TARGET, "../../../../pc.json", "pc.json"),  # cannot climb above the root
        ],
    )
    def test_resolve_link(self, target: str, link: str, resolved: str) -> None:
        assert resolve_link(target, link) == resolved


# -- in-memory layers ---------------------------------------------------------------------------------


def tar_of(*members: tuple[str, bytes | str | None, str]) -> bytes:
    """Members as (name, data or link target, kind) with kind in file|dir|sym|hard."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                assert isinstance(data, bytes)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = str(data)
                tar.addfile(info)
    return buf.getvalue()


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data)
    if how == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


class Chunks:
    """An iterator of fixed-size chunks that remembers how many were pulled."""

    def __init__(self, blob: bytes, size: int = 4096) -> None:
        self.parts = [blob[i : i + size] for i in range(0, len(blob), size)]
        self.pulled = 0

    def __iter__(self) -> Iterator[bytes]:
        for part in self.parts:
            self.pulled += 1
            yield part


def reader(blob: bytes, chunks: Chunks | None = None, *, digest: str | None = None) -> BlobReader:
    source = chunks or Chunks(blob)
    return BlobReader(
        iter(source),
        expected_size=len(blob),
        expected_digest=digest or "sha256:" + hashlib.sha256(blob).hexdigest(),
        source="test-image",
    )


def scan(blob: bytes, target: str = TARGET, max_size: int = 1 << 20) -> tuple[object, BlobReader]:
    r = reader(blob)
    return scan_layer(r, target, max_size=max_size, source="test-image", layer="sha256:x"), r


@pytest.mark.parametrize("how", ["gzip", "zstd", "none"])
class TestScan:
    def test_finds_the_file(self, how: str) -> None:
        blob = compress(tar_of(("bin", None, "dir"), (TARGET, b'{"x": 1}', "file")), how)
        result, _ = scan(blob)
        assert result.found is HitKind.FILE and result.data == b'{"x": 1}'  # type: ignore[attr-defined]

    def test_stops_reading_right_after_the_file(self, how: str) -> None:
        big = os.urandom(2 << 20)  # incompressible, so the blob really is big
        blob = compress(tar_of((TARGET, b"{}", "file"), ("big.bin", big, "file")), how)
        chunks = Chunks(blob)
        r = reader(blob, chunks)
        result = scan_layer(r, TARGET, max_size=1 << 20, source="t", layer="l")
        assert result.found is HitKind.FILE
        assert chunks.pulled < len(chunks.parts) // 10, "the rest of the layer must not be read"
        assert r.bytes_read < 64 * 1024
        assert not r.verified

    def test_absent(self, how: str) -> None:
        blob = compress(tar_of(("etc/other.json", b"{}", "file")), how)
        result, r = scan(blob)
        assert result.found is None and not result.deleted  # type: ignore[attr-defined]
        r.drain()
        assert r.verified and r.bytes_read == len(blob)

    def test_whiteout_deletes(self, how: str) -> None:
        blob = compress(tar_of((".wh." + TARGET, b"", "file"), ("x", b"1", "file")), how)
        result, _ = scan(blob)
        assert result.found is None and result.deleted  # type: ignore[attr-defined]

    def test_file_in_the_same_layer_as_a_whiteout_wins(self, how: str) -> None:
        # OCI: a whiteout hides only lower layers; the same layer may re-add the path.
        blob = compress(tar_of((".wh." + TARGET, b"", "file"), (TARGET, b'{"new": 1}', "file")), how)
        result, _ = scan(blob)
        assert result.found is HitKind.FILE and result.data == b'{"new": 1}'  # type: ignore[attr-defined]

    def test_links(self, how: str) -> None:
        sym, _ = scan(compress(tar_of((TARGET, "/etc/pc.json", "sym")), how))
        assert sym.found is HitKind.SYMLINK and sym.link_target == "/etc/pc.json"  # type: ignore[attr-defined]
        hard, _ = scan(compress(tar_of(("etc/pc.json", b"{}", "file"), (TARGET, "etc/pc.json", "hard")), how))
        assert hard.found is HitKind.HARDLINK and hard.link_target == "etc/pc.json"  # type: ignore[attr-defined]

    def test_directory(self, how: str) -> None:
        result, _ = scan(compress(tar_of((TARGET, None, "dir")), how))
        assert result.found is HitKind.DIRECTORY  # type: ignore[attr-defined]

    def test_too_big(self, how: str) -> None:
        blob = compress(tar_of((TARGET, b"x" * 2000, "file")), how)
        with pytest.raises(SpecFileInvalid, match="is 2000 bytes; at most 1000 bytes"):
            scan(blob, max_size=1000)


def test_multi_member_gzip_is_one_stream() -> None:
    data = tar_of(("a", b"1" * 10000, "file"), (TARGET, b"{}", "file"))
    blob = gzip.compress(data[:5120]) + gzip.compress(data[5120:])
    result, _ = scan(blob)
    assert result.found is HitKind.FILE  # type: ignore[attr-defined]


def test_multi_frame_zstd_is_one_stream() -> None:
    data = tar_of(("a", b"1" * 10000, "file"), (TARGET, b"{}", "file"))
    c = zstandard.ZstdCompressor()
    result, _ = scan(c.compress(data[:5120]) + c.compress(data[5120:]))
    assert result.found is HitKind.FILE  # type: ignore[attr-defined]


def test_corrupt_layer_is_reported() -> None:
    blob = b"\x1f\x8b" + os.urandom(3000)
    with pytest.raises(ManifestUnsupported, match="not a readable tar stream"):
        scan(blob)


class TestBlobReader:
    def test_digest_mismatch_at_the_end(self) -> None:
        blob = b"hello world"
        r = reader(blob, digest="sha256:" + "0" * 64)
        with pytest.raises(DigestMismatch, match="hashes to sha256:"):
            r.drain()

    def test_more_bytes_than_declared(self) -> None:
        r = BlobReader(iter([b"abc", b"def"]), expected_size=4, expected_digest="sha256:" + "0" * 64, source="t")
        with pytest.raises(DigestMismatch, match="longer than the 4 bytes"):
            r.drain()

    def test_fewer_bytes_than_declared(self) -> None:
        blob = b"abc"
        r = BlobReader(
            iter([blob]), expected_size=10, expected_digest="sha256:" + hashlib.sha256(blob).hexdigest(), source="t"
        )
        with pytest.raises(DigestMismatch, match="has 3 bytes, its descriptor declares 10"):
            r.drain()

    def test_counts_and_verifies(self) -> None:
        blob = os.urandom(10000)
        r = reader(blob)
        assert r.read(100) == blob[:100]
        assert r.peek(10) == blob[100:110]
        r.drain()
        assert r.verified and r.bytes_read == 10000 and r.remaining == 0
