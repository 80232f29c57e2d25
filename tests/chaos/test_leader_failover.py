"""Scenario 9 — the leader killed mid-burst with two operator replicas (leader election, task_api/kube/lease.py).

The test bed runs one replica (manifests/overlays/testbed). This scenario holds the bed's lock, so that no other
session's ``up.sh`` or ``hack/deploy-testbed.sh`` rebuilds the bed or re-applies the Deployment under it, scales the
Deployment to two and waits until one replica holds the Lease ``task-api-system/task-api-operator`` and the other
stands by (the Lease's holder is one of the two pods; ``task_api_leader`` answers 1 and 0 on the shared port).
Then, during a burst of TaskRuns (each sleeps a random 0 to 20 s), the leader is stopped:

* **SIGKILL** — its process on the node, as scenario 1 finds it (the cgroup of the Lease holder's pod). It cannot
  release the Lease: the standby takes it once the Lease has gone unrenewed for its duration (15 s);
* **graceful** — ``kubectl delete pod``: the leader gets SIGTERM, stops its watches and workers and releases the
  Lease, and the standby takes it at its next try (every 2 s).

The first half of the burst goes in before the fault, the second half right after it, while no replica leads.

Measured (the test's own watches, with the moment each event arrived): the fault → the Lease released (graceful) →
the Lease naming another replica → the new leader's first reconcile, taken as the first write a reconcile made
after the Lease changed hands (a pod created, or a TaskRun status changed): the dead or stopped leader writes no
more once the Lease is free, and a standby writes nothing, so that write is the new leader's. A cross-check from
the operator's side: ``/metrics`` sampled every 50 ms, the first answer after the hand-over that says it leads with
a reconcile counted (a stopping leader stops saying it leads before it releases the Lease).

Holds: every TaskRun Succeeded; exactly one pod per attempt ever existed (pod watch); none stuck. Afterwards the
Deployment is back at one replica, which leads.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from tests.chaos import _bed
from tests.chaos._bed import Scale
from tests.chaos.conftest import Namespace, Operator
from tests.chaos.results import Row, record
from tests.e2e.conftest import PULL_SECRET
from tests.fixtures.testbed import Testbed

pytestmark = [pytest.mark.cluster, pytest.mark.chaos]

T = TypeVar("T")
TASK_SECONDS = 20
# How long the Lease may take to change hands: a SIGKILLed leader's Lease runs out after 15 s, seen by a standby
# that looks every 2 s; far beyond that something is broken (and the run would show it as stuck anyway).
TAKEOVER_BOUND_S = 60.0


@pytest.fixture(scope="module")
def two_replicas(testbed: Testbed, operator: Operator) -> Iterator[None]:
    """The operator at two replicas under the bed's lock; back to one (which leads) afterwards, whatever happened."""
    with _bed.bed_lock():
        try:
            _bed.scale_operator(testbed, 2)
            yield
        finally:
            _bed.scale_operator(testbed, 1)


