"""Scenario 8 — after all other scenarios: the registry password appears in no TaskRun status, no Event and no
line of the operator's log.

Runs last (tests/chaos/conftest.py orders it). What is swept: every TaskRun and ProcessingContainer and every
Event in the cluster now, plus what each scenario saved before its namespace was deleted and what
``kill_operator`` saved of each operator container before killing it (``build/chaos/evidence``), plus the
current and previous logs of the operator. The password is searched as given, base64-encoded, and inside the
base64 of ``user:password`` (the form a dockerconfigjson ``auth`` carries).

The sweep can fail: a positive control checks that the same search finds the password where it must be (the
pull Secret's payload), so an empty corpus or a broken search does not pass silently.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.chaos import _bed
from tests.chaos._bed import EVIDENCE, Scale
from tests.chaos.results import Row, record
from tests.fixtures.testbed import Testbed

pytestmark = [pytest.mark.cluster, pytest.mark.chaos]


def needles(user: str, password: str) -> list[str]:
    """The forms a leaked password takes. Pure."""
    b64 = base64.b64encode(password.encode()).decode()
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return [password, b64.rstrip("="), auth.rstrip("=")]


def hits(corpus: dict[str, str], forms: list[str]) -> dict[str, int]:
    """Sources (and counts) where any form occurs. Pure."""
    found: dict[str, int] = {}
    for source, text in corpus.items():
        count = sum(text.count(form) for form in forms)
        if count:
            found[source] = count
    return found


def test_no_secret_in_status_events_or_log(testbed: Testbed, scale: Scale) -> None:
    forms = needles(testbed.registry_user, testbed.registry_password)
    corpus: dict[str, str] = {}
    for kind in ("taskruns", "processingcontainers", "events"):
        corpus[f"cluster {kind}"] = json.dumps(_bed.kubectl_json(testbed, "get", kind, "--all-namespaces"))
    corpus["operator log (now)"] = _bed.operator_log(testbed)
    if EVIDENCE.is_dir():
        for path in sorted(EVIDENCE.iterdir()):
            corpus[f"evidence {path.name}"] = path.read_text(errors="replace")
    # Positive control: the pull Secret carries the password, and this search finds it there.
    secret = _bed.kubectl_json(testbed, "get", "secrets", "-n", _bed.OPERATOR_NAMESPACE, "task-api-registry")
    control = base64.b64decode(secret["data"][".dockerconfigjson"]).decode()
    assert hits({"control": control}, forms), "the search does not find the password where it is: broken sweep"
    leaked = hits(corpus, forms)
    size = sum(len(t) for t in corpus.values())
    summary = f"{len(corpus)} sources, {size / 1e6:.1f} MB searched for 3 forms of the password"
    record(
        Row(
            scenario="8 secrets sweep",
            runs=len(corpus),
            lost=None,  # no TaskRuns: a sweep of what the others left
            duplicated=None,
            stuck=None,
            recovery_s=None,
            notes=f"{summary}: {len(leaked)} hits",
            scale=scale.name,
            seed=scale.seed,
        )
    )
    assert len(corpus) >= 4 and size > 0
    assert not leaked, f"the registry password appears in: {sorted(leaked)}"
