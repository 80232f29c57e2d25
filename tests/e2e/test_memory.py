"""Issue 17 on the test bed: the node agent records every attempt's peak in the TaskRun, and the report learns a
scale rule from the example's runs that covers every peak and asks for less than the hand-written rule."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from task_api.agent.tracker import merge_peaks
from task_api.core.recommend import rule_value
from task_api.kube import ClusterAccess, KubeClient
from task_api.kube.peaks import record_peak
from tests.e2e.conftest import Namespace, condition
from tests.fixtures.docker import DockerEngine
from tests.fixtures.testbed import Testbed

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "06-memory"
MIB = 1024**2
AGENT = "system:serviceaccount:task-api-node-agent:task-api-node-agent"
SIZES = (1, 2, 4, 8, 16, 32)
#: The example's hand-written rule (processing-container.json): scale_factor 4 on the sum, static limit 32Mi.
HAND_FACTOR, HAND_STATIC = Decimal(4), 32 * MIB


def wait_peaks(ns: Namespace, name: str, attempts: int = 1, *, timeout: float = 60.0) -> dict[str, Any]:
    """Poll ``kubectl get taskrun -o yaml`` (what a user reads) until the agent recorded ``attempts`` peaks."""
    deadline = time.monotonic() + timeout
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = yaml.safe_load(ns.kubectl("get", "taskrun", name, "-o", "yaml").stdout)
        peaks = ((run.get("status") or {}).get("memory") or {}).get("peaks") or []
        if len(peaks) >= attempts:
            return run
        time.sleep(0.5)
    pytest.fail(f"TaskRun {ns.name}/{name}: the node agent recorded no peak in {timeout:.0f} s: {run.get('status')}")


def hold(ns: Namespace, name: str, size_mib: int, seconds: int, **spec: Any) -> None:
    body = {
        "apiVersion": "task-api.io/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": name},
        "spec": {
            "processingContainerRef": {"name": "memory"},
            "taskTemplate": "hold",
            "env": [{"name": "SIZE_MIB", "value": str(size_mib)}, {"name": "HOLD_SECONDS", "value": str(seconds)}],
            **spec,
        },
    }
    ns.apply(json.dumps(body))


def read_all_run(name: str, processing_container: str, sub_path: str) -> str:
    """A read-all TaskRun on the claim ``data`` at ``sub_path``, writing to ``results``."""
    claim = {"claimName": "data", "subPath": sub_path}
    out = {"claimName": "results", "subPath": sub_path}
    spec = {
        "processingContainerRef": {"name": processing_container},
        "taskTemplate": "read-all",
        "inputs": [{"name": "in", "persistentVolumeClaim": claim}],
        "outputs": [{"name": "out", "persistentVolumeClaim": out}],
    }
    return json.dumps(
        {"apiVersion": "task-api.io/v1alpha1", "kind": "TaskRun", "metadata": {"name": name}, "spec": spec}
    )


@pytest.fixture
def memory_ns(run_ns: Namespace, example_image: Callable[[str], str]) -> Namespace:
    """``run_ns`` with the example's ProcessingContainer registered."""
    image = example_image("06-memory")
    first = (EXAMPLE / "taskruns.yaml").read_text().split("\n---\n")[0]
    run_ns.apply(first.replace("IMAGE", image))
    return run_ns


def report(testbed: Testbed, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "task_api.cli", "memory", "report", *args],
        env=testbed.env(), capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


