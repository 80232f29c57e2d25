"""Credentials and WWW-Authenticate challenges (pure, plus reading a temp docker config file)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from task_api.image.auth import Credentials, parse_challenges, registry_key
from task_api.image.errors import CredentialsInvalid

SECRET = "s3cr3t-Pa55"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class TestChallenges:
    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            (
                'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                'scope="repository:library/busybox:pull"',
                [
                    (
                        "bearer",
                        {
                            "realm": "https://auth.docker.io/token",
                            "service": "registry.docker.io",
                            "scope": "repository:library/busybox:pull",
                        },
                    )
                ],
            ),
            ('Basic realm="Registry Realm"', [("basic", {"realm": "Registry Realm"})]),
            # A comma inside a quoted scope (several actions) stays part of the value.
            (
                'Bearer realm="http://127.0.0.1:1/token",scope="repository:a/b:pull,push"',
                [("bearer", {"realm": "http://127.0.0.1:1/token", "scope": "repository:a/b:pull,push"})],
            ),
            ('BEARER Realm="x" , Service=y', [("bearer", {"realm": "x", "service": "y"})]),
            (r'Basic realm="a \"quoted\" realm"', [("basic", {"realm": 'a "quoted" realm'})]),
            (
                'Basic realm="one", Bearer realm="two",service="s"',
                [("basic", {"realm": "one"}), ("bearer", {"realm": "two", "service": "s"})],
            ),
            ("", []),
        ],
    )
    def test_parses(self, header: str, expected: list[tuple[str, dict[str, str]]]) -> None:
        got = [(c.scheme, dict(c.params)) for c in parse_challenges(header)]
        assert got == expected

    def test_accessors(self) -> None:
        (c,) = parse_challenges('Bearer realm="r",service="s",scope="x"')
        assert (c.realm, c.service, c.scope) == ("r", "s", "x")


class TestCredentials:
    def test_basic_hides_the_password(self) -> None:
        c = Credentials.basic("alice", SECRET)
        assert c.password.get_secret_value() == SECRET
        assert SECRET not in repr(c)
        assert SECRET not in str(c)

    @pytest.mark.parametrize(
        ("key", "host"),
        [
            ("https://index.docker.io/v1/", "docker.io"),
            ("registry-1.docker.io", "docker.io"),
            ("http://127.0.0.1:5000", "127.0.0.1:5000"),
            ("https://Reg.Example.com/v2/", "reg.example.com"),
            ("127.0.0.1:5000", "127.0.0.1:5000"),
        ],
    )
    def test_registry_keys_normalise(self, key: str, host: str) -> None:
        assert registry_key(key) == host

    @pytest.mark.parametrize(
        "entry",
        [
            {"username": "alice", "password": SECRET},
            {"auth": b64(f"alice:{SECRET}")},
            {"username": "ignored", "auth": b64(f"alice:{SECRET}")},
        ],
    )
    def test_dockerconfigjson_entries(self, entry: dict[str, str]) -> None:
        payload = json.dumps({"auths": {"https://reg.example.com": entry, "other:5000": {"auth": b64("x:y")}}})
        for form in (payload, payload.encode(), json.loads(payload)):
            c = Credentials.from_dockerconfigjson(form, "reg.example.com")
            assert c is not None
            assert c.password.get_secret_value() == SECRET
            assert c.username in {"alice", "ignored"}

    def test_legacy_dockercfg_without_auths(self) -> None:
        c = Credentials.from_dockerconfigjson({"reg.example.com": {"auth": b64("bob:pw")}}, "reg.example.com")
        assert c is not None and c.username == "bob"

    def test_docker_hub_alias(self) -> None:
        payload = {"auths": {"https://index.docker.io/v1/": {"auth": b64("hub:pw")}}}
        c = Credentials.from_dockerconfigjson(payload, "docker.io")
        assert c is not None and c.username == "hub"

    def test_no_entry_for_the_host_is_none(self) -> None:
        assert Credentials.from_dockerconfigjson({"auths": {"a.example": {"auth": b64("u:p")}}}, "b.example") is None

    def test_identity_token(self) -> None:
        payload = {"auths": {"reg.example.com": {"auth": b64("u:"), "identitytoken": "refresh-me"}}}
        c = Credentials.from_dockerconfigjson(payload, "reg.example.com")
        assert c is not None and c.identity_token is not None
        assert c.identity_token.get_secret_value() == "refresh-me"

    @pytest.mark.parametrize(
        ("payload", "says"),
        [
            ("{not json", "not valid JSON at line 1"),
            ("[]", "expected a JSON object"),
            ({"auths": []}, "auths must be an object"),
            ({"auths": {"reg.example.com": "x"}}, "auths.'reg.example.com': expected an object"),
            ({"auths": {"reg.example.com": {"auth": "***"}}}, "auths.'reg.example.com'.auth: not base64"),
            ({"auths": {"reg.example.com": {"auth": b64("nocolon")}}}, "no 'user:password' pair"),
            ({"auths": {"reg.example.com": {"username": "u", "password": 5}}}, "must both be strings"),
        ],
    )
    def test_malformed_payloads_name_the_field_not_the_secret(self, payload: object, says: str) -> None:
        with pytest.raises(CredentialsInvalid) as caught:
            Credentials.from_dockerconfigjson(payload, "reg.example.com")  # type: ignore[arg-type]
        assert says in str(caught.value)
        assert caught.value.transient is False

    def test_secret_in_a_bad_auth_is_not_echoed(self) -> None:
        bad = SECRET + "%%%"
        with pytest.raises(CredentialsInvalid) as caught:
            Credentials.from_dockerconfigjson({"auths": {"r.example": {"auth": bad}}}, "r.example")
        assert SECRET not in str(caught.value)

    def test_docker_config_file(self, tmp_path: Path) -> None:
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"auths": {"127.0.0.1:5000": {"auth": b64(f"carol:{SECRET}")}}}))
        c = Credentials.from_docker_config("127.0.0.1:5000", config)
        assert c is not None and c.username == "carol"
        assert Credentials.from_docker_config("127.0.0.1:5001", config) is None

    def test_docker_config_from_environment(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        (tmp_path / "config.json").write_text(json.dumps({"auths": {"r.example": {"auth": b64("dan:pw")}}}))
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
        c = Credentials.from_docker_config("r.example")
        assert c is not None and c.username == "dan"

    def test_missing_docker_config_means_no_credentials(self, tmp_path: Path) -> None:
        assert Credentials.from_docker_config("r.example", tmp_path / "absent.json") is None

    def test_broken_docker_config_names_file_and_position(self, tmp_path: Path) -> None:
        config = tmp_path / "config.json"
        config.write_text('{\n  "auths": {,}\n}')
        with pytest.raises(CredentialsInvalid) as caught:
            Credentials.from_docker_config("r.example", config)
        assert f"{config}:2:" in str(caught.value)

    def test_missing_credential_helper_is_named(self, tmp_path: Path) -> None:
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"credHelpers": {"r.example": "nonexistent-helper-xyz"}}))
        with pytest.raises(CredentialsInvalid) as caught:
            Credentials.from_docker_config("r.example", config)
        assert "docker-credential-nonexistent-helper-xyz" in str(caught.value)
