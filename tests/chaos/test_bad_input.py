"""Scenario 7 — bad input at scale: a seeded fuzzer sends malformed TaskRuns and ProcessingContainers (specs and
images) through the API.

TaskRuns: each case starts from a valid run of the chain example and applies one to three mutations drawn from a
table; every mutation alone makes the run invalid (admission or the operator must refuse it), so a case that ends
``Succeeded`` is silent acceptance, a bug. Cases go through the API with ``fieldValidation=Strict``, as kubectl
sends them. Each must be rejected at admission with a message (HTTP 4xx naming the field) or end ``False`` with
reason ``InvalidSpec`` or ``ImageInspectionFailed`` and a message.

Images: the chain example rebuilt with its ``/processing-container.json`` missing, truncated at a random byte,
or mutated structurally (a required key deleted, a value of the wrong type, duplicate template names). A
ProcessingContainer naming each must end ``Ready=False`` with a permanent reason and a message, and a TaskRun
naming the image directly must end ``ImageInspectionFailed``.

Throughout, the operator must neither crash nor restart: its pod and restart count stay the same and its log
has no traceback. A pod watch over the namespace checks that no refused run got a pod; every accepted run is present
and final at the end (lost / stuck).
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.chaos import _bed
from tests.chaos._bed import Scale
from tests.chaos.conftest import Namespace
from tests.chaos.results import Row, record
from tests.e2e.conftest import PULL_SECRET
from tests.fixtures.testbed import Testbed

pytestmark = [pytest.mark.cluster, pytest.mark.chaos]

ROOT = Path(__file__).resolve().parents[2]
CHAIN = ROOT / "examples" / "03-chain"
DOCKER = "/usr/bin/docker"
REFUSED = {"InvalidSpec", "ImageInspectionFailed"}
Spec = dict[str, Any]


def _garbage(rng: random.Random) -> str:
    alphabet = "abcXYZ019 -_./:@#%\\\"'\u00e9\u2603\U0001f600\t"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))


# Each mutation makes a valid TaskRun invalid on its own. (name, function(spec, rng, image, registry) -> None)
def _unknown_template(s: Spec, rng: random.Random, **_: str) -> None:
    s["taskTemplate"] = "no-such-" + "".join(rng.choice("abcdefgh") for _ in range(6))


def _unknown_input(s: Spec, rng: random.Random, **_: str) -> None:
    s.setdefault("inputs", []).append(
        {"name": f"bogus{rng.randint(0, 999)}", "persistentVolumeClaim": {"claimName": "task-api-workspace"}}
    )


def _unknown_output(s: Spec, rng: random.Random, **_: str) -> None:
    s.setdefault("outputs", []).append(
        {"name": f"nowhere{rng.randint(0, 999)}", "persistentVolumeClaim": {"claimName": "task-api-workspace"}}
    )


def _both_sources(s: Spec, rng: random.Random, *, image: str, **_: str) -> None:
    s.setdefault("image", image)
    s["processingContainerRef"] = {"name": "chain"}


def _no_source(s: Spec, rng: random.Random, **_: str) -> None:
    s.pop("image", None)
    s.pop("processingContainerRef", None)


def _bad_reference(s: Spec, rng: random.Random, **_: str) -> None:
    s["image"] = rng.choice(["UPPER/Case:tag", "spaces in/name", "a::b", "@sha256:zz", "x/y:" + "t" * 200, ""])


def _missing_image(s: Spec, rng: random.Random, *, registry: str, **_: str) -> None:
    s["image"] = f"{registry}/chaos/does-not-exist-{rng.randint(0, 10**6)}:nope"


def _bad_timeout(s: Spec, rng: random.Random, **_: str) -> None:
    s["timeoutSeconds"] = rng.choice([0, -1, -(10**6), "soon", 1.5, [1]])


def _bad_retries(s: Spec, rng: random.Random, **_: str) -> None:
    s["retries"] = rng.choice([{"limit": -1}, {"limit": "twice"}, {"limit": 1, "memoryFactor": 0}, {"limit": 11}])


def _bad_env_name(s: Spec, rng: random.Random, **_: str) -> None:
    s["env"] = [{"name": rng.choice(["1LEADING_DIGIT", "has space", "eq=uals", "", "semi;colon"]), "value": "x"}]


def _duplicate_env(s: Spec, rng: random.Random, **_: str) -> None:
    s["env"] = [{"name": "TOKEN", "value": "a"}, {"name": "TOKEN", "value": "b"}]


def _dotdot_subpath(s: Spec, rng: random.Random, **_: str) -> None:
    s["outputs"] = [
        {"name": "records", "persistentVolumeClaim": {"claimName": "task-api-workspace", "subPath": "a/../../etc"}}
    ]


def _host_path(s: Spec, rng: random.Random, **_: str) -> None:
    # Relative paths are refused at admission; absolute ones by the operator (no allowed roots are configured).
    s["outputs"] = [{"name": "records", "hostPath": {"path": rng.choice(["relative/dir", "/etc", "/", "/root"])}}]


def _wrong_types(s: Spec, rng: random.Random, **_: str) -> None:
    key = rng.choice(["inputs", "outputs", "env", "command", "resources", "taskTemplate"])
    s[key] = rng.choice([42, "a string", {"nested": {"deeper": [1, 2]}}, True, None if key != "taskTemplate" else 7])
    if s[key] is None:
        s[key] = 3.14


def _two_sources_per_input(s: Spec, rng: random.Random, **_: str) -> None:
    s["outputs"] = [
        {
            "name": "records",
            "persistentVolumeClaim": {"claimName": "task-api-workspace"},
            "hostPath": {"path": "/tmp"},
        }
    ]


def _bad_quantity(s: Spec, rng: random.Random, **_: str) -> None:
    s["resources"] = {"limits": {"memory": rng.choice(["12XB", "lots", "-1Gi", "1..5Mi"])}}


def _unknown_field(s: Spec, rng: random.Random, **_: str) -> None:
    s[f"unexpected{rng.randint(0, 99)}"] = _garbage(rng)


def _registry_secret_without_image(s: Spec, rng: random.Random, **_: str) -> None:
    s.pop("image", None)
    s["processingContainerRef"] = {"name": "chain"}
    s["registryCredentialsSecret"] = {"name": "whatever"}


def _garbage_template(s: Spec, rng: random.Random, **_: str) -> None:
    s["taskTemplate"] = _garbage(rng)


MUTATIONS: list[tuple[str, Callable[..., None]]] = [
    ("unknown template", _unknown_template),
    ("unknown input channel", _unknown_input),
    ("unknown output channel", _unknown_output),
    ("image and processingContainerRef", _both_sources),
    ("no image source", _no_source),
    ("malformed image reference", _bad_reference),
    ("image not in the registry", _missing_image),
    ("bad timeout", _bad_timeout),
    ("bad retries", _bad_retries),
    ("bad env name", _bad_env_name),
    ("duplicate env name", _duplicate_env),
    ("'..' in subPath", _dotdot_subpath),
    ("host path", _host_path),
    ("wrong types", _wrong_types),
    ("two sources for a channel", _two_sources_per_input),
    ("bad memory quantity", _bad_quantity),
    ("unknown field", _unknown_field),
    ("registry secret without image", _registry_secret_without_image),
    ("garbage template name", _garbage_template),
]


def fuzz_taskruns(rng: random.Random, count: int, image: str, registry: str) -> list[tuple[str, list[str], Spec]]:
    """``count`` malformed TaskRun bodies: (name, mutations applied, body). Pure given the rng."""
    cases = []
    for i in range(count):
        body = _bed.trivial_taskrun(f"fuzz-{i:04d}", image, PULL_SECRET)
        applied = []
        for name, mutate in rng.sample(MUTATIONS, rng.randint(1, 3)):
            mutate(body["spec"], rng, image=image, registry=registry)
            applied.append(name)
        cases.append((body["metadata"]["name"], applied, body))
    return cases


# Structural mutations of processing-container.json, each invalid on its own.
def broken_documents(rng: random.Random, count: int) -> list[tuple[str, bytes | None]]:
    """(what, file content or None for "no file") — the first ones fixed, the rest random truncations and
    structural mutations. Pure given the rng."""
    good: dict[str, Any] = json.loads((CHAIN / "processing-container.json").read_text())
    text = json.dumps(good, indent=2).encode()

    def mutated(change: Callable[[dict[str, Any]], None]) -> bytes:
        doc = copy.deepcopy(good)
        change(doc)
        return json.dumps(doc).encode()

    fixed: list[tuple[str, bytes | None]] = [
        ("no /processing-container.json", None),
        ("empty file", b""),
        ("not JSON", b"\x00\xff garbage {"),
        ("templates missing", mutated(lambda d: d.pop("templates"))),
        ("templates not a list", mutated(lambda d: d.update(templates="produce"))),
        ("duplicate template identifiers", mutated(lambda d: d["templates"].append(d["templates"][0]))),
        ("template without identifier", mutated(lambda d: d["templates"][0].pop("identifier"))),
        ("env value of the wrong type", mutated(lambda d: d["templates"][2]["env"][0].update(value="many"))),
    ]
    extra: list[tuple[str, bytes | None]] = []
    while len(fixed) + len(extra) < count:
        if rng.random() < 0.5:
            cut = rng.randrange(1, len(text) - 2)
            try:
                json.loads(text[:cut])
            except ValueError:
                extra.append((f"truncated at byte {cut}", text[:cut]))
        else:
            t = rng.randrange(len(good["templates"]))
            # Only values no lenient reading could take: a number or a mapping where a string or list belongs.
            key = rng.choice(["identifier", "outputs", "inputs", "env", "command"])
            value = rng.choice([17, {"a": 1}, 2.5])

            def set_key(d: dict[str, Any], t: int = t, k: str = key, v: Any = value) -> None:
                d["templates"][t][k] = v

            extra.append((f"templates[{t}].{key} = {value!r}", mutated(set_key)))
    return (fixed + extra)[:count]


def build_image(ref: str, content: bytes | None) -> None:
    context = Path(tempfile.mkdtemp(prefix="chaos-image-"))
    try:
        shutil.copy("/bin/busybox", context / "busybox")
        shutil.copytree(CHAIN / "scripts", context / "scripts")
        lines = ["FROM scratch", "COPY busybox /bin/busybox", 'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
                 "COPY scripts/ /opt/chain/"]  # fmt: skip
        if content is not None:
            (context / "processing-container.json").write_bytes(content)
            lines.append("COPY processing-container.json /processing-container.json")
        (context / "Dockerfile").write_text("\n".join(lines) + "\n")
        subprocess.run([DOCKER, "build", "-q", "-t", ref, str(context)], check=True, capture_output=True)
        subprocess.run([DOCKER, "push", "-q", ref], check=True, capture_output=True)
    finally:
        shutil.rmtree(context, ignore_errors=True)


def submit(testbed: Testbed, namespace: str, body: Spec) -> str | None:
    """Create through the API like kubectl (strict field validation). The refusal's message, or None."""
    from kubernetes import client  # noqa: PLC0415

    api = client.CustomObjectsApi(testbed.api_client)
    try:
        api.create_namespaced_custom_object(
            "task-api.io", "v1alpha1", namespace, "taskruns", body, field_validation="Strict"
        )
    except client.ApiException as exc:
        if exc.status is not None and 400 <= exc.status < 500 and exc.status != 409:
            message = str(json.loads(exc.body or "{}").get("message") or "")
            return message or f"HTTP {exc.status} without a message"
        raise
    return None


