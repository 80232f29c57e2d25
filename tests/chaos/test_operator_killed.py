"""Scenario 1 — the operator SIGKILLed at random moments during a burst of TaskRuns.

The kills alternate between SIGKILL of the operator's process on the node (the kubelet restarts the container)
and ``kubectl delete pod --grace-period=0 --force`` (the Deployment makes a new pod): the first keeps the pod,
the second starts from nothing, and alternating keeps the kubelet's crash-loop back-off from growing. The moments
are random points of the burst's progress ((pods created + runs finished) / 2N, between 2 % and 60 %), drawn
from the printed seed; each task sleeps a random 0 to 90 s, so the burst outlasts five restarts at any size.

Holds: every TaskRun ends Succeeded; exactly one pod per attempt ever existed (a watch started before the burst
keeps every pod UID per name); no run is left without a final condition. The recovery time of a kill runs until
an operator leads again: the new process stands by until the dead one's Lease has expired (15 s) — the test bed
runs one replica; with two, the standby takes over (scenario 9).
"""

from __future__ import annotations

import random
import time

import pytest

from tests.chaos import _bed
from tests.chaos._bed import Scale
from tests.chaos.conftest import Namespace
from tests.chaos.results import Row, record
from tests.e2e.conftest import PULL_SECRET
from tests.fixtures.testbed import Testbed

pytestmark = [pytest.mark.cluster, pytest.mark.chaos]

# Each task sleeps 0..TASK_SECONDS (drawn from the seed): trivial tasks finish faster than five operator restarts
# take (the kubelet's crash-loop back-off alone is 10 s and more), and a burst that is over cannot be hit.
TASK_SECONDS = 90


@pytest.mark.timeout(1800)
def test_operator_killed_during_a_burst(testbed: Testbed, run_ns: Namespace, chain_image: str, scale: Scale) -> None:
    rng = random.Random(scale.seed)
    n = scale.burst
    names = [f"kill-{i:03d}" for i in range(n)]
    # Random moments of the burst, as fractions of its progress; sorted, so each kill waits for its moment.
    moments = sorted(rng.uniform(0.02, 0.6) for _ in range(scale.kills))
    recoveries: list[float] = []
    kills_during_burst = 0
    try:
        with _bed.pod_ledger(testbed, run_ns.name) as ledger:
            started = time.monotonic()
            bodies = [
                _bed.sleeping_taskrun(x, chain_image, PULL_SECRET, f"sleep {rng.randint(0, TASK_SECONDS)}")
                for x in names
            ]
            _bed.apply(testbed, run_ns.name, bodies)
            for index, moment in enumerate(moments):
                # The moment is a share of the burst's progress: pods created (fast) plus runs finished (only
                # while an operator runs), so every moment falls inside the burst, however long recoveries take.
                while True:
                    runs = _bed.taskruns(testbed, run_ns.name)
                    unfinished = sum(1 for x in names if not (x in runs and _bed.is_final(runs[x])))
                    pods = sum(1 for p in ledger.uids if p.startswith("kill-"))
                    if (pods + n - unfinished) / (2 * n) >= moment or unfinished == 0:
                        break
                    time.sleep(0.2)
                kills_during_burst += unfinished > 0  # some runs had not finished: the kill hit the burst
                how = "process" if index % 2 == 0 else "pod"
                recovery = _bed.kill_operator(testbed, how=how)
                recoveries.append(recovery)
                print(f"[chaos] kill {index + 1} ({how}) at {moment:.0%}: {pods}/{n} pods, {unfinished} runs"
                      f" unfinished; operator ready again after {recovery:.1f} s")  # fmt: skip
            runs, _ = _bed.wait_all_final(testbed, run_ns.name, names, timeout=900)
            total = time.monotonic() - started
            ledger.merge_listing()
            counted = _bed.tally(runs, ledger.uids, names)
    finally:
        _bed.save_evidence(testbed, run_ns.name, "operator-killed")
    counts = _bed.summarise(runs, names)
    record(
        Row(
            scenario="1 operator SIGKILLed during a burst",
            runs=n,
            lost=counted.lost,
            duplicated=counted.duplicated,
            stuck=counted.stuck,
            recovery_s=max(recoveries, default=None),
            notes=(
                f"{len(recoveries)} kills ({kills_during_burst} before the burst ended); outcomes {counts}; "
                f"burst done in {total:.0f} s"
            ),
            scale=scale.name,
            seed=scale.seed,
            figures={"recoveries_s": [round(r, 2) for r in recoveries], "burst_s": round(total, 1)},
        )
    )
    assert len(recoveries) == scale.kills
    assert kills_during_burst == scale.kills, "every kill must land while runs were still unfinished"
    assert counts == {"Succeeded": n}, counts
    assert (counted.lost, counted.duplicated, counted.stuck) == (0, 0, 0), "\n".join(counted.problems[:20])
