"""The operator's ClusterRole grants exactly what the operator's code calls: read off the source, not a list.

Every call the operator makes to the API server goes through the KubeClient (``get``, ``list_items``, ``create``,
``merge_patch``, ``json_patch``, ``delete``) with a path built by a path builder naming the resource as a literal
(``core_path("pods", …)``, ``resource_path(plural="taskruns", subresource="status")``, or a module's own
``taskrun_path``/``pc_path``), and kopf watches what ``@kopf.on.event`` names. This test parses the operator's
modules (``ast``; nothing is imported), resolves each call site to (resource, verb) and compares the set with the
ClusterRole. A call site it cannot resolve fails the test with its file and line: keep resource names literal at
the call (or in a local variable assigned from a path builder) so the role stays provable.

What kopf itself needs besides its watches: nothing (``posting`` and ``scanning`` are off, only ``on.event``
handlers: no finalizers, no annotations). ``taskruns/finalizers: update`` is the one grant no call uses: the
OwnerReferencesPermissionEnforcement admission plugin demands it for ``blockOwnerDeletion`` owner references.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.unit.manifests.conftest import one
from tests.unit.manifests.kustomize import ROOT, Obj
from tests.unit.manifests.test_rbac import triples

KUBE = ROOT / "task_api" / "kube"
#: The modules the operator process runs (task_api.controller and the adapters it calls the API server through).
OPERATOR_MODULES = [
    *sorted((ROOT / "task_api" / "controller").glob("*.py")),
    KUBE / "events.py",
    KUBE / "templates.py",
    KUBE / "lease.py",
]
#: Modules whose path builders the operator uses, though their own calls serve other clients (the CLI, Airflow).
BUILDER_MODULES = [KUBE / "taskruns.py"]
#: The Lease calls go to the leader-election Role in the operator's namespace, everything else to the ClusterRole.
LEASE_GROUP = "coordination.k8s.io"
VERBS = {"get": "get", "list_items": "list", "create": "create", "merge_patch": "patch", "json_patch": "patch",
         "delete": "delete"}  # fmt: skip
#: Grants no call site shows, each with the reason it is still needed.
REQUIRED_WITHOUT_A_CALL = {("task-api.io", "taskruns/finalizers", "update")}
CORE_GROUP = {"pods": "", "secrets": "", "events": "", "persistentvolumeclaims": "", "configmaps": ""}


@dataclass(frozen=True)
class Use:
    group: str
    resource: str
    verb: str
    where: str


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _arg(call: ast.Call, index: int, keyword: str) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[index] if len(call.args) > index and not isinstance(call.args[index], ast.Starred) else None


def _builders(trees: dict[Path, ast.Module]) -> dict[str, tuple[str, str, int | None]]:
    """Module-level functions that return ``resource_path(plural=<literal>, subresource=<param>)``: name ->
    (group, plural, index of the parameter that carries the subresource)."""
    found: dict[str, tuple[str, str, int | None]] = {}
    for tree in trees.values():
        for fn in tree.body:
            if not isinstance(fn, ast.FunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "resource_path":
                    plural = _literal(_arg(node, 99, "plural"))
                    if plural is None:
                        continue
                    group = _literal(_arg(node, 99, "group"))
                    sub = _arg(node, 99, "subresource")
                    params = [a.arg for a in fn.args.args]
                    index = params.index(sub.id) if isinstance(sub, ast.Name) and sub.id in params else None
                    found[fn.name] = (group if group is not None else "task-api.io", plural, index)
    return found


def _resource(
    node: ast.AST | None, builders: dict[str, tuple[str, str, int | None]], local: dict[str, ast.AST]
) -> tuple[str, str] | None:
    """(group, resource[/subresource]) a path expression names, or None."""
    if isinstance(node, ast.Name) and node.id in local:
        return _resource(local[node.id], builders, {})
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        return None
    name = node.func.id
    if name == "core_path":
        plural = _literal(_arg(node, 0, "plural"))
        sub = _literal(_arg(node, 3, "sub"))
        return None if plural is None else ("", plural + (f"/{sub}" if sub else ""))
    if name in builders:
        group, plural, index = builders[name]
        sub = _literal(_arg(node, index, "sub")) if index is not None else None
        if index is not None and len(node.args) == 1 and isinstance(node.args[0], ast.Starred):
            sub = None  # taskrun_path(*key): (namespace, name) only
        return group, plural + (f"/{sub}" if sub else "")
    if name == "resource_path":
        plural = _literal(_arg(node, 99, "plural"))
        sub = _literal(_arg(node, 99, "subresource"))
        return None if plural is None else ("task-api.io", plural + (f"/{sub}" if sub else ""))
    return None


def _assignments(fn: ast.AST) -> dict[str, ast.AST]:
    out: dict[str, ast.AST] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = node.value
    return out


def _wrappers(trees: dict[Path, ast.Module]) -> dict[str, str]:
    """Methods that only forward their path to one KubeClient call (``self._delete(path)``): name -> verb."""
    found: dict[str, str] = {}
    for tree in trees.values():
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.AsyncFunctionDef) or len(fn.args.args) != 2:
                continue
            param = fn.args.args[1].arg
            for node in ast.walk(fn):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in VERBS
                    and node.args
                    and isinstance(node.args[0], ast.Name)
                    and node.args[0].id == param
                ):
                    found[fn.name] = VERBS[node.func.attr]
    return found


def _is_kube(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in ("kube", "_kube")


def _plural_parameter(node: ast.AST | None, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int | None:
    """The index (``self`` excluded) of the parameter of ``fn`` that a ``core_path(<parameter>, …)`` takes its
    resource from, or None."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "core_path"):
        return None
    plural = _arg(node, 0, "plural")
    params = [a.arg for a in fn.args.args if a.arg != "self"]
    return params.index(plural.id) if isinstance(plural, ast.Name) and plural.id in params else None


