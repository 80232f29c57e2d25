"""`task-api run task.json --mode k8s` on the test bed: the same file that runs with Docker, followed to its end."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import Namespace

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
INPUT = "input"


def cli(run_ns: Namespace, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "task_api.cli", *args],
        cwd=ROOT,
        env={**run_ns.testbed.env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_run_mode_k8s_follows_the_run_and_exits_with_its_outcome(
    run_ns: Namespace, make_pvc: Callable[..., Path], example_image: Callable[[str], str], tmp_path: Path
) -> None:
    data = make_pvc(run_ns.name, "data")
    results = make_pvc(run_ns.name, "results")
    shutil.copytree(ROOT / "examples" / "01-hello-world" / "input", data / "input")
    task = {
        "name": "hello k8s",
        "image": example_image("01-hello-world"),
        "taskTemplate": "checksum",
        "inputs": [{"name": "in", "volume_source": {"persistentVolumeClaim": {"claimName": "data"}, "subPath": INPUT}}],
        "outputs": [{"name": "out", "volume_source": {"persistentVolumeClaim": {"claimName": "results"}}}],
        "env": [{"name": "GREETING", "value": "{{ env.GREETING }}"}],
        "config": {"type": "k8s", "namespace": run_ns.name, "imagePullSecrets": ["task-api-registry"]},
    }  # fmt: skip
    path = tmp_path / "task.json"
    path.write_text(json.dumps(task))
    done = cli(run_ns, "run", str(path), "--mode", "k8s", env={"GREETING": "bonjour"})
    assert done.returncode == 0, done.stderr
    assert "bonjour: sha256 of 3 file(s)" in done.stdout  # the pod's log, streamed
    assert "finished: Succeeded" in done.stderr
    sums = dict(line.split()[::-1] for line in (results / "checksums.sha256").read_text().splitlines())
    for name, digest in sums.items():
        assert hashlib.sha256((data / "input" / name).read_bytes()).hexdigest() == digest

    failing = {**task, "name": "hello fails", "command": ["sh", "-c", "echo boom; exit 7"]}
    path.write_text(json.dumps(failing))
    done = cli(run_ns, "run", str(path), "--mode", "k8s", env={"GREETING": "x"})
    assert done.returncode == 7, done.stderr
    assert "boom" in done.stdout and "finished: Failed" in done.stderr


def test_run_mode_k8s_refuses_host_paths_before_creating_anything(run_ns: Namespace, tmp_path: Path) -> None:
    task = {
        "name": "hostly",
        "image": "127.0.0.1:5000/examples/hello-world:e2e",
        "taskTemplate": "checksum",
        "inputs": [{"name": "in", "volume_source": {"host_path": "/etc"}}],
        "outputs": [{"name": "out", "volume_source": {"persistentVolumeClaim": {"claimName": "task-api-workspace"}}}],
        "config": {"type": "k8s", "namespace": run_ns.name},
    }
    path = tmp_path / "task.json"
    path.write_text(json.dumps(task))
    done = cli(run_ns, "run", str(path), "--mode", "k8s")
    assert done.returncode == 1
    assert "does not allow this host path" in done.stderr and "/etc" in done.stderr
    assert "Traceback" not in done.stderr
    assert run_ns.kubectl("get", "taskruns", "-o", "name").stdout.strip() == ""
