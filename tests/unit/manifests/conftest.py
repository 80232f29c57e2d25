"""Fixtures: the rendered base (``manifests/``) and test bed overlay, once per renderer.

Every test taking ``base`` or ``overlay`` runs twice: on ``kubectl kustomize`` output (the truth; skipped with a
reason when no kubectl is on this machine — ``hack/build-binaries.sh`` builds one) and on the pure-Python renderer
(which runs everywhere, so ``make unit`` on a bare machine still checks the manifests).
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import pytest

from tests.unit.manifests.kustomize import ROOT, Obj, find_kubectl, render_with_kubectl, render_with_python

BASE = ROOT / "manifests"
OVERLAY = ROOT / "manifests" / "overlays" / "testbed"
NAMESPACED = ROOT / "manifests" / "overlays" / "namespaced"


@functools.cache
def _render(renderer: str, path: Path) -> tuple[Obj, ...]:
    if renderer == "kubectl":
        kubectl = find_kubectl()
        assert kubectl is not None
        return tuple(render_with_kubectl(kubectl, path))
    return tuple(render_with_python(path))


@pytest.fixture(params=["kubectl", "python"])
def renderer(request: pytest.FixtureRequest) -> str:
    if request.param == "kubectl" and find_kubectl() is None:
        pytest.skip("no kubectl on this machine (hack/build-binaries.sh builds one); the Python renderer still runs")
    return str(request.param)


@pytest.fixture
def base(renderer: str) -> list[Obj]:
    return copy.deepcopy(list(_render(renderer, BASE)))


@pytest.fixture
def overlay(renderer: str) -> list[Obj]:
    return copy.deepcopy(list(_render(renderer, OVERLAY)))


@pytest.fixture
def namespaced(renderer: str) -> list[Obj]:
    return copy.deepcopy(list(_render(renderer, NAMESPACED)))


def one(objs: list[Obj], kind: str, name: str) -> Obj:
    """The single object of that kind and name; fails the test when there is not exactly one."""
    hits = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(hits) == 1, f"expected one {kind}/{name}, found {len(hits)}"
    return hits[0]
