"""Manifests: parsing the four media types, refusing others, platform selection (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from task_api.image.errors import ManifestUnsupported, PlatformNotFound
from task_api.image.manifest import (
    Compression,
    Descriptor,
    ImageManifest,
    Index,
    MediaType,
    Platform,
    layer_compression,
    parse_config,
    parse_manifest,
    select_platform,
)

D1, D2, D3, D4 = ("sha256:" + c * 64 for c in "1234")


def manifest(media_type: str | None = MediaType.DOCKER_MANIFEST.value, **extra: Any) -> bytes:
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": D1, "size": 10},
        "layers": [
            {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": D2, "size": 20},
            {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": D3, "size": 30},
        ],
        **extra,
    }
    if media_type:
        body["mediaType"] = media_type
    return json.dumps(body).encode()


def entry(digest: str, os_: str, arch: str, variant: str | None = None, mt: str = MediaType.OCI_MANIFEST.value) -> Any:
    platform = {"os": os_, "architecture": arch, **({"variant": variant} if variant else {})}
    return {"mediaType": mt, "digest": digest, "size": 100, "platform": platform}


def index(*entries: Any, media_type: str = MediaType.OCI_INDEX.value) -> Index:
    parsed = parse_manifest(
        json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": list(entries)}).encode(),
        None,
        source="test",
    )
    assert isinstance(parsed, Index)
    return parsed


class TestParse:
    @pytest.mark.parametrize("media_type", [MediaType.DOCKER_MANIFEST.value, MediaType.OCI_MANIFEST.value])
    def test_image_manifests(self, media_type: str) -> None:
        parsed = parse_manifest(manifest(media_type), media_type, source="test")
        assert isinstance(parsed, ImageManifest)
        assert parsed.config.digest == D1
        assert [layer.digest for layer in parsed.layers] == [D2, D3]  # bottom first, as stored

    def test_oci_manifest_without_media_type_field_uses_header_or_shape(self) -> None:
        assert isinstance(parse_manifest(manifest(None), MediaType.OCI_MANIFEST.value, source="t"), ImageManifest)
        assert isinstance(parse_manifest(manifest(None), "application/json", source="t"), ImageManifest)

    @pytest.mark.parametrize("media_type", [MediaType.OCI_INDEX.value, MediaType.DOCKER_LIST.value])
    def test_indexes(self, media_type: str) -> None:
        parsed = index(entry(D1, "linux", "amd64"), entry(D2, "linux", "arm64", "v8"), media_type=media_type)
        assert [d.platform for d in parsed.manifests] == [
            Platform("linux", "amd64"),
            Platform("linux", "arm64", "v8"),
        ]

    @pytest.mark.parametrize(
        ("body", "content_type", "says"),
        [
            (b"{", None, "not valid JSON"),
            (b"[]", None, "not a JSON object"),
            (json.dumps({"schemaVersion": 1, "name": "x"}).encode(), None, "schema 1"),
            (
                b"{}",
                "application/vnd.docker.distribution.manifest.v1+prettyjws",
                "schema 1",
            ),
            (json.dumps({"mediaType": "application/x-other"}).encode(), None, "mediaType: given 'application/x-other'"),
            (manifest(layers="nope"), None, "layers: missing or not a list"),
            (manifest(config={"mediaType": "x", "digest": "sha256:zz", "size": 1}), None, "config.digest: given"),
            (manifest(config={"mediaType": "x", "digest": D1, "size": -1}), None, "config.size: given -1"),
            (
                json.dumps({"mediaType": MediaType.OCI_INDEX.value, "manifests": [{"digest": D1}]}).encode(),
                None,
                "manifests[0].mediaType",
            ),
        ],
    )
    def test_refusals_name_the_field(self, body: bytes, content_type: str | None, says: str) -> None:
        with pytest.raises(ManifestUnsupported) as caught:
            parse_manifest(body, content_type, source="reg/x:y")
        assert says in str(caught.value)
        assert str(caught.value).startswith("reg/x:y")
        assert caught.value.transient is False


class TestPlatform:
    def test_parse(self) -> None:
        assert Platform.parse("linux/arm64/v8") == Platform("linux", "arm64", "v8")
        assert str(Platform.parse("Linux/AMD64")) == "linux/amd64"
        for bad in ("linux", "linux/", "a/b/c/d", ""):
            with pytest.raises(ValueError, match="os/architecture"):
                Platform.parse(bad)

    @pytest.mark.parametrize(
        ("wanted", "chosen"),
        [
            ("linux/amd64", D1),
            ("linux/arm64", D2),
            ("linux/arm64/v8", D2),  # the index says v8 explicitly
            ("linux/arm/v7", D3),
            ("linux/arm/v6", D4),
        ],
    )
    def test_selects(self, wanted: str, chosen: str) -> None:
        idx = index(
            {"mediaType": "application/vnd.in-toto+json", "digest": D4, "size": 1,
             "platform": {"os": "unknown", "architecture": "unknown"}},
            entry(D1, "linux", "amd64"),
            entry(D2, "linux", "arm64", "v8"),
            entry(D3, "linux", "arm", "v7"),
            entry(D4, "linux", "arm", "v6"),
        )  # fmt: skip
        assert select_platform(idx, Platform.parse(wanted), source="t").digest == chosen

    def test_arm64_without_variant_matches_a_requested_v8(self) -> None:
        idx = index(entry(D2, "linux", "arm64"))
        assert select_platform(idx, Platform.parse("linux/arm64/v8"), source="t").digest == D2

    def test_variantless_entry_preferred_when_no_variant_requested(self) -> None:
        idx = index(entry(D1, "linux", "amd64", "v3"), entry(D2, "linux", "amd64"))
        assert select_platform(idx, Platform.parse("linux/amd64"), source="t").digest == D2

    def test_missing_platform_lists_what_there_is(self) -> None:
        idx = index(entry(D1, "linux", "arm64", "v8"), entry(D2, "linux", "s390x"))
        with pytest.raises(PlatformNotFound) as caught:
            select_platform(idx, Platform.parse("linux/amd64"), source="reg/x:y")
        message = str(caught.value)
        assert "linux/amd64" in message and "linux/arm64/v8, linux/s390x" in message
        assert caught.value.reason == "PlatformNotFound" and caught.value.transient is False


class TestLayersAndConfig:
    @pytest.mark.parametrize(
        ("media_type", "compression"),
        [
            ("application/vnd.docker.image.rootfs.diff.tar.gzip", Compression.GZIP),
            ("application/vnd.oci.image.layer.v1.tar+gzip", Compression.GZIP),
            ("application/vnd.oci.image.layer.v1.tar+zstd", Compression.ZSTD),
            ("application/vnd.oci.image.layer.v1.tar", Compression.NONE),
        ],
    )
    def test_layer_media_types(self, media_type: str, compression: Compression) -> None:
        assert layer_compression(Descriptor(media_type, D1, 1), source="t", path="layers[0]") is compression

    @pytest.mark.parametrize(
        ("media_type", "says"),
        [
            ("application/vnd.oci.image.layer.v1.tar+gzip+encrypted", "encrypted"),
            ("application/x-tar-whatever", "layers[0].mediaType: given"),
        ],
    )
    def test_unknown_layers_refused(self, media_type: str, says: str) -> None:
        with pytest.raises(ManifestUnsupported, match=says.replace("[", r"\[").replace("]", r"\]")):
            layer_compression(Descriptor(media_type, D1, 1), source="t", path="layers[0]")

    def test_config_labels(self) -> None:
        body = json.dumps(
            {"os": "linux", "architecture": "amd64", "config": {"Labels": {"a": "1", "b": 2}},
             "rootfs": {"type": "layers", "diff_ids": [D1, D2]}}
        ).encode()  # fmt: skip
        config = parse_config(body, source="t")
        assert dict(config.labels) == {"a": "1"}  # non-string values are ignored
        assert config.diff_ids == (D1, D2)
        assert (config.os, config.architecture) == ("linux", "amd64")

    def test_config_without_labels(self) -> None:
        assert dict(parse_config(b'{"config": {"Labels": null}}', source="t").labels) == {}
        with pytest.raises(ManifestUnsupported, match="not valid JSON"):
            parse_config(b"\x00", source="t")
