"""The migrated legacy example (examples/05-legacy) as TaskRuns on the test bed.

The operator must stage the legacy layout in an init container (its own image), run the unchanged legacy image,
expose what it wrote as an ordinary output channel, and let an ordinary template read that output downstream.
Results are read from the host directories behind the claims.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import Namespace, condition

pytestmark = pytest.mark.cluster

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "05-legacy"


def _apply_example(run_ns: Namespace, example_image: Callable[[str], str]) -> None:
    manifest = (EXAMPLE / "taskruns.yaml").read_text()
    manifest = manifest.replace("HELLO_IMAGE", example_image("01-hello-world"))
    run_ns.apply(manifest.replace("IMAGE", example_image("05-legacy")))


def test_legacy_taskrun_stages_runs_and_feeds_downstream(
    run_ns: Namespace, make_pvc: Callable[..., Path], example_image: Callable[[str], str]
) -> None:
    data = make_pvc(run_ns.name, "data")
    results = make_pvc(run_ns.name, "results")
    shutil.copytree(EXAMPLE / "input", data / "input")
    _apply_example(run_ns, example_image)

    legacy = run_ns.wait_finished("legacy-large-files", timeout=240)
    assert "podName" in legacy["status"], legacy["status"]
    pod = run_ns.get("pod", legacy["status"]["podName"])
    assert [c["name"] for c in pod["spec"].get("initContainers", [])] == ["legacy-stage"], (
        [e["name"] for e in pod["spec"]["containers"][0]["env"]],
        pod["metadata"]["annotations"],
    )
    assert condition(legacy)["status"] == "True", (legacy["status"], pod["status"])

    # The output channel holds <element>/..., exactly what the legacy code wrote to <element>/$OPERATOR_OUT_DIR.
    out = results / "large-files"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "case-1/large-files.txt",
        "case-1/summary.txt",
        "case-2/large-files.txt",
        "case-2/summary.txt",
    ]
    summary = dict(line.split("=", 1) for line in (out / "case-1" / "summary.txt").read_text().splitlines())
    # threshold came from the TaskRun's env through conf.json; label from TASK_API_LEGACY_CONF.
    assert summary == {"element": "case-1", "files": "2", "threshold": "8", "label": "from-taskrun",
                       "greeting": "hello"}  # fmt: skip
    sizes = {p.name: p.stat().st_size for p in (data / "input" / "case-1").iterdir()}
    expected = sorted(f"{name} {size}" for name, size in sizes.items() if size >= 8)
    assert sorted((out / "case-1" / "large-files.txt").read_text().splitlines()) == expected
    # Nothing of the legacy scaffolding leaks into the output channel, and the input was not written to.
    assert not list(out.rglob("dcm-converter"))
    assert sorted(p.name for p in (data / "input" / "case-1").iterdir()) == ["large.txt", "small.txt"]

    downstream = run_ns.wait_finished("legacy-checksums", timeout=180)
    assert condition(downstream)["status"] == "True", downstream["status"]
    lines = (results / "checksums" / "checksums.sha256").read_text().splitlines()
    found = {name: digest for digest, name in (line.split(maxsplit=1) for line in lines)}
    assert found == {
        f"./{p.relative_to(out).as_posix()}": hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def test_legacy_taskrun_with_a_file_at_the_batch_level_fails_clearly(
    run_ns: Namespace, make_pvc: Callable[..., Path], example_image: Callable[[str], str]
) -> None:
    data = make_pvc(run_ns.name, "data")
    make_pvc(run_ns.name, "results")
    (data / "input" / "case-1").mkdir(parents=True)
    (data / "input" / "case-1" / "a.txt").write_text("a file in an element\n")
    (data / "input" / "stray.txt").write_text("a file where a batch element folder belongs\n")
    _apply_example(run_ns, example_image)

    legacy = run_ns.wait_finished("legacy-large-files", timeout=240)
    cond = condition(legacy)
    assert cond["status"] == "False", legacy["status"]
    pod = run_ns.get("pod", legacy["status"]["podName"])
    (stage,) = pod["status"]["initContainerStatuses"]
    message = stage["state"]["terminated"].get("message", "")
    assert "per-element mode expects one directory per batch element" in message
    assert '"stray.txt"' in message
    # The legacy image never ran.
    (task,) = pod["status"]["containerStatuses"]
    state = task.get("state", {})
    assert "running" not in state and "terminated" not in state, state
