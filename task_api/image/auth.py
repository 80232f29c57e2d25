"""Registry credentials and ``WWW-Authenticate`` challenges.

:class:`Credentials` come from an explicit user and password, from a Kubernetes
``kubernetes.io/dockerconfigjson`` secret payload, or from a Docker client config (``~/.docker/config.json``,
including credential helpers). The password is a pydantic ``SecretStr`` so ``repr()``, logs and tracebacks
show ``**********``.

Challenges are parsed per RFC 7235 (``Bearer realm="…",service="…",scope="…"`` or ``Basic realm="…"``); the
registry client uses them to choose Basic or the token flow.

:func:`parse_challenges`, :func:`registry_key` and :meth:`Credentials.from_dockerconfigjson` are pure;
:meth:`Credentials.from_docker_config` reads a file and may run a ``docker-credential-*`` helper (I/O).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from task_api.image.errors import CredentialsInvalid
from task_api.image.reference import DOCKER_HUB

__all__ = ["Challenge", "Credentials", "parse_challenges", "registry_key"]

_HUB_KEYS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})


@dataclass(frozen=True)
class Credentials:
    """A user name with a password, or an identity (refresh) token from ``docker login`` via OAuth."""

    username: str
    password: SecretStr = field(repr=False)
    identity_token: SecretStr | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=**********)"

    def fingerprint(self) -> str:
        """A hash naming these credentials — user and secret — for cache keys (pure). Two passwords for one user
        differ; the secret cannot be read back from it."""
        secret = (self.identity_token or self.password).get_secret_value()
        return hashlib.sha256(f"{self.username}\0{secret}".encode()).hexdigest()

    @classmethod
    def basic(cls, username: str, password: str | SecretStr) -> Credentials:
        """Explicit user name and password (pure)."""
        secret = password if isinstance(password, SecretStr) else SecretStr(password)
        return cls(username=username, password=secret)

    @classmethod
    def from_dockerconfigjson(
        cls, payload: bytes | str | Mapping[str, Any], registry_host: str, *, source: str = "dockerconfigjson"
    ) -> Credentials | None:
        """Credentials for ``registry_host`` in a ``.dockerconfigjson`` or legacy ``.dockercfg`` (pure).

        Returns None when the payload has no entry for that registry. Raises :class:`CredentialsInvalid`
        naming the field when an entry is malformed; the message never quotes a secret.
        """
        data: Any = payload
        if isinstance(payload, bytes | str):
            try:
                data = json.loads(payload)
            except (ValueError, UnicodeDecodeError) as exc:
                pos = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
                raise CredentialsInvalid(f"{source}: not valid JSON{pos}") from None
        if not isinstance(data, Mapping):
            raise CredentialsInvalid(f"{source}: expected a JSON object with 'auths', got {type(data).__name__}")
        auths = data.get("auths", data)  # legacy .dockercfg has the hosts at the top level
        if not isinstance(auths, Mapping):
            raise CredentialsInvalid(f"{source}: auths must be an object mapping registry hosts to credentials")
        entry_key = _find_entry(auths, registry_host)
        if entry_key is None:
            return None
        return _entry_credentials(auths[entry_key], where=f"{source}: auths.{entry_key!r}")

    @classmethod
    def from_docker_config(cls, registry_host: str, path: str | os.PathLike[str] | None = None) -> Credentials | None:
        """Credentials for ``registry_host`` from a Docker client config (I/O: reads it, may run a helper).

        ``path`` defaults to ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``. A missing file means
        no credentials. ``credHelpers``/``credsStore`` run ``docker-credential-<name> get``.
        """
        if path is None:
            base = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
            path = Path(base) / "config.json"
        file = Path(path)
        try:
            raw = file.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CredentialsInvalid(f"{file}: cannot read: {exc.strerror}") from None
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            pos = f":{exc.lineno}:{exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            raise CredentialsInvalid(f"{file}{pos}: not valid JSON") from None
        if not isinstance(data, Mapping):
            raise CredentialsInvalid(f"{file}: expected a JSON object")
        helpers = data.get("credHelpers") or {}
        helper = None
        if isinstance(helpers, Mapping):
            key = _find_entry(helpers, registry_host)
            helper = helpers[key] if key is not None else None
        inline = cls.from_dockerconfigjson({"auths": data.get("auths") or {}}, registry_host, source=str(file))
        if helper is None and inline is None and isinstance(data.get("credsStore"), str):
            helper = data["credsStore"]
        if isinstance(helper, str) and helper:
            return _from_helper(helper, registry_host, file) or inline
        return inline


def registry_key(host: str) -> str:
    """Normalise a config key (``https://index.docker.io/v1/``, ``http://h:5000``) to ``host[:port]``."""
    key = host.strip()
    key = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", key)
    key = key.split("/", 1)[0].lower()
    return DOCKER_HUB if key in _HUB_KEYS else key


def _find_entry(auths: Mapping[str, Any], registry_host: str) -> str | None:
    wanted = registry_key(registry_host)
    for key in auths:
        if isinstance(key, str) and registry_key(key) == wanted:
            return key
    return None


def _entry_credentials(entry: Any, *, where: str) -> Credentials | None:
    if not isinstance(entry, Mapping):
        raise CredentialsInvalid(f"{where}: expected an object with username/password or auth")
    username = entry.get("username")
    password = entry.get("password")
    auth = entry.get("auth")
    token = entry.get("identitytoken")
    if isinstance(auth, str) and auth and not (username and password):
        try:
            decoded = base64.b64decode(auth, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialsInvalid(f"{where}.auth: not base64 of 'user:password'") from None
        if ":" not in decoded:
            raise CredentialsInvalid(f"{where}.auth: decodes to no 'user:password' pair (no ':')")
        username, password = decoded.split(":", 1)
    if isinstance(token, str) and token:
        return Credentials(username=str(username or "<token>"), password=SecretStr(""), identity_token=SecretStr(token))
    if username is None and password is None:
        return None
    if not isinstance(username, str) or not isinstance(password, str):
        raise CredentialsInvalid(f"{where}: username and password must both be strings")
    return Credentials.basic(username, password)


def _from_helper(helper: str, registry_host: str, config: Path) -> Credentials | None:
    exe = shutil.which(f"docker-credential-{helper}")
    if exe is None:
        raise CredentialsInvalid(f"{config}: credential helper docker-credential-{helper} is not on PATH")
    server = "https://index.docker.io/v1/" if registry_key(registry_host) == DOCKER_HUB else registry_host
    try:
        done = subprocess.run(  # a fixed executable, the host on stdin: no shell, no interpolation
            [exe, "get"], input=server.encode(), capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CredentialsInvalid(f"docker-credential-{helper} get failed: {type(exc).__name__}") from None
    if done.returncode != 0:
        # The helper prints "credentials not found in native keychain" on a miss; its output is not echoed.
        return None
    try:
        data = json.loads(done.stdout)
    except ValueError:
        raise CredentialsInvalid(f"docker-credential-{helper} get printed something that is not JSON") from None
    user, secret = data.get("Username"), data.get("Secret")
    if not isinstance(user, str) or not isinstance(secret, str):
        raise CredentialsInvalid(f"docker-credential-{helper} get: expected Username and Secret strings")
    if user == "<token>":
        return Credentials(username=user, password=SecretStr(""), identity_token=SecretStr(secret))
    return Credentials.basic(user, secret)


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: its scheme (lower case) and parameters (names lower case)."""

    scheme: str
    params: Mapping[str, str]

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scope(self) -> str | None:
        return self.params.get("scope")


_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # noqa: S105 - an RFC 7230 token, not a password
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))\s*')


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` value into challenges (pure). Unparseable remainders are ignored.

    Handles several challenges in one header (``Basic realm="x", Bearer realm="y"``), quoted strings with
    escapes and commas inside quotes, and bare token values.
    """
    challenges: list[Challenge] = []
    pos = 0
    text = header or ""
    while pos < len(text):
        m = re.compile(rf"[\s,]*({_TOKEN})(?=\s|$|,)").match(text, pos)
        if not m:
            break
        scheme = m.group(1).lower()
        pos = m.end()
        params: dict[str, str] = {}
        while True:
            pm = _PARAM.match(text, pos)
            if not pm:
                break
            value = pm.group(2)
            value = re.sub(r"\\(.)", r"\1", value) if value is not None else pm.group(3)
            params[pm.group(1).lower()] = value
            pos = pm.end()
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            break
        challenges.append(Challenge(scheme=scheme, params=params))
    return challenges
