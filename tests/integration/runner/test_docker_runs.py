"""Local runs against the real Docker engine: the example's outputs, read-only inputs, OOM, bad tasks, Ctrl-C."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from task_api.runner.engine import DockerEngine
from tests.fixtures.docker import BUSYBOX_DOCKERFILE, ROOT, make_context
from tests.fixtures.kaapana import dummy_context
from tests.integration.runner.conftest import (
    EXAMPLE,
    EXAMPLE_TAG,
    HELLO_TAG,
    TEST_LABEL,
    Cli,
    cli_env,
    container_ids,
    inline_task,
    record_of,
    write_task,
)

pytestmark = pytest.mark.docker


def copy_example(tmp_path: Path, *, image: str | None = HELLO_TAG) -> Path:
    """A copy of the example; its task files name ``image`` (None: keep the example's own tag)."""
    target = tmp_path / "hello"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("output", "task_run-*.json"))
    if image is not None:
        for name in ("task.json", "task-compress.json"):
            task = json.loads((target / name).read_text())
            task["image"] = image
            (target / name).write_text(json.dumps(task, indent=2) + "\n")
    return target


def sha256_lines(root: Path) -> list[str]:
    """What `sha256sum` prints for every file under root, in `find | sort` order."""
    lines = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            rel = "./" + path.relative_to(root).as_posix()
            lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {rel}")
    return sorted(lines, key=lambda line: line.split("  ", 1)[1])


