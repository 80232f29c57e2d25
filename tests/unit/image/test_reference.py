"""Image references: parsing and normalisation (pure)."""

from __future__ import annotations

import pytest

from task_api.image.errors import InvalidReference
from task_api.image.reference import (
    is_loopback_host,
    parse_reference,
    registry_mismatch,
    registry_url_host,
    split_host_port,
)

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "canonical"),
    [
        ("busybox", "docker.io", "library/busybox", "latest", None, "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", None, "docker.io/library/busybox:1.36"),
        ("kaapana/dummy", "docker.io", "kaapana/dummy", "latest", None, "docker.io/kaapana/dummy:latest"),
        ("index.docker.io/x/y:z", "docker.io", "x/y", "z", None, "docker.io/x/y:z"),
        ("docker.io/busybox", "docker.io", "library/busybox", "latest", None, "docker.io/library/busybox:latest"),
        ("127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b", "latest", None, "127.0.0.1:5000/a/b:latest"),
        ("127.0.0.1:5000/a/b:v1", "127.0.0.1:5000", "a/b", "v1", None, "127.0.0.1:5000/a/b:v1"),
        ("localhost/app", "localhost", "app", "latest", None, "localhost/app:latest"),
        ("localhost:5000/app", "localhost:5000", "app", "latest", None, "localhost:5000/app:latest"),
        ("reg.example.com/team/app_x-1.2", "reg.example.com", "team/app_x-1.2", "latest", None, None),
        (f"reg.example.com/app@{DIGEST}", "reg.example.com", "app", None, DIGEST, f"reg.example.com/app@{DIGEST}"),
        (f"reg.example.com/app:v2@{DIGEST}", "reg.example.com", "app", "v2", DIGEST, None),
        ("[::1]:5000/app:dev", "[::1]:5000", "app", "dev", None, "[::1]:5000/app:dev"),
        ("  busybox  ", "docker.io", "library/busybox", "latest", None, None),
    ],
)
def test_parses_and_normalises(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None, canonical: str | None
) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    if canonical is not None:
        assert str(ref) == canonical


def test_digest_wins_over_tag_for_the_manifest_request() -> None:
    ref = parse_reference(f"reg.example.com/app:v2@{DIGEST}")
    assert ref.manifest_ref == DIGEST
    assert ref.pinned("sha256:" + "b" * 64) == "reg.example.com/app@sha256:" + "b" * 64


def test_docker_hub_api_host_differs_from_its_name() -> None:
    assert parse_reference("busybox").api_host == "registry-1.docker.io"
    assert parse_reference("127.0.0.1:5000/a").api_host == "127.0.0.1:5000"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("Busybox", "repository component 'Busybox'"),
        ("reg.example.com/App", "repository component 'App'"),
        ("app:", "tag ''"),
        ("app:-bad", "tag '-bad'"),
        ("app@sha256:abc", "digest 'sha256:abc'"),
        ("app@md5:" + "a" * 32, "digest"),
        ("https://reg.example.com/app", "URL scheme"),
        ("a b", "white space"),
        ("reg.example.com//app", "repository component ''"),
        ("reg_bad.example.com:5000/app", "registry host"),
        ("a/" + "b" * 260, "longer than 255"),
    ],
)
def test_invalid_references_say_what_is_wrong_and_what_is_allowed(text: str, says: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        parse_reference(text)
    message = str(caught.value)
    assert says in message
    assert "expected [registry[:port]/]repository[:tag][@sha256:" in message
    assert caught.value.transient is False
    assert caught.value.reason == "InvalidImageReference"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:5000", True),
        ("127.1.2.3", True),
        ("localhost:5000", True),
        ("[::1]:5000", True),
        ("10.0.0.1:5000", False),
        ("registry.example.com", False),
        ("localhost.example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_split_host_port() -> None:
    assert split_host_port("127.0.0.1:5000") == ("127.0.0.1", 5000)
    assert split_host_port("[::1]:443") == ("::1", 443)
    assert split_host_port("example.com") == ("example.com", None)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://registry.example.org/project", "registry.example.org"),
        ("registry.example.org/project", "registry.example.org"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("localhost/kaapana", "localhost"),
        ("http://myregistry/x", "myregistry"),  # a scheme makes the first component a host
        ("myorg", "docker.io"),  # as in myorg/name:tag: a Docker Hub namespace
        ("index.docker.io/library", "docker.io"),
    ],
)
def test_a_registry_url_names_the_registry_an_image_under_it_would(url: str, host: str) -> None:
    assert registry_url_host(url) == host


@pytest.mark.parametrize(
    ("image", "url", "mismatch"),
    [
        ("task-api-test/pc-dummy:1", "task-api-test", None),  # Kaapana's {{ registryUrl }}/name:tag
        ("registry.example.org/project/pc:1", "https://registry.example.org/project", None),
        ("registry.example.org/pc:1", "other.example.org", ("registry.example.org", "other.example.org")),
        ("busybox:1", "registry.example.org", ("docker.io", "registry.example.org")),
    ],
)
def test_a_registry_url_of_another_registry_is_a_mismatch(image: str, url: str, mismatch: object) -> None:
    assert registry_mismatch(image, url) == mismatch
