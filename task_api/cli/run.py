"""``task-api run TASK.json --mode docker`` — run a task with the local Docker engine.

Fills ``{{ env.NAME }}`` placeholders from the environment, finds the image in the engine or pulls it
(credentials from the task's config or the Docker client config; ``--no-pull`` forbids pulling), reads the
template from the image unless the task has it inline, merges and validates, measures the inputs that have
scale rules and prints how the memory was computed, then starts the container: inputs bind-mounted read-only,
outputs read-write (created when missing), as the invoking user's uid:gid unless ``--user`` says otherwise.

It writes the run record ``task_run-<id>.json`` (or ``--output FILE``) and prints its path. ``logs``,
``status``, ``wait``, ``stop``, ``rm`` take that file or the run ID. With ``--watch`` it follows the
container's output until it stops and exits with the container's code (137 for an OOM kill that left code
0); Ctrl-C detaches and leaves the container running. While it watches it records the peak memory in the run
record and compares it with what the scale rules computed (``--no-monitor-memory`` turns that off;
``--monitor-memory`` without ``--watch`` waits for the end to do it).

Exit codes: 0 started (or, when watching, the container succeeded); the container's code when watching;
1 the task is invalid or cannot run (nothing was created); 2 usage errors or no task file; 130 detached
with Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from task_api.cli._runs import PullDisplay, add_engine_argument, write_chunk

if TYPE_CHECKING:
    from task_api.runner.engine import DockerEngine
    from task_api.runner.record import RunRecord

__all__ = ["add_parser", "run"]

EXIT_DETACHED = 130


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a task.json with the local Docker engine",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("task", type=Path, metavar="TASK.json", help="the task file")
    parser.add_argument("--mode", choices=["docker", "k8s"], default="docker", help="where to run (default docker)")
    parser.add_argument(
        "--watch",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="follow the output until the container stops",
    )
    parser.add_argument(
        "--namespace", "-n", help="k8s mode: the namespace (default: config.namespace, else the kube context's)"
    )
    parser.add_argument(
        "--kubeconfig",
        metavar="FILE[:FILE...]",
        help="k8s mode: kubeconfig file(s), merged as kubectl merges them (default: $KUBECONFIG, in-cluster, "
        "~/.kube/config)",
    )
    parser.add_argument("--context", help="k8s mode: the kubeconfig context (default: its current-context)")
    parser.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the run record here")
    parser.add_argument("--no-pull", action="store_true", help="fail instead of pulling a missing image")
    parser.add_argument("--name", help="name the container (default: the engine picks one)")
    parser.add_argument(
        "--user",
        default=None,
        metavar="UID:GID",
        help="run as this user; 'image' keeps the image's own user; 0:0 for root (default: the task's config.user, "
        "else your uid:gid, or 65534:65534 when you are root)",
    )
    parser.add_argument(
        "--cap-add",
        action="append",
        default=[],
        metavar="CAP",
        help="add this Linux capability back (repeatable; the container starts with none), e.g. CHOWN",
    )
    parser.add_argument(
        "--monitor-memory",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="record the peak memory in the run record and compare it with the scale rules (default: on with "
        "--watch; without --watch, --monitor-memory waits for the end)",
    )
    add_engine_argument(parser)


def run(args: argparse.Namespace) -> int:
    if not args.task.is_file():
        what = "is not a file" if args.task.exists() else "no such task file"
        print(f"task-api run: {args.task}: {what}", file=sys.stderr)
        return 2
    if args.mode == "k8s":
        from task_api.cli.run_k8s import run_k8s

        return run_k8s(args)
    from task_api.runner.engine import DockerEngine
    from task_api.runner.local import USER_FROM_TASK, RunOptions, prepare, start
    from task_api.spec.task import capability_name

    try:
        capabilities = tuple(capability_name(c) for c in args.cap_add)
    except ValueError as exc:  # pydantic's PydanticCustomError, carrying what was given and what is allowed
        context = getattr(exc, "context", None) or {}
        print(f"task-api run: --cap-add: {context.get('message', exc)} (given {context.get('given')}; allowed "
              f"{context.get('allowed')})", file=sys.stderr)  # fmt: skip
        return 2
    user = USER_FROM_TASK if args.user is None else (None if args.user == "image" else args.user)
    options = RunOptions(
        pull=not args.no_pull, name=args.name, user=user, record_path=args.output, capabilities=capabilities
    )

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with DockerEngine(args.docker_host) as engine:
        prepared = prepare(
            args.task,
            engine=engine,
            options=options,
            report=report,
            on_pull=PullDisplay(),
            docker_host=engine.docker_host,
        )
        record, path = start(prepared, engine=engine, options=options, docker_host=engine.docker_host)
        report(f"started container {record.id} for task {record.name!r} (template {record.template})")
        report(f"run record: {path}")
        # Watching costs the sampler nothing measurable (bench/run_overhead.py), so it records the peak by default.
        monitor = args.watch if args.monitor_memory is None else args.monitor_memory
        if not (args.watch or monitor):
            report(f"follow it with: task-api logs {path} --follow (or task-api wait {path}, which records the peak)")
            print(path)
            return 0
        return _follow(engine, record, path, watch=args.watch, monitor=monitor)


def _follow(engine: DockerEngine, record: RunRecord, path: Path, *, watch: bool, monitor: bool) -> int:
    """Stream the output and/or sample memory until the container stops; report how it ended (I/O)."""
    from task_api.runner.errors import RecordError
    from task_api.runner.memory import PeakSampler, advise, checks_from_record
    from task_api.runner.runs import current_status, save_status, stream_logs
    from task_api.runner.status import exit_code_for, format_duration

    sampler = PeakSampler(engine, record.container_id).start() if monitor else None

    # The engine I/O runs in a daemon thread and this thread only waits: Ctrl-C then lands here, never inside the
    # HTTP client (a KeyboardInterrupt raised in the middle of httpx's connection handling could leave the process
    # hanging until the container ended). Detaching just stops waiting; the daemon thread dies with the process.
    finished = threading.Event()
    failures: list[BaseException] = []
    # Ctrl-C must detach even when this process inherited SIGINT blocked (a parent's signal mask survives exec)
    # or ignored (background jobs of non-interactive shells): Python installs no handler for an ignored SIGINT.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, None):
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def follow() -> None:
        try:
            if watch:
                for stream_id, data in stream_logs(engine, record, follow=True):
                    write_chunk(stream_id, data)
            engine.wait_container(record.container_id)
        except BaseException as exc:  # handed to the main thread below
            failures.append(exc)
        finally:
            finished.set()

    try:
        # Started inside the try: once the container's output can appear, Ctrl-C means "detach".
        threading.Thread(target=follow, name="follow-container", daemon=True).start()
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt:
        if sampler is not None:
            sampler.stop()
        print(
            f"\ndetached; container {record.id} keeps running. Follow it with: task-api logs {path} --follow",
            file=sys.stderr,
            flush=True,
        )
        sys.stdout.flush()
        os._exit(EXIT_DETACHED)  # no interpreter teardown: the follower thread may sit in a socket read
    if failures:
        raise failures[0]
    peak = sampler.stop() if sampler is not None else None
    status = current_status(engine, record, peak_memory=peak)
    try:
        save_status(path, record, status)
    except RecordError as exc:  # the outcome still counts; only its copy in the record is missing
        print(f"task-api run: warning: {exc}", file=sys.stderr)
    outcome = f"{status.reason.value}, exit code {status.exit_code}"
    if status.oom_killed:
        outcome += ", OOMKilled"
    print(f"container {record.id} finished: {outcome} after {format_duration(status.duration_seconds)}",
          file=sys.stderr)  # fmt: skip
    if monitor:
        lines = advise(
            peak_bytes=status.peak_memory_bytes,
            oom_killed=status.oom_killed,
            limit_bytes=_limit_bytes(record),
            checks=checks_from_record(record),
        )
        for warning, line in lines:
            print(("warning: " if warning else "") + line, file=sys.stderr)
    print(path)
    return exit_code_for(status)


def _limit_bytes(record: RunRecord) -> int | None:
    from task_api.spec.quantity import parse_quantity

    text = record.limits.get("memory")
    return int(parse_quantity(text)) if text else None
