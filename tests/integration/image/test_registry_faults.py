"""Registry faults the real docker-registry cannot be made to produce on demand: 503, 429, a transfer cut short.

These use a small HTTP server in the test (a fake, on purpose and only for these faults): it answers like a
registry would under overload or a dying connection. Everything else in this directory uses the real registry.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from task_api.image import ImageNotFound, RegistryUnavailable, inspect_image

CONFIG = b'{"config": {}}'
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG).hexdigest()


def _layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = os.urandom(500_000)
        info = tarfile.TarInfo("a.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue())


LAYER = _layer()
LAYER_DIGEST = "sha256:" + hashlib.sha256(LAYER).hexdigest()
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": CONFIG_DIGEST,
                   "size": len(CONFIG)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": LAYER_DIGEST,
                    "size": len(LAYER)}],
    }
).encode()  # fmt: skip


@pytest.fixture
def faulty() -> Iterator[tuple[str, dict[str, Any]]]:
    behaviour: dict[str, Any] = {"status": 200}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:
            pass

        def _send(
            self, status: int, body: bytes, content_type: str = "application/json", length: int | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            status = behaviour["status"]
            if status != 200:
                self._send(status, b'{"errors": [{"code": "TOOMANYREQUESTS", "message": "slow down"}]}')
            elif "/manifests/" in self.path:
                self._send(200, MANIFEST, "application/vnd.docker.distribution.manifest.v2+json")
            elif self.path.endswith(CONFIG_DIGEST):
                self._send(200, CONFIG, "application/octet-stream")
            else:  # the layer: promise all of it, send the first 100 kB (valid gzip so far), hang up
                self._send(200, LAYER[:100_000], "application/octet-stream", length=len(LAYER))
                self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", behaviour
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_overload_and_server_errors_are_transient(faulty: tuple[str, dict[str, Any]], status: int) -> None:
    host, behaviour = faulty
    behaviour["status"] = status
    with pytest.raises(RegistryUnavailable) as caught:
        inspect_image(f"{host}/a/b:c", timeout=5)
    assert caught.value.transient is True
    assert str(status) in str(caught.value) and "TOOMANYREQUESTS" in str(caught.value)


def test_404_is_permanent(faulty: tuple[str, dict[str, Any]]) -> None:
    host, behaviour = faulty
    behaviour["status"] = 404
    with pytest.raises(ImageNotFound) as caught:
        inspect_image(f"{host}/a/b:c", timeout=5)
    assert caught.value.transient is False


def test_transfer_cut_short_is_transient(faulty: tuple[str, dict[str, Any]]) -> None:
    host, _ = faulty
    with pytest.raises(RegistryUnavailable, match="broke off") as caught:
        inspect_image(f"{host}/a/b:c", timeout=5)
    assert caught.value.transient is True
