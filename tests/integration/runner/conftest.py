"""Fixtures for the local runner's tests against the real Docker engine.

* ``hello_image`` — ``examples/01-hello-world`` built from its own Dockerfile (tag as in its task files);
* ``busybox_image`` — a plain ``FROM scratch`` + static busybox image without ``processing-container.json``;
* ``cli`` — runs ``python -m task_api.cli`` as a subprocess (the real front end, no in-process shortcuts);
* ``engine`` — task-api's own :class:`DockerEngine` client, for checks the tests make;
* ``cleanup`` — force-removes, at the end of a test, every container a record in the test's folder names.

Images are built from the local busybox (nothing is pulled); the engine is started by ``hack/docker-up.sh``
through the shared ``docker_engine`` fixture.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from task_api.runner.engine import DockerEngine
from task_api.runner.errors import ContainerNotFound
from task_api.runner.plan import LABEL_MANAGED
from tests.fixtures.docker import BUSYBOX_DOCKERFILE, ROOT, make_context
from tests.fixtures.docker import DockerEngine as DockerCli

EXAMPLE = ROOT / "examples" / "01-hello-world"
#: The example's own tag, used only by the test of the guide's command lines; the other tests use a tag of
#: their own, so another session removing or rebuilding the example's tag cannot pull the rug out (or make the
#: runner try to pull it from Docker Hub).
EXAMPLE_TAG = "task-api-example/hello-world:dev"
HELLO_TAG = "task-api-test/runner-hello:1"
BUSYBOX_TAG = "task-api-test/runner-busybox:1"
VENV_BIN = Path(sys.executable).parent
#: Gives this module's images IDs of their own (identical builds elsewhere would share the ID otherwise).
TEST_LABEL = {"io.task-api.test": "tests/integration/runner"}

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def hello_image(docker_engine: DockerCli, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The hello-world example image, built with the example's Dockerfile."""
    context = tmp_path_factory.mktemp("hello-context")
    shutil.copytree(EXAMPLE / "scripts", context / "scripts")
    shutil.copy2(EXAMPLE / "processing-container.json", context / "processing-container.json")
    make_context(context, (EXAMPLE / "Dockerfile").read_text())
    docker_engine.build(context, HELLO_TAG, labels=TEST_LABEL)
    # The example's tag is what examples/01-hello-world/build.sh makes; it is left in place afterwards.
    docker_engine.run("tag", HELLO_TAG, EXAMPLE_TAG)
    return HELLO_TAG


@pytest.fixture(scope="session")
def busybox_image(docker_engine: DockerCli, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Busybox and nothing else: no processing-container.json, no label."""
    context = make_context(tmp_path_factory.mktemp("busybox-context"), BUSYBOX_DOCKERFILE)
    docker_engine.build(context, BUSYBOX_TAG, labels=TEST_LABEL)
    return BUSYBOX_TAG


@pytest.fixture
def engine(docker_engine: DockerCli) -> Iterator[DockerEngine]:
    with DockerEngine() as client:
        yield client


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for CLI subprocesses: the venv first on PATH, so ``python3`` is the project's."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("TASK_API_DEBUG", None)
    env.update(extra or {})
    return env


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """Run ``python -m task_api.cli ARGS`` in ``cwd`` (default the test's folder); never raises on failure."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120):  # type: ignore[no-untyped-def]
        return subprocess.run(
            [sys.executable, "-m", "task_api.cli", *args],
            cwd=cwd or tmp_path,
            env=cli_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


def container_ids(engine: DockerEngine) -> set[str]:
    """The containers a run of ours could have created: those made from this module's images (their IDs are
    unique to these tests: the builds carry a label of their own) or labelled by task-api. Other engineers'
    tests share the engine and create containers of their own meanwhile; those must not count."""
    ours = {info["Id"] for tag in (HELLO_TAG, BUSYBOX_TAG) if (info := engine.image_inspect(tag)) is not None}
    return {
        str(c["Id"])
        for c in engine.list_containers()
        if c.get("ImageID") in ours or (c.get("Labels") or {}).get(LABEL_MANAGED) == "task-api"
    }


@pytest.fixture
def cleanup(tmp_path: Path, engine: DockerEngine) -> Iterator[list[str]]:
    """Container IDs to remove at the end; records under the test's folder are found automatically."""
    extra: list[str] = []
    yield extra
    ids = set(extra)
    for record in tmp_path.rglob("task_run-*.json"):
        try:
            ids.add(json.loads(record.read_text())["container_id"])
        except (ValueError, KeyError, OSError):
            continue
    for container_id in ids:
        with contextlib.suppress(ContainerNotFound):
            engine.remove_container(container_id, force=True)


def write_task(directory: Path, task: dict[str, Any], name: str = "task.json") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(task, indent=2) + "\n")
    return path


def inline_task(image: str, command: list[str], **extra: Any) -> dict[str, Any]:
    """A task with an inline template: one input ``in`` at /data/in, one output ``out`` at /data/out."""
    template: dict[str, Any] = {
        "identifier": "inline",
        "description": "a test template",
        "inputs": [{"name": "in", "mounted_path": "/data/in"}],
        "outputs": [{"name": "out", "mounted_path": "/data/out"}],
        "command": command,
    }
    template.update(extra.pop("template", {}))
    task: dict[str, Any] = {
        "name": "runner-test",
        "image": image,
        "taskTemplate": template,
        "inputs": [{"name": "in", "volume_source": {"host_path": "input"}}],
        "outputs": [{"name": "out", "volume_source": {"host_path": "output"}}],
        "config": {"type": "docker"},
    }
    task.update(extra)
    return task


def record_of(done: subprocess.CompletedProcess[str], cwd: Path) -> Path:
    """The record path ``run`` printed as its last stdout line."""
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines, f"run printed no record path; stderr: {done.stderr}"
    path = Path(lines[-1])
    return path if path.is_absolute() else cwd / path
