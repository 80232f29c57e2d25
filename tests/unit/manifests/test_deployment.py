"""The base deploys a locked-down operator: namespaces, pod security, probes, Service and configuration agree."""

from __future__ import annotations

from typing import Any

import pytest

from task_api.controller.config import OperatorConfig
from tests.unit.manifests.conftest import one
from tests.unit.manifests.kustomize import CLUSTER_SCOPED, NAMESPACED_BY_KUSTOMIZE, ROOT, Obj

NAMESPACE = "task-api-system"
#: The node agent's namespace (manifests/agent): it needs a hostPath, which the operator's namespace forbids.
AGENT_NAMESPACE = "task-api-node-agent"
AGENT_OBJECTS = [
    ("ClusterRole", "task-api-node-agent"),
    ("ClusterRoleBinding", "task-api-node-agent"),
    ("DaemonSet", "task-api-node-agent"),
    ("Namespace", AGENT_NAMESPACE),
    ("ServiceAccount", "task-api-node-agent"),
    ("ValidatingAdmissionPolicy", "task-api-node-agent-writes-peaks-only"),
    ("ValidatingAdmissionPolicyBinding", "task-api-node-agent-writes-peaks-only"),
]
#: The keys the brief requires and docs/deploy.md documents.
REQUIRED_CONFIG_KEYS = {
    "TASK_API_ALLOWED_HOST_PATH_ROOTS",
    "TASK_API_WORKSPACE_CLAIM",
    "TASK_API_MEASURE_IMAGE",
    "TASK_API_INSECURE_REGISTRIES",
    "TASK_API_MAX_MEMORY",
    "TASK_API_LOG_LEVEL",
}


def pod_spec(objs: list[Obj]) -> dict[str, Any]:
    spec: dict[str, Any] = one(objs, "Deployment", "task-api-operator")["spec"]["template"]["spec"]
    return spec


def operator_container(objs: list[Obj]) -> dict[str, Any]:
    containers = pod_spec(objs)["containers"]
    assert [c["name"] for c in containers] == ["operator"]
    container: dict[str, Any] = containers[0]
    return container


class TestContents:
    def test_everything_is_there(self, base: list[Obj]) -> None:
        kinds = sorted((o["kind"], o["metadata"]["name"]) for o in base)
        assert kinds == sorted(
            [
                *AGENT_OBJECTS,
                ("ClusterRole", "task-api-edit"),
                ("ClusterRole", "task-api-operator"),
                ("ClusterRole", "task-api-view"),
                ("ClusterRoleBinding", "task-api-operator"),
                ("ConfigMap", "task-api-config"),
                ("CustomResourceDefinition", "processingcontainers.task-api.io"),
                ("CustomResourceDefinition", "taskruns.task-api.io"),
                ("Deployment", "task-api-operator"),
                ("Namespace", NAMESPACE),
                ("Role", "task-api-operator-leader-election"),
                ("RoleBinding", "task-api-operator-leader-election"),
                ("Service", "task-api-operator-metrics"),
                ("ServiceAccount", "task-api-operator"),
                ("ValidatingAdmissionPolicy", "task-api-operator-pods"),
                ("ValidatingAdmissionPolicyBinding", "task-api-operator-pods"),
                ("ValidatingAdmissionPolicy", "task-api-taskrun-secret-refs"),
                ("ValidatingAdmissionPolicyBinding", "task-api-taskrun-secret-refs"),
            ]
        )

    def test_namespaced_objects_are_in_the_operator_namespace(self, base: list[Obj]) -> None:
        for obj in base:
            where = obj["metadata"].get("namespace")
            if obj["kind"] in CLUSTER_SCOPED:
                assert where is None, f"{obj['kind']}/{obj['metadata']['name']} is cluster-scoped"
            elif obj["kind"] in NAMESPACED_BY_KUSTOMIZE:
                continue  # cluster-scoped; kustomize names a namespace the API server ignores
            else:
                expected = AGENT_NAMESPACE if (obj["kind"], obj["metadata"]["name"]) in AGENT_OBJECTS else NAMESPACE
                assert where == expected, f"{obj['kind']}/{obj['metadata']['name']} has namespace {where!r}"

    def test_everything_is_labelled_part_of_task_api(self, base: list[Obj]) -> None:
        assert all(o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "task-api" for o in base)

    def test_the_namespace_enforces_restricted_pod_security(self, base: list[Obj]) -> None:
        labels = one(base, "Namespace", NAMESPACE)["metadata"]["labels"]
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