def _resource_parameter_uses(
    trees: dict[Path, ast.Module], parametric: dict[str, list[tuple[int, str]]]
) -> tuple[set[Use], list[str]]:
    """The calls of methods that take the resource as a parameter (``self._create(run, "pods", …)``): one use per
    literal resource given and KubeClient call inside; a resource that is not a literal cannot be read."""
    uses: set[Use] = set()
    unresolved: list[str] = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            for index, verb in parametric.get(node.func.attr, []):
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                plural = _literal(node.args[index]) if len(node.args) > index else None
                if plural is None:
                    unresolved.append(where)
                else:
                    uses.add(Use(CORE_GROUP.get(plural, "?"), plural, verb, where))
    return uses, unresolved


def code_uses() -> tuple[set[Use], list[str]]:
    """Every (group, resource, verb) the operator's code asks for, and the call sites that could not be read."""
    trees = {path: ast.parse(path.read_text(), str(path)) for path in OPERATOR_MODULES}
    builders = _builders({**trees, **{p: ast.parse(p.read_text(), str(p)) for p in BUILDER_MODULES}})
    wrappers = _wrappers(trees)
    uses: set[Use] = set()
    unresolved: list[str] = []
    parametric: dict[str, list[tuple[int, str]]] = {}
    for path, tree in trees.items():
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            local = _assignments(fn)
            for node in ast.walk(fn):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    verb = None
                    if node.func.attr in VERBS and _is_kube(node.func.value):
                        verb = VERBS[node.func.attr]
                    elif node.func.attr in wrappers and isinstance(node.func.value, ast.Name):
                        verb = wrappers[node.func.attr]
                    if verb is None or (node.func.attr in wrappers and fn.name == node.func.attr):
                        continue
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    first = node.args[0] if node.args else None
                    if _literal(first) in ("/version", "/healthz", "/readyz"):
                        continue  # non-resource URLs every authenticated client may read (system:discovery)
                    if fn.name in wrappers and isinstance(first, ast.Name) and first.id == fn.args.args[1].arg:
                        continue  # the wrapper's own forwarding call: counted at its callers
                    found = _resource(first, builders, local)
                    index = _plural_parameter(first, fn)
                    if found is None and index is not None:
                        parametric.setdefault(fn.name, []).append((index, verb))
                    elif found is None:
                        unresolved.append(where)
                    else:
                        uses.add(Use(found[0], found[1], verb, where))
        for node in ast.walk(tree):
            for deco in getattr(node, "decorator_list", []):
                if isinstance(deco, ast.Call) and ast.unparse(deco.func) == "kopf.on.event":
                    group, plural = _literal(deco.args[0]), _literal(deco.args[2])
                    if group is None and ast.unparse(deco.args[0]) == "GROUP":
                        group = "task-api.io"
                    assert group is not None and plural is not None, ast.unparse(deco)
                    for verb in ("list", "watch"):
                        uses.add(Use(group, plural, verb, f"{path.relative_to(ROOT)}:{deco.lineno}"))
    more, unread = _resource_parameter_uses(trees, parametric)
    return uses | more, unresolved + unread


def _by_triple(uses: set[Use]) -> Iterator[tuple[tuple[str, str, str], str]]:
    for use in sorted(uses, key=lambda u: u.where):
        yield (use.group, use.resource, use.verb), use.where


def test_every_call_site_names_its_resource() -> None:
    _, unresolved = code_uses()
    assert unresolved == [], "KubeClient calls whose resource cannot be read from the source"


def test_the_role_grants_exactly_what_the_code_uses(base: list[Obj]) -> None:
    uses, _ = code_uses()
    used = dict(_by_triple({u for u in uses if u.group != LEASE_GROUP}))
    granted = set(triples(one(base, "ClusterRole", "task-api-operator")))
    missing = sorted(t for t in used if t not in granted)
    assert missing == [], f"called but not granted: {[(t, used[t]) for t in missing]}"
    unused = sorted(granted - set(used) - REQUIRED_WITHOUT_A_CALL)
    assert unused == [], "granted but never called (drop it, or name why in REQUIRED_WITHOUT_A_CALL)"


def test_the_reader_finds_the_calls_it_must() -> None:
    # A control: if the parser stopped seeing call sites, the comparison above could pass on nothing.
    used = {t for t, _ in _by_triple(code_uses()[0])}
    assert {("", "pods", "create"), ("task-api.io", "taskruns/status", "patch"), ("", "events", "create")} <= used


def test_the_leader_election_role_grants_exactly_the_lease_calls(base: list[Obj]) -> None:
    used = {t for t, _ in _by_triple(code_uses()[0]) if t[0] == LEASE_GROUP}
    granted = set(triples(one(base, "Role", "task-api-operator-leader-election")))
    assert used == granted
    assert {(LEASE_GROUP, "leases", "get"), (LEASE_GROUP, "leases", "create")} <= used  # the reader saw them
