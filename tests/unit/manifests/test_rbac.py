"""The operator's RBAC is exactly the least-privilege list of docs/deploy.md; user roles aggregate as intended."""

from __future__ import annotations

import pytest

from tests.unit.manifests.conftest import one
from tests.unit.manifests.kustomize import Obj

NAMESPACE = "task-api-system"

#: (apiGroup, resource, verb) the operator may use — the whole list, from docs/deploy.md (and, independently, read off
#: the operator's source by test_rbac_matches_code.py).
OPERATOR_PERMISSIONS = {
    *{("task-api.io", r, v) for r in ("processingcontainers", "taskruns") for v in ("get", "list", "watch")},
    *{("task-api.io", r, "patch") for r in ("processingcontainers/status", "taskruns/status")},
    ("task-api.io", "taskruns/finalizers", "update"),
    *{("", "pods", v) for v in ("get", "list", "watch", "create", "delete")},
    *{("", "secrets", v) for v in ("get", "create", "delete")},
    ("", "persistentvolumeclaims", "get"),
    ("", "events", "create"),
}

#: Verbs and resources that would let the holder become someone else or read what it was not given.
DANGEROUS_VERBS = {"*", "escalate", "bind", "impersonate"}
DANGEROUS_RESOURCES = {
    "*",
    "pods/exec",
    "pods/attach",
    "pods/log",
    "pods/portforward",
    "pods/ephemeralcontainers",
    "nodes/proxy",
    "serviceaccounts/token",
    "roles",
    "rolebindings",
    "clusterroles",
    "clusterrolebindings",
}


def triples(role: Obj) -> list[tuple[str, str, str]]:
    """Pure: every (apiGroup, resource, verb) a role grants, duplicates kept."""
    out = []
    for rule in role.get("rules", []):
        assert "nonResourceURLs" not in rule, f"{role['metadata']['name']}: grants non-resource URLs"
        out += [(g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]]
    return out


def roles(objs: list[Obj]) -> list[Obj]:
    return [o for o in objs if o["kind"] in ("ClusterRole", "Role")]


class TestOperatorRole:
    def test_grants_exactly_the_documented_permissions(self, base: list[Obj]) -> None:
        granted = triples(one(base, "ClusterRole", "task-api-operator"))
        assert sorted(set(granted) - OPERATOR_PERMISSIONS) == [], "granted beyond the list"
        assert sorted(OPERATOR_PERMISSIONS - set(granted)) == [], "missing from the role"
        assert len(granted) == len(set(granted)), "a permission is granted twice"

    def test_is_not_narrowed_by_resource_names_or_widened_by_aggregation(self, base: list[Obj]) -> None:
        role = one(base, "ClusterRole", "task-api-operator")
        assert "aggregationRule" not in role
        assert not any(k.startswith("rbac.authorization.k8s.io/aggregate") for k in role["metadata"].get("labels", {}))
        assert all("resourceNames" not in rule for rule in role["rules"])

    def test_secrets_cannot_be_listed_or_watched(self, base: list[Obj]) -> None:
        verbs = {v for g, r, v in triples(one(base, "ClusterRole", "task-api-operator")) if r == "secrets"}
        # delete stays: the per-run registry Secret goes as its run finishes (not only with the TaskRun).
        assert verbs.isdisjoint({"list", "watch", "update", "patch", "deletecollection"})

    def test_the_custom_resources_themselves_are_never_written(self, base: list[Obj]) -> None:
        written = {
            (r, v)
            for g, r, v in triples(one(base, "ClusterRole", "task-api-operator"))
            if g == "task-api.io" and "/" not in r and v not in ("get", "list", "watch")
        }
        assert written == set()

    def test_is_bound_only_to_the_operator_service_account(self, base: list[Obj]) -> None:
        bindings = [
            o
            for o in base
            if o["kind"] in ("ClusterRoleBinding", "RoleBinding") and o["roleRef"]["name"] == "task-api-operator"
        ]
        assert len(bindings) == 1
        binding = bindings[0]
        assert binding["kind"] == "ClusterRoleBinding"
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "task-api-operator",
        }
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "task-api-operator", "namespace": NAMESPACE}]
        one(base, "ServiceAccount", "task-api-operator")

    def test_the_deployment_runs_as_that_service_account(self, base: list[Obj]) -> None:
        pod = one(base, "Deployment", "task-api-operator")["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "task-api-operator"


class TestNoRoleIsDangerous:
    def test_no_wildcard_or_privilege_escalation_anywhere(self, base: list[Obj]) -> None:
        found = [
            (role["metadata"]["name"], g, r, v)
            for role in roles(base)
            for g, r, v in triples(role)
            if v in DANGEROUS_VERBS or r in DANGEROUS_RESOURCES or g == "*"
        ]
        assert found == []

    def test_the_only_roles_are_the_four_documented_ones(self, base: list[Obj]) -> None:
        assert sorted(r["metadata"]["name"] for r in roles(base)) == [
            "task-api-edit",
            "task-api-node-agent",
            "task-api-operator",
            "task-api-operator-leader-election",
            "task-api-view",
        ]


class TestLeaderElectionRole:
    def test_only_its_own_lease_in_its_own_namespace(self, base: list[Obj]) -> None:
        role = one(base, "Role", "task-api-operator-leader-election")
        assert role["metadata"]["namespace"] == NAMESPACE
        rules = [(tuple(r["resources"]), tuple(r.get("resourceNames", ())), tuple(r["verbs"])) for r in role["rules"]]
        assert sorted(rules) == [
            (("leases",), (), ("create",)),
            (("leases",), ("task-api-operator",), ("get", "patch")),
        ]
        binding = one(base, "RoleBinding", "task-api-operator-leader-election")
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "task-api-operator", "namespace": NAMESPACE}]


