"""Scenario 5 — cancellation and deletion while runs are busy.

* cancelling a running TaskRun (``spec.cancelled: true``) stops its pod and ends it ``Cancelled``;
* deleting a running TaskRun removes its pod and the registry Secret the operator made from
  ``registryCredentialsSecret`` (both are owned by the run: the garbage collector removes them);
* deleting an upstream TaskRun while a downstream one waits for it fails the downstream run ``UpstreamFailed`` with
  a message naming the upstream.

Counted from a pod watch and the final state: one pod per attempt, the cancelled and the downstream run final; a pod
or Secret that outlives its deleted run counts as stuck.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import pytest

from tests.chaos import _bed
from tests.chaos._bed import Scale
from tests.chaos.conftest import Namespace
from tests.chaos.results import Row, record
from tests.e2e.conftest import PULL_SECRET
from tests.fixtures.testbed import Testbed

pytestmark = [pytest.mark.cluster, pytest.mark.chaos]

# Ends at once on SIGTERM (a shell as PID 1 gets no default handler, so without the trap every stop would take the
# pod's 30 s grace period).
SLEEP = "trap 'exit 143' TERM; sleep 600 & wait"


def wait_until(what: str, probe: Callable[[], bool], *, timeout: float = 120) -> float:
    started = time.monotonic()
    while not probe():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.2)
    return time.monotonic() - started


def exists(ns: Namespace, kind: str, name: str) -> bool:
    return ns.kubectl("get", kind, name, "--ignore-not-found", "-o", "name").stdout.strip() != ""


@pytest.mark.timeout(900)
def test_cancel_delete_and_upstream_deletion(
    testbed: Testbed, run_ns: Namespace, chain_image: str, scale: Scale
) -> None:
    creds = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "chaos-registry-login", "labels": {"task-api.io/registry-credentials": "true"}},
        "type": "Opaque",
        "data": {
            "username": base64.b64encode(testbed.registry_user.encode()).decode(),
            "password": base64.b64encode(testbed.registry_password.encode()).decode(),
        },
    }
    deleted = _bed.sleeping_taskrun("to-delete", chain_image, PULL_SECRET, SLEEP)
    del deleted["spec"]["imagePullSecrets"]
    deleted["spec"]["registryCredentialsSecret"] = {"name": "chaos-registry-login"}
    upstream = _bed.sleeping_taskrun("upstream", chain_image, PULL_SECRET, SLEEP)
    downstream = _bed.trivial_taskrun("downstream", chain_image, PULL_SECRET, taskTemplate="relay")
    downstream["spec"]["inputs"] = [{"name": "upstream", "fromTaskRun": {"name": "upstream", "output": "records"}}]
    cancelled = _bed.sleeping_taskrun("to-cancel", chain_image, PULL_SECRET, SLEEP)
    timings: dict[str, float] = {}
    ledger = _bed.PodLedger(testbed, run_ns.name).start()
    try:
        _bed.apply(testbed, run_ns.name, [creds, cancelled, deleted, upstream, downstream])
        for name in ("to-cancel", "to-delete", "upstream"):
            run_ns.wait_reason(name, "Running", timeout=120)
        run_ns.wait_reason("downstream", "WaitingForUpstream", timeout=60)

        # Cancel: the pod goes, the run says Cancelled.
        started = time.monotonic()
        run_ns.kubectl("patch", "taskrun", "to-cancel", "--type=merge", "-p", '{"spec":{"cancelled":true}}')
        cancelled_run = run_ns.wait_finished("to-cancel", timeout=120)
        wait_until("pod to-cancel-a1 gone", lambda: not exists(run_ns, "pod", "to-cancel-a1"))
        timings["cancel"] = time.monotonic() - started

        # Delete: pod and registry Secret go with the run.
        assert exists(run_ns, "secret", "to-delete-registry"), "the operator made no registry Secret"
        assert exists(run_ns, "pod", "to-delete-a1")
        started = time.monotonic()
        run_ns.kubectl("delete", "taskrun", "to-delete", "--wait=false")
        wait_until("pod to-delete-a1 gone", lambda: not exists(run_ns, "pod", "to-delete-a1"))
        wait_until("secret to-delete-registry gone", lambda: not exists(run_ns, "secret", "to-delete-registry"))
        timings["delete"] = time.monotonic() - started

        # Upstream deleted while downstream waits.
        started = time.monotonic()
        run_ns.kubectl("delete", "taskrun", "upstream", "--wait=false")
        downstream_run = run_ns.wait_finished("downstream", timeout=120)
        timings["upstream-deleted"] = time.monotonic() - started
        wait_until("pod upstream-a1 gone", lambda: not exists(run_ns, "pod", "upstream-a1"))
        ledger.merge_listing()
        final = _bed.taskruns(testbed, run_ns.name)
        names = ["to-cancel", "to-delete", "upstream", "downstream"]
        counted = _bed.tally(final, ledger.uids, names, gone=["to-delete", "upstream"])
        # A deleted run whose pod or Secret outlived it is stuck too.
        left = [f"pod/{n}-a1" for n in ("to-cancel", "to-delete", "upstream") if exists(run_ns, "pod", f"{n}-a1")]
        left += ["secret/to-delete-registry"] if exists(run_ns, "secret", "to-delete-registry") else []
    finally:
        ledger.stop()
        _bed.save_evidence(testbed, run_ns.name, "cancel-delete")
    cancel_cond = _bed.condition(cancelled_run)
    down_cond = _bed.condition(downstream_run)
    record(
        Row(
            scenario="5 cancel, delete, upstream deleted",
            runs=4,
            lost=counted.lost,
            duplicated=counted.duplicated,
            stuck=counted.stuck + len(left),
            recovery_s=max(timings.values()),
            notes=(
                f"cancel→pod gone {timings['cancel']:.1f} s; delete→pod and Secret gone {timings['delete']:.1f} s; "
                f"upstream deleted→downstream {down_cond.get('reason')} in {timings['upstream-deleted']:.1f} s"
            ),
            scale=scale.name,
            seed=scale.seed,
            figures={k: round(v, 2) for k, v in timings.items()},
        )
    )
    assert (cancel_cond.get("status"), cancel_cond.get("reason")) == ("False", "Cancelled"), cancel_cond
    assert (down_cond.get("status"), down_cond.get("reason")) == ("False", "UpstreamFailed"), down_cond
    assert "'upstream'" in down_cond.get("message", ""), down_cond
    assert (counted.lost, counted.duplicated, counted.stuck, left) == (0, 0, 0, []), (counted.problems, left)
