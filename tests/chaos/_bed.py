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

import fcntl
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
from dataclasses import dataclass
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
    failover_burst: int  # TaskRuns in each leader-failover burst (scenario 9)
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
            "full": dict(
                burst=200,
                kills=5,
                restart_burst=200,
                latency_probes=100,
                registry_runs=40,
                fuzz_cases=300,
                failover_burst=100,
            ),
            # For working on the suite itself; not a size the table is made from.
            "smoke": dict(
                burst=30, kills=2, restart_burst=20, latency_probes=5, registry_runs=3, fuzz_cases=15, failover_burst=8
            ),
            "ci": dict(
                burst=60,
                kills=5,
                restart_burst=60,
                latency_probes=30,
                registry_runs=12,
                fuzz_cases=80,
                failover_burst=20,
            ),
        }
        if name not in sizes:
            raise ChaosError(f"TASK_API_CHAOS_SCALE={name!r}: allowed: {', '.join(sorted(sizes))}")
        return cls(name=name, seed=seed, **sizes[name])


# ---------------------------------------------------------------------------------------------- pods


class _Watch:
    """A list-then-watch of one collection, in a thread, that re-lists and resumes after any error (an API server
    restart, an expired resourceVersion). Subclasses file each object in :meth:`_see`, with the moment it arrived."""

    def __init__(self, testbed: Testbed, namespace: str, what: str) -> None:
        self.testbed = testbed
        self.namespace = namespace
        self.what = what
        self.reconnects = 0
        self._stop = threading.Event()
        self._listed = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def _call(self) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        """The client's list function, its arguments and extra keyword arguments."""
        raise NotImplementedError

    def _see(self, event: str, obj: dict[str, Any], when: float) -> None:
        raise NotImplementedError

    def start(self) -> Any:
        self._thread = threading.Thread(target=self._run, name=f"watch-{self.what}-{self.namespace}", daemon=True)
        self._thread.start()
        if not self._listed.wait(30):
            raise ChaosError(f"the {self.what} watch on {self.namespace} could not list in 30 s")
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=40)

    def _run(self) -> None:
        from kubernetes import watch  # noqa: PLC0415 — the package is only needed on the test bed

        func, args, extra = self._call()
        while not self._stop.is_set():
            try:
                response = func(*args, **extra, _preload_content=False, _request_timeout=10)
                listing = json.loads(response.data)
                now = time.monotonic()
                for obj in listing.get("items") or []:
                    self._see("LISTED", obj, now)
                self._listed.set()
                version = (listing.get("metadata") or {}).get("resourceVersion")
                stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                    func, *args, **extra, resource_version=version, timeout_seconds=20, _request_timeout=30,
                    deserialize=False,
                )  # fmt: skip
                for event in stream:
                    if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                        self._see(event["type"], event["object"], time.monotonic())
                    if self._stop.is_set():
                        return
            except Exception:  # the API server is down or restarting, or the resourceVersion expired: re-list
                self.reconnects += 1
                self._stop.wait(0.3)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def pod_ended(pod: Mapping[str, Any]) -> bool:
    """Whether a pod has ended: its phase says so, or every container has terminated (the kubelet may report the
    containers' end before it moves the phase, and the operator acts on the containers). Pure."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return True
    containers = status.get("containerStatuses") or []
    return bool(containers) and all("terminated" in (c.get("state") or {}) for c in containers)


class PodLedger(_Watch):
    """Every pod of one namespace ever seen: the UIDs per pod name, when each name was first seen, when it was first
    seen ended (:func:`pod_ended`) and when it was deleted."""

    def __init__(self, testbed: Testbed, namespace: str) -> None:
        super().__init__(testbed, namespace, "pods")
        self.uids: defaultdict[str, set[str]] = defaultdict(set)
        self.first_seen: dict[str, float] = {}
        self.ended_at: dict[str, float] = {}
        self.deleted_at: dict[str, float] = {}

    def _call(self) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        from kubernetes import client  # noqa: PLC0415

        return client.CoreV1Api(self.testbed.api_client).list_namespaced_pod, (self.namespace,), {}

    def _see(self, event: str, obj: dict[str, Any], when: float) -> None:
        meta = obj.get("metadata") or {}
        name, uid = meta.get("name", ""), meta.get("uid", "")
        with self._lock:
            self.uids[name].add(uid)
            self.first_seen.setdefault(name, when)
            if pod_ended(obj):
                self.ended_at.setdefault(name, when)
            if event == "DELETED":
                self.deleted_at.setdefault(name, when)

    def merge_listing(self) -> None:
        """Add what the API server lists now (pods that lived only while the watch reconnected)."""
        now = time.monotonic()
        for pod in kubectl_json(self.testbed, "get", "pods", "-n", self.namespace)["items"]:
            self._see("LISTED", pod, now)

    def duplicates(self) -> dict[str, int]:
        """Pod names that had more than one UID, with the number of UIDs."""
        with self._lock:
            return {name: len(uids) for name, uids in self.uids.items() if len(uids) > 1}

    def seen_at(self, name: str) -> float | None:
        with self._lock:
            return self.first_seen.get(name)

    def created_after(self, moment: float) -> list[tuple[float, str]]:
        """(first seen, name) of the pod names first seen after ``moment``, earliest first."""
        with self._lock:
            return sorted((t, n) for n, t in self.first_seen.items() if t > moment)


class RunLedger(_Watch):
    """Every TaskRun of one namespace as a watch saw it: the latest copy, when it was first seen final, when it was
    deleted, and every change of its status made by the operator, with the moment it arrived.

    The operator is the only writer of a TaskRun's status but for ``status.memory``'s peaks, which the node agent
    writes: a change of anything else in the status is a write of the operator's."""

    def __init__(self, testbed: Testbed, namespace: str) -> None:
        super().__init__(testbed, namespace, "taskruns")
        self.last: dict[str, dict[str, Any]] = {}
        self.final_at: dict[str, float] = {}
        self.deleted_at: dict[str, float] = {}
        self.writes: list[tuple[float, str]] = []
        self._status: dict[str, Any] = {}

    def _call(self) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        from kubernetes import client  # noqa: PLC0415

        api = client.CustomObjectsApi(self.testbed.api_client)
        return api.list_namespaced_custom_object, ("task-api.io", "v1alpha1", self.namespace, "taskruns"), {}

    def _see(self, event: str, obj: dict[str, Any], when: float) -> None:
        name = (obj.get("metadata") or {}).get("name", "")
        status = {k: v for k, v in (obj.get("status") or {}).items() if k != "memory"}
        with self._lock:
            if event == "DELETED":
                self.deleted_at.setdefault(name, when)
                return
            self.last[name] = obj
            if is_final(obj):
                self.final_at.setdefault(name, when)
            if status and status != self._status.get(name):
                self.writes.append((when, name))
            self._status[name] = status

    def writes_after(self, moment: float) -> list[tuple[float, str]]:
        """(arrived, run) of the operator's status writes that arrived after ``moment``, earliest first."""
        with self._lock:
            return sorted(w for w in self.writes if w[0] > moment)


