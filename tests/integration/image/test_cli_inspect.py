"""``task-api inspect`` / ``processing-container`` as a user runs it: a real process, a real registry."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.registry import Registry
from tests.integration.image.conftest import Build, Pushed, pc_json

pytestmark = [pytest.mark.registry, pytest.mark.docker]
ROOT = Path(__file__).resolve().parents[3]


def cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "task_api.cli", "inspect", *args],
        input=stdin, capture_output=True, check=False, text=True, cwd=ROOT,
        env={**os.environ, **(env or {})}, timeout=120,
    )  # fmt: skip


def login(reg: Registry) -> tuple[list[str], str]:
    return ["--username", reg.username or "", "--password-stdin"], (reg.password or "") + "\n"


def test_table(registry: Registry, layer_image: Pushed) -> None:
    flags, password = login(registry)
    done = cli(layer_image.ref, *flags, stdin=password)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("layer")
    assert f"@{layer_image.digest}" in done.stdout
    header = next(line for line in lines if line.startswith("IDENTIFIER"))
    assert header.split() == ["IDENTIFIER", "DESCRIPTION", "INPUTS", "OUTPUTS", "CONFIGURABLE", "ENV"]
    row = lines[lines.index(header) + 1]
    assert row.split()[0] == "main" and "in" in row and "out" in row and "LEVEL=3" in row


def test_json_and_template(registry: Registry, layer_image: Pushed) -> None:
    flags, password = login(registry)
    done = cli(layer_image.ref, *flags, "--output", "json", "--template", "main", stdin=password)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["digest"] == layer_image.digest
    assert data["processing_container"]["templates"][0]["identifier"] == "main"


def test_docker_config_credentials(registry: Registry, layer_image: Pushed, tmp_path: Path) -> None:
    auth = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
    done = cli(layer_image.ref, env={"DOCKER_CONFIG": str(tmp_path)})
    assert done.returncode == 0, done.stderr


def test_wrong_password_exit_2_without_traceback_or_secret(registry: Registry, layer_image: Pushed) -> None:
    secret = "wrong-cli-password-31"
    done = cli(layer_image.ref, "--username", registry.username or "", "--password-stdin", stdin=secret)
    assert done.returncode == 2
    assert "RegistryUnauthorized" not in done.stderr and "Traceback" not in done.stderr
    assert "refused" in done.stderr and secret not in done.stderr + done.stdout


def test_invalid_file_exit_1_with_problems(registry: Registry, build_push: Build) -> None:
    bad = json.loads(pc_json("cli-bad"))
    del bad["templates"][0]["identifier"]
    image = build_push("cli-bad", "COPY processing-container.json /\n", {"processing-container.json": json.dumps(bad)})
    flags, password = login(registry)
    done = cli(image.ref, *flags, stdin=password)
    assert done.returncode == 1
    assert "templates[0].identifier" in done.stderr and "Traceback" not in done.stderr


def test_missing_file_exit_1(registry: Registry, build_push: Build) -> None:
    image = build_push("cli-missing", "ENV A=1\n")
    flags, password = login(registry)
    done = cli(image.ref, *flags, stdin=password)
    assert done.returncode == 1 and "processing-container.json" in done.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--username", "u"], "--username needs --password-stdin"),
        (["--password-stdin"], "--password-stdin needs --username"),
        (["--template", "nope"], "nope"),
        (["--platform", "linux"], "os/architecture"),
    ],
)
def test_usage_errors_exit_2(registry: Registry, layer_image: Pushed, args: list[str], says: str) -> None:
    env = {"DOCKER_CONFIG": "/nonexistent"}
    if "--template" in args:
        flags, password = login(registry)
        done = cli(layer_image.ref, *flags, *args, stdin=password, env=env)
    else:
        done = cli(layer_image.ref, *args, stdin="pw\n", env=env)
    assert done.returncode == 2
    assert says in done.stderr and "Traceback" not in done.stderr


def test_bad_reference_exit_2() -> None:
    done = cli("Not/A/Valid/Ref")
    assert done.returncode == 2 and "invalid" in done.stderr and "Traceback" not in done.stderr
