"""The migrated legacy example (examples/05-legacy) with ``task-api run --mode docker`` on the real engine.

The legacy image is built as it was (no processing-container.json), migrated with ``task-api legacy init`` and
run through the real CLI; the tests read the outputs the unchanged legacy script wrote.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fixtures.docker import DockerEngine

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "05-legacy"
VENV_BIN = Path(sys.executable).parent

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("TASK_API_DEBUG", None)
    return env


@pytest.fixture(scope="module")
def legacy_images(docker_engine: DockerEngine) -> Iterator[tuple[str, str]]:
    """(legacy image as it was, migrated image) built with the example's build.sh."""
    suffix = secrets.token_hex(3)
    migrated = f"task-api-test/legacy-{suffix}:1"
    old = f"task-api-test/legacy-{suffix}-old:1"
    subprocess.run([str(EXAMPLE / "build.sh"), migrated], check=True, capture_output=True, env=docker_engine.env())
    docker_engine.created += [migrated, old]
    yield old, migrated


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    """``python -m task_api.cli ARGS`` in a folder; containers of the run records there are removed afterwards."""

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "task_api.cli", *args], cwd=cwd, env=_env(),
                              capture_output=True, text=True, timeout=180, check=False)  # fmt: skip

    yield run
    for record in tmp_path.rglob("task_run-*.json"):
        data = json.loads(record.read_text())
        subprocess.run(["/usr/bin/docker", "rm", "-f", data["container_id"]], capture_output=True, check=False)


def _workspace(tmp_path: Path, image: str) -> Path:
    work = tmp_path / "example"
    shutil.copytree(EXAMPLE / "input", work / "input")
    task = json.loads((EXAMPLE / "task.json").read_text())
    task["image"] = image
    (work / "task.json").write_text(json.dumps(task))
    return work


def _container_label(container_id: str, label: str) -> str:
    done = subprocess.run(
        ["/usr/bin/docker", "inspect", "--format", f'{{{{index .Config.Labels "{label}"}}}}', container_id],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def _containers(image: str) -> set[str]:
    listing = subprocess.run(["/usr/bin/docker", "ps", "-a", "-q", "--no-trunc", "--filter", f"ancestor={image}"],
                             capture_output=True, text=True, check=True)  # fmt: skip
    return set(listing.stdout.split())


def _check_outputs(work: Path) -> None:
    out = work / "output"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "case-1/large-files.txt",
        "case-1/summary.txt",
        "case-2/large-files.txt",
        "case-2/summary.txt",
    ]
    summary = dict(line.split("=", 1) for line in (out / "case-1" / "summary.txt").read_text().splitlines())
    # THRESHOLD=8 from the task's env reached the script through conf.json; the label from TASK_API_LEGACY_CONF.
    assert summary == {"element": "case-1", "files": "2", "threshold": "8", "label": "from-task",
                       "greeting": "hello"}  # fmt: skip
    for element in ("case-1", "case-2"):
        sizes = {p.name: p.stat().st_size for p in (work / "input" / element).iterdir()}
        expected = sorted(f"{name} {size}" for name, size in sizes.items() if size >= 8)
        assert sorted((out / element / "large-files.txt").read_text().splitlines()) == expected


def test_migrated_example_runs_unchanged_in_docker_mode(
    legacy_images: tuple[str, str], cli: Cli, tmp_path: Path
) -> None:
    work = _workspace(tmp_path, legacy_images[1])
    before = {p: p.read_bytes() for p in (work / "input").rglob("*") if p.is_file()}
    done = cli("run", "task.json", "--mode", "docker", "--watch", cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "processed 2 element(s)" in done.stdout
    _check_outputs(work)
    assert {p: p.read_bytes() for p in (work / "input").rglob("*") if p.is_file()} == before
    (record,) = work.glob("task_run-*.json")
    container_id = json.loads(record.read_text())["container_id"]
    scratch = Path(_container_label(container_id, "io.task-api.legacy-workflow-dir"))
    try:
        # The scratch dir is the legacy WORKFLOW_DIR: copies of the inputs, links to the output, conf.json.
        assert (scratch / "batch" / "case-1" / "dcm-converter" / "large.txt").is_file()
        assert (scratch / "batch" / "case-1" / "large-files").is_symlink()
        conf = json.loads((scratch / "conf" / "conf.json").read_text())
        assert conf == {"label": "from-task", "workflow_form": {"threshold": "8"}}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_link_mode_migration_runs_without_copying(
    legacy_images: tuple[str, str], docker_engine: DockerEngine, cli: Cli, tmp_path: Path
) -> None:
    context = tmp_path / "context"
    context.mkdir()
    shutil.copy2(EXAMPLE / "Dockerfile", context / "Dockerfile")
    migrate = subprocess.run(
        [str(EXAMPLE / "migrate.sh"), str(context / "processing-container.json")],
        env={**_env(), "TASK_API": f"{sys.executable} -m task_api.cli"}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert migrate.returncode == 0
    pc = json.loads((context / "processing-container.json").read_text())
    for var in pc["templates"][0]["env"]:
        if var["name"] == "TASK_API_LEGACY":
            var["value"] = var["value"].replace('"stage":"copy"', '"stage":"link"')
    (context / "processing-container.json").write_text(json.dumps(pc))
    tag = legacy_images[1].replace(":1", "-link:1")
    subprocess.run(["/usr/bin/docker", "build", "-q", "--build-arg", f"LEGACY_IMAGE={legacy_images[0]}",
                    "-t", tag, str(context)], check=True, capture_output=True)  # fmt: skip
    docker_engine.created.append(tag)
    work = _workspace(tmp_path, tag)
    done = cli("run", "task.json", "--mode", "docker", "--watch", cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    _check_outputs(work)
    (record,) = work.glob("task_run-*.json")
    scratch = Path(_container_label(json.loads(record.read_text())["container_id"], "io.task-api.legacy-workflow-dir"))
    try:
        link = scratch / "batch" / "case-1" / "dcm-converter"
        assert link.is_symlink() and os.readlink(link) == "/task-api/legacy/inputs/input/case-1"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_a_file_at_the_batch_level_is_refused_before_any_container(
    legacy_images: tuple[str, str], cli: Cli, tmp_path: Path
) -> None:
    work = _workspace(tmp_path, legacy_images[1])
    (work / "input" / "stray.txt").write_text("belongs in an element folder\n")
    before = _containers(legacy_images[1])
    done = cli("run", "task.json", "--mode", "docker", cwd=work)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "per-element mode expects one directory per batch element" in done.stderr
    assert '"stray.txt"' in done.stderr and str(work / "input") in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(work.glob("task_run-*.json"))
    assert _containers(legacy_images[1]) == before


def test_the_legacy_image_alone_cannot_run_under_task_api(
    legacy_images: tuple[str, str], cli: Cli, tmp_path: Path
) -> None:
    """Why the migration exists: without processing-container.json task-api refuses the image, clearly."""
    work = _workspace(tmp_path, legacy_images[0])
    done = cli("run", "task.json", "--mode", "docker", cwd=work)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "processing-container.json" in done.stderr
    assert "Traceback" not in done.stderr