@contextmanager
def pod_ledger(testbed: Testbed, namespace: str) -> Iterator[PodLedger]:
    ledger = PodLedger(testbed, namespace).start()
    try:
        yield ledger
    finally:
        ledger.stop()


@contextmanager
def run_ledger(testbed: Testbed, namespace: str) -> Iterator[RunLedger]:
    ledger = RunLedger(testbed, namespace).start()
    try:
        yield ledger
    finally:
        ledger.stop()


@dataclass(frozen=True)
class Tally:
    """A scenario's lost / duplicated / stuck, counted from the pod watch and the TaskRuns' final state."""

    lost: int
    duplicated: int
    stuck: int
    problems: tuple[str, ...] = ()


def tally(
    runs: Mapping[str, Mapping[str, Any]],
    uids: Mapping[str, set[str]],
    names: Iterable[str],
    *,
    gone: Iterable[str] = (),
) -> Tally:
    """Pure over the final listing and the pod watch's records. For the named runs:

    * **lost** — a run missing at the end (``gone`` lists the ones the scenario deleted on purpose), a run that
      Succeeded without any pod of it ever seen, or an attempt its status records whose pod was never seen;
    * **duplicated** — a pod name of these runs that had more than one UID (created again), or a pod of an attempt
      the run's status does not record (a second attempt nobody asked for);
    * **stuck** — a run present at the end without a final Succeeded condition.
    """
    deleted = set(gone)
    pods_of: defaultdict[str, dict[int, int]] = defaultdict(dict)
    recreated: defaultdict[str, list[str]] = defaultdict(list)
    for pod_name, pod_uids in uids.items():
        match = re.fullmatch(r"(.+)-(?:a(\d+)|measure)", pod_name)
        if not match:
            continue
        if match.group(2) is not None:
            pods_of[match.group(1)][int(match.group(2))] = len(pod_uids)
        if len(pod_uids) > 1:
            recreated[match.group(1)].append(f"{pod_name}: {len(pod_uids)} different pods")
    lost = duplicated = stuck = 0
    problems: list[str] = []
    for name in names:
        run = runs.get(name)
        seen = pods_of.get(name, {})
        duplicated += len(recreated.get(name, []))
        problems.extend(recreated.get(name, []))
        if run is None:
            if name not in deleted:
                lost += 1
                problems.append(f"{name}: missing")
            continue
        attempts = int((run.get("status") or {}).get("attempts") or 0)
        missing = sorted(set(range(1, attempts + 1)) - set(seen))
        extra = sorted(set(seen) - set(range(1, attempts + 1)))
        if missing or (condition(run).get("reason") == "Succeeded" and not seen):
            lost += 1
            problems.append(f"{name}: status says {attempts} attempt(s), no pod seen for attempts {missing or [1]}")
        if extra:
            duplicated += len(extra)
            problems.append(f"{name}: pods seen for attempts {extra} the status does not record ({attempts})")
        if not is_final(run):
            stuck += 1
            problems.append(f"{name}: not final ({(run.get('status') or {}).get('reason')})")
    return Tally(lost=lost, duplicated=duplicated, stuck=stuck, problems=tuple(problems))


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


