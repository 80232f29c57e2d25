"""An OIDC user (``auth-provider: oidc``) through the `kubernetes` package's loader: an ID token that has expired is
refreshed at the issuer with the refresh token, the new tokens are used and written back into the kubeconfig.

There is no identity provider on this machine, so a stand-in answers the two requests the refresh makes (the
discovery document and the token endpoint's refresh grant) over plain HTTP on loopback; everything on the client
side is the package's own code. What the API server does with an OIDC token is outside the test bed (it has no
OIDC issuer configured).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import yaml

from task_api.kube.access import ClusterAccess
from tests.fixtures.kubeconfigs import kubeconfig_doc, write_kubeconfig


def jwt(exp: float, subject: str) -> str:
    """An unsigned JWT-shaped token (the client only reads its ``exp``; signatures are the API server's business)."""

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'exp': int(exp), 'sub': subject, 'pad': 'x' * 7})}.sig"


class Issuer(ThreadingHTTPServer):
    refreshed: list[dict[str, list[str]]]


class Handler(BaseHTTPRequestHandler):
    server: Issuer

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _json(self, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        host = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._json({"issuer": host, "token_endpoint": f"{host}/token"})

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        self.server.refreshed.append(form)
        self._json({"access_token": "a", "token_type": "Bearer", "expires_in": 3600,
                    "id_token": jwt(time.time() + 3600, "refreshed"), "refresh_token": "refresh-2"})  # fmt: skip


@pytest.fixture
def issuer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Issuer]:
    # oauthlib refuses plain-HTTP token endpoints unless told this is a test.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    server = Issuer(("127.0.0.1", 0), Handler)
    server.refreshed = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_an_expired_id_token_is_refreshed_and_saved(tmp_path: Path, issuer: Issuer) -> None:
    stale = jwt(time.time() - 60, "stale")
    provider = {
        "name": "oidc",
        "config": {
            "idp-issuer-url": f"http://127.0.0.1:{issuer.server_address[1]}",
            "client-id": "kubernetes",
            "client-secret": "s3cret",
            "id-token": stale,
            "refresh-token": "refresh-1",
        },
    }
    doc = kubeconfig_doc(
        clusters={"c": {"server": "https://api.example.test", "insecure-skip-tls-verify": True}},
        users={"oidc-user": {"auth-provider": provider}},
        contexts={"x": {"cluster": "c", "user": "oidc-user"}},
        current="x",
    )
    path = write_kubeconfig(tmp_path / "config", doc)
    access = ClusterAccess.load(kubeconfig=path)
    token = access.bearer_token()
    assert token is not None and token != stale
    assert json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))["sub"] == "refreshed"
    (grant,) = issuer.refreshed
    assert grant["grant_type"] == ["refresh_token"] and grant["refresh_token"] == ["refresh-1"]
    # Written back as kubectl does, so the next process starts from the fresh tokens.
    saved = yaml.safe_load(path.read_text())["users"][0]["user"]["auth-provider"]["config"]
    assert saved["id-token"] == token and saved["refresh-token"] == "refresh-2"


def test_a_valid_id_token_is_used_as_it_is(tmp_path: Path) -> None:
    fresh = jwt(time.time() + 3600, "me")
    provider = {"name": "oidc", "config": {"idp-issuer-url": "http://127.0.0.1:9", "client-id": "k",
                                           "id-token": fresh, "refresh-token": "r"}}  # fmt: skip
    doc = kubeconfig_doc(clusters={"c": {"server": "https://api.example.test"}},
                         users={"u": {"auth-provider": provider}},
                         contexts={"x": {"cluster": "c", "user": "u"}}, current="x")  # fmt: skip
    assert ClusterAccess.load(kubeconfig=write_kubeconfig(tmp_path / "config", doc)).bearer_token() == fresh
