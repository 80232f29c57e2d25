"""Run settings that mean the same with Docker as on Kubernetes, against the real engine: an empty command, NFS
channels, ``config.imagePullPolicy``, ``config.registryUrl``."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from task_api.runner.engine import DockerEngine
from task_api.runner.plan import LABEL_TASK
from tests.fixtures.docker import BUSYBOX_DOCKERFILE, make_context
from tests.fixtures.docker import DockerEngine as DockerCli
from tests.integration.runner.conftest import TEST_LABEL, Cli, inline_task, write_task

pytestmark = pytest.mark.docker

CMD_TAG = "task-api-test/runner-cmd:1"


def task_of(image: str, command: list[str], **extra: Any) -> dict[str, Any]:
    """An inline task with a name of its own, so the containers of this run (if any) can be told apart from those
    of other tests sharing the engine."""
    return {**inline_task(image, command, **extra), "name": f"settings-{secrets.token_hex(4)}"}


def containers_of(engine: DockerEngine, task: dict[str, Any]) -> list[str]:
    return [str(c["Id"]) for c in engine.list_containers() if (c.get("Labels") or {}).get(LABEL_TASK) == task["name"]]


@pytest.fixture(scope="session")
def cmd_image(docker_engine: DockerCli, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Busybox whose own CMD says so."""
    dockerfile = BUSYBOX_DOCKERFILE + 'CMD ["/bin/sh", "-c", "echo from the image CMD"]\n'
    docker_engine.build(make_context(tmp_path_factory.mktemp("cmd-context"), dockerfile), CMD_TAG, labels=TEST_LABEL)
    return CMD_TAG


def test_an_empty_command_runs_the_images_own_as_a_pod_would(
    tmp_path: Path, cmd_image: str, cli: Cli, cleanup: list[str]
) -> None:
    (tmp_path / "input").mkdir()
    task = task_of(cmd_image, ["/bin/sh", "-c", "echo from the template"])
    task["command"] = []  # the task's own command: empty
    write_task(tmp_path, task)
    done = cli("run", "task.json", "--watch")
    assert done.returncode == 0, done.stderr
    assert "from the image CMD" in done.stdout and "from the template" not in done.stdout


def test_nfs_channels_become_nfs_volumes_of_the_engine(
    tmp_path: Path, cmd_image: str, cli: Cli, engine: DockerEngine, cleanup: list[str]
) -> None:
    # This machine's kernel has no NFS client (no "nfs" in /proc/filesystems), so the engine cannot mount the
    # export: the start fails, and that failure must be a clear message that leaves nothing behind. Where the kernel
    # has NFS, the same volume mounts (the pod side is checked with golden objects: tests/unit/core/test_pod.py).
    task = task_of(cmd_image, ["true"])
    task["inputs"] = [{"name": "in", "volume_source": {"nfs": {"server": "127.0.0.1", "path": "/exports"},
                                                       "subPath": "in"}}]  # fmt: skip
    write_task(tmp_path, task)
    done = cli("run", "task.json", "--watch")
    nfs_here = "nfs" in Path("/proc/filesystems").read_text().split()
    if nfs_here:
        pytest.skip("this kernel has an NFS client: an NFS server fixture is needed to run the task for real")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "NFS" in done.stderr and "127.0.0.1:/exports" in done.stderr, done.stderr
    assert containers_of(engine, task) == []
    assert not list(tmp_path.glob("task_run-*.json"))


def test_an_nfs_input_with_a_scale_rule_is_refused_before_anything_starts(
    tmp_path: Path, cmd_image: str, cli: Cli, engine: DockerEngine
) -> None:
    rule = {"type": "limit", "mode": "sum", "scale_factor": 2}
    task = task_of(cmd_image, ["true"], template={"inputs": [{"name": "in", "mounted_path": "/data/in",
                                                                  "scale_rule": rule}]})  # fmt: skip
    task["inputs"] = [{"name": "in", "volume_source": {"nfs": {"server": "nfs.example", "path": "/exports"}}}]
    write_task(tmp_path, task)
    done = cli("run", "task.json")
    assert done.returncode == 1
    assert "inputs[0].volume_source" in done.stderr and "cannot measure it" in done.stderr
    assert containers_of(engine, task) == []


@pytest.mark.parametrize(
    ("policy", "args", "expected"),
    [
        ("Never", (), "not in the local Docker engine, and config.imagePullPolicy is Never"),
        ("Always", ("--no-pull",), "config.imagePullPolicy is Always, and --no-pull forbids pulling"),
        ("Always", (), "pull 127.0.0.1:1/"),
    ],
)
def test_image_pull_policy(
    tmp_path: Path,
    cmd_image: str,
    cli: Cli,
    engine: DockerEngine,
    docker_engine: DockerCli,
    policy: str,
    args: tuple[str, ...],
    expected: str,
) -> None:
    (tmp_path / "input").mkdir()
    # "Never" names an image the engine lacks; "Always" one it has (tagged here), which must be pulled anyway.
    image = "127.0.0.1:1/not/there:1" if policy == "Never" else "127.0.0.1:1/task-api-test/cmd:1"
    if policy == "Always":
        docker_engine.run("tag", cmd_image, image)
    try:
        task = task_of(image, ["true"], config={"type": "k8s", "imagePullPolicy": policy})
        write_task(tmp_path, task)
        done = cli("run", "task.json", *args)
        assert done.returncode == 1, done.stderr
        assert expected in done.stderr and "Traceback" not in done.stderr
        assert containers_of(engine, task) == []
    finally:
        if policy == "Always":
            docker_engine.run("rmi", image)


def test_a_registry_url_of_another_registry_is_refused(tmp_path: Path, cmd_image: str, cli: Cli) -> None:
    (tmp_path / "input").mkdir()
    task = task_of(cmd_image, ["true"], config={"type": "k8s", "registryUrl": "https://registry.example/project"})
    write_task(tmp_path, task)
    done = cli("run", "task.json")
    assert done.returncode == 1
    assert "config.registryUrl: the image is in registry 'docker.io'" in done.stderr
    assert "given 'registry.example'" in done.stderr