# ---------------------------------------------------------------------------------------------- the operator


def operator_pods(testbed: Testbed) -> list[dict[str, Any]]:
    """The operator's pods that are not being deleted, oldest first."""
    items = kubectl_json(testbed, "get", "pods", "-n", OPERATOR_NAMESPACE, "-l", OPERATOR_SELECTOR)["items"]
    live = [p for p in items if not p["metadata"].get("deletionTimestamp")]
    return sorted(live, key=lambda p: str(p["metadata"].get("creationTimestamp")))


def operator_pod(testbed: Testbed, name: str | None = None) -> dict[str, Any]:
    """The operator's pod named ``name``, or (None) its first live pod."""
    live = [p for p in operator_pods(testbed) if name is None or p["metadata"]["name"] == name]
    if not live:
        raise ChaosError(f"no operator pod {name or ''} in {OPERATOR_NAMESPACE} ({OPERATOR_SELECTOR})")
    return live[0]


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


def operator_pid(testbed: Testbed, pod_name: str | None = None) -> tuple[int, str]:
    """The host PID of the operator's process in the pod ``pod_name`` (None: the first live operator pod) and the
    pod's name; waits up to 60 s for one to run."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            pod = operator_pod(testbed, pod_name)
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
    raise ChaosError(f"the operator's process (pod {pod_name or 'any'}) was not found on the node within 60 s")


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
    """GET on the operator's port on this host; (0, error) when nothing answers. With two replicas both listen on
    the port (SO_REUSEPORT) and the kernel hands each new connection to one of them."""
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


def parse_metric(text: str, name: str, **labels: str) -> float | None:
    """The sum of a Prometheus series over the lines matching ``labels`` in ``text`` (None: no such series). Pure."""
    total: float | None = None
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in series for k, v in labels.items()):
            total = (total or 0.0) + float(value)
    return total


def metric(name: str, **labels: str) -> float:
    """The sum of a Prometheus counter/gauge over the series matching ``labels`` (0 when absent)."""
    status, text = http_get("/metrics")
    if status != 200:
        raise ChaosError(f"operator /metrics answered {status}: {text[:200]}")
    return parse_metric(text, name, **labels) or 0.0


def leader_values(samples: int = 30) -> list[float]:
    """``task_api_leader`` from ``samples`` fresh connections to the port: with two replicas the kernel spreads them
    over both processes, so a leader and a standby show up as both 1 and 0."""
    values = []
    for _ in range(samples):
        status, text = http_get("/metrics")
        value = parse_metric(text, "task_api_leader") if status == 200 else None
        if value is not None:
            values.append(value)
    return values


class MetricsSampler:
    """``task_api_leader`` and ``task_api_reconciles_total`` from a fresh connection to the operator's port every
    ``interval`` seconds, in a thread, with the moment each answer came. With several replicas each answer is one
    replica's (the kernel picks one per connection); a replica that leads answers ``task_api_leader`` 1, and its
    counter starts at 0 when its process starts."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            status, text = http_get("/metrics", timeout=1.0)
            if status == 200:
                leader = parse_metric(text, "task_api_leader")
                reconciles = parse_metric(text, "task_api_reconciles_total") or 0.0
                if leader is not None:
                    self.samples.append((time.monotonic(), leader, reconciles))
            self._stop.wait(self.interval)

    def first_reconcile_after(self, moment: float) -> float | None:
        """When a leader first answered with at least one reconcile counted, after ``moment``."""
        return next((t for t, leader, count in list(self.samples) if t > moment and leader == 1 and count > 0), None)

    def __enter__(self) -> MetricsSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def wait_operator_leading(*, timeout: float = 180) -> float:
    """Seconds until a process on the port answers ``/readyz`` ok and says it leads (``task_api_leader`` 1): a
    standby is ready too, but only the Lease's holder reconciles."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if http_get("/readyz")[0] == 200 and 1.0 in leader_values(4):
            return time.monotonic() - started
        time.sleep(0.1)
    raise ChaosError(f"no operator led {timeout:.0f} s later: /readyz {http_get('/readyz')}, leader {leader_values()}")


def kill_operator(testbed: Testbed, *, how: str, pod_name: str | None = None) -> float:
    """SIGKILL the operator (``how="process"``: its process on the node, the kubelet restarts the container;
    ``how="pod"``: ``kubectl delete pod --grace-period=0 --force``, the Deployment makes a new pod). Returns the
    seconds until an operator leads again (its recovery time: the new process must wait for the dead one's
    Lease to expire before it reconciles)."""
    pid, pod_name = operator_pid(testbed, pod_name)
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
    wait_operator_leading()
    return time.monotonic() - started


# ---------------------------------------------------------------------------------------------- leadership

LEASE = "task-api-operator"


def lease(testbed: Testbed) -> dict[str, Any]:
    """The operator's Lease (``{}`` when there is none yet)."""
    done = testbed.kubectl_run("get", "lease", "-n", OPERATOR_NAMESPACE, LEASE, "-o", "json", "--ignore-not-found",
                               "--request-timeout=10s", check=False)  # fmt: skip
    return dict(json.loads(done.stdout)) if done.returncode == 0 and done.stdout.strip() else {}


