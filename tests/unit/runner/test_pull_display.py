"""The pull progress display of ``task-api run`` (CLI presentation; fed recorded engine events)."""

from __future__ import annotations

import io
from typing import Any

from task_api.cli._runs import PullDisplay

#: The engine's pull stream for an image with one new layer and one it already has.
EVENTS: list[dict[str, Any]] = [
    {"status": "Pulling from runner/x", "id": "1"},
    {"status": "Already exists", "progressDetail": {}, "id": "aaa"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "bbb"},
    {"status": "Downloading", "progressDetail": {"current": 1048576, "total": 2097152}, "id": "bbb"},
    {"status": "Download complete", "progressDetail": {}, "id": "bbb"},
    {"status": "Extracting", "progressDetail": {"current": 2097152, "total": 2097152}, "id": "bbb"},
    {"status": "Pull complete", "progressDetail": {}, "id": "bbb"},
    {"status": "Digest: sha256:abc"},
    {"status": "Status: Downloaded newer image for 127.0.0.1:5000/runner/x:1"},
]


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_without_a_terminal_one_line_per_finished_layer() -> None:
    out = Pipe()
    display = PullDisplay(out)
    for event in EVENTS:
        display(event)
    assert out.getvalue().splitlines() == [
        "  aaa: already exists (1/1 layers)",
        "  bbb: pull complete (2/2 layers, 2.0/2.0 MiB)",
        "  Digest: sha256:abc",
        "  Status: Downloaded newer image for 127.0.0.1:5000/runner/x:1",
    ]


def test_on_a_terminal_one_line_is_rewritten() -> None:
    out = Terminal()
    display = PullDisplay(out)
    for event in EVENTS[:4]:
        display(event)
    text = out.getvalue()
    assert "\n" not in text
    assert text.split("\r")[-1].rstrip() == "  1/2 layers, 1.0/2.0 MiB"