class TestHelloWorldExample:
    def test_the_guides_command_lines_work_verbatim(self, tmp_path: Path, hello_image: str, cleanup: list[str]) -> None:
        work = copy_example(tmp_path, image=None)
        assert json.loads((work / "task.json").read_text())["image"] == EXAMPLE_TAG
        env = cli_env()
        # Exactly the guide's lines: `python3 -m task_api.cli run task.json --mode docker`, then `logs`.
        started = subprocess.run(
            ["python3", "-m", "task_api.cli", "run", "task.json", "--mode", "docker"],
            cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        record = record_of(started, work)
        assert record.name.startswith("task_run-") and record.suffix == ".json"
        assert record.parent == work
        waited = subprocess.run(
            ["python3", "-m", "task_api.cli", "wait", record.name],
            cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert waited.returncode == 0, waited.stderr
        logs = subprocess.run(
            ["python3", "-m", "task_api.cli", "logs", record.name],
            cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert logs.returncode == 0, logs.stderr
        expected = sha256_lines(work / "input")
        assert logs.stdout == f"hello-world: sha256 of {len(expected)} file(s) written to /data/out/checksums.sha256\n"
        written = (work / "output" / "checksums.sha256").read_text().splitlines()
        assert written == expected

    def test_outputs_belong_to_the_invoking_user(
        self, tmp_path: Path, hello_image: str, cli: Cli, cleanup: list[str]
    ) -> None:
        work = copy_example(tmp_path)
        done = cli("run", "task.json", "--mode", "docker", "--watch", cwd=work)
        assert done.returncode == 0, done.stderr
        produced = work / "output" / "checksums.sha256"
        # The invoking user's, or nobody's when that is root (root only when asked: test_hardening.py).
        expected = (os.getuid(), os.getgid()) if os.getuid() != 0 else (65534, 65534)
        assert (produced.stat().st_uid, produced.stat().st_gid) == expected
        record = json.loads(record_of(done, work).read_text())
        assert record["user"] == "{}:{}".format(*expected)

    def test_another_user_can_be_chosen(self, tmp_path: Path, hello_image: str, cli: Cli, cleanup: list[str]) -> None:
        work = copy_example(tmp_path)
        (work / "output").mkdir()
        (work / "output").chmod(0o777)  # the chosen user must be able to write there
        done = cli("run", "task.json", "--watch", "--user", "4321:4322", cwd=work)
        assert done.returncode == 0, done.stderr
        produced = work / "output" / "checksums.sha256"
        assert (produced.stat().st_uid, produced.stat().st_gid) == (4321, 4322)

    def test_the_compress_template_packs_every_input_file(
        self, tmp_path: Path, hello_image: str, cli: Cli, cleanup: list[str]
    ) -> None:
        work = copy_example(tmp_path)
        done = cli("run", "task-compress.json", "--watch", cwd=work)
        assert done.returncode == 0, done.stderr
        with tarfile.open(work / "output" / "inputs.tar.gz") as archive:
            packed = {m.name.removeprefix("./"): archive.extractfile(m).read() for m in archive if m.isfile()}  # type: ignore[union-attr]
        inputs = {
            p.relative_to(work / "input").as_posix(): p.read_bytes() for p in (work / "input").rglob("*") if p.is_file()
        }
        assert packed == inputs
        assert "level 9)" in done.stdout  # the task's LEVEL override reached the container

    def test_the_memory_computation_is_printed_and_applied(
        self, tmp_path: Path, hello_image: str, cli: Cli, engine: DockerEngine, cleanup: list[str]
    ) -> None:
        work = copy_example(tmp_path)
        # 40 MiB of input under the compress template's rule (2 x sum, limit) -> 88 MiB limit, above the static 64Mi.
        (work / "input" / "big.bin").write_bytes(b"\0" * (40 * 1024 * 1024))
        done = cli("run", "task-compress.json", cwd=work)
        assert done.returncode == 0, done.stderr
        assert "memory computation:" in done.stderr
        assert "for the limit" in done.stderr
        record = json.loads(record_of(done, work).read_text())
        total = sum(p.stat().st_size for p in (work / "input").rglob("*") if p.is_file())
        assert record["measurements"][0]["measured_bytes"] == total
        expected_limit = -(-int(total * 2 * 1.1) // 2**20) * 2**20  # 2 x bytes, x1.1, rounded up to a MiB
        host = engine.inspect_container(record["container_id"])["HostConfig"]
        assert host["Memory"] == expected_limit
        assert host["MemoryReservation"] == 16 * 2**20
        assert record["limits"]["memory"] == f"{expected_limit // 2**20}Mi"


class TestContainerBehaviour:
    def test_writing_to_an_input_fails_inside_the_container(
        self, tmp_path: Path, busybox_image: str, cli: Cli, cleanup: list[str]
    ) -> None:
        (tmp_path / "input").mkdir()
        (tmp_path / "input" / "data.txt").write_text("original\n")
        command = [
            "/bin/sh",
            "-c",
            "echo changed > /data/in/data.txt && echo WROTE || echo REFUSED; touch /data/out/ok",
        ]
        write_task(tmp_path, inline_task(busybox_image, command))
        done = cli("run", "task.json", "--watch")
        assert done.returncode == 0, done.stderr
        assert "REFUSED" in done.stdout and "WROTE" not in done.stdout
        assert "Read-only file system" in done.stderr
        assert (tmp_path / "input" / "data.txt").read_text() == "original\n"
        assert (tmp_path / "output" / "ok").exists()  # outputs are writable, and were created

    def test_an_oom_kill_of_a_child_is_reported_even_with_exit_code_0(
        self, tmp_path: Path, busybox_image: str, cli: Cli, cleanup: list[str]
    ) -> None:
        (tmp_path / "input").mkdir()
        # `tail` keeps a whole "line" of /dev/zero in memory: the kernel kills it, the shell goes on and exits 0.
        # The pipeline raises its own oom_score_adj (allowed without privilege): on a loaded machine the kernel
        # otherwise now and then picks the shell, PID 1 (measured: 1 run in 5 to 15 under 3 busy loops; 0 in 60
        # with it), and that run ends 137 like any plain OOM kill, which is not the case this test is about.
        command = [
            "/bin/sh",
            "-c",
            "(echo 1000 > /proc/self/oom_score_adj && head -c 200m /dev/zero | tail); echo survived",
        ]
        write_task(tmp_path, inline_task(busybox_image, command, resources={"limits": {"memory": "32Mi"}}))
        done = cli("run", "task.json", "--watch", "--monitor-memory")
        assert "survived" in done.stdout  # the main process did finish normally...
        assert done.returncode == 137, done.stderr  # ...but the run failed for memory
        assert "OOMKilled" in done.stderr
        record = record_of(done, tmp_path)
        status = cli("status", str(record), "--output", "json")
        assert status.returncode == 0, status.stderr
        document = json.loads(status.stdout)
        assert (document["oom_killed"], document["exit_code"], document["phase"]) == (True, 0, "Failed")
        assert document["peak_memory_bytes"] is not None and document["peak_memory_bytes"] >= 16 * 2**20
        waited = cli("wait", str(record))
        assert waited.returncode == 137
        assert "OOMKilled" in waited.stderr

    def test_the_command_replaces_the_entrypoint_and_env_reaches_it(
        self, tmp_path: Path, busybox_image: str, cli: Cli, cleanup: list[str]
    ) -> None:
        (tmp_path / "input").mkdir()
        task = inline_task(
            busybox_image,
            ["/bin/sh", "-c", 'echo "A=$A B=$B id=$(id -u)"'],
            template={"env": [{"name": "A", "value": "from-template"}, {"name": "B", "value": "default"}]},
            env=[{"name": "B", "value": "from-task"}],
        )
        write_task(tmp_path, task)
        done = cli("run", "task.json", "--watch")
        assert done.returncode == 0, done.stderr
        uid = os.getuid() or 65534  # the invoking user, or nobody when that is root (test_hardening.py)
        assert f"A=from-template B=from-task id={uid}" in done.stdout

    def test_a_failing_container_passes_its_exit_code_on(
        self, tmp_path: Path, busybox_image: str, cli: Cli, cleanup: list[str]
    ) -> None:
        (tmp_path / "input").mkdir()
        write_task(tmp_path, inline_task(busybox_image, ["/bin/sh", "-c", "echo failing >&2; exit 7"]))
        done = cli("run", "task.json", "--watch")
        assert done.returncode == 7
        assert "failing" in done.stderr
        assert "Error, exit code 7" in done.stderr


class TestBadTasksCreateNothing:
    @pytest.mark.parametrize(
        ("case", "expected"),
        [
            ("missing-input", ["task.json:", "inputs[0].volume_source.host_path", "the directory does not exist",
                               "allowed an existing directory"]),
            ("not-adjustable", ["task.json:", "env[0]", "ARCHIVE_NAME"]),
            ("unknown-template", ["task.json:", "taskTemplate", "no template 'compres'", "did you mean 'compress'"]),
            ("no-spec-file", ["processing-container.json", "task-api-test/runner-busybox:1"]),
            ("unset-env", ["task.json:", "DATA_DIR"]),
            ("pvc-binding", ["task.json:", "inputs[0].volume_source", "host directories"]),
        ],
    )  # fmt: skip
    def test_a_clear_error_and_no_container(
        self,
        tmp_path: Path,
        hello_image: str,
        busybox_image: str,
        cli: Cli,
        engine: DockerEngine,
        case: str,
        expected: list[str],
    ) -> None:
        work = copy_example(tmp_path)
        task = json.loads((work / "task-compress.json").read_text())
        if case == "missing-input":
            task["inputs"][0]["volume_source"]["host_path"] = "no-such-folder"
        elif case == "not-adjustable":
            task["env"] = [{"name": "ARCHIVE_NAME", "value": "other.tar.gz"}]
        elif case == "unknown-template":
            task["taskTemplate"] = "compres"
        elif case == "no-spec-file":
            task["image"] = busybox_image
        elif case == "unset-env":
            task["inputs"][0]["volume_source"]["host_path"] = "{{ env.DATA_DIR }}/input"
        elif case == "pvc-binding":
            task["inputs"][0]["volume_source"] = {"persistentVolumeClaim": {"claimName": "data"}}
        write_task(work, task)
        before = container_ids(engine)
        env = {"DATA_DIR": ""} if case != "unset-env" else None
        done = cli("run", "task.json", "--mode", "docker", cwd=work, env=env)
        after = container_ids(engine)
        assert done.returncode == 1, (done.stdout, done.stderr)
        for fragment in expected:
            assert fragment in done.stderr, (fragment, done.stderr)
        assert "Traceback" not in done.stderr
        assert after == before
        assert not list(work.glob("task_run-*.json"))
        assert not (work / "output").exists()  # nothing was created for a task that cannot run

    def test_a_missing_task_file(self, tmp_path: Path, cli: Cli, docker_engine: object) -> None:
        done = cli("run", "nope.json")
        assert done.returncode == 2
        assert done.stderr == "task-api run: nope.json: no such task file\n"

    def test_no_pull_refuses_a_missing_image(self, tmp_path: Path, cli: Cli, engine: DockerEngine) -> None:
        (tmp_path / "input").mkdir()
        write_task(tmp_path, inline_task("127.0.0.1:1/not/there:1", ["true"]))
        before = container_ids(engine)
        done = cli("run", "task.json", "--no-pull")
        assert done.returncode == 1
        assert (
            "127.0.0.1:1/not/there:1: not in the local Docker engine, and --no-pull forbids pulling it" in done.stderr
        )
        assert container_ids(engine) == before


class TestInterruptAndManage:
    def test_ctrl_c_detaches_and_leaves_the_container_running(
        self, tmp_path: Path, busybox_image: str, engine: DockerEngine, cli: Cli, cleanup: list[str]
    ) -> None:
        (tmp_path / "input").mkdir()
        command = ["/bin/sh", "-c", "echo started; sleep 60; echo finished"]
        write_task(tmp_path, inline_task(busybox_image, command))
        # A terminal's Ctrl-C: SIGINT must not be inherited as ignored (it is when the suite itself runs as a
        # background job of a non-interactive shell, and Python then installs no KeyboardInterrupt handler). A
        # handler set here is reset to the default in the child at exec; an ignored signal would stay ignored.
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "task_api.cli", "run", "task.json", "--watch"],
                cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
        finally:
            signal.signal(signal.SIGINT, previous)
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first == "started\n"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 130, stderr
        assert "detached" in stderr and "Traceback" not in stderr
        records = list(tmp_path.glob("task_run-*.json"))
        assert len(records) == 1
        record = json.loads(records[0].read_text())
        assert engine.inspect_container(record["container_id"])["State"]["Running"] is True
        # The record works with every command: status, logs, stop, wait, list, rm.
        status = cli("status", records[0].name, "--output", "json")
        assert json.loads(status.stdout)["phase"] == "Running"
        logs = cli("logs", record["id"])
        assert logs.stdout == "started\n"
        listed = cli("list", "--output", "json")
        assert [r["id"] for r in json.loads(listed.stdout)["runs"]] == [record["id"]]
        stopped = cli("stop", record["id"], "--time", "1")
        assert stopped.returncode == 0, stopped.stderr
        waited = cli("wait", records[0].name)
        assert waited.returncode == 137  # SIGTERM is ignored by PID 1 `sh`; SIGKILL after 1 s
        final = json.loads(records[0].read_text())["status"]
        assert (final["phase"], final["exit_code"], final["oom_killed"]) == ("Failed", 137, False)
        removed = cli("rm", record["id"])
        assert removed.returncode == 0, removed.stderr
        assert not records[0].exists()
        assert record["container_id"] not in container_ids(engine)

    def test_rm_refuses_a_running_container_without_force(
        self, tmp_path: Path, busybox_image: str, engine: DockerEngine, cli: Cli, cleanup: list[str]
    ) -> None:
        (tmp_path / "input").mkdir()
        write_task(tmp_path, inline_task(busybox_image, ["/bin/sh", "-c", "sleep 60"]))
        done = cli("run", "task.json", "--name", f"task-api-test-{os.getpid()}-{time.time_ns()}")
        assert done.returncode == 0, done.stderr
        record = record_of(done, tmp_path)
        refused = cli("rm", record.name)
        assert refused.returncode == 1
        assert "still running" in refused.stderr
        assert record.exists()
        forced = cli("rm", record.name, "--force", "--keep-record")
        assert forced.returncode == 0, forced.stderr
        assert record.exists()
        gone = cli("status", record.name)
        assert "removed" in gone.stdout

    def test_kaapana_pickle_records_are_refused_unread(self, tmp_path: Path, cli: Cli, docker_engine: object) -> None:
        marker = tmp_path / "pwned"
        import pickle  # noqa: PLC0415 - only this test makes a pickle, on purpose

        class Evil:
            def __reduce__(self) -> tuple[object, tuple[str]]:
                return (os.system, (f"touch {marker}",))

        (tmp_path / "task_run-abc.pkl").write_bytes(pickle.dumps(Evil()))
        done = cli("logs", "task_run-abc.pkl")
        assert done.returncode == 1
        assert "pickle" in done.stderr and "docs/compat.md" in done.stderr
        assert not marker.exists()


@pytest.mark.registry
class TestPull:
    @pytest.fixture
    def pushed(self, docker_engine: Any, registry: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
        """An image with a layer of its own, pushed to the authenticated registry, then removed locally (so the
        pull has a layer to download)."""
        tag = f"{registry.host}/runner/pull-test:{time.time_ns()}"
        context = make_context(
            tmp_path_factory.mktemp("pull-context"),
            BUSYBOX_DOCKERFILE + "COPY unique /unique\n",
            {"unique": os.urandom(256 * 1024)},
        )
        docker_engine.build(context, tag)
        docker_engine.login(registry.host, registry.username, registry.password)
        docker_engine.push(tag)
        docker_engine.run("rmi", tag)
        yield tag
        docker_engine.run("rmi", "-f", tag, check=False)

    def task_for(self, tmp_path: Path, image: str, config: dict[str, Any]) -> None:
        (tmp_path / "input").mkdir(exist_ok=True)
        write_task(tmp_path, inline_task(image, ["/bin/sh", "-c", "echo pulled-and-ran"], config=config))

    def test_credentials_from_the_task(
        self, tmp_path: Path, pushed: str, registry: Any, cli: Cli, engine: DockerEngine, cleanup: list[str]
    ) -> None:
        config = {"type": "k8s", "registryUsername": registry.username, "registryPassword": registry.password}
        self.task_for(tmp_path, pushed, config)
        done = cli("run", "task.json", "--watch", env={"DOCKER_CONFIG": str(tmp_path / "empty-docker-config")})
        assert done.returncode == 0, done.stderr
        assert "pulled-and-ran" in done.stdout
        assert f"pulling {pushed}" in done.stderr
        assert ": pull complete (" in done.stderr  # the progress display: a line per downloaded layer
        assert f"Status: Downloaded newer image for {pushed}" in done.stderr
        assert engine.image_inspect(pushed) is not None
        for text in (done.stdout, done.stderr, record_of(done, tmp_path).read_text()):
            assert registry.password not in text

    def test_credentials_from_the_docker_config(
        self, tmp_path: Path, pushed: str, docker_engine: Any, cli: Cli, cleanup: list[str]
    ) -> None:
        self.task_for(tmp_path, pushed, {"type": "docker"})
        done = cli("run", "task.json", "--watch", env={"DOCKER_CONFIG": str(docker_engine.config_dir)})
        assert done.returncode == 0, done.stderr
        assert "pulled-and-ran" in done.stdout

    def test_wrong_credentials_fail_clearly_and_create_nothing(
        self, tmp_path: Path, pushed: str, registry: Any, cli: Cli, engine: DockerEngine
    ) -> None:
        wrong = "not-" + registry.password
        self.task_for(
            tmp_path, pushed, {"type": "k8s", "registryUsername": registry.username, "registryPassword": wrong}
        )
        before = container_ids(engine)
        done = cli("run", "task.json", env={"DOCKER_CONFIG": str(tmp_path / "empty-docker-config")})
        assert done.returncode == 1
        assert f"pull {pushed}:" in done.stderr
        assert wrong not in done.stderr and registry.password not in done.stderr
        assert container_ids(engine) == before
        assert engine.image_inspect(pushed) is None


class TestMonitorMemory:
    def test_an_under_provisioning_rule_is_reported_with_a_factor(
        self, tmp_path: Path, busybox_image: str, cli: Cli, cleanup: list[str]
    ) -> None:
        (tmp_path / "input").mkdir()
        (tmp_path / "input" / "data.bin").write_bytes(b"x" * (1024 * 1024))
        # The rule says 2 x 1 MiB; the container holds ~40 MiB in `tail` (no newline in /dev/zero).
        task = inline_task(
            busybox_image,
            ["/bin/sh", "-c", "head -c 40m /dev/zero | tail > /dev/null; echo done"],
            template={
                "inputs": [{"name": "in", "mounted_path": "/data/in",
                            "scale_rule": {"scale_factor": 2, "type": "limit", "mode": "sum"}}],
                "resources": {"limits": {"memory": "256Mi"}},
            },
        )  # fmt: skip
        write_task(tmp_path, task)
        done = cli("run", "task.json", "--watch", "--monitor-memory")
        assert done.returncode == 0, done.stderr
        assert "peak memory:" in done.stderr
        assert "warning: input 'in': the rule under-provisions" in done.stderr
        assert "suggest scale_factor ≥" in done.stderr
        record = json.loads(record_of(done, tmp_path).read_text())
        # The peak is read every 20 ms until the cgroup goes away: growth in the last read's shadow can be missed,
        # so expect most of the 40 MiB, and far more than the 3 MiB the rule computed.
        assert record["status"]["peak_memory_bytes"] > 30 * 2**20
        factor = float(done.stderr.split("suggest scale_factor ≥ ")[1].split()[0])
        assert factor >= 30

    def test_the_peak_is_recorded_by_default_when_watching_and_by_wait(
        self, tmp_path: Path, busybox_image: str, cli: Cli, cleanup: list[str]
    ) -> None:
        (tmp_path / "input").mkdir()
        command = ["/bin/sh", "-c", "head -c 24m /dev/zero | tail > /dev/null; sleep 1"]
        write_task(tmp_path, inline_task(busybox_image, command, resources={"limits": {"memory": "128Mi"}}))
        # The longer sleep leaves `wait` (a new process; seconds to start on a loaded machine) time to find the
        # container still running.
        slow = ["/bin/sh", "-c", "head -c 24m /dev/zero | tail > /dev/null; sleep 20"]
        write_task(tmp_path, inline_task(busybox_image, slow, resources={"limits": {"memory": "128Mi"}}), "slow.json")
        watched = cli("run", "task.json", "--watch")
        assert watched.returncode == 0, watched.stderr
        assert "peak memory:" in watched.stderr
        assert json.loads(record_of(watched, tmp_path).read_text())["status"]["peak_memory_bytes"] > 20 * 2**20
        off = cli("run", "task.json", "--watch", "--no-monitor-memory", "--output", "task_run-off.json")
        assert off.returncode == 0, off.stderr
        assert "peak memory:" not in off.stderr
        assert "peak_memory_bytes" not in json.loads(record_of(off, tmp_path).read_text())["status"]
        started = cli("run", "slow.json", "--output", "task_run-waited.json")
        assert started.returncode == 0, started.stderr
        path = record_of(started, tmp_path)
        waited = cli("wait", str(path))
        assert waited.returncode == 0, waited.stderr
        # The cgroup's mark counts from the container's start: a wait begun after the spike still records it.
        assert json.loads(path.read_text())["status"]["peak_memory_bytes"] > 20 * 2**20


def test_a_start_failure_leaves_no_container_and_no_record(
    tmp_path: Path, busybox_image: str, cli: Cli, engine: DockerEngine
) -> None:
    (tmp_path / "input").mkdir()
    write_task(tmp_path, inline_task(busybox_image, ["/no/such/program"]))
    before = container_ids(engine)
    done = cli("run", "task.json")
    assert done.returncode == 1
    assert "start container" in done.stderr and "/no/such/program" in done.stderr
    assert "Traceback" not in done.stderr
    assert container_ids(engine) == before
    assert not list(tmp_path.glob("task_run-*.json"))


class TestKaapanaFiles:
    """Kaapana's own task file and processing-container.json (from /work/shared/compat/kaapana) run unchanged."""

    COMPAT = ROOT.parent / "shared" / "compat" / "kaapana"

    @pytest.fixture
    def dummy_image(self, docker_engine: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
        """Returns the ``registryUrl`` under which ``dummy:latest`` is, as the task file expects it."""
        # Kaapana's dummy container runs `python3 -u downstream.py`; a shell script stands in for Python.
        prefix = f"task-api-test/kaapana-{time.time_ns()}"
        tag = f"{prefix}/dummy:latest"
        context = make_context(
            tmp_path_factory.mktemp("kaapana-dummy"),
            BUSYBOX_DOCKERFILE + "COPY python3 /usr/bin/python3\nCOPY pc.json /processing-container.json\n",
            {"python3": '#!/bin/sh\necho "python3 $*: $(cat /home/downstream/channel1/*.txt | wc -c) bytes"\n',
             "pc.json": (self.COMPAT / "pc-dummy-task.json").read_bytes()},
        )  # fmt: skip
        (context / "python3").chmod(0o755)
        docker_engine.build(context, tag, labels=TEST_LABEL)
        return prefix

    def test_the_downstream_task_runs_with_its_placeholders_filled(
        self, tmp_path: Path, dummy_image: str, cli: Cli, cleanup: list[str]
    ) -> None:
        shutil.copy2(self.COMPAT / "task-downstream.json", tmp_path / "task.json")
        data = tmp_path / "data"
        (data / "dummy" / "channel1").mkdir(parents=True)
        (data / "dummy" / "channel2").mkdir(parents=True)
        (data / "dummy" / "channel1" / "a.txt").write_bytes(b"x" * 3000)
        (data / "dummy" / "channel1" / "b.bin").write_bytes(b"x" * 500_000)  # not *.txt: not counted
        secret = "kaapana-" + str(time.time_ns())
        env = {
            "registryUrl": dummy_image,
            "output_dir": str(data),
            "namespace": "default",
            "registryUsername": "someone",
            "registryPassword": secret,
        }
        done = cli("run", "task.json", "--mode", "docker", "--watch", env=env)
        assert done.returncode == 0, done.stderr
        assert "python3 -u downstream.py: 3000 bytes" in done.stdout
        # The rule: 25 x the *.txt bytes (3000) -> tiny; the task's static 50Mi limit stands.
        assert "channel1 (sum): 3000 bytes in 1 files" in done.stderr
        record_text = record_of(done, tmp_path).read_text()
        record = json.loads(record_text)
        assert record["limits"] == {"memory": "50Mi"}
        assert [c["name"] for c in record["inputs"]] == ["channel1", "channel2"]
        assert all(c["read_only"] for c in record["inputs"])
        for text in (done.stdout, done.stderr, record_text):
            assert secret not in text


class TestKaapanaWorkflowFiles:
    """Kaapana's dummy workflow image and its task files, used the way Kaapana's own tests and CLI use them."""

    @pytest.fixture
    def workflow_image(self, docker_engine: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
        """The ``registryUrl`` under which ``dummy:latest`` (pc-dummy-workflow.json, busybox scripts) is."""
        prefix = f"task-api-test/kaapana-workflow-{time.time_ns()}"
        docker_engine.build(dummy_context(tmp_path_factory.mktemp("kaapana-workflow")), f"{prefix}/dummy:latest",
                            labels=TEST_LABEL)  # fmt: skip
        return prefix

    def test_upstream_then_downstream_with_only_two_variables_and_kaapanas_spellings(
        self, tmp_path: Path, workflow_image: str, cli: Cli, cleanup: list[str]
    ) -> None:
        compat = TestKaapanaFiles.COMPAT
        shutil.copy2(compat / "task-upstream.json", tmp_path / "task-upstream.json")
        shutil.copy2(compat / "task-downstream.json", tmp_path / "task-downstream.json")
        data = tmp_path / "data"
        # What Kaapana's tests export; namespace and the registry credentials stay unset ("not set").
        env = {"registryUrl": workflow_image, "output_dir": str(data)}
        for name in ("namespace", "registryUsername", "registryPassword"):
            env[name] = ""
        started = cli("run", "task-upstream.json", "--mode", "docker", "--no-monitor-memory", env=env)
        assert started.returncode == 0, started.stderr
        assert "config.namespace: environment variable namespace is not set" not in started.stderr  # set, to ""
        record = record_of(started, tmp_path)

        checked = cli("check-task-run", record.name)  # Kaapana's default --watch: waits for the end
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "state:" in checked.stdout and "Completed" in checked.stdout, checked.stdout
        assert "exit code:   0" in checked.stdout
        logs = cli("logs", record.name, "--watch")
        assert logs.returncode == 0, logs.stderr
        assert logs.stdout.startswith("Hello channel 1!\nHello channel 2!\n"), logs.stdout
        assert (data / "dummy" / "channel2" / "dummy.txt").read_text() == "Hello channel 2!"

        downstream = cli("run", "task-downstream.json", "--mode", "docker", "--watch", env={**env, "TIME_SLEEP": "0"})
        assert downstream.returncode == 0, downstream.stderr
        assert "downstream read channel1/dummy.txt: Hello channel 1!" in downstream.stdout
        assert "downstream read channel2/dummy.txt: Hello channel 2!" in downstream.stdout
        assert json.loads(record_of(downstream, tmp_path).read_text())["limits"] == {"memory": "50Mi"}

    def test_unset_variables_are_not_set_with_a_warning(
        self, tmp_path: Path, workflow_image: str, cli: Cli, cleanup: list[str]
    ) -> None:
        shutil.copy2(TestKaapanaFiles.COMPAT / "task-upstream.json", tmp_path / "task.json")
        env = {"registryUrl": workflow_image, "output_dir": str(tmp_path / "data")}
        clean = {
            k: v for k, v in cli_env(env).items() if k not in ("namespace", "registryUsername", "registryPassword")
        }
        done = subprocess.run(
            [sys.executable, "-m", "task_api.cli", "run", "task.json", "--mode", "docker", "--watch"],
            cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        for name in ("namespace", "registryUsername", "registryPassword"):
            assert f"config.{name}: environment variable {name} is not set: this optional field is left unset" in (
                done.stderr
            )
        assert "Hello channel 1!" in done.stdout

    def test_processing_container_mode_docker_reads_the_local_engine(self, workflow_image: str, cli: Cli) -> None:
        done = cli("processing-container", f"{workflow_image}/dummy:latest", "--mode", "docker", "--output", "json")
        assert done.returncode == 0, done.stderr
        document = json.loads(done.stdout)["processing_container"]
        assert [t["identifier"] for t in document["templates"]] == ["upstream", "downstream"]
