"""The node agent's manifests: least privilege, a read-only view of the node's cgroups, and an admission policy that
lets its one write touch nothing but the peaks."""

from __future__ import annotations

import re
from typing import Any

from pydantic.alias_generators import to_camel

from task_api.agent.config import AgentConfig
from task_api.spec.crd.taskrun import MemorySummary, TaskRunStatus
from tests.unit.manifests.conftest import one
from tests.unit.manifests.kustomize import Obj
from tests.unit.manifests.test_rbac import DANGEROUS_RESOURCES, triples

NAME = "task-api-node-agent"
POLICY = "task-api-node-agent-writes-peaks-only"
AGENT_PERMISSIONS = {
    ("", "pods", "list"),
    ("", "pods", "watch"),
    ("task-api.io", "taskruns", "get"),
    ("task-api.io", "taskruns/status", "patch"),
}


def pod(objs: list[Obj]) -> dict[str, Any]:
    spec: dict[str, Any] = one(objs, "DaemonSet", NAME)["spec"]["template"]["spec"]
    return spec


def container(objs: list[Obj]) -> dict[str, Any]:
    (only,) = pod(objs)["containers"]
    assert only["name"] == "agent"
    return dict(only)


class TestRbac:
    def test_exactly_the_documented_permissions(self, base: list[Obj]) -> None:
        granted = triples(one(base, "ClusterRole", NAME))
        assert sorted(granted) == sorted(AGENT_PERMISSIONS)
        assert not {r for _, r, _ in granted} & (DANGEROUS_RESOURCES | {"nodes/proxy", "nodes/stats", "secrets"})

    def test_bound_only_to_its_service_account(self, base: list[Obj]) -> None:
        binding = one(base, "ClusterRoleBinding", NAME)
        assert binding["roleRef"]["name"] == NAME
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": NAME}]
        assert pod(base)["serviceAccountName"] == NAME


class TestDaemonSet:
    def test_reads_the_cgroups_read_only_and_nothing_else_of_the_host(self, base: list[Obj]) -> None:
        spec = pod(base)
        host = [v for v in spec["volumes"] if "emptyDir" not in v]
        assert host == [{"name": "cgroup", "hostPath": {"path": "/sys/fs/cgroup", "type": "Directory"}}]
        mounts = {m["name"]: m for m in container(base)["volumeMounts"]}
        assert mounts["cgroup"]["mountPath"] == "/host/sys/fs/cgroup" and mounts["cgroup"]["readOnly"] is True
        assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))

    def test_has_a_small_private_tmp_for_the_configuration_loader(self, base: list[Obj]) -> None:
        # The kubernetes package's loader writes the credentials it reads to a private temporary directory; with a
        # read-only root and no /tmp the agent crashed at start ("No usable temporary directory found").
        (tmp,) = [v for v in pod(base)["volumes"] if "emptyDir" in v]
        assert tmp["emptyDir"] == {"medium": "Memory", "sizeLimit": "16Mi"}
        assert {"name": tmp["name"], "mountPath": "/tmp"} in container(base)["volumeMounts"]

    def test_locked_down_like_restricted(self, base: list[Obj]) -> None:
        context = container(base)["securityContext"]
        assert context["runAsNonRoot"] is True and context["runAsUser"] != 0
        assert context["allowPrivilegeEscalation"] is False and context["privileged"] is False
        assert context["readOnlyRootFilesystem"] is True and context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert "limits" in container(base)["resources"] and "requests" in container(base)["resources"]

    def test_runs_the_agent_with_settings_it_accepts(self, base: list[Obj]) -> None:
        c = container(base)
        assert c["command"][-2:] == ["-m", "task_api.agent"]
        env = {e["name"]: e for e in c["env"]}
        assert env["NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
        values = {k: v["value"] for k, v in env.items() if "value" in v}
        config = AgentConfig.from_env({**values, "NODE_NAME": "n"})
        assert str(config.cgroup_mount) == c["volumeMounts"][0]["mountPath"]

    def test_its_namespace_enforces_privileged_but_warns_restricted(self, base: list[Obj]) -> None:
        labels = one(base, "Namespace", NAME)["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
        assert labels["pod-security.kubernetes.io/warn"] == "restricted"
        assert labels["pod-security.kubernetes.io/audit"] == "restricted"


class TestAdmissionPolicy:
    def test_applies_to_the_agents_status_writes(self, base: list[Obj]) -> None:
        policy = one(base, "ValidatingAdmissionPolicy", POLICY)["spec"]
        (rule,) = policy["matchConstraints"]["resourceRules"]
        assert rule["resources"] == ["taskruns/status"] and rule["operations"] == ["UPDATE"]
        (match,) = policy["matchConditions"]
        assert f"'system:serviceaccount:{NAME}:{NAME}'" in match["expression"]
        assert policy["failurePolicy"] == "Fail"
        binding = one(base, "ValidatingAdmissionPolicyBinding", POLICY)["spec"]
        assert binding == {"policyName": POLICY, "validationActions": ["Deny"]}

    def test_every_status_field_but_the_peaks_is_kept_unchanged(self, base: list[Obj]) -> None:
        expressions = [v["expression"] for v in one(base, "ValidatingAdmissionPolicy", POLICY)["spec"]["validations"]]
        guarded = {m for e in expressions for m in re.findall(r"object\.status\.([A-Za-z.]+) == oldObject", e)}
        status = {to_camel(f) for f in TaskRunStatus.model_fields} - {"memory"}
        memory = {f"memory.{to_camel(f)}" for f in MemorySummary.model_fields} - {"memory.peaks", "memory.peak"}
        # A new status field must be added to the policy, or the agent could change it.
        assert guarded == status | memory
