"""The inspection cache (memory and a temp directory) and the error tree's classification (pure)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from task_api.image import errors as e
from task_api.image.cache import CacheEntry, InspectionCache
from task_api.spec.errors import Problem, SpecError, TaskApiError

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


class TestCache:
    def test_memory(self) -> None:
        cache = InspectionCache()
        assert cache.get(D1) is None
        cache.put(D1, CacheEntry(b'{"a": 1}', "layer"))
        assert cache.get(D1) == CacheEntry(b'{"a": 1}', "layer")
        assert len(cache) == 1

    def test_access_is_remembered_per_repository_and_credentials(self) -> None:
        shared = InspectionCache(check_access=True)
        assert not shared.may_read("reg/private", "alice")
        shared.remember_access("reg/private", "alice")
        assert shared.may_read("reg/private", "alice")
        assert not shared.may_read("reg/private", "bob")
        assert not shared.may_read("reg/private", "")  # anonymous is a caller like any other
        assert not shared.may_read("reg/other", "alice")

    def test_access_is_not_checked_unless_asked(self) -> None:
        assert InspectionCache().may_read("reg/private", "")

    def test_bounded(self) -> None:
        cache = InspectionCache(max_entries=2)
        for i in range(3):
            cache.put(f"sha256:{i:064x}", CacheEntry(b"{}", "label"))
        assert len(cache) == 2
        assert cache.get(f"sha256:{0:064x}") is None  # the least recently used went first

    def test_disk_survives_a_new_process(self, tmp_path: Path) -> None:
        InspectionCache(tmp_path).put(D1, CacheEntry(b'{"\xc3\xa9": 1}', "label"))
        InspectionCache(tmp_path).remember_platform(D2, "linux/amd64", D1)
        fresh = InspectionCache(tmp_path)
        assert fresh.get(D1) == CacheEntry(b'{"\xc3\xa9": 1}', "label")
        assert fresh.platform_manifest(D2, "linux/amd64") == D1
        assert fresh.platform_manifest(D2, "linux/arm64") is None

    def test_damaged_file_is_a_miss(self, tmp_path: Path) -> None:
        cache = InspectionCache(tmp_path)
        cache.put(D1, CacheEntry(b"{}", "layer"))
        for f in tmp_path.glob("*.json"):
            f.write_text("{garbage")
        assert InspectionCache(tmp_path).get(D1) is None

    def test_threads(self) -> None:
        cache = InspectionCache(max_entries=50)

        def work(n: int) -> None:
            for i in range(200):
                cache.put(f"sha256:{n * 1000 + i:064x}", CacheEntry(b"{}", "layer"))
                cache.get(f"sha256:{n * 1000 + i:064x}")

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(cache) == 50


class TestErrors:
    @pytest.mark.parametrize(
        ("cls", "transient", "reason"),
        [
            (e.InvalidReference, False, "InvalidImageReference"),
            (e.CredentialsInvalid, False, "InvalidCredentials"),
            (e.ImageNotFound, False, "ImageNotFound"),
            (e.PlatformNotFound, False, "PlatformNotFound"),
            (e.RegistryUnauthorized, False, "RegistryUnauthorized"),
            (e.RegistryUnavailable, True, "RegistryUnavailable"),
            (e.RegistryTLSError, False, "RegistryTLSError"),
            (e.InsecureTransport, False, "InsecureTransport"),
            (e.DigestMismatch, False, "DigestMismatch"),
            (e.ManifestUnsupported, False, "ManifestUnsupported"),
            (e.SpecFileMissing, False, "ProcessingContainerMissing"),
            (e.SpecFileInvalid, False, "ProcessingContainerInvalid"),
            (e.DockerEngineError, True, "DockerEngineError"),
        ],
    )
    def test_classification(self, cls: type[e.ImageError], transient: bool, reason: str) -> None:
        error = cls("message", image="reg/x:y")
        assert isinstance(error, TaskApiError)
        assert error.transient is transient
        assert error.reason == reason
        assert reason.isalnum() and reason[0].isupper()  # a valid Kubernetes condition reason
        assert str(error) == "message"

    def test_spec_file_invalid_prints_problems_like_validate(self) -> None:
        problem = Problem(path="templates[0].identifier", message="missing", line=3, column=5)
        spec_error = SpecError("reg/x@sha256:1:/processing-container.json", [problem])
        wrapped = e.SpecFileInvalid.from_spec_error(spec_error, image="reg/x@sha256:1")
        assert wrapped.problems == [problem]
        assert "  " + problem.format(spec_error.source) in str(wrapped)
        assert "reg/x@sha256:1:/processing-container.json:3:5: templates[0].identifier: missing" in str(wrapped)
