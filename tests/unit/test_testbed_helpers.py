"""The pure helpers behind the test bed fixtures (tests/fixtures/testbed.py): no cluster, no I/O."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from tests.fixtures.testbed import (
    PROFILES,
    dockerconfigjson,
    local_volume_manifests,
    namespace_name,
    parse_env_file,
    profile_settings,
    state_dir,
)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize(
    ("test_name", "expected"),
    [
        ("test_smoke", "t-test-smoke-abc123"),
        ("test_pull[no pull secret]", "t-test-pull-no-pull-secret-abc123"),
        ("Test__Weird..Name--", "t-test-weird-name-abc123"),
        ("___", "t-test-abc123"),
    ],
)
def test_namespace_name_is_a_readable_dns_label(test_name: str, expected: str) -> None:
    assert namespace_name(test_name, "abc123") == expected


def test_namespace_name_of_a_long_test_fits_in_63_characters() -> None:
    name = namespace_name("test_" + "very_long_" * 20 + "[param-x]", "abc123")
    assert len(name) <= 63
    assert DNS_LABEL.match(name), name
    assert name.endswith("-abc123")


def test_dockerconfigjson_carries_user_password_and_basic_auth_for_one_registry() -> None:
    payload = json.loads(dockerconfigjson("127.0.0.1:5000", "alice", "s3cr:et"))
    entry = payload["auths"]["127.0.0.1:5000"]
    assert list(payload["auths"]) == ["127.0.0.1:5000"]
    assert (entry["username"], entry["password"]) == ("alice", "s3cr:et")
    assert base64.b64decode(entry["auth"]) == b"alice:s3cr:et"


def test_local_volume_and_claim_name_each_other() -> None:
    pv, pvc = local_volume_manifests(
        pv_name="ns-data-1a2b3c",
        namespace="ns",
        claim="data",
        size="8Mi",
        host_path=Path("/state/pv/ns-data-1a2b3c"),
        node_name="node-1",
        storage_class="task-api-local",
    )
    assert pv["spec"]["claimRef"] == {"namespace": "ns", "name": "data"}
    assert pvc["spec"]["volumeName"] == "ns-data-1a2b3c"
    assert pv["spec"]["local"] == {"path": "/state/pv/ns-data-1a2b3c"}
    assert pv["spec"]["capacity"] == {"storage": "8Mi"} and pvc["spec"]["resources"]["requests"] == {"storage": "8Mi"}
    assert pv["spec"]["storageClassName"] == pvc["spec"]["storageClassName"] == "task-api-local"
    term = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert term == {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-1"]}
    assert pvc["spec"]["accessModes"] == pv["spec"]["accessModes"] == ["ReadWriteOnce"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "/var/lib/task-api/testbed"),
        ({"TASK_API_STATE": "/srv/state"}, "/srv/state/testbed"),
        ({"TASK_API_STATE": "/srv/state", "TASK_API_TESTBED_DIR": "/elsewhere"}, "/elsewhere"),
    ],
)
def test_state_dir_follows_the_scripts_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    monkeypatch.delenv("TASK_API_STATE", raising=False)
    monkeypatch.delenv("TASK_API_TESTBED_DIR", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert state_dir() == Path(expected)


def test_env_file_parsing_skips_comments_and_keeps_values_verbatim() -> None:
    text = "# a profile\n\nA=1\n  B = /x/y=z \nC=\n"
    assert parse_env_file(text) == {"A": "1", "B": "/x/y=z", "C": ""}


def test_env_file_parsing_rejects_a_line_without_equals() -> None:
    with pytest.raises(ValueError, match="not KEY=VALUE: 'oops'"):
        parse_env_file("A=1\noops\n")


@pytest.mark.parametrize("name", ["lifecycle", "bench", *(f"dev{n}" for n in range(1, 7))])
def test_second_bed_profiles_share_nothing_with_the_default_bed(name: str) -> None:
    profile = profile_settings(name)
    defaults = {
        "TASK_API_TESTBED_DIR": "/var/lib/task-api/testbed",
        "TESTBED_NODE_IFACE": "tapi-node0",
        "TESTBED_NODE_IP": "10.251.0.1",
        "TESTBED_POD_CIDR": "10.250.0.0/24",
        "TESTBED_CNI_BRIDGE": "tapi-cni0",
        "TESTBED_ETCD_PORT": "2379",
        "TESTBED_REGISTRY_ADDR": "127.0.0.1:5000",
        "TESTBED_KUBELET_HEALTHZ_PORT": "10248",
        "TESTBED_CONTROLLER_MANAGER_PORT": "10257",
        "TESTBED_SCHEDULER_PORT": "10259",
    }
    for key, default in defaults.items():
        assert profile[key] != default, key
    # Rules and caches are recognised by network name, so neither name may contain the other.
    assert "task-api-testbed" not in profile["TESTBED_CNI_NETWORK"]
    assert profile["TESTBED_CNI_NETWORK"] not in "task-api-testbed"
    assert profile["TESTBED_CGROUP_ROOT"].startswith("/")


def test_profiles_share_no_name_address_port_or_cgroup_with_each_other() -> None:
    """Beds of different profiles run at once (a lifecycle test beside developers' private beds)."""
    profiles = {p.stem: profile_settings(p.stem) for p in sorted(PROFILES.glob("*.env"))}
    assert {"lifecycle", "bench", "dev1"} <= set(profiles)
    keys = ("TASK_API_TESTBED_DIR", "TESTBED_NODE_IP", "TESTBED_POD_CIDR", "TESTBED_CNI_BRIDGE",
            "TESTBED_CNI_NETWORK", "TESTBED_REGISTRY_ADDR", "TESTBED_CGROUP_ROOT", "TESTBED_NODE_IFACE")  # fmt: skip
    for key in keys:
        values = [settings[key] for settings in profiles.values()]
        assert len(set(values)) == len(values), key
    ports = [
        settings[key]
        for settings in profiles.values()
        for key in settings
        if key.endswith("_PORT") and key != "TESTBED_APISERVER_PORT"
    ]
    assert len(set(ports)) == len(ports), sorted(ports)
    networks = [settings["TESTBED_CNI_NETWORK"] for settings in profiles.values()]
    for a in networks:
        assert not any(a != b and a in b for b in networks), a
