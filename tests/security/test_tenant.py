"""The attacker of this suite is who it claims to be: a user with ``edit`` in one namespace and nothing else."""

from __future__ import annotations

import pytest

from tests.fixtures.tenant import Tenant

pytestmark = pytest.mark.cluster


def test_the_tenant_is_a_certificate_user_with_edit_in_its_namespace(tenant: Tenant) -> None:
    who = tenant.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}")
    assert who.stdout.startswith(f"{tenant.name} ")
    assert "task-api:tenants" in who.stdout and "system:masters" not in who.stdout
    for verb, resource in [("create", "taskruns.task-api.io"), ("create", "pods"), ("get", "secrets")]:
        assert tenant.can_i(verb, resource), f"{verb} {resource}"


@pytest.mark.parametrize(
    ("verb", "resource", "where"),
    [
        ("create", "taskruns.task-api.io", "default"),
        ("create", "pods", "kube-system"),
        ("get", "secrets", "task-api-system"),
        ("create", "serviceaccounts/token", "task-api-system"),  # the operator's token: not for tenants
        ("patch", "taskruns.task-api.io/status", None),  # nobody but the operator writes status
        ("list", "nodes", None),
        ("create", "validatingadmissionpolicybindings.admissionregistration.k8s.io", None),
    ],
)
def test_the_tenant_has_nothing_beyond_its_namespace(
    tenant: Tenant, verb: str, resource: str, where: str | None
) -> None:
    assert not tenant.can_i(verb, resource, namespace=where)
