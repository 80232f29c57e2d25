"""The fleet bed's pure helpers (tests/fixtures/fleet.py, bench/_fleet.py) and its files (kwok's pin and Stages)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import yaml

from bench._fleet import direct_copy, fleet_taskrun
from bench.scale_burst import Side, costs_table
from tests.fixtures.fleet import (
    KWOK_RESULT,
    KWOK_RUN_TIME,
    RequestKey,
    by_verb_and_resource,
    host_process_manifests,
    operator_environment,
    operator_metric,
    parse_request_counts,
    proc_rss_bytes,
    profile_settings,
    request_delta,
    token_kubeconfig,
)

ROOT = Path(__file__).resolve().parents[2]
METRICS = """\
# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 40
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="binding",verb="POST",version="v1"} 38
apiserver_request_total{code="200",component="apiserver",dry_run="",group="task-api.io",resource="taskruns",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 7
apiserver_request_total{code="429",component="apiserver",dry_run="",group="task-api.io",resource="taskruns",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 2
apiserver_request_total{code="201",component="apiserver",dry_run="",group="events.k8s.io",resource="events",scope="resource",subresource="",verb="POST",version="v1"} 5
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="cluster",subresource="",verb="LIST",version="v1"} 1.5e+01
apiserver_request_duration_seconds_bucket{verb="POST",le="0.1"} 99
"""  # noqa: E501 — real exposition lines


def test_request_counts_are_read_by_verb_group_resource_subresource_and_code() -> None:
    counts = parse_request_counts(METRICS)
    assert counts[RequestKey("POST", "", "pods", "", "201")] == 40
    assert counts[RequestKey("PATCH", "task-api.io", "taskruns", "status", "429")] == 2
    assert counts[RequestKey("LIST", "", "pods", "", "200")] == 15
    assert len(counts) == 6  # other metrics are not request counts
    assert RequestKey("POST", "events.k8s.io", "events", "", "201").what == "events.k8s.io/events"
    assert RequestKey("PATCH", "", "pods", "status", "200").what == "pods/status"


def test_a_delta_keeps_what_moved_and_groups_codes_by_verb_and_resource() -> None:
    before = parse_request_counts(METRICS)
    after = dict(before)
    after[RequestKey("PATCH", "task-api.io", "taskruns", "status", "200")] += 10
    after[RequestKey("PATCH", "task-api.io", "taskruns", "status", "429")] += 1
    after[RequestKey("POST", "", "events", "", "201")] = 3
    delta = request_delta(before, after)
    assert by_verb_and_resource(delta) == {("PATCH", "task-api.io/taskruns/status"): 11, ("POST", "events"): 3}
    assert all(key.write for key in delta)
    assert not RequestKey("LIST", "", "pods", "", "200").write


def test_operator_metrics_sum_the_samples_whose_labels_match() -> None:
    text = (
        'task_api_workqueue_depth{kind="TaskRun"} 4.0\n'
        'task_api_workqueue_depth{kind="ProcessingContainer"} 1.0\n'
        'task_api_workqueue_depth_total{kind="TaskRun"} 99\n'
    )
    assert operator_metric(text, "task_api_workqueue_depth", kind="TaskRun") == 4
    assert operator_metric(text, "task_api_workqueue_depth") == 5


def test_token_kubeconfig_carries_the_ca_inline_and_the_token() -> None:
    config = token_kubeconfig(server="https://10.251.7.1:6443", ca_pem=b"PEM", token="t0k3n")
    cluster = config["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"PEM"
    assert cluster["server"] == "https://10.251.7.1:6443"
    assert config["users"][0]["user"] == {"token": "t0k3n"}
    assert config["current-context"] == config["contexts"][0]["name"]


def test_operator_environment_drops_the_callers_task_api_and_in_cluster_settings() -> None:
    env = operator_environment(
        {"PATH": "/bin", "TASK_API_WORKERS": "1", "KUBERNETES_SERVICE_HOST": "x", "KUBECONFIG": "/other"},
        kubeconfig=Path("/bed/operator.kubeconfig"),
        port=19087,
        measure_image="r/m:1",
        registry="127.0.0.1:5007",
        namespaces=["a", "b"],
    )
    assert env["PATH"] == "/bin"
    assert env["KUBECONFIG"] == "/bed/operator.kubeconfig"
    assert "TASK_API_WORKERS" not in env and "KUBERNETES_SERVICE_HOST" not in env
    assert (env["TASK_API_METRICS_PORT"], env["TASK_API_NAMESPACES"]) == ("19087", "a,b")
    assert env["TASK_API_LEASE_NAMESPACE"] == "task-api-system"  # where the leader-election Role is
    # The bed's registry is plain HTTP on loopback: listed as insecure and as a private address inspection may reach.
    assert env["TASK_API_INSECURE_REGISTRIES"] == env["TASK_API_EGRESS_ALLOW_PRIVATE"] == "127.0.0.1:5007"


def test_the_host_process_operator_gets_rbac_and_crds_but_no_deployment() -> None:
    docs = [
        {"kind": "Namespace"},
        {"kind": "ClusterRole"},
        {"kind": "CustomResourceDefinition"},
        {"kind": "Deployment"},
        {"kind": "Service"},
        {"kind": "ConfigMap"},
        None,
    ]
    assert [d["kind"] for d in host_process_manifests(docs)] == ["Namespace", "ClusterRole", "CustomResourceDefinition"]


def test_rss_comes_from_vmrss_in_kib() -> None:
    assert proc_rss_bytes("Name:\tpython\nVmRSS:\t  81920 kB\n") == 81920 * 1024
    with pytest.raises(ValueError, match="VmRSS"):
        proc_rss_bytes("Name:\tzombie\n")


def test_the_direct_baseline_is_the_operators_pod_without_owner_or_watch_label() -> None:
    pod = {
        "metadata": {
            "name": "run-1-a1",
            "uid": "u",
            "resourceVersion": "9",
            "ownerReferences": [{"kind": "TaskRun"}],
            "labels": {"app.kubernetes.io/managed-by": "task-api-operator", "task-api.io/role": "task"},
            "annotations": {KWOK_RUN_TIME: "2s"},
        },
        "spec": {"nodeName": "kwok-node-3", "containers": [{"name": "task"}], "restartPolicy": "Never"},
        "status": {"phase": "Succeeded"},
    }
    copy = direct_copy(pod, "direct-7")
    assert copy == {
        "metadata": {"name": "direct-7", "labels": {"task-api.io/role": "task"}, "annotations": {KWOK_RUN_TIME: "2s"}},
        "spec": {"containers": [{"name": "task"}], "restartPolicy": "Never"},
    }


def test_fleet_taskruns_name_the_work_template_and_carry_kwok_timings() -> None:
    run = fleet_taskrun("r", "reg/fleet/task:1", ttl=0, run_time="3s", annotations={KWOK_RESULT: "Failed"})
    assert run["spec"]["taskTemplate"] == "work" and run["spec"]["ttlSecondsAfterFinished"] == 0
    assert run["metadata"]["annotations"] == {KWOK_RESULT: "Failed", KWOK_RUN_TIME: "3s"}
    assert "ttlSecondsAfterFinished" not in fleet_taskrun("r", "i")["spec"]


def test_the_cost_table_divides_by_runs_and_names_who_writes() -> None:
    op = Side(n=10, until_pods=1, until_final=2, requests={("POST", "pods"): 10, ("PATCH", "pods/status"): 20})
    direct = Side(n=10, until_pods=1, until_final=2, requests={("POST", "pods"): 10, ("PATCH", "pods/status"): 25})
    table = costs_table(op, direct)
    assert re.search(r"PATCH\s+pods/status\s+2\.00\s+2\.50\s+kwok", table)
    assert re.search(r"POST\s+pods\s+1\.00\s+1\.00\s+the operator", table)
    assert op.per_run(writes_only=True) == 3.0


# ---------------------------------------------------------------------------------------------- the bed's files


def test_the_scale_profile_is_a_fleet_bed() -> None:
    settings = profile_settings("scale")
    assert settings["TESTBED_KIND"] == "fleet"
    assert settings["TESTBED_REGISTRY_ADDR"].startswith("127.")


def test_kwok_is_pinned_in_one_version_in_versions_env_and_its_go_module() -> None:
    versions = (ROOT / "hack" / "versions.env").read_text()
    pinned = re.search(r"^KWOK_VERSION=(\S+)$", versions, re.MULTILINE)
    assert pinned is not None
    go_mod = (ROOT / "hack" / "build" / "kwok" / "go.mod").read_text()
    assert re.search(rf"^require sigs\.k8s\.io/kwok {re.escape(pinned.group(1))}$", go_mod, re.MULTILINE)
    assert "sigs.k8s.io/kwok " + pinned.group(1) in (ROOT / "hack" / "build" / "kwok" / "go.sum").read_text()


def test_up_sh_fills_every_placeholder_of_the_stages_and_the_result_is_kwok_configuration() -> None:
    stages = (ROOT / "hack" / "testbed" / "kwok" / "stages.yaml").read_text()
    up = (ROOT / "hack" / "testbed" / "up.sh").read_text()
    placeholders = set(re.findall(r"@([A-Z_]+)@", stages))
    filled = set(re.findall(r"s\|@([A-Z_]+)@\|", up))
    assert placeholders == filled
    rendered = re.sub(r"@[A-Z_]+@", "1", stages)
    docs = list(yaml.safe_load_all(rendered))
    assert docs[0]["kind"] == "KwokConfiguration"
    assert docs[0]["options"]["manageNodesWithAnnotationSelector"] == "kwok.x-k8s.io/node=fake"
    names = {d["metadata"]["name"] for d in docs[1:] if d["kind"] == "Stage"}
    assert {"pod-start", "task-succeeded", "task-failed", "measure-succeeded", "pod-delete"} <= names
