"""The ValidatingAdmissionPolicy fencing the operator's ServiceAccount is wired to the right things.

What the policy refuses is shown on the test bed (tests/security/test_operator_token.py: each forbidden pod, created
with the operator's own token, is refused; the operator's real pods pass). Here: that it applies to exactly the
operator's ServiceAccount, reads the operator's own ConfigMap, fails closed, and is bound in Deny mode.
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


def test_its_parameters_are_the_operators_configmap(base: list[Obj]) -> None:
    binding = one(base, "ValidatingAdmissionPolicyBinding", NAME)["spec"]
    config = one(base, "ConfigMap", "task-api-config")
    assert binding["policyName"] == NAME
    assert binding["validationActions"] == ["Deny"]
    assert binding["paramRef"] == {
        "name": config["metadata"]["name"],
        "namespace": config["metadata"]["namespace"],
        "parameterNotFoundAction": "Deny",
    }
    spec = one(base, "ValidatingAdmissionPolicy", NAME)["spec"]
    assert spec["paramKind"] == {"apiVersion": "v1", "kind": "ConfigMap"}
    text = str(spec["variables"])
    for key in ("TASK_API_NAMESPACES", "TASK_API_ALLOWED_HOST_PATH_ROOTS"):
        assert key in text
    assert "TASK_API_ALLOWED_HOST_PATH_ROOTS" in config["data"]  # TASK_API_NAMESPACES may be absent: all


def test_every_validation_says_why_it_refuses(base: list[Obj]) -> None:
    for rule in one(base, "ValidatingAdmissionPolicy", NAME)["spec"]["validations"]:
        assert rule.get("message") or rule.get("messageExpression"), rule["expression"]
        assert rule["reason"] == "Forbidden"
