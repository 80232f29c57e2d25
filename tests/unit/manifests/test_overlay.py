"""The test bed overlay changes only what the test bed needs and keeps every security setting of the base."""

from __future__ import annotations

from typing import Any

from task_api.controller.config import OperatorConfig
from tests.unit.manifests.conftest import one
from tests.unit.manifests.kustomize import Obj
from tests.unit.manifests.test_deployment import NAMESPACE, operator_container, pod_spec

#: Pod-template fields the overlay may change (everything else must equal the base).
ALLOWED_POD_CHANGES = {"hostNetwork", "dnsPolicy", "imagePullSecrets"}
ALLOWED_CONTAINER_CHANGES = {
    "image",
    "imagePullPolicy",
    "env",
    "ports",
    "startupProbe",
    "livenessProbe",
    "readinessProbe",
}


def diff_keys(a: dict[str, Any], b: dict[str, Any]) -> set[str]:
    """Pure: the top-level keys whose values differ between two mappings."""
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


class TestSecurityIsKept:
    def test_container_security_context_is_unchanged(self, base: list[Obj], overlay: list[Obj]) -> None:
        assert operator_container(overlay)["securityContext"] == operator_container(base)["securityContext"]

    def test_pod_security_context_is_unchanged(self, base: list[Obj], overlay: list[Obj]) -> None:
        assert pod_spec(overlay)["securityContext"] == pod_spec(base)["securityContext"]

    def test_only_the_test_bed_fields_change(self, base: list[Obj], overlay: list[Obj]) -> None:
        assert diff_keys(pod_spec(base), pod_spec(overlay)) - {"containers"} == ALLOWED_POD_CHANGES
        assert diff_keys(operator_container(base), operator_container(overlay)) <= ALLOWED_CONTAINER_CHANGES
        base_deploy = one(base, "Deployment", "task-api-operator")["spec"]
        overlay_deploy = one(overlay, "Deployment", "task-api-operator")["spec"]
        assert diff_keys(base_deploy, overlay_deploy) <= {"template", "replicas"}
        assert overlay_deploy["replicas"] == 1  # one node: logs in one place (the failover scenario scales to two)

    def test_base_env_is_kept(self, base: list[Obj], overlay: list[Obj]) -> None:
        overlay_env = operator_container(overlay)["env"]
        assert all(e in overlay_env for e in operator_container(base)["env"])

    def test_rbac_is_identical(self, base: list[Obj], overlay: list[Obj]) -> None:
        def rbac(objs: list[Obj]) -> list[Obj]:
            return sorted(
                (o for o in objs if o["kind"] in ("ClusterRole", "ClusterRoleBinding", "ServiceAccount")),
                key=lambda o: (o["kind"], o["metadata"]["name"]),
            )

        assert rbac(overlay) == rbac(base)

    def test_pod_security_still_audits_and_warns_restricted(self, overlay: list[Obj]) -> None:
        labels = one(overlay, "Namespace", NAMESPACE)["metadata"]["labels"]
        # hostNetwork is outside "baseline", so enforcement has to be relaxed in the test bed, and only there.
        assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
        assert labels["pod-security.kubernetes.io/audit"] == "restricted"
        assert labels["pod-security.kubernetes.io/warn"] == "restricted"


class TestTestBedSettings:
    def test_host_network_and_dns(self, overlay: list[Obj]) -> None:
        pod = pod_spec(overlay)
        assert pod["hostNetwork"] is True
        assert pod["dnsPolicy"] == "ClusterFirstWithHostNet"

    def test_image_from_the_test_bed_registry_with_its_pull_secret(self, overlay: list[Obj]) -> None:
        assert operator_container(overlay)["image"] == "127.0.0.1:5000/task-api/operator:dev"
        assert pod_spec(overlay)["imagePullSecrets"] == [{"name": "task-api-registry"}]

    def test_api_server_address_is_left_for_the_deploy_script(self, overlay: list[Obj]) -> None:
        env = {e["name"]: e.get("value") for e in operator_container(overlay)["env"]}
        assert env["KUBERNETES_SERVICE_HOST"] == "TESTBED_APISERVER_HOST"
        assert env["KUBERNETES_SERVICE_PORT"] == "TESTBED_APISERVER_PORT"

    def test_configuration(self, overlay: list[Obj]) -> None:
        data = one(overlay, "ConfigMap", "task-api-config")["data"]
        config = OperatorConfig.from_env(data)
        assert "127.0.0.1:5000" in config.insecure_registries
        assert data["TASK_API_MEASURE_IMAGE"] == operator_container(overlay)["image"]

    def test_probes_follow_the_configured_metrics_port_and_no_host_port_is_declared(self, overlay: list[Obj]) -> None:
        config = OperatorConfig.from_env(one(overlay, "ConfigMap", "task-api-config")["data"])
        container = operator_container(overlay)
        assert "ports" not in container  # on the host's network a declared port would block a second replica
        probes = {p: container[p]["httpGet"]["port"] for p in ("startupProbe", "livenessProbe", "readinessProbe")}
        assert set(probes.values()) == {config.metrics_port}
        assert config.metrics_port != 8080, "8080 on the host's network collides with Airflow's web server"
