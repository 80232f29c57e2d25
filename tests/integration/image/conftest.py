"""Images for the inspection tests, built by the real Docker engine and pushed to the real registries.

Each image is built once per session (``FROM scratch`` + static busybox), pushed, and described by a
:class:`Pushed` (reference, manifest digest, local tag). The big-layer images use 256 MiB of random data from
``~/.cache/task-api/`` so the layer cannot be compressed away.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.docker import BUSYBOX_DOCKERFILE, DockerEngine, make_context, random_file
from tests.fixtures.registry import Registry

COMPAT = Path(__file__).resolve().parents[3].parent / "shared" / "compat" / "kaapana"
BIG = 256 * 1024 * 1024
LABEL = "io.task-api.processing-container"


def pc_json(name: str, identifier: str = "main") -> str:
    """A small valid processing-container.json whose name makes each image's content unique."""
    return json.dumps(
        {
            "name": name,
            "description": f"test image {name}",
            "templates": [
                {
                    "identifier": identifier,
                    "description": "the one template",
                    "env": [{"name": "LEVEL", "value": "3", "adjustable": True}],
                    "inputs": [{"name": "in", "mounted_path": "/data/in"}],
                    "outputs": [{"name": "out", "mounted_path": "/data/out"}],
                    "command": ["sh", "-c", "true"],
                }
            ],
        },
        indent=2,
    )


@dataclass(frozen=True)
class Pushed:
    """An image in a registry: ``ref`` is ``host/repo:tag``; ``digest`` the manifest digest docker reported."""

    ref: str
    digest: str
    tag: str  # the local tag, still present in the engine until the session ends
    repo: str


Build = Callable[..., Pushed]


def _builder(docker_engine: DockerEngine, reg: Registry, tmp: pytest.TempPathFactory) -> Callable[..., Pushed]:
    logged_in = False

    def build(
        name: str,
        dockerfile_tail: str,
        files: Mapping[str, bytes | str | Path] | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        dockerfile: str | None = None,
    ) -> Pushed:
        nonlocal logged_in
        if not logged_in and reg.username:
            docker_engine.login(reg.host, reg.username, reg.password or "")
            logged_in = True
        context = make_context(tmp.mktemp(f"ctx-{name}"), dockerfile or BUSYBOX_DOCKERFILE + dockerfile_tail, files)
        repo = f"itest/{name}"
        tag = f"{reg.host}/{repo}:v1"
        docker_engine.build(context, tag, labels=labels)
        digest = docker_engine.push(tag)
        return Pushed(ref=tag, digest=digest, tag=tag, repo=repo)

    return build


@pytest.fixture(scope="session")
def build_push(docker_engine: DockerEngine, registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Build:
    """Build an image and push it to the Basic-auth ``registry``."""
    return _builder(docker_engine, registry, tmp_path_factory)


@pytest.fixture(scope="session")
def build_push_token(
    docker_engine: DockerEngine, token_registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Build:
    """Build an image and push it to the Bearer-token ``token_registry``."""
    return _builder(docker_engine, token_registry, tmp_path_factory)


@pytest.fixture(scope="session")
def build_push_open(
    docker_engine: DockerEngine, open_registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Build:
    """Build an image and push it to the anonymous ``open_registry``."""
    return _builder(docker_engine, open_registry, tmp_path_factory)


@pytest.fixture(scope="session")
def layer_image(build_push: Build) -> Pushed:
    """The JSON copied in the top layer (the Kaapana way)."""
    return build_push("layer", "COPY processing-container.json /\n", {"processing-container.json": pc_json("layer")})


@pytest.fixture(scope="session")
def label_image(build_push: Build) -> Pushed:
    """The JSON both as the label (fast path) and, differently named, as a file."""
    text = pc_json("from-label")
    return build_push(
        "label",
        "COPY processing-container.json /\n",
        {"processing-container.json": pc_json("from-file")},
        labels={LABEL: text},
    )


@pytest.fixture(scope="session")
def big_file() -> Path:
    return random_file(BIG)


@pytest.fixture(scope="session")
def json_above_big(build_push: Build, big_file: Path) -> Pushed:
    """busybox, then 256 MiB of random data, then the JSON on top."""
    return build_push(
        "above-big",
        "COPY big.bin /big.bin\nCOPY processing-container.json /\n",
        {"big.bin": big_file, "processing-container.json": pc_json("above-big")},
    )


@pytest.fixture(scope="session")
def json_below_big(build_push: Build, big_file: Path) -> Pushed:
    """busybox, then the JSON, then 256 MiB of random data on top."""
    return build_push(
        "below-big",
        "COPY processing-container.json /\nCOPY big.bin /big.bin\n",
        {"big.bin": big_file, "processing-container.json": pc_json("below-big")},
    )


@pytest.fixture(scope="session")
def compat_dir() -> Path:
    if not COMPAT.is_dir():
        pytest.fail(f"the Kaapana compatibility files are missing: {COMPAT}")
    return COMPAT
