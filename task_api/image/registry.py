"""A small OCI distribution client: manifests and blobs of one repository, with authentication.

Authentication follows the distribution spec and Docker's token flow. A request goes out with whatever
authorization the client already holds for the host; on ``401`` the ``WWW-Authenticate`` challenge decides:

* ``Basic`` — resend with the credentials (if there are none: :class:`RegistryUnauthorized`);
* ``Bearer realm=…,service=…,scope=…`` — get a token from the realm (``GET`` with Basic credentials, or
  anonymously; ``POST`` with ``grant_type=refresh_token`` for identity tokens), then resend with it.

Where the client may connect is an :class:`~task_api.image.egress.EgressPolicy`: which hosts get plain HTTP,
which hosts a token realm or a redirect may name, which addresses may be reached. Without one (the CLI), any host
is allowed, loopback registries get plain HTTP, and credentials (Basic, or to a token realm) are never sent over
plain HTTP to any other host (:class:`InsecureTransport`). Redirects (blob storage) are followed here, one hop at
a time, each target checked by the policy; the ``Authorization`` header goes only to the registry's own origin.

How much one client may cost is an :class:`~task_api.image.limits.InspectionLimits`: every connect, read and
write ends by the client's deadline, and every byte received counts against its budget
(:mod:`task_api.image.transport`).

Every request is counted by kind (``auth``, ``manifest``, ``blob``) and every body byte read is counted.
Manifests are verified against the digest that named them and against ``Docker-Content-Digest``.
Errors never carry headers, tokens or passwords: messages are built from status codes and the registry's
error codes only.

All of it does network I/O. A client is used by one thread at a time; create one per inspection.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import ssl
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import certifi
import httpx

from task_api.image.auth import Challenge, Credentials, parse_challenges
from task_api.image.egress import EgressPolicy
from task_api.image.errors import (
    DigestMismatch,
    ImageError,
    ImageNotFound,
    InsecureTransport,
    InspectionTooLarge,
    ManifestUnsupported,
    RegistryTLSError,
    RegistryUnauthorized,
    RegistryUnavailable,
)
from task_api.image.limits import InspectionLimits
from task_api.image.manifest import ACCEPT_MANIFESTS
from task_api.image.reference import ImageReference
from task_api.image.transport import Guard, guarded_transport

__all__ = ["MAX_MANIFEST_BYTES", "RegistryClient", "TokenCache"]

log = logging.getLogger(__name__)

#: Manifests and configs larger than this are refused by default (real ones are a few KiB).
MAX_MANIFEST_BYTES = InspectionLimits().max_manifest_bytes
_USER_AGENT = "task-api-image/0.1"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float


class TokenCache:
    """Bearer tokens by (realm, service, scope, user), in memory only, until shortly before they expire.

    Thread-safe. Shared through :class:`task_api.image.cache.InspectionCache` so re-inspections skip the
    token round trip. Tokens are never written to disk or logged.
    """

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, str, str], _Token] = {}
        self._challenges: dict[str, Challenge] = {}
        self._lock = threading.Lock()

    def challenge(self, host: str) -> Challenge | None:
        """The challenge ``host`` answered last time (not a secret), to authenticate up front."""
        with self._lock:
            return self._challenges.get(host)

    def remember_challenge(self, host: str, challenge: Challenge) -> None:
        with self._lock:
            self._challenges[host] = challenge

    def get(self, key: tuple[str, str, str, str]) -> str | None:
        with self._lock:
            token = self._tokens.get(key)
            if token is None or token.expires_at <= time.monotonic():
                self._tokens.pop(key, None)
                return None
            return token.value

    def drop(self, key: tuple[str, str, str, str]) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def put(self, key: tuple[str, str, str, str], value: str, expires_in: float) -> None:
        with self._lock:
            # 30 s of slack so a token does not expire between our check and the registry's.
            self._tokens[key] = _Token(value, time.monotonic() + max(expires_in - 30, 0))


_ssl_lock = threading.Lock()
_ssl_contexts: dict[str, ssl.SSLContext] = {}


def _ssl_context(verify: ssl.SSLContext | str | bool) -> ssl.SSLContext | bool:
    """One shared SSLContext per CA bundle: building one costs ~20 ms, more than a whole cached inspection."""
    if isinstance(verify, ssl.SSLContext) or verify is False:
        return verify
    cafile = verify if isinstance(verify, str) else ""
    with _ssl_lock:
        context = _ssl_contexts.get(cafile)
        if context is None:
            # Without a bundle given, httpx's own default trust store (certifi, a dependency of httpx).
            context = ssl.create_default_context(cafile=cafile or certifi.where())
            _ssl_contexts[cafile] = context
        return context


class RegistryClient:
    """Talks to the registry serving ``ref`` about that one repository (network I/O)."""

    def __init__(
        self,
        ref: ImageReference,
        *,
        credentials: Credentials | None = None,
        insecure_registries: Collection[str] = (),
        timeout: float = 30.0,
        tokens: TokenCache | None = None,
        verify: ssl.SSLContext | str | bool = True,
        limits: InspectionLimits | None = None,
        egress: EgressPolicy | None = None,
    ) -> None:
        self.ref = ref
        self.host = ref.api_host
        self._credentials = credentials
        insecure = tuple(h.strip() for h in insecure_registries if h.strip())
        if egress is None:
            egress = EgressPolicy.unrestricted(insecure)
        elif insecure:
            egress = dataclasses.replace(egress, insecure_registries=(*egress.insecure_registries, *insecure))
        self.egress = egress
        self.limits = limits or InspectionLimits()
        self.guard = Guard(self.limits, image=str(ref))
        self.plain_http = egress.plain_http_allowed(self.host) or egress.plain_http_allowed(ref.registry)
        self.base = f"{'http' if self.plain_http else 'https'}://{self.host}/v2/{ref.repository}"
        self._origin = httpx.URL(self.base).copy_with(path="/", query=None)
        self._scope = f"repository:{ref.repository}:pull"
        self._tokens = tokens if tokens is not None else TokenCache()
        self._authorization: str | None = None
        self._token_key: tuple[str, str, str, str] | None = None
        self.requests: Counter[str] = Counter()
        self.bytes_read = 0
        context = _ssl_context(verify)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            # Followed in _send, hop by hop, each target checked by the egress policy.
            follow_redirects=False,
            transport=guarded_transport(guard=self.guard, policy=egress, verify=context),
            headers={"User-Agent": _USER_AGENT},
            trust_env=False,  # an http_proxy from the environment must not capture (or bypass the policy for) it
        )
        self._preauthenticate()

    def _preauthenticate(self) -> None:
        """Reuse what an earlier client learnt about this host, saving the 401 round trip."""
        known = self._tokens.challenge(self.host)
        if known is None:
            return
        if known.scheme == "basic" and self._credentials is not None and self._may_send_secret(self.base):
            self._authorization = _basic_header(self._credentials)
        elif known.scheme == "bearer" and known.realm:
            key = (known.realm, known.service or "", self._scope, self._user_key())
            token = self._tokens.get(key)
            if token is not None:
                self._token_key = key
                self._authorization = "Bearer " + token

    # -- lifecycle ---------------------------------------------------------------------------------
    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- authentication ----------------------------------------------------------------------------
    def _user_key(self) -> str:
        c = self._credentials
        if c is None:
            return ""
        # A hash, not the secret, distinguishes two credentials for the same user in the token cache.
        secret = (c.identity_token or c.password).get_secret_value()
        return c.username + ":" + hashlib.sha256(secret.encode()).hexdigest()[:16]

    def _may_send_secret(self, url: str) -> bool:
        parsed = httpx.URL(url)
        if parsed.scheme == "https":
            return True
        host = parsed.host if ":" not in parsed.host else f"[{parsed.host}]"
        return self.egress.plain_http_allowed(host if parsed.port is None else f"{host}:{parsed.port}")

    def _authenticate(self, header: str) -> None:
        challenges = parse_challenges(header)
        by_scheme = {c.scheme: c for c in challenges}
        if "bearer" in by_scheme:
            self._authorization = "Bearer " + self._bearer_token(by_scheme["bearer"])
            self._tokens.remember_challenge(self.host, by_scheme["bearer"])
        elif "basic" in by_scheme:
            if self._credentials is None:
                raise RegistryUnauthorized(
                    f"{self.ref}: the registry {self.host} requires credentials (Basic) and none were given",
                    image=str(self.ref),
                )
            if not self._may_send_secret(self.base):
                raise self._insecure_error(self.base)
            self._authorization = _basic_header(self._credentials)
            self._tokens.remember_challenge(self.host, by_scheme["basic"])
        else:
            schemes = ", ".join(sorted(by_scheme)) or "none"
            raise RegistryUnauthorized(
                f"{self.ref}: the registry {self.host} asks for authentication scheme(s) {schemes}; "
                "supported: Basic, Bearer",
                image=str(self.ref),
            )

    def _insecure_error(self, url: str) -> InsecureTransport:
        host = httpx.URL(url).host
        return InsecureTransport(
            f"{self.ref}: refusing to send credentials over plain HTTP to {host}; use HTTPS or list the "
            "registry as insecure",
            image=str(self.ref),
        )

    def _bearer_token(self, challenge: Challenge) -> str:
        realm = challenge.realm
        if not realm or not realm.startswith(("http://", "https://")):
            raise RegistryUnauthorized(
                f"{self.ref}: the registry's Bearer challenge has no usable realm URL", image=str(self.ref)
            )
        # Before anything is sent, and before the token cache: the realm is the registry's to choose, and the
        # registry is the TaskRun author's.
        self.egress.check_url(realm, registry=self.host, what="token realm", image=str(self.ref))
        service = challenge.service or ""
        scope = self._scope
        key = (realm, service, scope, self._user_key())
        self._token_key = key
        cached = self._tokens.get(key)
        if cached is not None:
            return cached
        c = self._credentials
        if c is not None and not self._may_send_secret(realm):
            raise self._insecure_error(realm)
        self.requests["auth"] += 1
        try:
            if c is not None and c.identity_token is not None:
                response = self._client.post(
                    realm,
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": c.identity_token.get_secret_value(),
                        "service": service,
                        "scope": scope,
                        "client_id": "task-api",
                    },
                )
            else:
                params = {"service": service, "scope": scope}
                auth = None
                if c is not None:
                    params["account"] = c.username
                    auth = httpx.BasicAuth(c.username, c.password.get_secret_value())
                response = self._client.get(realm, params=params, auth=auth)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, what="token service") from None
        if response.status_code in _REDIRECTS:
            raise RegistryUnauthorized(
                f"{self.ref}: the token service of {self.host} answered with a redirect ({response.status_code}); "
                "token requests are not redirected",
                image=str(self.ref),
            )
        if response.status_code in (401, 403):
            who = "the given credentials were refused" if c else "anonymous access is not allowed"
            raise RegistryUnauthorized(
                f"{self.ref}: the token service of {self.host} answered {response.status_code}: {who}",
                image=str(self.ref),
            )
        if response.status_code >= 400:
            raise self._status_error(response, what="token service", body=response.content[:65536])
        try:
            data = response.json()
        except ValueError:
            raise RegistryUnauthorized(
                f"{self.ref}: the token service of {self.host} did not answer JSON", image=str(self.ref)
            ) from None
        token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryUnauthorized(
                f"{self.ref}: the token service of {self.host} answered without a token", image=str(self.ref)
            )
        expires = data.get("expires_in")
        self._tokens.put(key, token, float(expires) if isinstance(expires, int | float) else 60.0)
        return token

    # -- requests ----------------------------------------------------------------------------------
    @contextmanager
    def _send(self, method: str, path: str, *, kind: str, accept: str | None = None) -> Iterator[httpx.Response]:
        """Send a request, authenticating on 401 (once); yields the streaming response (status < 400)."""
        url = f"{self.base}/{path}"
        for attempt in (0, 1):
            with self._follow(method, url, kind=kind, accept=accept) as response:
                if response.status_code == 401 and attempt == 0 and self._same_origin(response.url):
                    # No or stale authorization (an expired token): answer the challenge once, then retry.
                    challenge = response.headers.get("WWW-Authenticate", "")
                    if self._token_key is not None:
                        self._tokens.drop(self._token_key)
                    self._authenticate(challenge)
                    continue
                if response.status_code >= 400:
                    raise self._status_error(response, what="registry", body=_error_body(response))
                yield response
                return
        raise RegistryUnauthorized(f"{self.ref}: unreachable", image=str(self.ref))  # pragma: no cover

    def _same_origin(self, url: httpx.URL) -> bool:
        return url.copy_with(path="/", query=None) == self._origin

    @contextmanager
    def _follow(self, method: str, url: str, *, kind: str, accept: str | None) -> Iterator[httpx.Response]:
        """One request and the redirects it leads to, each target checked by the egress policy (network I/O)."""
        target = httpx.URL(url)
        for _ in range(self.limits.max_redirects + 1):
            headers = {"Accept": accept} if accept else {}
            # Credentials and tokens only ever go to the registry's own origin, never to a redirect's target.
            if self._authorization is not None and self._same_origin(target):
                headers["Authorization"] = self._authorization
            self.requests[kind] += 1
            try:
                response = self._client.send(self._client.build_request(method, target, headers=headers), stream=True)
            except httpx.HTTPError as exc:
                raise self._transport_error(exc, what="registry") from None
            # Method, path and status only: headers carry credentials and never reach the log.
            log.debug("%s %s://%s%s -> %s", method, target.scheme, target.netloc.decode(), target.path,
                      response.status_code)  # fmt: skip
            try:
                location = response.headers.get("Location")
                if response.status_code not in _REDIRECTS or not location:
                    yield response
                    return
            finally:
                response.close()
            try:
                following = target.join(location)
            except httpx.InvalidURL:
                raise self._redirect_refused("a redirect to an invalid URL") from None
            self.egress.check_url(str(following), registry=self.host, what="redirect", image=str(self.ref))
            if response.status_code == 303 and method != "HEAD":
                method = "GET"
            target = following
        raise InspectionTooLarge(
            f"{self.ref}: more than {self.limits.max_redirects} redirects for one request "
            "(TASK_API_INSPECT_MAX_REDIRECTS)",
            image=str(self.ref),
        )

    def _redirect_refused(self, why: str) -> ImageError:
        return ManifestUnsupported(f"{self.ref}: {self.host} answered with {why}", image=str(self.ref))

    def _unauthorized(self, response: httpx.Response, body: bytes = b"") -> RegistryUnauthorized:
        if self._credentials is None:
            why = "the registry requires credentials and none were given"
        else:
            why = f"the credentials for user {self._credentials.username!r} were refused or may not pull"
        codes = _error_codes(body)
        return RegistryUnauthorized(
            f"{self.ref}: {self.host} answered {response.status_code}{codes}: {why}", image=str(self.ref)
        )

    def _status_error(self, response: httpx.Response, *, what: str, body: bytes = b"") -> ImageError:
        status = response.status_code
        codes = _error_codes(body)
        if status in (401, 403):
            return self._unauthorized(response, body)
        if status == 404:
            return ImageNotFound(
                f"{self.ref}: not found on {self.host} ({status}{codes}): the repository, tag or digest does not exist",
                image=str(self.ref),
            )
        if status == 429 or status >= 500:
            return RegistryUnavailable(
                f"{self.ref}: the {what} {self.host} answered {status}{codes}; try again later",
                image=str(self.ref),
            )
        return ManifestUnsupported(f"{self.ref}: the {what} {self.host} answered {status}{codes}", image=str(self.ref))

    def _transport_error(self, exc: httpx.HTTPError, *, what: str) -> ImageError:
        if self.guard.expired():
            return self.guard.timed_out()  # an operation cut short by the deadline, not a slow single read
        kind = type(exc).__name__
        if isinstance(exc, httpx.ConnectError) and "CERTIFICATE" in str(exc).upper():
            return RegistryTLSError(
                f"{self.ref}: TLS verification of the {what} {self.host} failed", image=str(self.ref)
            )
        if isinstance(exc, httpx.TimeoutException):
            return RegistryUnavailable(f"{self.ref}: the {what} {self.host} timed out ({kind})", image=str(self.ref))
        return RegistryUnavailable(f"{self.ref}: cannot reach the {what} {self.host} ({kind})", image=str(self.ref))

    # -- manifests and blobs -----------------------------------------------------------------------
    def head_manifest(self, reference: str) -> str | None:
        """The digest the registry reports for a tag or digest (``Docker-Content-Digest``), or None."""
        with self._send("HEAD", f"manifests/{reference}", kind="manifest", accept=ACCEPT_MANIFESTS) as r:
            digest = r.headers.get("Docker-Content-Digest")
        return digest if digest and digest.startswith(("sha256:", "sha512:")) else None

    def get_manifest(self, reference: str, *, expected_size: int | None = None) -> tuple[bytes, str | None, str]:
        """GET a manifest by tag or digest; returns (body, content type, verified digest)."""
        with self._send("GET", f"manifests/{reference}", kind="manifest", accept=ACCEPT_MANIFESTS) as r:
            body = self._read_capped(r, self.limits.max_manifest_bytes, what=f"manifest {reference}")
            header_digest = r.headers.get("Docker-Content-Digest")
            content_type = r.headers.get("Content-Type")
        if reference.startswith(("sha256:", "sha512:")):
            algorithm = reference.split(":", 1)[0]
            expected = reference
        elif header_digest and header_digest.startswith(("sha256:", "sha512:")):
            algorithm = header_digest.split(":", 1)[0]
            expected = header_digest
        else:
            algorithm, expected = "sha256", None
        actual = f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"
        if expected is not None and actual != expected:
            raise DigestMismatch(
                f"{self.ref}: manifest {reference} hashes to {actual}, expected {expected}",
                image=str(self.ref),
            )
        if expected_size is not None and len(body) != expected_size:
            raise DigestMismatch(
                f"{self.ref}: manifest {reference} has {len(body)} bytes, its descriptor declares {expected_size}",
                image=str(self.ref),
            )
        return body, content_type, actual

    def get_blob(self, digest: str, *, size: int, limit: int | None = None) -> bytes:
        """GET a small blob (the image config) whole and verify its size and digest."""
        limit = self.limits.max_manifest_bytes if limit is None else limit
        if size > limit:
            raise InspectionTooLarge(
                f"{self.ref}: blob {digest} declares {size} bytes; at most {limit} are read "
                "(TASK_API_INSPECT_MAX_MANIFEST_BYTES)",
                image=str(self.ref),
            )
        with self._send("GET", f"blobs/{digest}", kind="blob") as r:
            body = self._read_capped(r, size, what=f"blob {digest}", exact=True)
        algorithm = digest.split(":", 1)[0]
        actual = f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"
        if actual != digest:
            raise DigestMismatch(f"{self.ref}: blob hashes to {actual}, expected {digest}", image=str(self.ref))
        return body

    @contextmanager
    def stream_blob(self, digest: str) -> Iterator[Iterator[bytes]]:
        """Open a blob as an iterator of raw chunks; leaving the context closes the connection at once."""
        with self._send("GET", f"blobs/{digest}", kind="blob") as r:
            yield self._counted(r)

    def _counted(self, response: httpx.Response) -> Iterator[bytes]:
        try:
            for chunk in response.iter_raw():
                self.bytes_read += len(chunk)
                yield chunk
                # Decompressing and scanning a chunk is CPU work between reads: look at the clock here too.
                self.guard.check()
        except httpx.HTTPError as exc:
            if self.guard.expired():
                raise self.guard.timed_out() from None
            raise RegistryUnavailable(
                f"{self.ref}: the transfer from {self.host} broke off ({type(exc).__name__})",
                image=str(self.ref),
            ) from None

    def _read_capped(self, response: httpx.Response, limit: int, *, what: str, exact: bool = False) -> bytes:
        body = bytearray()
        for chunk in self._counted(response):
            body += chunk
            if len(body) > limit:
                if exact:
                    raise DigestMismatch(f"{self.ref}: {what} is larger than {limit} bytes", image=str(self.ref))
                raise InspectionTooLarge(
                    f"{self.ref}: {what} is larger than {limit} bytes (TASK_API_INSPECT_MAX_MANIFEST_BYTES)",
                    image=str(self.ref),
                )
        if exact and len(body) != limit:
            raise RegistryUnavailable(
                f"{self.ref}: {what} ended after {len(body)} of {limit} bytes", image=str(self.ref)
            )
        return bytes(body)


def _basic_header(credentials: Credentials) -> str:
    raw = f"{credentials.username}:{credentials.password.get_secret_value()}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _error_body(response: httpx.Response, limit: int = 65536) -> bytes:
    """At most ``limit`` bytes of an error response's body (a hostile server could send gigabytes)."""
    body = bytearray()
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= limit:
                break
    except httpx.HTTPError:
        pass  # the status code alone still says what happened
    return bytes(body[:limit])


def _error_codes(body: bytes) -> str:
    """`` (MANIFEST_UNKNOWN)`` from a distribution error body; registry-chosen codes only, no details."""
    try:
        data: Any = json.loads(body) if body else None
    except ValueError:
        return ""
    if not isinstance(data, dict) or not isinstance(data.get("errors"), list):
        return ""
    codes: list[str] = [e["code"] for e in data["errors"] if isinstance(e, dict) and isinstance(e.get("code"), str)]
    codes = [c for c in codes if c.replace("_", "").isalnum()][:3]
    return f" {', '.join(codes)}" if codes else ""
