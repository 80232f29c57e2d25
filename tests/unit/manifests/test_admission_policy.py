"""The ValidatingAdmissionPolicy fencing the operator's ServiceAccount is wired to the right things.

What the policy refuses is shown on the test bed (tests/security/test_operator_token.py: each forbidden pod, created
with the operator's own token, is refused; the operator's real pods pass). Here: that it applies to exactly the
operator's ServiceAccount, carries the served namespaces and host path roots of the operator's own ConfigMap in
every rendering, fails closed, and is bound in Deny mode.
"""

from __future__ import annotations

from tests.unit.manifests.conftest import one
from tests.unit.manifests.kustomize import Obj

NAME = "task-api-operator-pods"


def test_it_matches_exactly_the_operator_service_account(base: list[Obj]) -> None:
    policy = one(base, "ValidatingAdmissionPolicy", NAME)
    account = one(base, "ServiceAccount", "task-api-operator")
    username = f"system:serviceaccount:{account['metadata']['namespace']}:{account['metadata']['name']}"
    (condition,) = policy["spec"]["matchConditions"]
    assert condition["expression"] == f"request.userInfo.username == '{username}'"


def test_it_fails_closed_on_pod_creation(base: list[Obj]) -> None:
    spec = one(base, "ValidatingAdmissionPolicy", NAME)["spec"]
    assert spec["failurePolicy"] == "Fail"
    (rule,) = spec["matchConstraints"]["resourceRules"]
    assert (rule["apiGroups"], rule["resources"], rule["operations"]) == ([""], ["pods"], ["CREATE"])


def quoted(policy: Obj, variable: str) -> str:
    """The text between the first two quotes of a policy variable's expression (where kustomize puts the value)."""
    expression = next(v for v in policy["spec"]["variables"] if v["name"] == variable)["expression"]
    return str(expression.split("'")[1])


def test_no_param_kind(base: list[Obj]) -> None:
    # A ConfigMap paramKind freezes in kube-apiserver once its last binding goes (kubernetes#133827): values are
    # written into the policy instead.
    assert "paramKind" not in one(base, "ValidatingAdmissionPolicy", NAME)["spec"]
    assert "paramRef" not in one(base, "ValidatingAdmissionPolicyBinding", NAME)["spec"]
    binding = one(base, "ValidatingAdmissionPolicyBinding", NAME)["spec"]
    assert binding == {"policyName": NAME, "validationActions": ["Deny"]}


def _agree(objs: list[Obj]) -> None:
    policy = one(objs, "ValidatingAdmissionPolicy", NAME)
    data = one(objs, "ConfigMap", "task-api-config")["data"]
    assert quoted(policy, "served") == data["TASK_API_NAMESPACES"]
    assert quoted(policy, "roots") == data["TASK_API_ALLOWED_HOST_PATH_ROOTS"]
    assert quoted(policy, "rootNamespaces") == data["TASK_API_ALLOW_ROOT_NAMESPACES"]


def test_it_reads_the_same_namespaces_and_roots_as_the_operator(
    base: list[Obj], overlay: list[Obj], namespaced: list[Obj]
) -> None:
    for objs in (base, overlay, namespaced):
        _agree(objs)


def test_the_namespaced_example_serves_its_namespaces(namespaced: list[Obj]) -> None:
    assert quoted(one(namespaced, "ValidatingAdmissionPolicy", NAME), "served") == "team-a,team-b"


def test_every_validation_says_why_it_refuses(base: list[Obj]) -> None:
    for rule in one(base, "ValidatingAdmissionPolicy", NAME)["spec"]["validations"]:
        assert rule.get("message") or rule.get("messageExpression"), rule["expression"]
        assert rule["reason"] == "Forbidden"
