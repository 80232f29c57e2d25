"""Attacks through registry credentials and image inspection that the reconciler stops.

Each test states the attack as a tenant mounts it and the behaviour that stops it; docs/security.md says for each
what stops it.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import Namespace
from tests.fixtures.hostile_registry import HostileRegistry, start_canary
from tests.fixtures.tenant import Tenant
from tests.fixtures.testbed import Testbed
from tests.security.conftest import finished, message, succeeded, taskrun, wait_status

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

OPT_IN_LABEL = "task-api.io/registry-credentials"


def basic_auth_secret(namespace: str, name: str, *, user: str, password: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/basic-auth",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "stringData": {"username": user, "password": password},
    }


@pytest.fixture
def narrow_tenant(make_tenant: Callable[..., Tenant], kube_namespace: str) -> Tenant:
    """A user who may run TaskRuns here but not read Secrets (the aggregated task-api-edit role only)."""
    tenant: Tenant = make_tenant(kube_namespace, role="task-api-edit")
    assert not tenant.can_i("get", "secrets")
    return tenant


def test_credentials_secret_must_opt_in(
    operator: Any, narrow_tenant: Tenant, testbed: Testbed, bed_hostile_registry: HostileRegistry
) -> None:
    # Someone else's basic-auth Secret in the namespace (a database login, say): not meant for registries.
    victim = basic_auth_secret(narrow_tenant.namespace, "db-login", user="dbadmin", password="hunter2-db")
    testbed.kubectl_run("apply", "-f", "-", input=json.dumps(victim))
    narrow_tenant.apply(
        taskrun("phish", bed_hostile_registry.ref("basic/ask"), registryCredentialsSecret={"name": "db-login"})
    )
    status = wait_status(narrow_tenant, "phish", lambda s: finished(s) or "Secret" in message(s), timeout=180)
    time.sleep(5)  # a last chance for an inspection in flight to reach the registry
    assert bed_hostile_registry.basic_users == [], "the operator sent the Secret's login to the author's registry"
    assert succeeded(status) == "False"
    assert OPT_IN_LABEL in message(status)


def test_messages_do_not_reveal_whether_a_secret_exists(
    operator: Any, narrow_tenant: Tenant, testbed: Testbed, bed_hostile_registry: HostileRegistry
) -> None:
    tls = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "exists", "namespace": narrow_tenant.namespace},
        "stringData": {"tls.crt": "x", "tls.key": "y"},
    }
    testbed.kubectl_run("apply", "-f", "-", input=json.dumps(tls))
    image = bed_hostile_registry.ref("good/image")
    narrow_tenant.apply(taskrun("probe-exists", image, registryCredentialsSecret={"name": "exists"}))
    narrow_tenant.apply(taskrun("probe-missing", image, registryCredentialsSecret={"name": "missing"}))
    seen = {}
    for name, secret in (("probe-exists", "exists"), ("probe-missing", "missing")):
        status = wait_status(narrow_tenant, name, lambda s: "Secret" in message(s), timeout=120)
        seen[name] = (status.get("reason"), message(status).replace(repr(secret), "<name>").replace(secret, "<name>"))
    assert seen["probe-exists"] == seen["probe-missing"], seen


def test_the_cache_serves_a_private_image_only_to_checked_credentials(
    operator: Any,
    run_ns: Namespace,
    make_tenant: Callable[..., Tenant],
    kube_namespace: str,
    example_image: Callable[[str], str],
) -> None:
    hello = example_image("01-hello-world")
    (run_ns.workspace / "in").mkdir()
    (run_ns.workspace / "in" / "a.txt").write_text("a\n")
    inputs = [{"name": "in", "persistentVolumeClaim": {"claimName": "task-api-workspace", "subPath": "in"}}]
    run_ns.apply(json.dumps(taskrun("owner", hello, imagePullSecrets=[{"name": "task-api-registry"}], inputs=inputs)))
    run = run_ns.wait_finished("owner", timeout=300)
    pinned = run_ns.get("pod", run["status"]["podName"])["spec"]["containers"][0]["image"]
    assert "@sha256:" in pinned
    # Another tenant, without any credentials for that registry, names the same digest and a wrong template.
    other = make_tenant(kube_namespace)
    other.apply(taskrun("peek", pinned, template="no-such-template"))
    status = wait_status(other, "peek", lambda s: bool(message(s)), timeout=120)
    text = message(status)
    assert "checksum" not in text and "compress" not in text, "the private image's templates were disclosed"
    assert "RegistryUnauthorized" in text


def test_the_per_run_registry_secret_is_deleted_when_the_run_finishes(
    operator: Any, tenant: Tenant, testbed: Testbed, bed_hostile_registry: HostileRegistry
) -> None:
    creds = basic_auth_secret(tenant.namespace, "reg", user="u", password="p", **{OPT_IN_LABEL: "true"})
    testbed.kubectl_run("apply", "-f", "-", input=json.dumps(creds))
    tenant.apply(
        taskrun(
            "short",
            bed_hostile_registry.ref("basic/ask"),
            template="main",
            registryCredentialsSecret={"name": "reg"},
            timeoutSeconds=60,
        )
    )
    wait_status(tenant, "short", finished, timeout=300)
    secrets_left = json.loads(tenant.kubectl("get", "secrets", "-o", "json").stdout)["items"]
    assert [s["metadata"]["name"] for s in secrets_left if s["metadata"]["name"].startswith("short-")] == []


def test_an_existing_registry_secret_is_used_only_if_the_run_owns_it(
    operator: Any, tenant: Tenant, testbed: Testbed, bed_hostile_registry: HostileRegistry
) -> None:
    creds = basic_auth_secret(tenant.namespace, "reg", user="u", password="p", **{OPT_IN_LABEL: "true"})
    testbed.kubectl_run("apply", "-f", "-", input=json.dumps(creds))
    planted = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": "squat-registry"},
        "data": {".dockerconfigjson": base64.b64encode(b'{"auths": {}}').decode()},
    }
    tenant.apply(planted)
    tenant.apply(
        taskrun(
            "squat",
            bed_hostile_registry.ref("basic/ask"),
            template="main",
            registryCredentialsSecret={"name": "reg"},
            timeoutSeconds=60,
        )
    )
    status = wait_status(tenant, "squat", lambda s: finished(s) or bool(s.get("podName")), timeout=300)
    pods = json.loads(tenant.kubectl("get", "pods", "-o", "json").stdout)["items"]
    used = [p for p in pods if {"name": "squat-registry"} in (p["spec"].get("imagePullSecrets") or [])]
    assert used == [], "a Secret the run does not own was used as its pull secret"
    assert "squat-registry" in message(status)


@pytest.mark.parametrize("route", ["realm", "redirect"])
def test_inspection_through_the_operator_stays_off_other_hosts(
    operator: Any, tenant: Tenant, bed_hostile_registry: HostileRegistry, route: str
) -> None:
    # The author's registry sends the operator's inspection elsewhere: a token realm, or a redirect, at an
    # "internal service" on another address of this host (127.0.0.2: loopback, neither listed nor the registry's).
    canary, server = start_canary("127.0.0.2")
    try:
        if route == "realm":
            bed_hostile_registry.settings["realm"] = canary.url + "token"
            image = bed_hostile_registry.ref("realm/to")
        else:
            bed_hostile_registry.settings["redirect_target"] = canary.url + "latest/meta-data/"
            image = bed_hostile_registry.ref("redirect/to")
        tenant.apply(taskrun("ssrf", image, template="main"))
        status = wait_status(tenant, "ssrf", lambda s: bool(message(s)), timeout=180)
        time.sleep(3)  # an inspection in flight would have reached the canary by now
        assert canary.hits == [], f"the operator's inspection reached {canary.host}: {canary.hits}"
        assert "EgressDenied" in message(status), status
    finally:
        server.shutdown()
        server.server_close()
