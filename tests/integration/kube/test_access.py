"""Loading cluster access from kubeconfigs through the `kubernetes` package's loader (files and plugins; no cluster).

What the API server does with these credentials is tested on the test bed (tests/e2e/test_cluster_access.py).
"""

from __future__ import annotations

import base64
import datetime
import json
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import yaml

from task_api.kube.access import AccessError, ClusterAccess
from tests.fixtures.kubeconfigs import (
    exec_user,
    kubeconfig_doc,
    plugin_runs,
    split_kubeconfig,
    write_exec_plugin,
    write_failing_plugin,
    write_kubeconfig,
)

SERVER = "https://api.example.test:6443"
CLUSTER = {"server": SERVER, "insecure-skip-tls-verify": True}


def single(user: Mapping[str, object], **cluster: object) -> dict[str, object]:
    return kubeconfig_doc(
        clusters={"c": {**CLUSTER, **cluster}},
        users={"u": user},
        contexts={"ctx": {"cluster": "c", "user": "u", "namespace": "team-a"}},
        current="ctx",
    )


@pytest.fixture
def private_tmp(tmp_path: Path) -> Iterator[Path]:
    """Python's temporary directory pointed at an empty directory of this test's own."""
    where = tmp_path / "tmp"
    where.mkdir()
    saved = tempfile.tempdir
    tempfile.tempdir = str(where)
    try:
        yield where
    finally:
        tempfile.tempdir = saved


def test_token_context_namespace_and_settings(tmp_path: Path) -> None:
    settings = {"tls-server-name": "kube.internal", "proxy-url": "http://127.0.0.1:3128"}
    path = write_kubeconfig(tmp_path / "config", single({"token": "abc.def"}, **settings))
    access = ClusterAccess.load(kubeconfig=path)
    assert access.server == SERVER
    assert access.namespace == "team-a"
    assert access.bearer_token() == "abc.def"
    assert access.authorization() == "Bearer abc.def"
    assert access.tls_server_name == "kube.internal"
    assert access.proxy_url == "http://127.0.0.1:3128"
    assert access.insecure_skip_tls_verify
    assert "abc.def" not in repr(access)
    assert "context 'ctx', user 'u'" in access.source


def test_named_context_is_used_and_an_unknown_one_is_a_clear_error(tmp_path: Path) -> None:
    doc = kubeconfig_doc(
        clusters={"c": CLUSTER, "d": {**CLUSTER, "server": "https://other.test"}},
        users={"u": {"token": "one"}, "v": {"token": "two"}},
        contexts={"ctx": {"cluster": "c", "user": "u"}, "other": {"cluster": "d", "user": "v", "namespace": "ns2"}},
        current="ctx",
    )
    path = write_kubeconfig(tmp_path / "config", doc)
    other = ClusterAccess.load(kubeconfig=path, context="other")
    assert (other.server, other.namespace, other.bearer_token()) == ("https://other.test", "ns2", "two")
    assert ClusterAccess.load(kubeconfig=path).namespace == "default"
    with pytest.raises(AccessError) as err:
        ClusterAccess.load(kubeconfig=path, context="nope")
    assert str(path) in str(err.value) and "nope" in str(err.value)


def test_a_merged_list_takes_each_entry_from_the_first_file_that_has_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = single({"token": "from-second"})
    listing = split_kubeconfig(doc, tmp_path / "a" / "config", tmp_path / "b" / "config")
    # A third file that names the same user and another current-context must not win over the first two.
    third = write_kubeconfig(tmp_path / "c" / "config", kubeconfig_doc(
        clusters={"c": {"server": "https://wrong.test"}}, users={"u": {"token": "wrong"}},
        contexts={"zzz": {"cluster": "c", "user": "u"}}, current="zzz"))  # fmt: skip
    monkeypatch.setenv("KUBECONFIG", f"{listing}:{tmp_path / 'missing'}:{third}")
    access = ClusterAccess.load()
    assert (access.server, access.bearer_token(), access.namespace) == (SERVER, "from-second", "team-a")


def test_relative_certificate_paths_resolve_against_their_own_file(tmp_path: Path) -> None:
    (tmp_path / "b" / "pki").mkdir(parents=True)
    (tmp_path / "b" / "pki" / "ca.crt").write_text("not a real CA, only read")
    doc = single({"token": "t"})
    listing = split_kubeconfig(doc, tmp_path / "a" / "config", tmp_path / "b" / "config")
    second = yaml.safe_load((tmp_path / "b" / "config").read_text())
    second["clusters"] = [{"name": "c2", "cluster": {"server": SERVER, "certificate-authority": "pki/ca.crt"}}]
    second["contexts"] = [{"name": "ctx2", "context": {"cluster": "c2", "user": "u"}}]
    write_kubeconfig(tmp_path / "b" / "config", second)
    access = ClusterAccess.load(kubeconfig=listing, context="ctx2")
    assert access.ca_data == b"not a real CA, only read"


def test_no_kubeconfig_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AccessError, match=r"no such files"):
        ClusterAccess.load(kubeconfig=f"{tmp_path / 'x'}:{tmp_path / 'y'}")
    bad = tmp_path / "bad"
    bad.write_text("clusters: [unclosed")
    with pytest.raises(AccessError, match=r"not valid YAML"):
        ClusterAccess.load(kubeconfig=bad)


def test_inline_keys_leave_no_file_behind(tmp_path: Path, private_tmp: Path) -> None:
    key = b"-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n"
    user = {
        "client-certificate-data": base64.b64encode(b"cert").decode(),
        "client-key-data": base64.b64encode(key).decode(),
    }
    access = ClusterAccess.load(kubeconfig=write_kubeconfig(tmp_path / "config", single(user)))
    assert access.client_key_data == key and access.client_cert_data == b"cert"
    assert access.authorization() is None
    assert list(private_tmp.iterdir()) == []


