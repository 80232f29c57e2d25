"""A tenant stalls every tenant with a slow registry — through the deployed operator.

The attacker applies TaskRuns whose images live on a registry that drips one byte every 0.2 s
(tests/fixtures/hostile_registry.py, on the port the bed's operator may reach). Before issue 13 each inspection
lived for ever (30 s per read, no total): six of them held every thread of the operator's default executor (2 cores:
6 threads), and every other tenant's run that needed an inspection waited behind them for ever. Now each inspection
ends at its deadline (``InspectionLimits``, 60 s by default) with the transient reason ``InspectionTimedOut`` (the
run waits in ``ResolvingImage`` and retries with back-off), a huge image ends permanently, and the other tenant's
run goes through.

The operator runs inspections through its ``InspectionGate``: at most ``TASK_API_INSPECT_SLOTS`` at once and
``TASK_API_INSPECT_SLOTS_PER_NAMESPACE`` per namespace, so the attacker — in a namespace of their own — holds only
their namespace's share and the other tenant's inspection finds a free slot; the attacker's other runs wait with
``InspectionSlotsBusy`` and take their turn.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Namespace, condition
from tests.fixtures.hostile_registry import HostileRegistry
from tests.fixtures.tenant import Tenant
from tests.fixtures.testbed import Testbed, namespace_name
from tests.security.conftest import finished, message, succeeded, taskrun, wait_status

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

DRIPS = 6  # as many as the operator's default executor has threads on this 2-core machine


@pytest.fixture
def attacker(make_tenant: Callable[..., Tenant], testbed: Testbed) -> Iterator[Tenant]:
    """A tenant in a namespace of their own (the gate's shares are per namespace), deleted afterwards."""
    namespace = namespace_name("attacker", secrets.token_hex(3))
    testbed.kubectl_run("create", "namespace", namespace)
    try:
        yield make_tenant(namespace)
    finally:
        testbed.kubectl_run("delete", "namespace", namespace, "--wait=false", check=False)


def test_a_dripping_registry_ends_in_a_transient_reason_and_others_keep_flowing(
    operator: Any,
    attacker: Tenant,
    run_ns: Namespace,
    bed_hostile_registry: HostileRegistry,
    example_image: Callable[[str], str],
) -> None:
    for i in range(DRIPS):
        attacker.apply(taskrun(f"drip-{i}", bed_hostile_registry.ref("drip/manifest", f"t{i}")))
    # Another tenant's ordinary run, started while the drips hold the inspection threads.
    hello = example_image("01-hello-world")
    (run_ns.workspace / "in").mkdir()
    (run_ns.workspace / "in" / "a.txt").write_text("a\n")
    other = taskrun(
        "innocent",
        hello,
        imagePullSecrets=[{"name": "task-api-registry"}],
        inputs=[{"name": "in", "persistentVolumeClaim": {"claimName": "task-api-workspace", "subPath": "in"}}],
    )
    run_ns.apply(json.dumps(other))

    for i in range(DRIPS):
        status = wait_status(
            attacker,
            f"drip-{i}",
            lambda s: "InspectionTimedOut" in message(s),
            timeout=600,
            what="the inspection deadline",
        )
        assert status["reason"] == "ResolvingImage", status  # transient: it waits and retries
        assert succeeded(status) == "Unknown"
        assert re.search(r"did not finish within \d+ s", message(status)), message(status)
    run = run_ns.wait_finished("innocent", timeout=600)
    assert condition(run)["status"] == "True", run["status"]


def test_a_huge_image_ends_permanently(operator: Any, tenant: Tenant, bed_hostile_registry: HostileRegistry) -> None:
    tenant.apply(taskrun("many-layers", bed_hostile_registry.ref("huge/layers")))
    tenant.apply(taskrun("deep-index", bed_hostile_registry.ref("endless/index")))
    tenant.apply(taskrun("loop", bed_hostile_registry.ref("redirect/loop")))
    for name, words in [
        ("many-layers", "1000 layers; at most 128"),
        ("deep-index", "indexes nested deeper than 3"),
        ("loop", "more than 5 redirects"),
    ]:
        status = wait_status(tenant, name, finished, timeout=300, what="a final state")
        cond = next(c for c in status["conditions"] if c["type"] == "Succeeded")
        assert (cond["status"], cond["reason"]) == ("False", "ImageInspectionFailed"), cond
        assert cond["message"].startswith("InspectionLimitExceeded: ") and words in cond["message"], cond
