"""Scenario 3 — the registry is down while ProcessingContainers and TaskRuns are being resolved.

The chain example is pushed under a tag the operator has never inspected, then the registry is stopped
(``hack/testbed/restart.sh registry stop``). While it is down a ProcessingContainer naming the new tag is created,
with TaskRuns that reference it and TaskRuns that name the image directly. Their status must show a transient
reason (the ProcessingContainer ``Ready=Unknown``; direct runs ``ResolvingImage``; referring runs
``WaitingForProcessingContainer``), and the operator must back off instead of retrying hot: its
``task_api_reconciles_total`` over the outage, per waiting object, is bounded by one reconcile per object per
second (the documented back-off, 0.5 s doubling to 60 s, gives far fewer; a hot loop gives hundreds). Once the
registry is back everything completes.
"""

from __future__ import annotations

import secrets
import subprocess
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

DOCKER = "/usr/bin/docker"


def ready_condition(pcon: dict[str, Any]) -> dict[str, Any]:
    for cond in (pcon.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return dict(cond)
    return {}


@pytest.mark.timeout(1200)
def test_registry_outage_while_resolving(testbed: Testbed, run_ns: Namespace, chain_image: str, scale: Scale) -> None:
    fresh = f"{chain_image.rsplit(':', 1)[0]}:chaos-{secrets.token_hex(4)}"
    subprocess.run([DOCKER, "tag", chain_image, fresh], check=True, capture_output=True)
    subprocess.run([DOCKER, "push", "-q", fresh], check=True, capture_output=True)
    k = scale.registry_runs
    by_ref = [f"ref-{i:03d}" for i in range(k)]
    direct = [f"img-{i:03d}" for i in range(k)]
    pcon = {
        "apiVersion": "task-api.io/v1alpha1",
        "kind": "ProcessingContainer",
        "metadata": {"name": "chain-outage"},
        "spec": {"image": fresh, "imagePullSecrets": [{"name": PULL_SECRET}]},
    }
    objects: list[dict[str, Any]] = [pcon]
    for name in by_ref:
        run = _bed.trivial_taskrun(name, fresh, PULL_SECRET)
        del run["spec"]["image"]
        run["spec"]["processingContainerRef"] = {"name": "chain-outage"}
        objects.append(run)
    objects += [_bed.trivial_taskrun(name, fresh, PULL_SECRET) for name in direct]
    outage_s = 40.0 if scale.name == "full" else 25.0
    reasons: dict[str, str] = {}
    try:
        with _bed.component_down("registry", seconds=outage_s + 5) as down:
            before = _bed.metric("task_api_reconciles_total")
            t0 = time.monotonic()
            _bed.apply(testbed, run_ns.name, objects)
            time.sleep(max(0.0, outage_s - (time.monotonic() - down)))
            during = _bed.metric("task_api_reconciles_total") - before
            window = time.monotonic() - t0
            runs = _bed.taskruns(testbed, run_ns.name)
            pc_now = run_ns.get("processingcontainer", "chain-outage")
            ready = ready_condition(pc_now)
            reasons = {name: str((run.get("status") or {}).get("reason")) for name, run in runs.items()}
        back = time.monotonic()
        final, _ = _bed.wait_all_final(testbed, run_ns.name, by_ref + direct, timeout=300)
        recovered = time.monotonic() - back
        pc_after = ready_condition(run_ns.get("processingcontainer", "chain-outage"))
    finally:
        _bed.save_evidence(testbed, run_ns.name, "registry-outage")
    counts = _bed.summarise(final, by_ref + direct)
    stuck = sum(v for k_, v in counts.items() if k_.startswith("not final"))
    waiting_objects = 1 + 2 * k
    per_object_per_s = during / waiting_objects / window
    record(
        Row(
            scenario="3 registry outage while resolving",
            runs=2 * k,
            lost=counts.get("missing", 0),
            duplicated=0,
            stuck=stuck,
            recovery_s=recovered,
            notes=(
                f"{window:.0f} s outage: {int(during)} reconciles for {waiting_objects} objects "
                f"({per_object_per_s:.3f}/object/s); PC Ready={ready.get('status')} {ready.get('reason')}; "
                f"run reasons during {sorted(set(reasons.values()))}; outcomes {counts}"
            ),
            scale=scale.name,
            seed=scale.seed,
            figures={
                "reconciles_during_outage": during,
                "outage_s": round(window, 1),
                "reconciles_per_object_per_s": round(per_object_per_s, 4),
            },
        )
    )
    assert ready.get("status") == "Unknown", f"ProcessingContainer during the outage: {ready}"
    assert ready.get("message"), "the transient condition must say what is wrong"
    assert {reasons[x] for x in direct} == {"ResolvingImage"}, {x: reasons[x] for x in direct}
    assert {reasons[x] for x in by_ref} == {"WaitingForProcessingContainer"}, {x: reasons[x] for x in by_ref}
    assert during > 0, "the operator's reconcile counter did not move: is it watching?"
    assert per_object_per_s <= 1.0, f"hot loop: {during} reconciles in {window:.0f} s for {waiting_objects} objects"
    assert pc_after.get("status") == "True", pc_after
    assert counts == {"Succeeded": 2 * k}, counts
