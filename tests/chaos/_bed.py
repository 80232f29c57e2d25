"""Fault injection and bookkeeping on the real test bed, shared by the chaos scenarios. Does I/O throughout.

What it offers:

* :class:`Scale` — how big each scenario is, from ``TASK_API_CHAOS_SCALE`` (``full``: the sizes the issue asks
  for, e.g. a burst of 200 TaskRuns; ``ci``: the same scenarios, smaller, so that ``make test`` stays in CI's
  90 minutes).
* :class:`PodLedger` — a pod watch started *before* a scenario's burst that keeps every pod UID it ever saw per
  pod name, with the time each name was first seen. Duplicates are counted from this, not from what is left at
  the end: a pod created, deleted and created again would be invisible to a final listing. The watch survives an
  API server restart (it re-lists and resumes), and a final listing is merged in, so a pod that lived only while
  the watch was reconnecting is still counted.
* The faults: SIGKILL of the operator's process on the node, force deletion of its pod, a stop/start of one test
  bed component through ``hack/testbed/restart.sh``, SIGKILL of a task's process on the node.
* The operator's own view: ``/readyz`` and ``/metrics`` on the node's port 19080 (the Deployment runs on the host
  network), its restart count and its log.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fixtures.testbed import Testbed, operator_port

ROOT = Path(__file__).resolve().parents[2]
RESTART = ROOT / "hack" / "testbed" / "restart.sh"
OPERATOR_NAMESPACE = "task-api-system"
OPERATOR_SELECTOR = "app.kubernetes.io/name=task-api-operator"
OPERATOR_PORT = operator_port()
FINAL = ("True", "False")


class ChaosError(AssertionError):
    """A fault could not be injected or undone; the message says which and why."""


# ---------------------------------------------------------------------------------------------- scale


@dataclass(frozen=True)
class Scale:
    """Sizes of the scenarios. ``full`` is what docs/reliability.md's table comes from."""

    name: str
    burst: int  # TaskRuns in the operator-kill burst (scenario 1)
    kills: int  # operator kills during that burst
    restart_burst: int  # TaskRuns in the API-server/etcd scenario (scenario 2)
    latency_probes: int  # TaskRuns created one by one after the restarts, create -> pod seen
    registry_runs: int  # TaskRuns resolved while the registry is down (scenario 3)
    fuzz_cases: int  # malformed TaskRuns (scenario 7)
    seed: int

    @classmethod
    def from_env(cls) -> Scale:
        """Pure apart from reading ``TASK_API_CHAOS_SCALE`` (``full`` | ``ci``, default ``ci``) and
        ``TASK_API_CHAOS_SEED`` (default: a random seed, printed by every scenario so a failure can be replayed)."""
        name = os.environ.get("TASK_API_CHAOS_SCALE", "ci").strip() or "ci"
        raw_seed = os.environ.get("TASK_API_CHAOS_SEED", "")
        if raw_seed and not raw_seed.isdigit():
            raise ChaosError(f"TASK_API_CHAOS_SEED={raw_seed!r}: allowed: a non-negative integer")
        seed = int(raw_seed) if raw_seed else random.SystemRandom().randrange(1 << 30)
        sizes = {
            "full": dict(burst=200, kills=5, restart_burst=200, latency_probes=100, registry_runs=40, fuzz_cases=300),
            # For working on the suite itself; not a size the table is made from.
            "smoke": dict(burst=30, kills=2, restart_burst=20, latency_probes=5, registry_runs=3, fuzz_cases=15),
            "ci": dict(burst=60, kills=5, restart_burst=60, latency_probes=30, registry_runs=12, fuzz_cases=80),
        }
        if name not in sizes:
            raise ChaosError(f"TASK_API_CHAOS_SCALE={name!r}: allowed: {', '.join(sorted(sizes))}")
        return cls(name=name, seed=seed, **sizes[name])


# ---------------------------------------------------------------------------------------------- pods


