"""Scenario 4 — a task's pod deleted out of band while running, and its process SIGKILLed on the node (what node
memory pressure or an OOM killer outside the cgroup does).

Each fault hits two runs: one without retries, which must end Failed with a truthful reason (``PodDeleted`` for a
deleted pod; ``Failed`` with exit code 137 — not ``OOMKilled``, not ``Succeeded`` — for a killed process), and one
with ``retries.limit: 1``, which must start attempt 2 and succeed (the script sleeps only on its first attempt: it
leaves a marker on its output claim). Never stuck Running; exactly one pod per attempt (pod watch).
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from tests.chaos import _bed
from tests.chaos._bed import Scale
from tests.chaos.conftest import Namespace
from tests.chaos.results import Row, record
from tests.e2e.conftest import PULL_SECRET
from tests.fixtures.testbed import Testbed

pytestmark = [pytest.mark.cluster, pytest.mark.chaos]

# Sleeps on the first attempt only: attempt 2 finds the marker the first one left on the output claim.
ONCE = "if [ -e $OUT/first-attempt ]; then echo second attempt; exit 0; fi; touch $OUT/first-attempt; exec sleep 600"
ALWAYS = "exec sleep 600"


def wait_running(ns: Namespace, name: str) -> dict[str, Any]:
    """Wait until the TaskRun reports Running and its pod's container runs; return the pod."""
    ns.wait_reason(name, "Running", timeout=120)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pod = ns.get("pod", f"{name}-a1")
        states = [c.get("state") or {} for c in (pod.get("status") or {}).get("containerStatuses") or []]
        if states and all("running" in s for s in states):
            return pod
        time.sleep(0.2)
    raise AssertionError(f"pod {name}-a1 never ran: {pod.get('status')}")


@pytest.mark.timeout(900)
def test_pod_deleted_and_process_killed(testbed: Testbed, run_ns: Namespace, chain_image: str, scale: Scale) -> None:
    plain: dict[str, Any] = {}
    retried: dict[str, Any] = {"retries": {"limit": 1}}
    runs = {
        "deleted": _bed.sleeping_taskrun("deleted", chain_image, PULL_SECRET, ALWAYS, **plain),
        "deleted-retry": _bed.sleeping_taskrun("deleted-retry", chain_image, PULL_SECRET, ONCE, **retried),
        "killed": _bed.sleeping_taskrun("killed", chain_image, PULL_SECRET, ALWAYS, **plain),
        "killed-retry": _bed.sleeping_taskrun("killed-retry", chain_image, PULL_SECRET, ONCE, **retried),
    }
    names = list(runs)
    settle: dict[str, float] = {}
    try:
        with _bed.pod_ledger(testbed, run_ns.name) as ledger:
            _bed.apply(testbed, run_ns.name, runs.values())
            for name in names:
                pod = wait_running(run_ns, name)
                started = time.monotonic()
                if name.startswith("deleted"):
                    run_ns.kubectl("delete", "pod", f"{name}-a1", "--grace-period=1", "--wait=false")
                else:
                    pids = _bed.pids_in_pod(pod["metadata"]["uid"])
                    assert pids, f"no process of pod {name}-a1 found on the node"
                    for pid in pids:
                        os.kill(pid, signal.SIGKILL)
                run_ns.wait_finished(name, timeout=180)
                settle[name] = time.monotonic() - started
            final, _ = _bed.wait_all_final(testbed, run_ns.name, names, timeout=60)
            ledger.merge_listing()
            counted = _bed.tally(final, ledger.uids, names)
    finally:
        _bed.save_evidence(testbed, run_ns.name, "pod-faults")
    outcome = {
        n: (
            _bed.condition(final[n]).get("reason"),
            (final[n].get("status") or {}).get("attempts"),
            (final[n].get("status") or {}).get("exitCode"),
        )
        for n in names
    }
    record(
        Row(
            scenario="4 pod deleted / task process SIGKILLed",
            runs=len(names),
            lost=counted.lost,
            duplicated=counted.duplicated,
            stuck=counted.stuck,
            recovery_s=max(settle.values()),
            notes="; ".join(f"{n}: {r} after {a} attempt(s), exit {e}" for n, (r, a, e) in outcome.items()),
            scale=scale.name,
            seed=scale.seed,
            figures={"fault_to_final_s": {k: round(v, 2) for k, v in settle.items()}},
        )
    )
    assert outcome["deleted"][:2] == ("PodDeleted", 1), outcome
    assert "deleted" in _bed.condition(final["deleted"]).get("message", ""), final["deleted"]["status"]
    assert outcome["killed"] == ("Failed", 1, 137), outcome
    assert outcome["deleted-retry"][:2] == ("Succeeded", 2), outcome
    assert outcome["killed-retry"][:2] == ("Succeeded", 2), outcome
    assert (counted.lost, counted.duplicated, counted.stuck) == (0, 0, 0), counted.problems
