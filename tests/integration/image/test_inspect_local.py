"""inspect_local_image against the real Docker engine: labels, the file, whiteouts, and never running."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from task_api.image import (
    DockerEngineError,
    ImageNotFound,
    InspectionSource,
    SpecFileMissing,
    inspect_local_image,
)
from tests.fixtures.docker import BUSYBOX_DOCKERFILE, DockerEngine, make_context
from tests.integration.image.conftest import Build, Pushed, pc_json

pytestmark = [pytest.mark.docker, pytest.mark.registry]


def test_label(label_image: Pushed) -> None:
    got = inspect_local_image(label_image.tag)
    assert (got.source, got.found_in, got.container.name) == (InspectionSource.DOCKER_ENGINE, "label", "from-label")
    assert got.digest == label_image.digest  # pushed, so the engine knows the registry digest
    assert got.reference.endswith(f"{label_image.repo}@{label_image.digest}")


def test_file_through_a_container_that_never_starts(docker_engine: DockerEngine, layer_image: Pushed) -> None:
    since = int(time.time()) - 1
    got = inspect_local_image(layer_image.tag)
    until = int(time.time()) + 1
    assert (got.found_in, got.container.name) == ("layer", "layer")
    events = docker_engine.run(
        "events", "--since", str(since), "--until", str(until), "--format", "{{json .}}",
        "--filter", "type=container", "--filter", "label=io.task-api.inspect",
    ).stdout  # fmt: skip
    actions = [json.loads(line)["Action"] for line in events.splitlines() if line.strip()]
    # Only the reader's containers (labelled): builds and other users of the engine start theirs.
    assert "create" in actions and "destroy" in actions  # the reader really went through a container
    assert "start" not in actions  # ... and never ran the image
    leftover = docker_engine.run("ps", "-a", "-q", "--filter", "label=io.task-api.inspect").stdout.strip()
    assert leftover == ""


def test_local_only_image(docker_engine: DockerEngine, tmp_path: Path) -> None:
    context = make_context(
        tmp_path / "ctx",
        BUSYBOX_DOCKERFILE + 'COPY processing-container.json /\nCMD ["sh", "-c", "touch /ran"]\n',
        {"processing-container.json": pc_json("local-only")},
    )
    image_id = docker_engine.build(context, "task-api-itest/local-only:dev")
    got = inspect_local_image("task-api-itest/local-only:dev")
    assert got.container.name == "local-only"
    assert got.digest == image_id == got.reference  # no registry digest: the image ID
    assert inspect_local_image(image_id).container.name == "local-only"


def test_whiteout(build_push: Build) -> None:
    image = build_push(
        "whiteout-local",
        "COPY processing-container.json /\nRUN rm /processing-container.json\n",
        {"processing-container.json": pc_json("gone")},
    )
    with pytest.raises(SpecFileMissing):
        inspect_local_image(image.tag)


def test_unknown_image() -> None:
    with pytest.raises(ImageNotFound, match="no such image"):
        inspect_local_image("task-api-itest/never-built:nope")


def test_engine_unreachable(tmp_path: Path) -> None:
    with pytest.raises(DockerEngineError) as caught:
        inspect_local_image("busybox", docker_host=f"unix://{tmp_path}/absent.sock")
    assert caught.value.transient is True