@dataclass
class PodLedger:
    """Every pod of one namespace ever seen, from a watch that re-lists and resumes across API outages."""

    testbed: Testbed
    namespace: str
    uids: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    first_seen: dict[str, float] = field(default_factory=dict)
    reconnects: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None
    _listed: threading.Event = field(default_factory=threading.Event)

    def start(self) -> PodLedger:
        self._thread = threading.Thread(target=self._run, name=f"pod-ledger-{self.namespace}", daemon=True)
        self._thread.start()
        if not self._listed.wait(30):
            raise ChaosError(f"the pod watch on {self.namespace} could not list pods in 30 s")
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=40)

    def _see(self, pod: Any) -> None:
        meta = pod["metadata"] if isinstance(pod, dict) else pod.metadata
        name = meta["name"] if isinstance(meta, dict) else meta.name
        uid = meta["uid"] if isinstance(meta, dict) else meta.uid
        with self._lock:
            self.uids[name].add(uid)
            self.first_seen.setdefault(name, time.monotonic())

    def _run(self) -> None:
        from kubernetes import client, watch  # noqa: PLC0415 — the package is only needed on the test bed

        core = client.CoreV1Api(self.testbed.api_client)
        while not self._stop.is_set():
            try:
                listing = core.list_namespaced_pod(self.namespace, _request_timeout=10)
                for pod in listing.items:
                    self._see(pod)
                self._listed.set()
                version = listing.metadata.resource_version if listing.metadata else None
                stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                    core.list_namespaced_pod,
                    self.namespace,
                    resource_version=version,
                    timeout_seconds=20,
                    _request_timeout=30,
                )
                for event in stream:
                    if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        self._see(event["object"])
                    if self._stop.is_set():
                        return
            except Exception:  # the API server is down or restarting, or the resourceVersion expired: re-list
                self.reconnects += 1
                self._stop.wait(0.3)

    def merge_listing(self) -> None:
        """Add what the API server lists now (pods that lived only while the watch reconnected)."""
        for pod in kubectl_json(self.testbed, "get", "pods", "-n", self.namespace)["items"]:
            self._see(pod)

    def duplicates(self) -> dict[str, int]:
        """Pod names that had more than one UID, with the number of UIDs."""
        with self._lock:
            return {name: len(uids) for name, uids in self.uids.items() if len(uids) > 1}

    def seen_at(self, name: str) -> float | None:
        with self._lock:
            return self.first_seen.get(name)


@contextmanager
def pod_ledger(testbed: Testbed, namespace: str) -> Iterator[PodLedger]:
    ledger = PodLedger(testbed, namespace).start()
    try:
        yield ledger
    finally:
        ledger.stop()


# ---------------------------------------------------------------------------------------------- kubectl


def kubectl_json(testbed: Testbed, *args: str, attempts: int = 60) -> dict[str, Any]:
    """``kubectl ... -o json``, retried while the API server is unreachable (a scenario may have stopped it)."""
    last = ""
    for _ in range(attempts):
        done = testbed.kubectl_run(*args, "-o", "json", "--request-timeout=20s", check=False)
        if done.returncode == 0:
            result: dict[str, Any] = json.loads(done.stdout)
            return result
        last = done.stderr.strip()
        time.sleep(1)
    raise ChaosError(f"kubectl {' '.join(args)} kept failing: {last}")


def apply(testbed: Testbed, namespace: str, objects: Iterable[Mapping[str, Any]], *, attempts: int = 60) -> None:
    """Create or update objects with one ``kubectl apply`` (idempotent, so retried across API outages)."""
    manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
    last = ""
    for _ in range(attempts):
        done = testbed.kubectl_run("-n", namespace, "apply", "-f", "-", "--request-timeout=30s",
                                   input=manifest, check=False)  # fmt: skip
        if done.returncode == 0:
            return
        last = done.stderr.strip()
        time.sleep(1)
    raise ChaosError(f"kubectl apply into {namespace} kept failing: {last[-2000:]}")


def taskruns(testbed: Testbed, namespace: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in kubectl_json(testbed, "get", "taskruns", "-n", namespace)["items"]}


def condition(run: Mapping[str, Any]) -> dict[str, Any]:
    """The TaskRun's Succeeded condition ({} when it has none yet)."""
    for cond in (run.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Succeeded":
            return dict(cond)
    return {}


def is_final(run: Mapping[str, Any]) -> bool:
    return condition(run).get("status") in FINAL


def wait_all_final(
    testbed: Testbed, namespace: str, names: Iterable[str], *, timeout: float
) -> tuple[dict[str, dict[str, Any]], float]:
    """Poll until every named TaskRun has a final Succeeded condition, or the timeout passes.

    Returns the last view of all runs and the seconds waited; the caller asserts on what is (not) final, so a
    stuck run is reported with its status rather than as a time-out.
    """
    wanted = set(names)
    started = time.monotonic()
    runs: dict[str, dict[str, Any]] = {}
    while True:
        runs = taskruns(testbed, namespace)
        if all(n in runs and is_final(runs[n]) for n in wanted) or time.monotonic() - started > timeout:
            return runs, time.monotonic() - started
        time.sleep(2)


def summarise(runs: Mapping[str, Mapping[str, Any]], names: Iterable[str]) -> dict[str, int]:
    """Counts of final reasons (and ``missing``/``not final``) over the named runs. Pure."""
    counts: defaultdict[str, int] = defaultdict(int)
    for name in names:
        run = runs.get(name)
        if run is None:
            counts["missing"] += 1
        elif not is_final(run):
            counts[f"not final ({(run.get('status') or {}).get('reason')})"] += 1
        else:
            counts[str(condition(run).get("reason"))] += 1
    return dict(counts)


def trivial_taskrun(name: str, image: str, pull_secret: str, **spec: Any) -> dict[str, Any]:
    """The chain example's ``produce`` template: no inputs, one output to the workspace claim, done in a moment."""
    return {
        "apiVersion": "task-api.io/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": name, "labels": {"task-api.io/chaos": "1"}},
        "spec": {"image": image, "imagePullSecrets": [{"name": pull_secret}], "taskTemplate": "produce", **spec},
    }


