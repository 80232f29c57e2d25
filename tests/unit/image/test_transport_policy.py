"""Which registries get plain HTTP, and when credentials may travel (pure decisions; no request is sent)."""

from __future__ import annotations

import pytest

from task_api.image.auth import Credentials
from task_api.image.errors import InsecureTransport, RegistryUnauthorized
from task_api.image.reference import parse_reference
from task_api.image.registry import RegistryClient

SECRET = "pw-never-shown"


@pytest.mark.parametrize(
    ("reference", "insecure", "plain"),
    [
        ("127.0.0.1:5000/a", (), True),
        ("localhost:5000/a", (), True),
        ("[::1]:5000/a", (), True),
        ("10.0.0.5:5000/a", (), False),
        ("10.0.0.5:5000/a", ("10.0.0.5:5000",), True),
        ("reg.example.com/a", (), False),
        ("busybox", (), False),
    ],
)
def test_plain_http_only_for_loopback_or_declared_insecure(
    reference: str, insecure: tuple[str, ...], plain: bool
) -> None:
    with RegistryClient(parse_reference(reference), insecure_registries=insecure) as client:
        assert client.plain_http is plain
        assert client.base.startswith("http://" if plain else "https://")


def test_no_credentials_to_a_plain_http_token_realm_elsewhere() -> None:
    ref = parse_reference("reg.example.com/a")
    with RegistryClient(ref, credentials=Credentials.basic("u", SECRET)) as client:
        with pytest.raises(InsecureTransport) as caught:
            client._authenticate('Bearer realm="http://auth.example.com/token",service="s"')
        assert SECRET not in str(caught.value) and "plain HTTP" in str(caught.value)
        assert client.requests["auth"] == 0  # refused before anything was sent


def test_basic_to_a_declared_insecure_registry_is_allowed() -> None:
    ref = parse_reference("10.0.0.5:5000/a")
    with RegistryClient(ref, credentials=Credentials.basic("u", SECRET), insecure_registries=["10.0.0.5:5000"]) as c:
        c._authenticate('Basic realm="r"')
        assert c._authorization is not None and c._authorization.startswith("Basic ")


def test_basic_challenge_without_credentials() -> None:
    with (
        RegistryClient(parse_reference("127.0.0.1:1/a")) as client,
        pytest.raises(RegistryUnauthorized, match="requires credentials"),
    ):
        client._authenticate('Basic realm="r"')


def test_unknown_scheme_is_named() -> None:
    with (
        RegistryClient(parse_reference("127.0.0.1:1/a")) as client,
        pytest.raises(RegistryUnauthorized, match=r"scheme\(s\) negotiate; supported: Basic, Bearer"),
    ):
        client._authenticate("Negotiate")
