"""Rendering ``manifests/`` for the tests: with a real ``kubectl kustomize`` when one is on this machine, and with a
small pure-Python renderer otherwise.

The Python renderer implements only the kustomize features the project's kustomizations use (resources, components,
namespace, labels without selectors, images, strategic-merge patches (``$patch: delete`` too) and JSON patches,
replacements of one field) and raises
:class:`UnsupportedKustomization` on anything else, so a new feature in ``manifests/`` can never be silently ignored.
When kubectl is present, ``test_renderers_agree`` checks both renderers give the same objects.

``render_with_python`` reads files but does no other I/O; ``render_with_kubectl`` runs a subprocess.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

ROOT = Path(__file__).resolve().parents[3]
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
#: Kinds that never carry a namespace (what this project's manifests contain).
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "PersistentVolume",
    }
)
#: Cluster-scoped kinds kustomize's built-in schema does not know, so its namespace transformer gives them the
#: namespace anyway (the API server ignores it): rendered as kubectl renders them.
NAMESPACED_BY_KUSTOMIZE = frozenset({"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"})
SUPPORTED_FIELDS = frozenset(
    {"apiVersion", "kind", "resources", "components", "namespace", "labels", "images", "patches", "replacements"}
)


class UnsupportedKustomization(Exception):
    """The kustomization uses a feature the Python renderer does not implement."""


def find_kubectl() -> str | None:
    """I/O (file system): ``$KUBECTL``, the test bed's kubectl built by ``hack/build-binaries.sh``, or PATH's."""
    if os.environ.get("KUBECTL"):
        return os.environ["KUBECTL"]
    versions = (ROOT / "hack" / "versions.env").read_text()
    match = re.search(r"^KUBE_VERSION=(\S+)", versions, re.MULTILINE)
    cache = Path(os.environ.get("TASK_API_CACHE", Path.home() / ".cache" / "task-api"))
    if match:
        built = cache / "kubernetes" / match.group(1) / "kubectl"
        if built.is_file() and os.access(built, os.X_OK):
            return str(built)
    return shutil.which("kubectl")


def render_with_kubectl(kubectl: str, path: Path) -> list[Obj]:
    """I/O: ``kubectl kustomize path``, parsed."""
    out = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {path} failed: {out.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def render_with_python(path: Path) -> list[Obj]:
    """Reads files only: the objects ``kubectl kustomize path`` would print, for the supported subset."""
    return _build(path.resolve())


def _kustomization_file(directory: Path) -> Path:
    for name in KUSTOMIZATION_NAMES:
        if (directory / name).is_file():
            return directory / name
    raise UnsupportedKustomization(f"{directory}: no kustomization file (looked for {', '.join(KUSTOMIZATION_NAMES)})")


def _load_docs(file: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(file.read_text()) if doc]


def _build(directory: Path) -> list[Obj]:
    kfile = _kustomization_file(directory)
    k = yaml.safe_load(kfile.read_text()) or {}
    unknown = set(k) - SUPPORTED_FIELDS
    if unknown:
        raise UnsupportedKustomization(f"{kfile}: fields {sorted(unknown)} are not implemented by the test renderer")
    objs: list[Obj] = []
    for res in k.get("resources", []):
        target = (directory / res).resolve()
        if target.is_dir():
            objs += _build(target)
        else:
            if not target.is_relative_to(directory):
                raise UnsupportedKustomization(f"{kfile}: {res} is outside the kustomization root (kustomize refuses)")
            objs += _load_docs(target)
    for component in k.get("components", []):
        # kustomize applies a component's resources and patches after the parent's resources, before its own.
        ckfile = _kustomization_file((directory / component).resolve())
        c = yaml.safe_load(ckfile.read_text()) or {}
        if c.get("kind") != "Component" or set(c) - {"apiVersion", "kind", "resources", "patches"}:
            raise UnsupportedKustomization(f"{ckfile}: only Components with resources and patches are implemented")
        for res in c.get("resources", []):
            objs += _load_docs((ckfile.parent / res).resolve())
        for patch in c.get("patches", []):
            _apply_patch(objs, patch, ckfile.parent, ckfile)
    for patch in k.get("patches", []):
        _apply_patch(objs, patch, directory, kfile)
    if "namespace" in k:
        _set_namespace(objs, k["namespace"])
    for label in k.get("labels", []):
        if label.get("includeSelectors") or label.get("includeTemplates"):
            raise UnsupportedKustomization(f"{kfile}: labels with selectors/templates are not implemented")
        for obj in objs:
            obj.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
    for image in k.get("images", []):
        _set_image(objs, image)
    for entry in k.get("replacements", []):
        loaded = yaml.safe_load((directory / entry["path"]).read_text()) if "path" in entry else entry
        for repl in loaded if isinstance(loaded, list) else [loaded]:
            _replace(objs, repl, kfile)
    return objs


def _matches(obj: Obj, *, kind: str | None, name: str | None) -> bool:
    return (kind is None or obj.get("kind") == kind) and (name is None or obj["metadata"].get("name") == name)


def _apply_patch(objs: list[Obj], patch: Obj, directory: Path, kfile: Path) -> None:
    if set(patch) - {"path", "patch", "target"}:
        raise UnsupportedKustomization(f"{kfile}: patch options {sorted(set(patch))} are not implemented")
    text = (directory / patch["path"]).read_text() if "path" in patch else patch["patch"]
    body = yaml.safe_load(text)
    if isinstance(body, list):  # JSON 6902
        target = patch.get("target") or {}
        if set(target) - {"kind", "name"}:
            raise UnsupportedKustomization(f"{kfile}: patch target {target} is not implemented")
        hits = [o for o in objs if _matches(o, kind=target.get("kind"), name=target.get("name"))]
        if not hits:
            raise UnsupportedKustomization(f"{kfile}: JSON patch target {target} matches nothing")
        for obj in hits:
            for op in body:
                _json_patch_op(obj, op, kfile)
        return
    hits = [o for o in objs if _matches(o, kind=body["kind"], name=body["metadata"]["name"])]
    if len(hits) != 1:
        raise UnsupportedKustomization(
            f"{kfile}: patch for {body['kind']}/{body['metadata']['name']} matches {len(hits)}"
        )
    if body.get("$patch") == "delete":
        objs.remove(hits[0])
        return
    merged = _strategic_merge(hits[0], body)
    hits[0].clear()
    hits[0].update(merged)


def _json_patch_op(obj: Obj, op: Obj, kfile: Path) -> None:
    if op["op"] not in ("replace", "add", "remove"):
        raise UnsupportedKustomization(f"{kfile}: JSON patch op {op['op']!r} is not implemented")
    parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
    node: Any = obj
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if op["op"] == "remove":
        del node[int(last) if isinstance(node, list) else last]
        return
    if isinstance(node, list):
        if last == "-":
            node.append(copy.deepcopy(op["value"]))
        else:
            node[int(last)] = copy.deepcopy(op["value"])
    else:
        node[last] = copy.deepcopy(op["value"])


def _strategic_merge(base: Any, patch: Any) -> Any:
    """Maps merge; lists of maps with ``name`` merge by name (containers, env, volumes); other lists replace."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = _strategic_merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(x, dict) and "name" in x for x in [*base, *patch])
    ):
        by_name = {x["name"]: x for x in base}
        merged_patch = []
        for item in patch:
            if item["name"] in by_name:
                by_name[item["name"]] = _strategic_merge(by_name[item["name"]], item)
            else:
                merged_patch.append(copy.deepcopy(item))
        # kustomize puts new entries first, then the existing ones in their order.
        return merged_patch + [by_name[x["name"]] for x in base]
    return copy.deepcopy(patch)


