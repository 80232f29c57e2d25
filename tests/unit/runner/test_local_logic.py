"""The runner's logic (prepare, start, status, wait, rm, list) against an in-memory engine.

``MemoryEngine`` implements the :class:`task_api.runner.engine.Engine` interface with dictionaries. It is a
stand-in for unit tests of *our* logic only — what happens when a start fails after the record was written,
which credentials a pull gets, what ``rm`` refuses — where the real engine would make those cases slow or
impossible to set up (a start failure *after* a successful create, a pull with credentials without a
registry). Everything the engine itself decides is tested against the real engine in
``tests/integration/runner/``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from task_api.image.auth import Credentials
from task_api.runner.engine import LogChunk
from task_api.runner.errors import ContainerNotFound, EngineError, ImageMissing, RecordError, TaskNotRunnable
from task_api.runner.local import RunOptions, prepare, start
from task_api.runner.record import read_record
from task_api.runner.runs import current_status, list_runs, load_run, remove_run, wait_run
from task_api.runner.status import Phase, RunReason

FINISHED = {"Status": "exited", "Running": False, "ExitCode": 0, "OOMKilled": False,
            "StartedAt": "2026-01-01T00:00:00Z", "FinishedAt": "2026-01-01T00:00:02Z"}  # fmt: skip
RUNNING = {
    "Status": "running",
    "Running": True,
    "StartedAt": "2026-01-01T00:00:00Z",
    "FinishedAt": "0001-01-01T00:00:00Z",
}


@dataclass
class MemoryEngine:
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    pulls: list[tuple[str, Credentials | None]] = field(default_factory=list)
    fail_start: bool = False
    counter: int = 0

    def image_inspect(self, reference: str) -> dict[str, Any] | None:
        return self.images.get(reference)

    def pull(
        self,
        reference: str,
        *,
        credentials: Credentials | None,
        on_progress: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        self.pulls.append((reference, credentials))
        self.images[reference] = {"Id": "sha256:" + "1" * 64}

    def create_container(self, config: Mapping[str, Any], *, name: str | None = None) -> str:
        self.counter += 1
        container_id = f"{self.counter:012x}" + "f" * 52
        self.containers[container_id] = {"Config": dict(config), "State": {"Status": "created"}}
        return container_id

    def start_container(self, container_id: str) -> None:
        if self.fail_start:
            raise EngineError("start container: the engine answered 400: exec: not found", status=400)
        self.containers[container_id]["State"] = dict(RUNNING)

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        if container_id not in self.containers:
            raise ContainerNotFound(f"container {container_id[:12]}: no such container", status=404)
        return self.containers[container_id]

    def wait_container(self, container_id: str) -> int:
        self.inspect_container(container_id)["State"] = dict(FINISHED)
        return 0

    def logs(
        self, container_id: str, *, follow: bool, tail: int | None = None, timestamps: bool = False
    ) -> Iterator[LogChunk]:
        return iter([(1, b"hello\n")])

    def stats(self, container_id: str) -> dict[str, Any]:
        return {"memory_stats": {"max_usage": 1234}}

    def stop_container(self, container_id: str, *, timeout: int = 10) -> None:
        self.inspect_container(container_id)["State"] = dict(FINISHED, ExitCode=143)

    def remove_container(self, container_id: str, *, force: bool = False) -> None:
        self.inspect_container(container_id)
        del self.containers[container_id]

    def list_containers(self, *, labels: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        return [{"Id": k} for k in self.containers]


def inline(tmp_path: Path, **extra: Any) -> Path:
    (tmp_path / "input").mkdir(exist_ok=True)
    task: dict[str, Any] = {
        "name": "unit",
        "image": "img:1",
        "taskTemplate": {
            "identifier": "t",
            "description": "",
            "inputs": [{"name": "in", "mounted_path": "/in"}],
            "outputs": [{"name": "out", "mounted_path": "/out"}],
            "command": ["run"],
        },
        "inputs": [{"name": "in", "volume_source": {"host_path": "input"}}],
        "outputs": [{"name": "out", "volume_source": {"host_path": "output"}}],
    }
    task.update(extra)
    path = tmp_path / "task.json"
    path.write_text(json.dumps(task, indent=2))
    return path


def options(tmp_path: Path, **kw: Any) -> RunOptions:
    return RunOptions(record_dir=tmp_path, environ={}, user="1:2", **kw)


@pytest.fixture
def engine() -> MemoryEngine:
    return MemoryEngine(images={"img:1": {"Id": "sha256:" + "0" * 64}})


class TestStart:
    def test_creates_outputs_writes_the_record_and_starts(self, tmp_path: Path, engine: MemoryEngine) -> None:
        lines: list[str] = []
        prepared = prepare(inline(tmp_path), engine=engine, options=options(tmp_path), report=lines.append)
        assert not (tmp_path / "output").exists()  # prepare creates nothing
        record, path = start(prepared, engine=engine, options=options(tmp_path), docker_host="unix:///x")
        assert (tmp_path / "output").is_dir()
        assert path == tmp_path / f"task_run-{record.id}.json"
        assert read_record(path) == record
        assert engine.containers[record.container_id]["State"]["Running"] is True
        assert engine.containers[record.container_id]["Config"]["User"] == "1:2"

    def test_a_failed_start_leaves_neither_container_nor_record(self, tmp_path: Path, engine: MemoryEngine) -> None:
        prepared = prepare(inline(tmp_path), engine=engine, options=options(tmp_path), report=lambda _: None)
        engine.fail_start = True
        with pytest.raises(EngineError, match="exec: not found"):
            start(prepared, engine=engine, options=options(tmp_path), docker_host="unix:///x")
        assert engine.containers == {}
        assert not list(tmp_path.glob("task_run-*.json"))

    def test_an_output_path_that_is_a_file_is_refused(self, tmp_path: Path, engine: MemoryEngine) -> None:
        task = inline(tmp_path)
        (tmp_path / "output").write_text("not a folder")
        with pytest.raises(TaskNotRunnable) as caught:
            prepare(task, engine=engine, options=options(tmp_path), report=lambda _: None)
        text = str(caught.value)
        assert "task.json:" in text and "outputs[0].volume_source.host_path" in text and "is not a directory" in text


class TestImages:
    def test_no_pull(self, tmp_path: Path) -> None:
        with pytest.raises(ImageMissing, match="--no-pull"):
            prepare(
                inline(tmp_path), engine=MemoryEngine(), options=options(tmp_path, pull=False), report=lambda _: None
            )

    def test_a_pull_uses_the_tasks_registry_credentials(self, tmp_path: Path) -> None:
        engine = MemoryEngine()
        config = {"type": "k8s", "registryUsername": "u", "registryPassword": "s3cret-value"}
        lines: list[str] = []
        prepare(inline(tmp_path, config=config), engine=engine, options=options(tmp_path), report=lines.append)
        ((reference, credentials),) = engine.pulls
        assert reference == "img:1"
        assert credentials is not None and credentials.username == "u"
        assert credentials.password.get_secret_value() == "s3cret-value"
        assert not any("s3cret-value" in line for line in lines)


class TestManaging:
    def started(self, tmp_path: Path, engine: MemoryEngine) -> tuple[Path, str]:
        prepared = prepare(inline(tmp_path), engine=engine, options=options(tmp_path), report=lambda _: None)
        record, path = start(prepared, engine=engine, options=options(tmp_path), docker_host="unix:///x")
        return path, record.id

    def test_wait_records_the_final_status(self, tmp_path: Path, engine: MemoryEngine) -> None:
        path, run_id = self.started(tmp_path, engine)
        _, record = load_run(run_id, tmp_path)
        _, status = wait_run(engine, path, record)
        assert (status.phase, status.exit_code) == (Phase.SUCCEEDED, 0)
        assert read_record(path).status == status

    def test_a_removed_container_keeps_its_recorded_outcome(self, tmp_path: Path, engine: MemoryEngine) -> None:
        path, _ = self.started(tmp_path, engine)
        record = read_record(path)
        record, _ = wait_run(engine, path, record)
        del engine.containers[record.container_id]
        status = current_status(engine, record)
        assert (status.state, status.phase, status.reason) == ("removed", Phase.SUCCEEDED, RunReason.COMPLETED)

    def test_rm_refuses_a_running_container_unless_forced(self, tmp_path: Path, engine: MemoryEngine) -> None:
        path, _ = self.started(tmp_path, engine)
        record = read_record(path)
        with pytest.raises(RecordError, match="still running"):
            remove_run(engine, path, record, force=False, keep_record=False)
        assert path.exists() and record.container_id in engine.containers
        assert remove_run(engine, path, record, force=True, keep_record=False) is True
        assert not path.exists() and engine.containers == {}

    def test_list_shows_every_record_with_its_state(self, tmp_path: Path, engine: MemoryEngine) -> None:
        self.started(tmp_path, engine)
        self.started(tmp_path, engine)
        listed = list_runs(engine, tmp_path)
        assert [item.status.phase for item in listed if item.status] == [Phase.RUNNING, Phase.RUNNING]
        assert all(item.status and item.status.peak_memory_bytes == 1234 for item in listed)