def sleeping_taskrun(name: str, image: str, pull_secret: str, script: str, **spec: Any) -> dict[str, Any]:
    """A ``produce`` run whose command is replaced by a shell script (``$OUT`` is its output directory)."""
    body = trivial_taskrun(name, image, pull_secret, **spec)
    body["spec"]["command"] = ["/bin/sh", "-c", "OUT=/chain/out; " + script]
    return body


def attempts_ok(runs: Mapping[str, Mapping[str, Any]], ledger: PodLedger, names: Iterable[str]) -> list[str]:
    """Problems with "exactly one pod per attempt ever existed": per run, pods ``<run>-a1..aN`` each with one UID
    and no pod for an attempt the status does not record. Pure over the ledger's records."""
    problems: list[str] = []
    by_run: defaultdict[str, dict[int, int]] = defaultdict(dict)
    for pod_name, uids in ledger.uids.items():
        match = re.fullmatch(r"(.+)-a(\d+)", pod_name)
        if match:
            by_run[match.group(1)][int(match.group(2))] = len(uids)
    for name in names:
        attempts = int(((runs.get(name) or {}).get("status") or {}).get("attempts") or 0)
        seen = by_run.get(name, {})
        expected = set(range(1, attempts + 1))
        if set(seen) != expected:
            problems.append(f"{name}: status says {attempts} attempt(s), pods seen for attempts {sorted(seen)}")
        problems.extend(f"{name}-a{a}: {n} different pods" for a, n in seen.items() if n != 1)
    return problems


# ---------------------------------------------------------------------------------------------- the operator


def operator_pod(testbed: Testbed) -> dict[str, Any]:
    items = kubectl_json(testbed, "get", "pods", "-n", OPERATOR_NAMESPACE, "-l", OPERATOR_SELECTOR)["items"]
    live = [p for p in items if not p["metadata"].get("deletionTimestamp")]
    if not live:
        raise ChaosError(f"no operator pod in {OPERATOR_NAMESPACE} ({OPERATOR_SELECTOR})")
    pod: dict[str, Any] = live[0]
    return pod


def restart_count(pod: Mapping[str, Any]) -> int:
    return sum(int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or [])


def pids_in_pod(pod_uid: str, *, exclude_pause: bool = True) -> list[int]:
    """Host PIDs of the processes in a pod's cgroups (cgroupfs driver: ``.../pod<uid>/<container>``)."""
    found: list[int] = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cgroup = (proc / "cgroup").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if f"pod{pod_uid}" not in cgroup and f"pod{pod_uid.replace('-', '_')}" not in cgroup:
            continue
        if exclude_pause and cmdline.split(b"\0", 1)[0].endswith(b"/pause"):
            continue
        found.append(int(proc.name))
    return found


def operator_pid(testbed: Testbed) -> tuple[int, str]:
    """The host PID of the operator's process and its pod's name (waits up to 60 s for one to run)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            pod = operator_pod(testbed)
        except ChaosError:
            time.sleep(0.5)
            continue
        for pid in pids_in_pod(pod["metadata"]["uid"]):
            try:
                if b"task_api.controller" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return pid, pod["metadata"]["name"]
            except OSError:
                continue
        time.sleep(0.5)
    raise ChaosError("the operator's process was not found on the node within 60 s")


def wait_gone(pid: int, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state == "Z":
            return
        time.sleep(0.05)
    raise ChaosError(f"process {pid} still alive {timeout:.0f} s after it was killed")


def http_get(path: str, *, timeout: float = 2.0) -> tuple[int, str]:
    """GET on the operator's port on this host; (0, error) when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{OPERATOR_PORT}{path}", timeout=timeout) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (OSError, urllib.error.URLError) as exc:
        return 0, str(exc)


