"""The top-down layer walk over in-memory blobs: which layers are requested, links, deletions (no network).

``MemoryBlobs`` stands in for the registry client's ``stream_blob`` only, so the walk's decisions are tested
without I/O; the same walk runs against the real registry in ``tests/integration/image``.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import pytest

from task_api.image.errors import SpecFileInvalid, SpecFileMissing
from task_api.image.inspect import _find_in_layers
from task_api.image.manifest import Descriptor, ImageManifest
from tests.unit.image.test_layers import tar_of

PC = "processing-container.json"
GZ = "application/vnd.oci.image.layer.v1.tar+gzip"


class MemoryBlobs:
    def __init__(self, *layers: bytes) -> None:
        self.blobs = {"sha256:" + hashlib.sha256(b).hexdigest(): b for b in layers}
        self.order = list(self.blobs)
        self.requested: list[int] = []

    @contextmanager
    def stream_blob(self, digest: str) -> Iterator[Iterator[bytes]]:
        self.requested.append(self.order.index(digest))
        blob = self.blobs[digest]
        yield iter([blob[i : i + 1024] for i in range(0, len(blob), 1024)])

    def manifest(self) -> ImageManifest:
        config = Descriptor("application/vnd.oci.image.config.v1+json", "sha256:" + "0" * 64, 2)
        layers = tuple(Descriptor(GZ, d, len(self.blobs[d])) for d in self.order)
        return ImageManifest("application/vnd.oci.image.manifest.v1+json", config, layers)


def layer(*members: tuple[str, bytes | str | None, str]) -> bytes:
    return gzip.compress(tar_of(*members))


def walk(blobs: MemoryBlobs) -> bytes:
    data, _, _ = _find_in_layers(cast(Any, blobs), blobs.manifest(), "img@sha256:x")
    return data


def test_top_layer_wins_and_lower_layers_are_not_requested() -> None:
    blobs = MemoryBlobs(layer((PC, b"old", "file")), layer(("x", b"1", "file")), layer((PC, b"new", "file")))
    assert walk(blobs) == b"new"
    assert blobs.requested == [2]


def test_walks_down_to_the_file() -> None:
    blobs = MemoryBlobs(layer((PC, b"base", "file")), layer(("x", b"1", "file")), layer(("y", b"2", "file")))
    assert walk(blobs) == b"base"
    assert blobs.requested == [2, 1, 0]


def test_whiteout_stops_the_walk() -> None:
    blobs = MemoryBlobs(layer((PC, b"base", "file")), layer((".wh." + PC, b"", "file")), layer(("y", b"", "file")))
    with pytest.raises(SpecFileMissing, match="whiteout"):
        walk(blobs)
    assert blobs.requested == [2, 1]


def test_opaque_parent_hides_a_nested_link_target() -> None:
    blobs = MemoryBlobs(
        layer(("etc/pc.json", b"hidden", "file")),
        layer(("etc/.wh..wh..opq", b"", "file"), (PC, "/etc/pc.json", "sym")),
    )
    with pytest.raises(SpecFileMissing):
        walk(blobs)


def test_symlink_target_in_a_lower_layer() -> None:
    blobs = MemoryBlobs(layer(("etc/pc.json", b"linked", "file")), layer((PC, "etc/pc.json", "sym")))
    assert walk(blobs) == b"linked"
    assert blobs.requested == [1, 1, 0]  # the link restarts the lookup from the top


def test_hard_link_in_the_same_layer() -> None:
    blobs = MemoryBlobs(layer(("x", b"", "file")), layer(("etc/pc.json", b"hard", "file"), (PC, "etc/pc.json", "hard")))
    assert walk(blobs) == b"hard"
    assert blobs.requested == [1, 1]


def test_symlink_loop() -> None:
    blobs = MemoryBlobs(layer((PC, "a.json", "sym"), ("a.json", PC, "sym")))
    with pytest.raises(SpecFileInvalid, match="chain of more than 8 links"):
        walk(blobs)


def test_directory_instead_of_a_file() -> None:
    blobs = MemoryBlobs(layer((PC, None, "dir")))
    with pytest.raises(SpecFileInvalid, match="is a directory, not a regular file"):
        walk(blobs)


def test_absent_everywhere() -> None:
    blobs = MemoryBlobs(layer(("a", b"", "file")), layer(("b", b"", "file")))
    with pytest.raises(SpecFileMissing, match="searched all 2 layers"):
        walk(blobs)
    assert blobs.requested == [1, 0]
