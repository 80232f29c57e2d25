"""inspect_image against the real registry with images built by the real Docker engine."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import zstandard

from task_api.image import (
    LABEL,
    Credentials,
    DigestMismatch,
    ImageNotFound,
    InspectionCache,
    InspectionSource,
    PlatformNotFound,
    RegistryUnauthorized,
    RegistryUnavailable,
    SpecFileInvalid,
    SpecFileMissing,
    inspect_image,
    inspect_image_async,
)
from tests.fixtures.registry import Registry, free_port
from tests.integration.image.conftest import BIG, Build, Pushed, pc_json

pytestmark = [pytest.mark.registry, pytest.mark.docker]


def creds(reg: Registry) -> Credentials:
    return Credentials.basic(reg.username or "", reg.password or "")


class TestSources:
    def test_label_fast_path_reads_no_layer(self, registry: Registry, label_image: Pushed) -> None:
        got = inspect_image(label_image.ref, credentials=creds(registry))
        assert got.source is InspectionSource.LABEL
        assert got.container.name == "from-label"  # the label wins over the file
        assert got.digest == label_image.digest
        assert got.reference == f"{registry.host}/{label_image.repo}@{label_image.digest}"
        assert got.request_counts.get("blob") == 1  # the config blob only
        assert got.layer is None

    def test_layer_path(self, registry: Registry, layer_image: Pushed) -> None:
        got = inspect_image(layer_image.ref, credentials=creds(registry))
        assert got.source is InspectionSource.LAYER
        assert got.container.name == "layer"
        assert [t.identifier for t in got.container.templates] == ["main"]
        assert got.digest == layer_image.digest
        assert got.request_counts.get("blob") == 2  # config + the top layer, never busybox's layer
        assert got.unverified == ()  # the small top layer was read whole and verified
        assert got.bytes_read < 64 * 1024

    def test_json_above_a_big_layer_never_downloads_it(self, registry: Registry, json_above_big: Pushed) -> None:
        got = inspect_image(json_above_big.ref, credentials=creds(registry))
        assert got.container.name == "above-big"
        assert got.request_counts.get("blob") == 2
        assert got.bytes_read < 64 * 1024, got.bytes_read

    def test_json_below_a_big_layer_reads_through_it(self, registry: Registry, json_below_big: Pushed) -> None:
        got = inspect_image(json_below_big.ref, credentials=creds(registry))
        assert got.container.name == "below-big"
        # config + the big layer + the JSON layer; busybox's layer below is not requested
        assert got.request_counts.get("blob") == 3
        assert got.bytes_read > BIG

    def test_whiteout_deletes_the_file(self, registry: Registry, build_push: Build) -> None:
        image = build_push(
            "whiteout",
            "COPY processing-container.json /\nRUN rm /processing-container.json\n",
            {"processing-container.json": pc_json("whiteout")},
        )
        with pytest.raises(SpecFileMissing) as caught:
            inspect_image(image.ref, credentials=creds(registry))
        assert "whiteout" in str(caught.value)
        assert caught.value.transient is False

    def test_symlink_is_followed(self, registry: Registry, build_push: Build) -> None:
        image = build_push(
            "symlink",
            "COPY processing-container.json /etc/pc.json\nRUN ln -s /etc/pc.json /processing-container.json\n",
            {"processing-container.json": pc_json("symlinked")},
        )
        got = inspect_image(image.ref, credentials=creds(registry))
        assert got.container.name == "symlinked"

    def test_hard_link_in_the_same_layer(self, registry: Registry, build_push: Build) -> None:
        # Both names are new in one RUN layer, so the engine writes the second as a tar hard link.
        image = build_push(
            "hardlink",
            "COPY pc.json /tmp/pc.json\n"
            "RUN mkdir -p /etc && cp /tmp/pc.json /etc/pc.json && ln /etc/pc.json /processing-container.json\n",
            {"pc.json": pc_json("hardlinked")},
        )
        assert inspect_image(image.ref, credentials=creds(registry)).container.name == "hardlinked"

    def test_file_deleted_then_added_again_in_a_later_layer(self, registry: Registry, build_push: Build) -> None:
        image = build_push(
            "readded",
            "COPY old.json /processing-container.json\nRUN rm /processing-container.json\n"
            "COPY processing-container.json /\n",
            {"old.json": pc_json("old"), "processing-container.json": pc_json("readded")},
        )
        assert inspect_image(image.ref, credentials=creds(registry)).container.name == "readded"

    def test_kaapana_file_in_an_image(self, registry: Registry, build_push: Build, compat_dir: Path) -> None:
        data = (compat_dir / "pc-dummy-task.json").read_bytes()
        image = build_push("kaapana", "COPY processing-container.json /\n", {"processing-container.json": data})
        got = inspect_image(image.ref, credentials=creds(registry))
        assert got.raw == data
        assert [t.identifier for t in got.container.templates] == [
            t["identifier"] for t in json.loads(data)["templates"]
        ]


class TestErrors:
    def test_wrong_password(self, registry: Registry, layer_image: Pushed) -> None:
        secret = "not-the-password-x9"
        with pytest.raises(RegistryUnauthorized) as caught:
            inspect_image(layer_image.ref, credentials=Credentials.basic(registry.username or "", secret))
        assert secret not in str(caught.value) and secret not in repr(caught.value.args)
        assert caught.value.transient is False and caught.value.reason == "RegistryUnauthorized"

    def test_no_credentials(self, layer_image: Pushed) -> None:
        with pytest.raises(RegistryUnauthorized, match="requires credentials"):
            inspect_image(layer_image.ref)

    def test_missing_file(self, registry: Registry, build_push: Build) -> None:
        image = build_push("missing", "ENV X=1\n")
        with pytest.raises(SpecFileMissing) as caught:
            inspect_image(image.ref, credentials=creds(registry))
        assert LABEL in str(caught.value) and "/processing-container.json" in str(caught.value)

    def test_invalid_json(self, registry: Registry, build_push: Build) -> None:
        image = build_push(
            "badjson", "COPY processing-container.json /\n", {"processing-container.json": '{\n "name": \n}'}
        )
        with pytest.raises(SpecFileInvalid) as caught:
            inspect_image(image.ref, credentials=creds(registry))
        message = str(caught.value)
        assert f"{image.digest}:/processing-container.json:3:" in message  # file, line and column
        assert caught.value.problems

    def test_schema_errors_like_validate(self, registry: Registry, build_push: Build) -> None:
        bad = json.loads(pc_json("schema"))
        bad["templates"][0]["inputs"][0]["mounted_path"] = "relative/path"
        image = build_push(
            "schema", "COPY processing-container.json /\n", {"processing-container.json": json.dumps(bad)}
        )
        with pytest.raises(SpecFileInvalid) as caught:
            inspect_image(image.ref, credentials=creds(registry))
        assert "templates[0].inputs[0].mounted_path" in str(caught.value)
        assert any(p.path == "templates[0].inputs[0].mounted_path" for p in caught.value.problems)

    def test_invalid_label(self, registry: Registry, build_push: Build) -> None:
        image = build_push("badlabel", "ENV X=1\n", labels={LABEL: '{"name": "x"}'})
        with pytest.raises(SpecFileInvalid) as caught:
            inspect_image(image.ref, credentials=creds(registry))
        assert f"(label {LABEL})" in str(caught.value) and "templates" in str(caught.value)

    def test_unknown_tag_and_repository(self, registry: Registry, layer_image: Pushed) -> None:
        for ref in (f"{registry.host}/{layer_image.repo}:nope", f"{registry.host}/itest/no-such-repo:v1"):
            with pytest.raises(ImageNotFound) as caught:
                inspect_image(ref, credentials=creds(registry))
            assert caught.value.transient is False

    def test_unreachable_registry_is_transient(self) -> None:
        port = free_port()  # nothing listens here
        with pytest.raises(RegistryUnavailable) as caught:
            inspect_image(f"127.0.0.1:{port}/a/b:c", timeout=5)
        assert caught.value.transient is True and caught.value.reason == "RegistryUnavailable"

    def test_silent_registry_times_out(self) -> None:
        # A socket that accepts but never answers: a real timeout, not a fake one.
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            host = f"127.0.0.1:{server.getsockname()[1]}"
            with pytest.raises(RegistryUnavailable, match="timed out") as caught:
                inspect_image(f"{host}/a/b:c", timeout=1)
        assert caught.value.transient is True

    @pytest.mark.parametrize("tail_kib", [0, 150])
    def test_corrupt_blob_in_storage(self, registry: Registry, build_push: Build, tail_kib: int) -> None:
        # tail_kib > 0: random data after the JSON in the same layer, so the file is found before the damage
        # and only reading the small remainder to its end (to check the digest) can notice it.
        files: dict[str, str | bytes] = {"layer/processing-container.json": pc_json(f"corrupt-{tail_kib}")}
        if tail_kib:
            files["layer/zz-tail.bin"] = os.urandom(tail_kib * 1024)
        image = build_push(f"corrupt-{tail_kib}", "COPY layer/ /\n", files)
        body, _ = registry.get_manifest(image.repo, image.digest)
        top = json.loads(body)["layers"][-1]["digest"]
        # Damage the blob in the registry's own storage: a real fault a broken disk or proxy could cause.
        blob = registry.directory / "data/docker/registry/v2/blobs/sha256" / top[7:9] / top[7:] / "data"
        data = bytearray(blob.read_bytes())
        assert len(data) > tail_kib * 1000  # random data does not compress away
        data[-20] ^= 0xFF
        blob.write_bytes(bytes(data))
        with pytest.raises(DigestMismatch) as caught:
            inspect_image(image.ref, credentials=creds(registry))
        assert top in str(caught.value)
        assert caught.value.transient is False


class TestManifestKinds:
    def test_oci_index_with_two_platforms(self, registry: Registry, build_push: Build) -> None:
        amd = build_push(
            "multi-amd64", "COPY processing-container.json /\n", {"processing-container.json": pc_json("amd")}
        )
        arm = build_push(
            "multi-arm64", "COPY processing-container.json /\n", {"processing-container.json": pc_json("arm")}
        )
        repo = "itest/multi"
        descriptors = []
        for image, arch in ((amd, "amd64"), (arm, "arm64")):
            body, media_type = registry.get_manifest(image.repo, image.digest)
            # Blobs must be in the index's repository: mount them from the single-platform repositories.
            for d in [json.loads(body)["config"], *json.loads(body)["layers"]]:
                registry.push_blob(repo, registry.get_blob(image.repo, d["digest"]))
            registry.put_manifest(repo, image.digest, body, media_type)
            platform = {"architecture": arch, "os": "linux", **({"variant": "v8"} if arch == "arm64" else {})}
            descriptors.append(
                {"mediaType": media_type, "digest": image.digest, "size": len(body), "platform": platform}
            )
        for media_type, tag in (
            ("application/vnd.oci.image.index.v1+json", "oci"),
            ("application/vnd.docker.distribution.manifest.list.v2+json", "list"),
        ):
            index = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": descriptors}).encode()
            index_digest = registry.put_manifest(repo, tag, index, media_type)
            ref = f"{registry.host}/{repo}:{tag}"
            default = inspect_image(ref, credentials=creds(registry))
            assert (default.container.name, default.digest, default.index_digest) == ("amd", amd.digest, index_digest)
            other = inspect_image(ref, credentials=creds(registry), platform="linux/arm64")
            assert (other.container.name, other.digest) == ("arm", arm.digest)
            assert other.reference == f"{registry.host}/{repo}@{arm.digest}"
            with pytest.raises(PlatformNotFound, match="linux/amd64, linux/arm64/v8"):
                inspect_image(ref, credentials=creds(registry), platform="linux/s390x")
            # Pinned to the index digest: the second inspection per platform costs no request at all.
            cache = InspectionCache()
            pinned = f"{registry.host}/{repo}@{index_digest}"
            for wanted, name in (("linux/amd64", "amd"), ("linux/arm64", "arm")):
                inspect_image(pinned, credentials=creds(registry), platform=wanted, cache=cache)
                hit = inspect_image(pinned, credentials=creds(registry), platform=wanted, cache=cache)
                assert (hit.source, hit.requests, hit.container.name) == (InspectionSource.CACHE, 0, name)
                assert hit.index_digest == index_digest

    @pytest.mark.parametrize("compression", ["zstd", "none"])
    def test_oci_manifest_with_recompressed_layers(
        self, registry: Registry, layer_image: Pushed, compression: str
    ) -> None:
        body, _ = registry.get_manifest(layer_image.repo, layer_image.digest)
        manifest = json.loads(body)
        repo = f"itest/oci-{compression}"
        config = registry.get_blob(layer_image.repo, manifest["config"]["digest"])
        layers = []
        for layer in manifest["layers"]:
            tar = gzip.decompress(registry.get_blob(layer_image.repo, layer["digest"]))
            data = zstandard.ZstdCompressor().compress(tar) if compression == "zstd" else tar
            suffix = "+zstd" if compression == "zstd" else ""
            layers.append(
                {"mediaType": f"application/vnd.oci.image.layer.v1.tar{suffix}",
                 "digest": registry.push_blob(repo, data), "size": len(data)}
            )  # fmt: skip
        oci = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": registry.push_blob(repo, config), "size": len(config)},
            "layers": layers,
        }  # fmt: skip
        raw = json.dumps(oci).encode()
        digest = registry.put_manifest(repo, "v1", raw, "application/vnd.oci.image.manifest.v1+json")
        got = inspect_image(f"{registry.host}/{repo}:v1", credentials=creds(registry))
        assert got.container.name == "layer"
        assert got.digest == digest == "sha256:" + hashlib.sha256(raw).hexdigest()
        assert got.layer == layers[-1]["digest"]


class TestCache:
    def test_tag_costs_one_request_and_digest_none(
        self, registry: Registry, layer_image: Pushed, tmp_path: Path
    ) -> None:
        cache = InspectionCache(tmp_path / "cache")
        first = inspect_image(layer_image.ref, credentials=creds(registry), cache=cache)
        assert first.source is InspectionSource.LAYER
        again = inspect_image(layer_image.ref, credentials=creds(registry), cache=cache)
        assert again.source is InspectionSource.CACHE
        assert (again.requests, again.request_counts.get("blob", 0), again.bytes_read) == (1, 0, 0)
        assert again.container == first.container and again.digest == first.digest
        pinned = inspect_image(first.reference, credentials=creds(registry), cache=cache)
        assert (pinned.source, pinned.requests) == (InspectionSource.CACHE, 0)
        # A new process with the same directory: the digest-pinned reference still costs nothing.
        fresh = inspect_image(first.reference, cache=InspectionCache(tmp_path / "cache"))
        assert (fresh.source, fresh.requests, fresh.container.name) == (InspectionSource.CACHE, 0, "layer")

    def test_a_shared_cache_serves_a_digest_only_to_credentials_the_registry_accepted(
        self, registry: Registry, layer_image: Pushed
    ) -> None:
        cache = InspectionCache(check_access=True)
        first = inspect_image(layer_image.ref, credentials=creds(registry), cache=cache)
        pinned = inspect_image(first.reference, credentials=creds(registry), cache=cache)
        assert (pinned.source, pinned.requests) == (InspectionSource.CACHE, 0)
        with pytest.raises(RegistryUnauthorized):
            inspect_image(first.reference, cache=cache)
        wrong = Credentials.basic(registry.username or "", "not-the-password")  # same user: not the same caller
        with pytest.raises(RegistryUnauthorized):
            inspect_image(first.reference, credentials=wrong, cache=cache)
        again = inspect_image(first.reference, credentials=creds(registry), cache=cache)
        assert (again.source, again.requests, again.container.name) == (InspectionSource.CACHE, 0, "layer")

    def test_moved_tag_is_read_again(self, registry: Registry, build_push: Build) -> None:
        cache = InspectionCache()
        one = build_push("moving", "COPY processing-container.json /\n", {"processing-container.json": pc_json("one")})
        assert inspect_image(one.ref, credentials=creds(registry), cache=cache).container.name == "one"
        two = build_push("moving", "COPY processing-container.json /\n", {"processing-container.json": pc_json("two")})
        got = inspect_image(two.ref, credentials=creds(registry), cache=cache)
        assert (got.container.name, got.digest, got.source) == ("two", two.digest, InspectionSource.LAYER)


class TestTokenAndAnonymous:
    def test_bearer_token_flow(self, token_registry: Registry, build_push_token: Build) -> None:
        image = build_push_token(
            "token", "COPY processing-container.json /\n", {"processing-container.json": pc_json("token")}
        )
        assert token_registry.token_server is not None
        before = token_registry.token_server.requests["token"]
        cache = InspectionCache()
        got = inspect_image(image.ref, credentials=creds(token_registry), cache=cache)
        assert got.container.name == "token" and got.digest == image.digest
        assert got.request_counts.get("auth") == 1
        assert token_registry.token_server.requests["token"] == before + 1
        again = inspect_image(image.ref, credentials=creds(token_registry), cache=cache)
        assert again.source is InspectionSource.CACHE and again.requests == 1  # the token was reused

    def test_bearer_wrong_password_and_anonymous(self, token_registry: Registry, build_push_token: Build) -> None:
        image = build_push_token(
            "token2", "COPY processing-container.json /\n", {"processing-container.json": pc_json("t2")}
        )
        secret = "wrong-token-password-7"
        with pytest.raises(RegistryUnauthorized) as caught:
            inspect_image(image.ref, credentials=Credentials.basic(token_registry.username or "", secret))
        assert secret not in str(caught.value)
        with pytest.raises(RegistryUnauthorized):
            inspect_image(image.ref)  # anonymous tokens carry no pull rights here

    def test_dockerconfigjson_credentials(self, token_registry: Registry, build_push_token: Build) -> None:
        image = build_push_token(
            "token3", "COPY processing-container.json /\n", {"processing-container.json": pc_json("t3")}
        )
        payload = {
            "auths": {token_registry.host: {"username": token_registry.username, "password": token_registry.password}}
        }
        c = Credentials.from_dockerconfigjson(json.dumps(payload).encode(), token_registry.host)
        assert inspect_image(image.ref, credentials=c).container.name == "t3"

    def test_anonymous_registry(self, build_push_open: Build) -> None:
        image = build_push_open(
            "open", "COPY processing-container.json /\n", {"processing-container.json": pc_json("open")}
        )
        got = inspect_image(image.ref)
        assert got.container.name == "open" and got.request_counts.get("auth", 0) == 0


class TestConcurrency:
    def test_threads_share_a_cache(self, registry: Registry, layer_image: Pushed, label_image: Pushed) -> None:
        cache = InspectionCache()
        refs = [layer_image.ref, label_image.ref] * 8
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda r: inspect_image(r, credentials=creds(registry), cache=cache), refs))
        names = [r.container.name for r in results]
        assert names == ["layer", "from-label"] * 8
        assert {r.digest for r in results} == {layer_image.digest, label_image.digest}

    def test_async_variant(self, registry: Registry, layer_image: Pushed) -> None:
        async def both() -> list[str]:
            found = await asyncio.gather(
                inspect_image_async(layer_image.ref, credentials=creds(registry)),
                inspect_image_async(layer_image.ref, credentials=creds(registry), platform="linux/amd64"),
            )
            return [f.digest for f in found]

        assert asyncio.run(both()) == [layer_image.digest, layer_image.digest]
