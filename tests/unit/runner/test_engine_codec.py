"""The engine client's pure parts: the log stream framing, the registry auth header, host checks."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import SecretStr

from task_api.image.auth import Credentials
from task_api.runner.engine import DockerEngine, LogDemuxer, registry_auth_header
from task_api.runner.errors import EngineUnavailable


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


class TestLogDemuxer:
    def test_whole_frames(self) -> None:
        data = frame(1, b"out\n") + frame(2, b"err\n") + frame(1, b"")
        assert LogDemuxer().feed(data) == [(1, b"out\n"), (2, b"err\n"), (1, b"")]

    @pytest.mark.parametrize("cut", [1, 3, 7, 8, 9, 12, 20])
    def test_frames_split_anywhere_are_reassembled(self, cut: int) -> None:
        data = frame(1, b"hello world\n") + frame(2, b"x" * 5)
        demux = LogDemuxer()
        chunks = demux.feed(data[:cut]) + demux.feed(data[cut:])
        assert chunks == [(1, b"hello world\n"), (2, b"xxxxx")]
        assert demux.pending == 0

    def test_a_partial_frame_waits(self) -> None:
        demux = LogDemuxer()
        assert demux.feed(frame(1, b"abcdef")[:-2]) == []
        assert demux.pending == 12


class TestRegistryAuth:
    def decode(self, header: str) -> dict[str, str]:
        value: dict[str, str] = json.loads(base64.urlsafe_b64decode(header))
        return value

    def test_basic(self) -> None:
        header = registry_auth_header(Credentials.basic("user", "p@ss/+="), "127.0.0.1:5000")
        assert self.decode(header) == {"username": "user", "password": "p@ss/+=", "serveraddress": "127.0.0.1:5000"}

    def test_identity_token(self) -> None:
        creds = Credentials(username="<token>", password=SecretStr(""), identity_token=SecretStr("tok"))
        assert self.decode(registry_auth_header(creds, "r.example")) == {
            "identitytoken": "tok",
            "serveraddress": "r.example",
        }


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("tcp://10.1.2.3:2375", "only a unix socket or a loopback tcp:// address"),
        ("ssh://host", "expected unix:///path or tcp://127.0.0.1:port"),
    ],
)
def test_only_local_engines_are_accepted(host: str, message: str) -> None:
    with pytest.raises(EngineUnavailable, match=message):
        DockerEngine(host)


def test_an_engine_that_does_not_answer_is_a_clear_error(tmp_path: object) -> None:
    with DockerEngine(f"unix://{tmp_path}/no.sock") as engine, pytest.raises(EngineUnavailable) as caught:
        engine.list_containers()
    assert "does not answer" in str(caught.value) and "hack/docker-up.sh" in str(caught.value)
