"""The Docker runner's containers are locked down like the operator's pods, on the real Docker engine.

Each test reads what the kernel says from inside the container (``/proc/self/status``: effective capabilities,
``NoNewPrivs``; ``id``) and what the engine was told (inspect). Before issue 13 a run had Docker's default
capabilities (CHOWN, DAC_OVERRIDE, SETUID, NET_RAW, … = ``CapEff: 00000000a80425fb``), no ``no-new-privileges``,
and ran as root whenever the invoking user was root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from task_api.runner.engine import DockerEngine
from tests.integration.runner.conftest import Cli, inline_task, record_of, write_task

pytestmark = pytest.mark.docker

# What the container reports about itself, one line each, into its output.
PROBE = [
    "sh",
    "-c",
    "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status > /data/out/status; id -u > /data/out/uid; "
    "id -g > /data/out/gid",
]


def prepare(tmp_path: Path, image: str, **config: object) -> Path:
    work = tmp_path / "work"
    (work / "input").mkdir(parents=True)
    (work / "input" / "a.txt").write_text("a\n")
    task = inline_task(image, PROBE)
    task["config"] = {"type": "docker", **config}
    write_task(work, task)
    return work


def status(work: Path) -> dict[str, str]:
    lines = (work / "output" / "status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines)


def test_no_capabilities_and_no_new_privileges_by_default(
    tmp_path: Path, busybox_image: str, cli: Cli, engine: DockerEngine, cleanup: list[str]
) -> None:
    work = prepare(tmp_path, busybox_image)
    done = cli("run", "task.json", "--watch", cwd=work)
    assert done.returncode == 0, done.stderr
    assert status(work) == {"CapEff": "0000000000000000", "NoNewPrivs": "1"}
    host = engine.inspect_container(json.loads(record_of(done, work).read_text())["container_id"])["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges:true"]


@pytest.mark.skipif(os.getuid() != 0, reason="the root default applies when task-api itself runs as root")
def test_root_invoker_runs_the_container_unprivileged(
    tmp_path: Path, busybox_image: str, cli: Cli, cleanup: list[str]
) -> None:
    work = prepare(tmp_path, busybox_image)
    done = cli("run", "task.json", "--watch", cwd=work)
    assert done.returncode == 0, done.stderr
    assert (work / "output" / "uid").read_text().strip() == "65534"
    produced = work / "output" / "status"
    assert (produced.stat().st_uid, produced.stat().st_gid) == (65534, 65534)
    assert json.loads(record_of(done, work).read_text())["user"] == "65534:65534"


def test_root_and_capabilities_only_when_asked(
    tmp_path: Path, busybox_image: str, cli: Cli, cleanup: list[str]
) -> None:
    work = prepare(tmp_path, busybox_image, capabilities=["chown"])
    done = cli("run", "task.json", "--watch", "--user", "0:0", "--cap-add", "CAP_FOWNER", cwd=work)
    assert done.returncode == 0, done.stderr
    assert (work / "output" / "uid").read_text().strip() == "0"
    # CHOWN is bit 0, FOWNER bit 3: exactly those two, nothing else of Docker's default set.
    assert status(work) == {"CapEff": "0000000000000009", "NoNewPrivs": "1"}


def test_the_tasks_config_user_is_used_unless_the_command_line_says_otherwise(
    tmp_path: Path, busybox_image: str, cli: Cli, cleanup: list[str]
) -> None:
    work = prepare(tmp_path, busybox_image, user="4321:4321")
    (work / "output").mkdir()
    (work / "output").chmod(0o777)
    done = cli("run", "task.json", "--watch", cwd=work)
    assert done.returncode == 0, done.stderr
    assert (work / "output" / "uid").read_text().strip() == "4321"


def test_an_output_the_user_cannot_write_is_refused_before_anything_starts(
    tmp_path: Path, busybox_image: str, cli: Cli, engine: DockerEngine, cleanup: list[str]
) -> None:
    work = prepare(tmp_path, busybox_image)
    (work / "output").mkdir(mode=0o755)
    before = {c["Id"] for c in engine.list_containers()}
    done = cli("run", "task.json", "--user", "4321:4321", cwd=work)
    assert done.returncode != 0
    assert "output 'out': the container's user 4321:4321 cannot write to it" in done.stderr
    assert "mode 755" in done.stderr and "CAP_DAC_OVERRIDE" in done.stderr
    assert "Traceback" not in done.stderr
    assert {c["Id"] for c in engine.list_containers()} == before
    assert list(work.glob("task_run-*.json")) == []


def test_an_unknown_capability_is_a_clear_error(tmp_path: Path, busybox_image: str, cli: Cli) -> None:
    work = prepare(tmp_path, busybox_image)
    done = cli("run", "task.json", "--cap-add", "ALL", cwd=work)
    assert done.returncode == 2
    assert 'task-api run: --cap-add: not a Linux capability (name each one; ALL is not accepted) (given "ALL"' in (
        done.stderr
    )
    bad = prepare(tmp_path / "b", busybox_image, capabilities=["SYS_EVERYTHING"])
    done = cli("run", "task.json", cwd=bad)
    assert done.returncode != 0
    assert "config.capabilities[0]" in done.stderr and "SYS_EVERYTHING" in done.stderr