class TestAgent:
    def test_a_spike_freed_within_a_second_is_caught_whether_the_container_exits_or_stays(
        self, memory_ns: Namespace
    ) -> None:
        hold(memory_ns, "exits-at-once", 96, 0)
        hold(memory_ns, "stays-after", 48, 3)
        for name, size in (("exits-at-once", 96), ("stays-after", 48)):
            assert condition(memory_ns.wait_finished(name))["status"] == "True"
            (peak,) = wait_peaks(memory_ns, name)["status"]["memory"]["peaks"]
            # What tail held, plus the shell, busybox and the sandbox: a little more, never less.
            assert size * MIB <= peak["peakBytes"] <= size * MIB * 1.05 + 4 * MIB, peak
            assert peak["attempt"] == 1 and peak["pod"] == f"{name}-a1" and peak["oomKilled"] is False
            assert peak["source"] == "cgroup v1 pod" and peak["limit"] == "1Gi" and peak["request"] == "8Mi"

    def test_every_attempt_of_a_retried_run_with_its_own_limit(self, memory_ns: Namespace) -> None:
        hold(memory_ns, "grows", 96, 0, resources={"limits": {"memory": "64Mi"}},
             retries={"limit": 1, "memoryFactor": 2})  # fmt: skip
        run = memory_ns.wait_finished("grows")
        assert condition(run)["status"] == "True" and run["status"]["oomKills"] == 1
        first, second = wait_peaks(memory_ns, "grows", 2)["status"]["memory"]["peaks"]
        assert (first["attempt"], first["oomKilled"], first["limit"]) == (1, True, "64Mi")
        assert first["peakBytes"] >= 60 * MIB  # killed at the limit
        assert (second["attempt"], second["oomKilled"], second["limit"]) == (2, False, "128Mi")
        assert second["peakBytes"] >= 96 * MIB

    def test_its_one_write_is_narrowed_to_the_peaks(self, memory_ns: Namespace, testbed: Testbed) -> None:
        from kubernetes import client, config  # noqa: PLC0415 — only needed on the test bed

        hold(memory_ns, "narrow", 8, 0)
        memory_ns.wait_finished("narrow")
        wait_peaks(memory_ns, "narrow")
        api = config.new_client_from_config(config_file=str(testbed.kubeconfig))  # type: ignore[no-untyped-call]
        api.set_default_header("Impersonate-User", AGENT)
        api.set_default_header("Impersonate-Group", "system:serviceaccounts")
        objects = client.CustomObjectsApi(api)

        def patch(body: dict[str, Any]) -> Any:
            return objects.patch_namespaced_custom_object_status(
                "task-api.io", "v1alpha1", memory_ns.name, "taskruns", "narrow", body
            )

        forbidden: dict[str, Any]
        for forbidden in ({"status": {"phase": "Failed"}}, {"status": {"memory": {"limit": "1Mi"}}},
                          {"status": {"attempts": 7}}):  # fmt: skip
            with pytest.raises(client.ApiException) as refused:
                patch(forbidden)
            assert "task-api-node-agent-writes-peaks-only" in str(refused.value.body), forbidden
        patched = patch({"status": {"memory": {"peak": "9Mi"}}})
        assert patched["status"]["memory"]["peak"] == "9Mi"
        for verb, resource in (("get", "nodes/proxy"), ("create", "pods/exec"), ("get", "pods/log"),
                               ("get", "secrets"), ("patch", "taskruns"), ("update", "taskruns/status")):  # fmt: skip
            done = testbed.kubectl_run("auth", "can-i", verb, resource, "--as", AGENT, "-A", check=False)
            assert done.stdout.strip() == "no", (verb, resource)


def test_06_memory_report_learns_a_rule_that_covers_every_peak(
    memory_ns: Namespace,
    make_pvc: Callable[..., Path],
    example_image: Callable[[str], str],
    testbed: Testbed,
    docker_engine: DockerEngine,
    tmp_path: Path,
) -> None:
    data = make_pvc(memory_ns.name, "data")
    make_pvc(memory_ns.name, "results")
    subprocess.run([str(EXAMPLE / "make-inputs.sh"), str(data), *map(str, SIZES), "24"], check=True)
    image = example_image("06-memory")
    memory_ns.apply((EXAMPLE / "taskruns.yaml").read_text().replace("IMAGE", image))

    runs = {}
    for size in SIZES:
        name = f"read-all-s{size}"
        assert condition(memory_ns.wait_finished(name))["status"] == "True", name
        runs[size] = wait_peaks(memory_ns, name)
    for size, run in runs.items():
        (peak,) = run["status"]["memory"]["peaks"]
        measured = run["status"]["measurements"][0]["bytes"]
        # The script holds every byte it read; the hand-written rule's limit was never reached.
        assert (
            measured
            <= peak["peakBytes"]
            <= rule_value(
                scale_factor=HAND_FACTOR, base_bytes=HAND_STATIC, rule_type="limit", mode="sum", size=measured
            )
        ), (size, peak)

    done = report(testbed, "-n", memory_ns.name, "--output", "json")
    assert done.returncode == 0, done.stderr
    (group,) = json.loads(done.stdout)["groups"]
    assert (group["template"], group["runs"], group["attemptsWithPeak"], group["oomKills"]) == ("read-all", 6, 6, 0)
    rec = group["recommendation"]
    assert rec["coversEveryPeak"] is True and (rec["channel"], rec["mode"], rec["type"]) == ("in", "sum", "limit")
    factor = Decimal(str(rec["scaleFactor"]))
    for obs in group["observations"]:
        size = obs["inputs"][0]["bytes"]
        given = rule_value(scale_factor=factor, base_bytes=rec["staticBytes"], rule_type="limit", mode="sum", size=size)
        assert given >= Decimal("1.1") * obs["peakBytes"], obs
    assert factor < HAND_FACTOR and rec["wasteBytes"] < group["wasteBytes"]

    text = report(testbed, "-n", memory_ns.name)
    assert text.returncode == 0, text.stderr
    assert "recommended rule" in text.stdout and "* peak" in text.stdout

    # A fresh run sized by the learned rule (written into the template by hand, as the README shows) succeeds and
    # asks for less than the hand-written rule would have.
    learned_dir = tmp_path / "learned"
    shutil.copytree(EXAMPLE, learned_dir)
    pc_path = learned_dir / "processing-container.json"
    pc = json.loads(pc_path.read_text())
    read_all = next(t for t in pc["templates"] if t["identifier"] == "read-all")
    read_all["inputs"][0]["scale_rule"] = rec["scaleRule"]
    read_all["resources"]["limits"]["memory"] = rec["resources"]["limits"]["memory"]
    pc_path.write_text(json.dumps(pc))
    learned_image = f"{testbed.registry}/examples/memory-learned:e2e"
    subprocess.run([str(learned_dir / "build.sh"), learned_image], check=True, capture_output=True)
    docker_engine.push(learned_image)
    memory_ns.apply(
        json.dumps({"apiVersion": "task-api.io/v1alpha1", "kind": "ProcessingContainer",
                    "metadata": {"name": "memory-learned"},
                    "spec": {"image": learned_image, "imagePullSecrets": [{"name": "task-api-registry"}]}})
    )  # fmt: skip
    memory_ns.apply(read_all_run("learned-s24", "memory-learned", "s24"))
    fresh = memory_ns.wait_finished("learned-s24")
    assert condition(fresh)["status"] == "True", fresh["status"]
    measured = fresh["status"]["measurements"][0]["bytes"]
    hand = rule_value(scale_factor=HAND_FACTOR, base_bytes=HAND_STATIC, rule_type="limit", mode="sum", size=measured)
    (peak,) = wait_peaks(memory_ns, "learned-s24")["status"]["memory"]["peaks"]
    limit = int(peak["limit"].removesuffix("Mi")) * MIB
    assert peak["oomKilled"] is False and peak["peakBytes"] <= limit < hand