def holder_pod(identity: str) -> str:
    """The pod of a Lease holder's identity (``<pod name>-<6 hex digits>``, task_api/controller/app.py). Pure."""
    match = re.fullmatch(r"(.+)-[0-9a-f]{6}", identity)
    return match.group(1) if match else identity


class LeaseWatch(_Watch):
    """The operator's Lease as a watch sees it: every holder it names, with the moment it arrived."""

    def __init__(self, testbed: Testbed) -> None:
        super().__init__(testbed, OPERATOR_NAMESPACE, "lease")
        self.holders: list[tuple[float, str]] = []

    def _call(self) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        from kubernetes import client  # noqa: PLC0415

        api = client.CoordinationV1Api(self.testbed.api_client)
        return api.list_namespaced_lease, (self.namespace,), {"field_selector": f"metadata.name={LEASE}"}

    def _see(self, event: str, obj: dict[str, Any], when: float) -> None:
        holder = "" if event == "DELETED" else str((obj.get("spec") or {}).get("holderIdentity") or "")
        with self._lock:
            if not self.holders or self.holders[-1][1] != holder:
                self.holders.append((when, holder))

    def holder(self) -> str:
        with self._lock:
            return self.holders[-1][1] if self.holders else ""

    def first_after(self, moment: float, *, other_than: str) -> tuple[float, str] | None:
        """The first holder other than ``other_than`` (and not empty) that arrived after ``moment``."""
        with self._lock:
            return next(((t, h) for t, h in self.holders if t > moment and h and h != other_than), None)

    def released_after(self, moment: float) -> float | None:
        """When the Lease was first seen without a holder after ``moment`` (a leader released it)."""
        with self._lock:
            return next((t for t, h in self.holders if t > moment and not h), None)