class TestPodSecurity:
    @pytest.mark.parametrize(
        ("field", "expected"),
        [
            ("runAsNonRoot", True),
            ("runAsUser", 65532),
            ("allowPrivilegeEscalation", False),
            ("readOnlyRootFilesystem", True),
            ("privileged", False),
            ("capabilities", {"drop": ["ALL"]}),
            ("seccompProfile", {"type": "RuntimeDefault"}),
        ],
    )
    def test_container_security_context(self, base: list[Obj], field: str, expected: object) -> None:
        assert operator_container(base)["securityContext"][field] == expected

    @pytest.mark.parametrize(
        ("field", "expected"),
        [("runAsNonRoot", True), ("runAsUser", 65532), ("seccompProfile", {"type": "RuntimeDefault"})],
    )
    def test_pod_security_context(self, base: list[Obj], field: str, expected: object) -> None:
        assert pod_spec(base)["securityContext"][field] == expected

    @pytest.mark.parametrize("field", ["hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace"])
    def test_no_host_namespaces(self, base: list[Obj], field: str) -> None:
        assert not pod_spec(base).get(field, False)

    def test_only_ephemeral_volumes(self, base: list[Obj]) -> None:
        volumes = pod_spec(base).get("volumes", [])
        assert volumes, "a read-only root file system needs a writable /tmp"
        assert all(set(v) == {"name", "emptyDir"} for v in volumes)
        mounts = {m["mountPath"] for m in operator_container(base)["volumeMounts"]}
        assert mounts == {"/tmp"}

    def test_requests_and_memory_limit_are_set(self, base: list[Obj]) -> None:
        resources = operator_container(base)["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"])
        assert "memory" in resources["limits"]


class TestRollout:
    def test_one_replica_replaced_not_overlapped(self, base: list[Obj]) -> None:
        spec = one(base, "Deployment", "task-api-operator")["spec"]
        # Two replicas under leader election; a rolling update never leaves the operator without a replica.
        assert spec["replicas"] == 2
        assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}

    def test_selector_matches_the_pod_labels(self, base: list[Obj]) -> None:
        deployment = one(base, "Deployment", "task-api-operator")
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()

    def test_liveness_probe_is_healthz_on_a_declared_port(self, base: list[Obj]) -> None:
        container = operator_container(base)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        probe = container["livenessProbe"]["httpGet"]
        assert probe["path"] == "/healthz"
        assert probe["port"] in ports

    def test_probes_and_metrics_share_the_configured_port(self, base: list[Obj]) -> None:
        # The operator serves /metrics and /healthz on one listener, TASK_API_METRICS_PORT.
        container = operator_container(base)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        config = OperatorConfig.from_env(one(base, "ConfigMap", "task-api-config")["data"])
        assert ports == {"metrics": config.metrics_port}
        assert config.metrics_port == 8080
        for probe in ("startupProbe", "livenessProbe"):
            assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        # Readiness also needs the API server to answer; liveness must not (a restart would not bring it back).
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}

    def test_metrics_service_reaches_the_metrics_port(self, base: list[Obj]) -> None:
        service = one(base, "Service", "task-api-operator-metrics")
        labels = one(base, "Deployment", "task-api-operator")["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        names = {p["name"] for p in operator_container(base)["ports"]}
        assert [p["targetPort"] for p in service["spec"]["ports"]] == ["metrics"]
        assert "metrics" in names


class TestConfiguration:
    def test_the_operator_reads_the_config_map(self, base: list[Obj]) -> None:
        sources = operator_container(base)["envFrom"]
        assert sources == [{"configMapRef": {"name": "task-api-config"}}]

    def test_required_keys_are_present(self, base: list[Obj]) -> None:
        data = one(base, "ConfigMap", "task-api-config")["data"]
        assert sorted(REQUIRED_CONFIG_KEYS - set(data)) == []
        assert data["TASK_API_ALLOWED_HOST_PATH_ROOTS"] == ""
        assert data["TASK_API_WORKSPACE_CLAIM"] == "task-api-workspace"

    def test_the_operator_accepts_the_defaults(self, base: list[Obj]) -> None:
        config = OperatorConfig.from_env(one(base, "ConfigMap", "task-api-config")["data"])
        assert config.allowed_host_path_roots == ()
        assert config.max_memory_bytes == 16 * 1024**3

    def test_measuring_pods_use_the_operator_image(self, base: list[Obj]) -> None:
        data = one(base, "ConfigMap", "task-api-config")["data"]
        assert data["TASK_API_MEASURE_IMAGE"] == operator_container(base)["image"]

    def test_every_key_is_documented(self, base: list[Obj]) -> None:
        docs = (ROOT / "docs" / "deploy.md").read_text()
        undocumented = [k for k in one(base, "ConfigMap", "task-api-config")["data"] if f"`{k}`" not in docs]
        assert undocumented == []
