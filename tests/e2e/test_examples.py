"""The numbered examples, run on the test bed as a user would: kubectl apply, then the output files checked."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import Namespace, condition

pytestmark = pytest.mark.cluster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def expected_checksums(root: Path) -> dict[str, str]:
    return {
        f"./{path.relative_to(root)}": hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_02_hello_world_checksum_and_compress(
    run_ns: Namespace, make_pvc: Callable[..., Path], example_image: Callable[[str], str]
) -> None:
    data = make_pvc(run_ns.name, "data")
    results = make_pvc(run_ns.name, "results")
    shutil.copytree(EXAMPLES / "01-hello-world" / "input", data / "input")
    image = example_image("01-hello-world")
    example = EXAMPLES / "02-kubernetes"
    run_ns.apply((example / "processing-container.yaml").read_text().replace("IMAGE", image))
    run_ns.apply((example / "taskruns.yaml").read_text())

    checksum = run_ns.wait_finished("hello-checksum")
    compress = run_ns.wait_finished("hello-compress")
    assert condition(checksum)["status"] == "True", checksum["status"]
    assert condition(compress)["status"] == "True", compress["status"]

    lines = (results / "checksum" / "checksums.sha256").read_text().splitlines()
    found = {name: digest for digest, name in (line.split(maxsplit=1) for line in lines)}
    assert found == expected_checksums(data / "input")

    with tarfile.open(results / "compress" / "inputs.tar.gz") as archive:
        members = sorted(m.name for m in archive.getmembers() if m.isfile())
    assert members == sorted(expected_checksums(data / "input"))

    # The checksum template's scale rule measured the real input (max_file_size) before the pod was made.
    (measurement,) = checksum["status"]["measurements"]
    largest = max(p.stat().st_size for p in (data / "input").rglob("*") if p.is_file())
    assert measurement == {"channel": "in", "mode": "max_file_size", "bytes": largest, "files": 3}
    listing = run_ns.kubectl("get", "taskruns").stdout.splitlines()
    assert listing[0].split() == ["NAME", "TEMPLATE", "SUCCEEDED", "REASON", "MEMORY", "STARTTIME", "DURATION", "AGE"]
    assert any(line.split()[:4] == ["hello-checksum", "checksum", "True", "Succeeded"] for line in listing)


def test_03_chain_runs_in_order_and_the_last_step_reads_the_first(
    run_ns: Namespace, example_image: Callable[[str], str]
) -> None:
    image = example_image("03-chain")
    run_ns.apply((EXAMPLES / "03-chain" / "chain.yaml").read_text().replace("IMAGE", image))
    runs = {name: run_ns.wait_finished(name) for name in ("chain-produce", "chain-relay", "chain-report")}
    for name, run in runs.items():
        assert condition(run)["status"] == "True", (name, run["status"])
    # In order: each downstream run started after its upstream completed.
    assert runs["chain-produce"]["status"]["completionTime"] <= runs["chain-relay"]["status"]["startTime"]
    assert runs["chain-relay"]["status"]["completionTime"] <= runs["chain-report"]["status"]["startTime"]
    (report_location,) = runs["chain-report"]["status"]["outputs"]
    report = run_ns.workspace / report_location["subPath"] / "report.txt"
    assert report.read_text().splitlines() == ["lines: 2", "first: produce chained-42"]
    # The relay's input was read-only: its script checks that writing there fails (it exits 3 otherwise).
    relay_log = run_ns.kubectl("logs", runs["chain-relay"]["status"]["podName"]).stdout
    assert "relayed 2 line(s)" in relay_log