def test_exec_plugin_token_expiry_and_run_again_once_expired(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    plugin = write_exec_plugin(tmp_path / "plugin", token_command=["echo", "tok"], lifetime=3600, log=log)
    access = ClusterAccess.load(kubeconfig=write_kubeconfig(tmp_path / "config", single(exec_user(plugin))))
    assert access.bearer_token() == "tok"
    assert access.bearer_token() == "tok"
    assert plugin_runs(log) == 1  # cached until it expires
    expires = access.expiration()
    assert expires is not None
    assert datetime.timedelta(minutes=59) < expires - datetime.datetime.now(datetime.UTC) <= datetime.timedelta(hours=1)
    info = json.loads(log.read_text().splitlines()[0])
    assert info["kind"] == "ExecCredential" and info["apiVersion"] == "client.authentication.k8s.io/v1"

    # A credential that is already expired when it arrives is fetched again at every use (as client-go does).
    log2 = tmp_path / "runs2.log"
    stale = write_exec_plugin(tmp_path / "stale", token_command=["echo", "tok2"], lifetime=-1, log=log2)
    access = ClusterAccess.load(kubeconfig=write_kubeconfig(tmp_path / "config2", single(exec_user(stale))))
    access.bearer_token()
    access.bearer_token()
    assert plugin_runs(log2) == 3


def test_exec_plugin_runs_again_after_a_rejection_once_per_rejected_token(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    plugin = write_exec_plugin(tmp_path / "plugin", token_command=["echo", "good"], lifetime=3600, log=log,
                               bad_first=True)  # fmt: skip
    access = ClusterAccess.load(kubeconfig=write_kubeconfig(tmp_path / "config", single(exec_user(plugin))))
    rejected = access.authorization()
    assert rejected == "Bearer not-a-valid-token"
    assert access.credentials.header(rejected=rejected) == "Bearer good"
    assert access.credentials.header(rejected=rejected) == "Bearer good"  # another request's 401: no new run
    assert plugin_runs(log) == 2


def test_a_failing_plugin_is_named_with_its_stderr(tmp_path: Path) -> None:
    plugin = write_failing_plugin(tmp_path / "aws-like", stderr="error: the SSO session has expired", code=255)
    path = write_kubeconfig(tmp_path / "config", single(exec_user(plugin, args=["eks", "get-token"])))
    with pytest.raises(AccessError) as err:
        ClusterAccess.load(kubeconfig=path)
    message = str(err.value)
    assert f"exec credential plugin '{plugin} eks get-token' failed" in message
    assert "returned 255" in message and "the SSO session has expired" in message
    assert str(path) in message and "user 'u'" in message


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (None, "cannot run it: No such file or directory"),
        ("#!/bin/sh\necho not json\n", "failed to decode process output"),
        ("#!/bin/sh\necho '{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": \"ExecCredential\", "
         "\"status\": {}}'\n", "neither token nor clientCertificateData"),
        ("#!/bin/sh\necho '{\"apiVersion\": \"client.authentication.k8s.io/v1beta1\", \"kind\": \"ExecCredential\", "
         "\"status\": {\"token\": \"x\"}}'\n", "does not match"),
    ],
    ids=["missing", "not-json", "no-credential", "wrong-version"],
)  # fmt: skip
def test_plugin_output_that_cannot_be_used_is_a_clear_error(tmp_path: Path, script: str | None, expected: str) -> None:
    plugin = tmp_path / "plugin"
    if script is not None:
        plugin.write_text(script)
        plugin.chmod(0o755)
    with pytest.raises(AccessError, match="exec credential plugin") as err:
        ClusterAccess.load(kubeconfig=write_kubeconfig(tmp_path / "config", single(exec_user(plugin))))
    assert expected in str(err.value)


def test_exec_plugin_client_certificate(tmp_path: Path, private_tmp: Path) -> None:
    plugin = tmp_path / "plugin"
    status = {"clientCertificateData": "CERT", "clientKeyData": "KEY"}
    body = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": status}
    plugin.write_text(f"#!{sys.executable}\nprint({json.dumps(json.dumps(body))})\n")
    plugin.chmod(0o755)
    access = ClusterAccess.load(kubeconfig=write_kubeconfig(tmp_path / "config", single(exec_user(plugin))))
    assert (access.client_cert_data, access.client_key_data) == (b"CERT", b"KEY")
    assert list(private_tmp.iterdir()) == []


def test_token_file_is_read_again(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    access = ClusterAccess.load(kubeconfig=write_kubeconfig(tmp_path / "config", single({"tokenFile": str(token)})))
    assert access.bearer_token() == "first"
    token.write_text("second\n")  # rotated
    assert access.credentials.header(rejected="Bearer first") == "Bearer second"


def test_basic_auth_user(tmp_path: Path) -> None:
    access = ClusterAccess.load(kubeconfig=write_kubeconfig(tmp_path / "c", single({"username": "a", "password": "b"})))
    assert access.authorization() == "Basic " + base64.b64encode(b"a:b").decode()
    assert access.bearer_token() is None


def test_unsupported_proxy_scheme_is_refused(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", single({"token": "t"}, **{"proxy-url": "ftp://proxy:21"}))
    with pytest.raises(AccessError, match=r"proxy-url 'ftp://proxy:21': unsupported scheme"):
        ClusterAccess.load(kubeconfig=path)