def wait_operator_ready(*, timeout: float = 180) -> float:
    """Seconds until the operator's ``/readyz`` says ok (its watches and workers run, the API server answers)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if http_get("/readyz")[0] == 200:
            return time.monotonic() - started
        time.sleep(0.1)
    raise ChaosError(f"the operator was not ready {timeout:.0f} s later: {http_get('/readyz')}")


def metric(name: str, **labels: str) -> float:
    """The sum of a Prometheus counter/gauge over the series matching ``labels`` (0 when absent)."""
    status, text = http_get("/metrics")
    if status != 200:
        raise ChaosError(f"operator /metrics answered {status}: {text[:200]}")
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in series for k, v in labels.items()):
            total += float(value)
    return total


def kill_operator(testbed: Testbed, *, how: str) -> float:
    """SIGKILL the operator (``how="process"``: its process on the node, the kubelet restarts the container;
    ``how="pod"``: ``kubectl delete pod --grace-period=0 --force``, the Deployment makes a new pod). Returns the
    seconds until the new operator is ready (its recovery time)."""
    pid, pod_name = operator_pid(testbed)
    # The log of a killed container is gone once its pod is: keep it for the secrets sweep.
    done = testbed.kubectl_run("logs", "-n", OPERATOR_NAMESPACE, pod_name, "--tail=-1", check=False)
    save_evidence(testbed, None, "operator-log", done.stdout)
    started = time.monotonic()
    if how == "process":
        os.kill(pid, signal.SIGKILL)
    elif how == "pod":
        testbed.kubectl_run("delete", "pod", "-n", OPERATOR_NAMESPACE, pod_name, "--grace-period=0", "--force",
                            "--wait=false")  # fmt: skip
    else:
        raise ChaosError(f"kill_operator(how={how!r}): allowed: process, pod")
    wait_gone(pid)
    wait_operator_ready()
    return time.monotonic() - started


def operator_log(testbed: Testbed) -> str:
    """The logs of every operator container, the current and (after a restart) the previous one."""
    out = []
    for pod in kubectl_json(testbed, "get", "pods", "-n", OPERATOR_NAMESPACE, "-l", OPERATOR_SELECTOR)["items"]:
        for previous in ("--previous=false", "--previous=true"):
            done = testbed.kubectl_run("logs", "-n", OPERATOR_NAMESPACE, pod["metadata"]["name"], previous,
                                       "--tail=-1", check=False)  # fmt: skip
            out.append(done.stdout)
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------- components


def component(name: str, action: str, *, kill: bool = False) -> float:
    """``hack/testbed/restart.sh NAME ACTION [--kill]``; returns its seconds. Raises ChaosError on failure."""
    started = time.monotonic()
    argv = [str(RESTART), name, action, *(["--kill"] if kill else [])]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        raise ChaosError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
    return time.monotonic() - started


@contextmanager
def component_down(name: str, *, seconds: float, kill: bool = False) -> Iterator[float]:
    """An outage of one test bed component for ``seconds``: the body of the ``with`` runs while it is down.

    ``restart.sh NAME --down-for SECONDS`` does stop, wait and start while holding the test bed lock, so that an
    ``up.sh`` of another test session waits instead of finding the bed unhealthy and rebuilding it. It runs in
    a session of its own: even if this test is interrupted, the component is started again. Yields the time
    the component went down (monotonic); on leaving, waits until it is healthy again.
    """
    argv = [str(RESTART), name, "--down-for", f"{seconds:g}", *(["--kill"] if kill else [])]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    down = time.monotonic()
    try:
        if line != "down":
            proc.wait(timeout=120)
            raise ChaosError(f"{' '.join(argv)} did not stop {name}: {proc.stderr.read() if proc.stderr else ''}")
        yield down
    finally:
        if proc.wait(timeout=seconds + 300) != 0:
            raise ChaosError(f"{' '.join(argv)} failed: {proc.stderr.read().strip()[-1500:] if proc.stderr else ''}")


def api_ready(testbed: Testbed, *, timeout: float = 120) -> float:
    """Seconds until ``kubectl get --raw /readyz`` answers ok."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        done = testbed.kubectl_run("get", "--raw", "/readyz", "--request-timeout=3s", check=False)
        if done.returncode == 0:
            return time.monotonic() - started
        time.sleep(0.2)
    raise ChaosError(f"the API server was not ready {timeout:.0f} s later")


# ---------------------------------------------------------------------------------------------- evidence

EVIDENCE = ROOT / "build" / "chaos" / "evidence"


def save_evidence(testbed: Testbed, namespace: str | None, label: str, text: str | None = None) -> None:
    """Keep what the secrets sweep (scenario 8) must grep, before a scenario's namespace is deleted or an operator
    container's log is lost to a kill: the TaskRuns (with status) and Events of a namespace, or ``text``."""
    EVIDENCE.mkdir(parents=True, exist_ok=True)
    if text is None:
        parts = []
        for kind in ("taskruns", "processingcontainers", "events"):
            done = testbed.kubectl_run("get", kind, "-n", namespace or "default", "-o", "json", check=False)
            parts.append(done.stdout)
        text = "\n".join(parts)
    target = EVIDENCE / f"{label}-{time.time_ns()}.txt"
    target.write_text(text)