def wait_for(what: str, probe: Callable[[], T | None], *, timeout: float) -> T:
    """Poll ``probe()`` until it returns something other than None (returned), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.02)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("how", ["SIGKILL", "graceful"])
def test_leader_killed_mid_burst(
    testbed: Testbed, run_ns: Namespace, chain_image: str, scale: Scale, two_replicas: None, how: str
) -> None:
    rng = random.Random(scale.seed + (9 if how == "SIGKILL" else 19))
    n = scale.failover_burst
    names = [f"lf-{i:03d}" for i in range(n)]
    first, second = names[: n // 2], names[n // 2 :]
    bodies = {
        x: _bed.sleeping_taskrun(x, chain_image, PULL_SECRET, f"sleep {rng.randint(0, TASK_SECONDS)}") for x in names
    }
    moment = rng.uniform(0.2, 0.6)  # the share of the first half's pods created when the leader goes
    # Two replicas again (the previous variant's killed process restarts as a standby; a deleted pod is replaced).
    pods = _bed.scale_operator(testbed, 2)
    leader_pod, standby_pod = pods[0]["metadata"]["name"], pods[1]["metadata"]["name"]
    try:
        with (
            _bed.pod_ledger(testbed, run_ns.name) as ledger,
            _bed.run_ledger(testbed, run_ns.name) as watched,
            _bed.LeaseWatch(testbed) as lease,
            _bed.MetricsSampler() as sampler,
        ):
            holder = lease.holder()
            assert _bed.holder_pod(holder) == leader_pod, (holder, leader_pod)
            started = time.monotonic()
            _bed.apply(testbed, run_ns.name, [bodies[x] for x in first])
            wait_for(
                "the first half's pods",
                lambda: True if sum(1 for p in ledger.uids if p.startswith("lf-")) >= moment * len(first) else None,
                timeout=300,
            )
            created_at_fault = sum(1 for p in ledger.uids if p.startswith("lf-"))
            done = testbed.kubectl_run("logs", "-n", _bed.OPERATOR_NAMESPACE, leader_pod, "--tail=-1", check=False)
            _bed.save_evidence(testbed, None, "operator-log", done.stdout)  # for the secrets sweep
            if how == "SIGKILL":
                pid, _ = _bed.operator_pid(testbed, leader_pod)
                fault = time.monotonic()
                os.kill(pid, signal.SIGKILL)
            else:
                fault = time.monotonic()
                testbed.kubectl_run("delete", "pod", "-n", _bed.OPERATOR_NAMESPACE, leader_pod, "--wait=false")
            _bed.apply(testbed, run_ns.name, [bodies[x] for x in second])  # while no replica leads
            taken, new_holder = wait_for(
                "the Lease changing hands",
                lambda: lease.first_after(fault, other_than=holder),
                timeout=TAKEOVER_BOUND_S,
            )
            released = lease.released_after(fault)

            def first_write() -> tuple[float, str] | None:
                writes = [*ledger.created_after(taken), *(
                    (t, f"status of {r}") for t, r in watched.writes_after(taken))]  # fmt: skip
                return min(writes) if writes else None

            reconciled, what = wait_for("the new leader's first write", first_write, timeout=120)
            counted_at = wait_for(
                "a reconcile counted by the new leader", lambda: sampler.first_reconcile_after(taken), timeout=60
            )
            runs, _ = _bed.wait_all_final(testbed, run_ns.name, names, timeout=900)
            burst_s = time.monotonic() - started
            ledger.merge_listing()
            counted = _bed.tally(runs, ledger.uids, names)
    finally:
        _bed.save_evidence(testbed, run_ns.name, f"leader-failover-{how}")
    counts = _bed.summarise(runs, names)
    takeover_s, first_s, counted_s = taken - fault, reconciled - fault, counted_at - fault
    by = "the standby" if _bed.holder_pod(new_holder) == standby_pod else f"{_bed.holder_pod(new_holder)}"
    released_note = f"released the Lease after {released - fault:.1f} s, " if released is not None else ""
    record(
        Row(
            scenario=f"9 leader killed mid-burst, 2 replicas ({'SIGKILL' if how == 'SIGKILL' else 'pod deleted'})",
            runs=n,
            lost=counted.lost,
            duplicated=counted.duplicated,
            stuck=counted.stuck,
            recovery_s=first_s,
            notes=(
                f"leader {'SIGKILLed' if how == 'SIGKILL' else 'deleted (SIGTERM)'} with {created_at_fault}/"
                f"{len(first)} pods of the first half created; {released_note}{by} held it after {takeover_s:.1f} s "
                f"and made its first write ({what.split(' of ')[0]}) {first_s:.1f} s after the fault (its /metrics "
                f"counted a reconcile by {counted_s:.1f} s); "
                f"{len(second)} runs created while none led; outcomes {counts}; burst done in {burst_s:.0f} s"
            ),
            scale=scale.name,
            seed=scale.seed,
            figures={
                "takeover_s": round(takeover_s, 2),
                "first_reconcile_s": round(first_s, 2),
                "first_counted_reconcile_s": round(counted_s, 2),
                "released_s": None if released is None else round(released - fault, 2),
                "new_leader": _bed.holder_pod(new_holder),
                "standby": standby_pod,
                "first_write": what,
                "burst_s": round(burst_s, 1),
            },
        )
    )
    assert counts == {"Succeeded": n}, counts
    assert (counted.lost, counted.duplicated, counted.stuck) == (0, 0, 0), "\n".join(counted.problems[:20])
    if how == "graceful":
        assert released is not None, "the deleted leader did not release the Lease"