def test_06_memory_right_sizing_sizes_a_fresh_run_by_the_learned_rule(
    memory_ns: Namespace, make_pvc: Callable[..., Path], example_image: Callable[[str], str]
) -> None:
    data = make_pvc(memory_ns.name, "data")
    make_pvc(memory_ns.name, "results")
    subprocess.run([str(EXAMPLE / "make-inputs.sh"), str(data), *map(str, SIZES), "24"], check=True)
    memory_ns.kubectl("patch", "processingcontainer", "memory", "--type=merge",
                      "-p", json.dumps({"spec": {"memoryRightSizing": {"enabled": True, "minRuns": 6}}}))  # fmt: skip
    memory_ns.apply((EXAMPLE / "taskruns.yaml").read_text().replace("IMAGE", example_image("06-memory")))
    for size in SIZES:
        memory_ns.wait_finished(f"read-all-s{size}")
        wait_peaks(memory_ns, f"read-all-s{size}")
    memory_ns.apply(read_all_run("sized-s24", "memory", "s24"))
    fresh = memory_ns.wait_finished("sized-s24")
    assert condition(fresh)["status"] == "True", fresh["status"]
    memory = fresh["status"]["memory"]
    measured = fresh["status"]["measurements"][0]["bytes"]
    hand = rule_value(scale_factor=HAND_FACTOR, base_bytes=HAND_STATIC, rule_type="limit", mode="sum", size=measured)
    assert memory["sizedBy"] == "learned"
    assert any(line.startswith("right-sizing: learned from 6 runs") for line in memory["explanation"])
    assert int(memory["limit"].removesuffix("Mi")) * MIB < hand


class TestPeakWrites:
    """``task_api.kube.peaks.record_peak`` against the real API server: merge, idempotence, conflicts, uid."""

    def test_merges_retries_a_conflict_and_never_writes_a_recreated_run(self, memory_ns: Namespace) -> None:
        hold(memory_ns, "writes", 4, 0)
        run = wait_peaks(memory_ns, "writes")
        uid = run["metadata"]["uid"]
        entry = {"attempt": 2, "pod": "writes-a2", "peakBytes": 5 * MIB, "peak": "5Mi", "source": "test"}
        interfered: list[bool] = []

        def merge_after_a_rival_write(existing: Any, new: Any) -> Any:
            if not interfered:
                # Another writer changes the status between our read and our write: a real Conflict follows.
                interfered.append(True)
                memory_ns.kubectl("patch", "taskrun", "writes", "--subresource=status", "--type=merge",
                                  "-p", json.dumps({"status": {"podDeletedAt": "2026-01-01T00:00:00Z"}}))  # fmt: skip
            return merge_peaks(existing, new)

        async def write(merge: Any, for_uid: str) -> str:
            access = ClusterAccess.load(kubeconfig=str(memory_ns.testbed.kubeconfig))
            async with KubeClient(access) as kube:
                return await record_peak(kube, namespace=memory_ns.name, name="writes", uid=for_uid, entry=entry,
                                         merge=merge)  # fmt: skip

        assert asyncio.run(write(merge_after_a_rival_write, uid)) == "written"
        status = memory_ns.get("taskrun", "writes")["status"]
        assert [p["attempt"] for p in status["memory"]["peaks"]] == [1, 2]  # the agent's own entry is kept
        assert status["memory"]["peak"] == "5Mi" and status["podDeletedAt"] == "2026-01-01T00:00:00Z"
        assert status["memory"]["limit"] == "1Gi"  # the operator's fields are untouched
        assert asyncio.run(write(merge_peaks, uid)) == "present"
        assert asyncio.run(write(merge_peaks, "another-uid")) == "gone"