@pytest.mark.timeout(1800)
def test_malformed_input_at_scale(testbed: Testbed, run_ns: Namespace, chain_image: str, scale: Scale) -> None:
    rng = random.Random(scale.seed + 7)
    before = _bed.operator_pod(testbed)
    ledger = _bed.PodLedger(testbed, run_ns.name).start()
    cases = fuzz_taskruns(rng, scale.fuzz_cases, chain_image, testbed.registry)
    refused: dict[str, str] = {}
    accepted: list[str] = []
    for name, _, body in cases:
        message = submit(testbed, run_ns.name, body)
        if message is None:
            accepted.append(name)
        else:
            refused[name] = message
    documents = broken_documents(rng, 12 if scale.name == "full" else 8)
    repository = f"{testbed.registry}/chaos/broken"
    images = []
    for index, (what, content) in enumerate(documents):
        ref = f"{repository}:case-{index}-{scale.seed}"
        build_image(ref, content)
        images.append((f"broken-{index}", what, ref))
    objects: list[Spec] = []
    for name, _, ref in images:
        objects.append(
            {
                "apiVersion": "task-api.io/v1alpha1",
                "kind": "ProcessingContainer",
                "metadata": {"name": name},
                "spec": {"image": ref, "imagePullSecrets": [{"name": PULL_SECRET}]},
            }
        )
        objects.append(_bed.trivial_taskrun(f"{name}-run", ref, PULL_SECRET))
    _bed.apply(testbed, run_ns.name, objects)
    image_runs = [f"{name}-run" for name, _, _ in images]
    try:
        runs, waited = _bed.wait_all_final(testbed, run_ns.name, accepted + image_runs, timeout=300)
        deadline = time.monotonic() + 120
        while True:
            pcons = {p["metadata"]["name"]: p for p in _bed.kubectl_json(testbed, "get", "processingcontainers",
                                                                        "-n", run_ns.name)["items"]}  # fmt: skip
            ready = {n: _ready(pcons.get(n, {})) for n, _, _ in images}
            if all(c.get("status") in ("True", "False") for c in ready.values()) or time.monotonic() > deadline:
                break
            time.sleep(1)
        after = _bed.operator_pod(testbed)
        log = _bed.operator_log(testbed)
        ledger.merge_listing()
    finally:
        ledger.stop()
        _bed.save_evidence(testbed, run_ns.name, "bad-input")
    counted = _bed.tally(runs, ledger.uids, accepted + image_runs)
    pods_seen = sorted(ledger.uids)
    by_case = {name: applied for name, applied, _ in cases}
    wrong = {
        n: (_bed.condition(runs.get(n, {})).get("reason"), by_case[n])
        for n in accepted
        if _bed.condition(runs.get(n, {})).get("reason") not in REFUSED or not _bed.condition(runs[n]).get("message")
    }
    wrong_images = {
        n: (_bed.condition(runs.get(n, {})).get("reason"), w)
        for (name, w, _), n in zip(images, image_runs, strict=True)
        if _bed.condition(runs.get(n, {})).get("reason") != "ImageInspectionFailed"
    }
    wrong_pcons = {
        n: (ready[n].get("status"), ready[n].get("reason"), w)
        for n, w, _ in images
        if ready[n].get("status") != "False" or not ready[n].get("message")
    }
    reasons: dict[str, int] = {}
    for n in accepted + image_runs:
        key = str(_bed.condition(runs.get(n, {})).get("reason"))
        reasons[key] = reasons.get(key, 0) + 1
    restarts = _bed.restart_count(after) - _bed.restart_count(before)
    same_pod = after["metadata"]["uid"] == before["metadata"]["uid"]
    tracebacks = log.count("Traceback")
    record(
        Row(
            scenario="7 malformed input at scale",
            runs=len(cases) + 2 * len(images),
            lost=counted.lost,
            duplicated=counted.duplicated,
            stuck=counted.stuck,
            recovery_s=None,
            notes=(
                f"{len(refused)} refused at admission, {len(accepted)} accepted → {reasons}; "
                f"{len(images)} broken images; operator restarts {restarts}, same pod {same_pod}, "
                f"tracebacks {tracebacks}; silently accepted {len(wrong)}; pods created {len(pods_seen)}"
            ),
            scale=scale.name,
            seed=scale.seed,
            figures={
                "refused": len(refused),
                "accepted": len(accepted),
                "final_reasons": reasons,
                "wait_s": round(waited, 1),
            },
        )
    )
    assert all(refused.values()), "an admission refusal without a message"
    assert not wrong, f"accepted cases that did not end InvalidSpec/ImageInspectionFailed with a message: {wrong}"
    assert not wrong_images, wrong_images
    assert not wrong_pcons, wrong_pcons
    assert same_pod and restarts == 0, f"the operator restarted ({restarts}) or was replaced"
    assert tracebacks == 0, "the operator logged a traceback"
    assert not pods_seen, f"pods were created for refused input: {pods_seen[:10]}"
    assert (counted.lost, counted.duplicated, counted.stuck) == (0, 0, 0), counted.problems[:20]


def _ready(pcon: dict[str, Any]) -> dict[str, Any]:
    for cond in (pcon.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return dict(cond)
    return {}