def scale_operator(testbed: Testbed, replicas: int, *, timeout: float = 240) -> list[dict[str, Any]]:
    """Scale the operator's Deployment and wait until exactly ``replicas`` live pods run and are Ready, one of them
    holding the Lease (task_api_leader 1 on the port) and, with two, the other standing by (0). Returns the pods.

    Scaling down removes the pods whose containers restarted most first (``pod-deletion-cost``): a container killed
    here would otherwise carry its crash-loop back-off into the next scenario that kills the operator."""
    live = operator_pods(testbed)
    if len(live) > replicas:
        for pod in live:
            testbed.kubectl_run("annotate", "pod", "-n", OPERATOR_NAMESPACE, pod["metadata"]["name"], "--overwrite",
                                f"controller.kubernetes.io/pod-deletion-cost={-restart_count(pod)}")  # fmt: skip
    testbed.kubectl_run("scale", "deployment", "-n", OPERATOR_NAMESPACE, "task-api-operator", f"--replicas={replicas}")
    deadline = time.monotonic() + timeout
    pods: list[dict[str, Any]] = []
    values: list[float] = []
    while time.monotonic() < deadline:
        items = kubectl_json(testbed, "get", "pods", "-n", OPERATOR_NAMESPACE, "-l", OPERATOR_SELECTOR)["items"]
        pods = [p for p in items if not p["metadata"].get("deletionTimestamp")]
        ready = [
            p for p in pods
            if any(c.get("type") == "Ready" and c.get("status") == "True" for c in p["status"].get("conditions") or [])
        ]  # fmt: skip
        if len(items) == len(pods) == len(ready) == replicas:
            values = leader_values(30)
            holder = holder_pod(str((lease(testbed).get("spec") or {}).get("holderIdentity") or ""))
            if holder in {p["metadata"]["name"] for p in pods} and set(values) == (
                {1.0, 0.0} if replicas > 1 else {1.0}
            ):
                return sorted(pods, key=lambda p: p["metadata"]["name"] != holder)  # the leader first
        time.sleep(1)
    raise ChaosError(
        f"the operator did not settle at {replicas} replica(s) in {timeout:.0f} s: pods "
        f"{[(p['metadata']['name'], p['status'].get('phase')) for p in pods]}, task_api_leader answers {values}"
    )


@contextmanager
def bed_lock(timeout: float = 900) -> Iterator[None]:
    """Hold the test bed's lock (``$TESTBED_DIR/.lock``, hack/testbed/lib.sh): ``up.sh``, ``down.sh``, ``restart.sh``
    and ``hack/deploy-testbed.sh`` of other sessions wait meanwhile, so none rebuilds the bed or re-applies the
    Deployment (one replica) under a scenario. Scripts this process starts inherit it (``TESTBED_LOCKED``)."""
    from tests.fixtures.testbed import state_dir  # noqa: PLC0415

    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ChaosError(f"{directory}/.lock held by someone else for {timeout:.0f} s") from None
                time.sleep(1)
        previous = os.environ.get("TESTBED_LOCKED")
        os.environ["TESTBED_LOCKED"] = str(directory)
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("TESTBED_LOCKED", None)
            else:
                os.environ["TESTBED_LOCKED"] = previous
            fcntl.flock(handle, fcntl.LOCK_UN)


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