class TestUserRoles:
    @pytest.mark.parametrize(
        ("name", "labels", "verbs"),
        [
            (
                "task-api-edit",
                {"rbac.authorization.k8s.io/aggregate-to-edit", "rbac.authorization.k8s.io/aggregate-to-admin"},
                {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
            ),
            ("task-api-view", {"rbac.authorization.k8s.io/aggregate-to-view"}, {"get", "list", "watch"}),
        ],
    )
    def test_aggregates_into_the_built_in_role(
        self, base: list[Obj], name: str, labels: set[str], verbs: set[str]
    ) -> None:
        role = one(base, "ClusterRole", name)
        aggregate = {k for k, v in role["metadata"]["labels"].items() if k.startswith("rbac.authorization.k8s.io/")}
        assert aggregate == labels
        assert all(role["metadata"]["labels"][k] == "true" for k in labels)
        expected = {("task-api.io", r, v) for r in ("processingcontainers", "taskruns") for v in verbs}
        assert set(triples(role)) == expected

    def test_users_cannot_write_status(self, base: list[Obj]) -> None:
        for name in ("task-api-edit", "task-api-view"):
            assert not [r for _, r, _ in triples(one(base, "ClusterRole", name)) if "/" in r]


class TestRulesMatchTheCrds:
    def test_every_task_api_resource_is_served_by_a_crd(self, base: list[Obj]) -> None:
        crds = {o["spec"]["names"]["plural"]: o for o in base if o["kind"] == "CustomResourceDefinition"}
        for role in roles(base):
            for group, resource, _ in triples(role):
                if group != "task-api.io":
                    continue
                plural, _, sub = resource.partition("/")
                assert plural in crds, f"{role['metadata']['name']}: no CRD serves {plural}"
                assert crds[plural]["spec"]["group"] == "task-api.io"
                if sub == "status":
                    assert all("status" in v.get("subresources", {}) for v in crds[plural]["spec"]["versions"])


def _of_operator(binding: Obj) -> bool:
    return any(s.get("name") == "task-api-operator" for s in binding.get("subjects", []))


class TestNamespacedMode:
    """overlays/namespaced (components/namespaced): the operator's rights only where it serves."""

    def test_no_cluster_wide_binding_of_the_operator_remains(self, namespaced: list[Obj]) -> None:
        # The node agent keeps its own ClusterRoleBinding: it reads nodes and pods of every namespace on its node.
        assert [o for o in namespaced if o["kind"] == "ClusterRoleBinding" and _of_operator(o)] == []

    def test_one_rolebinding_per_served_namespace_and_no_other(self, namespaced: list[Obj]) -> None:
        served = one(namespaced, "ConfigMap", "task-api-config")["data"]["TASK_API_NAMESPACES"].split(",")
        # The leader-election RoleBinding (its Lease, in the operator's own namespace) is not a serving binding.
        bindings = [o for o in namespaced if o["kind"] == "RoleBinding" and o["roleRef"]["name"] == "task-api-operator"]
        assert sorted(b["metadata"]["namespace"] for b in bindings) == sorted(served)
        for binding in bindings:
            assert binding["roleRef"] == {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "task-api-operator",
            }
            assert binding["subjects"] == [
                {"kind": "ServiceAccount", "name": "task-api-operator", "namespace": NAMESPACE}
            ]

    def test_the_role_is_the_same_least_privilege_one(self, namespaced: list[Obj], base: list[Obj]) -> None:
        assert one(namespaced, "ClusterRole", "task-api-operator") == one(base, "ClusterRole", "task-api-operator")