def _set_namespace(objs: list[Obj], namespace: str) -> None:
    for obj in objs:
        if obj["kind"] == "Namespace":
            obj["metadata"]["name"] = namespace
        elif obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = namespace
        if obj["kind"] in ("ClusterRoleBinding", "RoleBinding"):
            for subject in obj.get("subjects", []):
                if subject.get("kind") == "ServiceAccount":
                    subject["namespace"] = namespace


def _containers(obj: Obj) -> Iterator[Obj]:
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    yield from spec.get("initContainers", [])
    yield from spec.get("containers", [])


def _set_image(objs: list[Obj], image: Obj) -> None:
    for obj in objs:
        for container in _containers(obj):
            ref = container.get("image", "")
            name = re.split(r"@|:(?=[^/]*$)", ref, maxsplit=1)[0]
            if name != image["name"]:
                continue
            new_name = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{new_name}@{image['digest']}"
            else:
                tag = image.get("newTag") or (ref[len(name) + 1 :] if len(ref) > len(name) else "")
                container["image"] = f"{new_name}:{tag}" if tag else new_name


def _field(obj: Obj, path: str) -> tuple[Any, str | int]:
    """The parent node and key of a kustomize field path like ``spec.x.[name=operator].image``."""
    parts = re.findall(r"\[[^\]]*\]|[^.]+", path)
    node: Any = obj
    for part in parts[:-1]:
        m = re.fullmatch(r"\[(\w+)=(.*)\]", part)
        node = next(x for x in node if x.get(m.group(1)) == m.group(2)) if m else node[part]
    return node, parts[-1]


def _replace(objs: list[Obj], repl: Obj, kfile: Path) -> None:
    src = repl["source"]
    sources = [o for o in objs if _matches(o, kind=src.get("kind"), name=src.get("name"))]
    if len(sources) != 1:
        raise UnsupportedKustomization(f"{kfile}: replacement source {src} matches {len(sources)} objects")
    parent, key = _field(sources[0], src["fieldPath"])
    value = parent[key]
    for target in repl["targets"]:
        sel = target["select"]
        options = target.get("options") or {}
        if set(options) - {"delimiter", "index"}:
            raise UnsupportedKustomization(f"{kfile}: replacement options {sorted(options)} are not implemented")
        for obj in objs:
            if _matches(obj, kind=sel.get("kind"), name=sel.get("name")):
                for path in target["fieldPaths"]:
                    tparent, tkey = _field(obj, path)
                    if "delimiter" in options:
                        # Only the index-th piece of the target string, split at the delimiter, is replaced.
                        pieces = str(tparent[tkey]).split(options["delimiter"])
                        pieces[int(options.get("index", 0))] = str(value)
                        tparent[tkey] = options["delimiter"].join(pieces)
                    else:
                        tparent[tkey] = value
