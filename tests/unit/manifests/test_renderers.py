"""The Python renderer the other tests fall back on gives what ``kubectl kustomize`` gives, and refuses what it
does not implement."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.manifests.conftest import BASE, NAMESPACED, OVERLAY
from tests.unit.manifests.kustomize import (
    Obj,
    UnsupportedKustomization,
    find_kubectl,
    render_with_kubectl,
    render_with_python,
)


def by_identity(objs: list[Obj]) -> dict[tuple[str, str], Obj]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


@pytest.mark.parametrize("path", [BASE, OVERLAY, NAMESPACED], ids=["base", "overlay", "namespaced"])
def test_renderers_agree(path: Path) -> None:
    kubectl = find_kubectl()
    if kubectl is None:
        pytest.skip("no kubectl on this machine (hack/build-binaries.sh builds one): nothing to compare against")
    expected = by_identity(render_with_kubectl(kubectl, path))
    actual = by_identity(render_with_python(path))
    assert sorted(actual) == sorted(expected)
    for key, obj in expected.items():
        assert actual[key] == obj, f"{key} differs"


def test_unknown_kustomize_features_are_refused(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("configMapGenerator:\n- name: x\n  literals: [a=b]\n")
    with pytest.raises(UnsupportedKustomization, match="configMapGenerator"):
        render_with_python(tmp_path)


def test_files_outside_the_root_are_refused_like_kustomize_does(tmp_path: Path) -> None:
    (tmp_path / "outside.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "kustomization.yaml").write_text("resources:\n- ../outside.yaml\n")
    with pytest.raises(UnsupportedKustomization, match="outside the kustomization root"):
        render_with_python(tmp_path / "k")
