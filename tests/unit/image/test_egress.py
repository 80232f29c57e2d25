"""The egress policy's decisions (pure: addresses are handed in, nothing is resolved or sent)."""

from __future__ import annotations

import ipaddress

import pytest

from task_api.image.egress import EgressPolicy, address_is_public
from task_api.image.errors import EgressDenied, InsecureTransport

IMAGE = "reg.example.com/team/tool:1"
REGISTRY = "reg.example.com"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:4700::6810:84e5", True),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("127.53.1.2", False),
        ("0.0.0.0", False),  # connects to this host on Linux
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared address space (CGNAT)
        ("224.0.0.251", False),  # multicast
        ("255.255.255.255", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00:ec2::254", False),  # AWS's IPv6 metadata address (unique local)
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("::ffff:169.254.169.254", False),
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("2002:a9fe:a9fe::", False),  # 6to4 of 169.254.169.254
        ("::ffff:93.184.215.14", True),
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert address_is_public(ipaddress.ip_address(address)) is public


class TestAddresses:
    def test_strict_refuses_every_private_address(self) -> None:
        policy = EgressPolicy()
        assert not policy.address_allowed("reg.example.com", 443, ipaddress.ip_address("10.1.2.3"))
        assert policy.address_allowed("reg.example.com", 443, ipaddress.ip_address("93.184.215.14"))

    def test_a_cidr_allows_addresses_inside_it_only(self) -> None:
        policy = EgressPolicy(allowed_private=("10.20.0.0/16",))
        assert policy.address_allowed("harbor.internal", 443, ipaddress.ip_address("10.20.1.1"))
        assert not policy.address_allowed("harbor.internal", 443, ipaddress.ip_address("10.21.1.1"))

    def test_a_host_entry_allows_its_addresses_on_its_port_only(self) -> None:
        policy = EgressPolicy(allowed_private=("127.0.0.1:5000",))
        loopback = ipaddress.ip_address("127.0.0.1")
        assert policy.address_allowed("127.0.0.1", 5000, loopback)
        assert not policy.address_allowed("127.0.0.1", 6443, loopback)  # the API server's port: no
        assert not policy.address_allowed("localhost", 5000, loopback)  # another name for it: not listed

    def test_a_rebound_name_is_judged_by_the_address_connected_to(self) -> None:
        # A name is not trusted for what it resolved to before: each connection's own address is checked.
        policy = EgressPolicy(allowed_private=("10.0.0.0/8",))
        assert not policy.address_allowed("evil.example", 443, ipaddress.ip_address("169.254.169.254"))

    def test_unrestricted_allows_everything(self) -> None:
        assert EgressPolicy.unrestricted().address_allowed("x", 1, ipaddress.ip_address("169.254.169.254"))


class TestRealmsAndRedirects:
    def test_same_host_any_port_is_allowed(self) -> None:
        EgressPolicy().check_url(
            "https://reg.example.com:8443/token", registry=REGISTRY, what="token realm", image=IMAGE
        )

    @pytest.mark.parametrize(
        "url",
        [
            "https://auth.evil.example/token",
            "https://169.254.169.254/latest/meta-data/",
            "https://reg.example.com.evil.example/token",
            "https://kubernetes.default.svc/api",
        ],
    )
    def test_another_host_is_refused_with_the_rule_named(self, url: str) -> None:
        with pytest.raises(EgressDenied) as caught:
            EgressPolicy().check_url(url, registry=REGISTRY, what="token realm", image=IMAGE)
        message = str(caught.value)
        assert message.startswith(f"{IMAGE}: the token realm points at ")
        assert "TASK_API_EGRESS_ALLOWED_HOSTS" in message
        assert caught.value.transient is False and caught.value.reason == "EgressDenied"

    @pytest.mark.parametrize(
        ("entry", "host", "allowed"),
        [
            ("auth.docker.io", "auth.docker.io", True),
            ("auth.docker.io", "xauth.docker.io", False),
            ("*.cloudflare.docker.com", "production.cloudflare.docker.com", True),
            ("*.cloudflare.docker.com", "cloudflare.docker.com", False),
            ("*.cloudflare.docker.com", "evilcloudflare.docker.com", False),
            ("s3.example.com:9000", "s3.example.com", False),  # port 443 is not 9000
        ],
    )
    def test_allowlist_patterns(self, entry: str, host: str, allowed: bool) -> None:
        assert EgressPolicy(allowed_hosts=(entry,)).host_allowed(host, 443, registry=REGISTRY) is allowed

    def test_plain_http_only_to_listed_hosts(self) -> None:
        policy = EgressPolicy(allowed_hosts=("auth.example.com",))
        with pytest.raises(InsecureTransport, match=r"uses plain HTTP to auth\.example\.com:80"):
            policy.check_url("http://auth.example.com/token", registry=REGISTRY, what="token realm", image=IMAGE)
        listed = EgressPolicy(allowed_hosts=("auth.example.com",), insecure_registries=("auth.example.com",))
        listed.check_url("http://auth.example.com/token", registry=REGISTRY, what="token realm", image=IMAGE)

    @pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://x/", "https:///nohost", "not a url"])
    def test_only_http_urls_with_a_host(self, url: str) -> None:
        with pytest.raises(EgressDenied):
            EgressPolicy.unrestricted().check_url(url, registry=REGISTRY, what="redirect", image=IMAGE)


class TestPlainHttp:
    @pytest.mark.parametrize(
        ("policy", "netloc", "plain"),
        [
            (EgressPolicy(), "127.0.0.1:5000", False),  # the operator: loopback is not implicitly insecure
            (EgressPolicy.unrestricted(), "127.0.0.1:5000", True),  # the CLI: it is
            (EgressPolicy(insecure_registries=("127.0.0.1:5000",)), "127.0.0.1:5000", True),
            (EgressPolicy(insecure_registries=("127.0.0.1:5000",)), "127.0.0.1:5001", False),
            (EgressPolicy(insecure_registries=("kind-registry",)), "kind-registry:5000", True),
        ],
    )
    def test_which_registries_get_plain_http(self, policy: EgressPolicy, netloc: str, plain: bool) -> None:
        assert policy.plain_http_allowed(netloc) is plain


class TestFromEnv:
    def test_reads_the_operator_keys(self) -> None:
        policy = EgressPolicy.from_env(
            {
                "TASK_API_EGRESS_ALLOWED_HOSTS": "auth.docker.io, *.cloudflare.docker.com",
                "TASK_API_EGRESS_ALLOW_PRIVATE": "10.0.0.0/8,127.0.0.1:5000",
                "TASK_API_INSECURE_REGISTRIES": "127.0.0.1:5000",
            }
        )
        assert policy.allowed_hosts == ("auth.docker.io", "*.cloudflare.docker.com")
        assert policy.allowed_private == ("10.0.0.0/8", "127.0.0.1:5000")
        assert policy.insecure_registries == ("127.0.0.1:5000",)
        assert policy.strict_transport and not policy.loopback_plain_http

    def test_empty_is_the_strictest(self) -> None:
        assert EgressPolicy.from_env({}) == EgressPolicy()

    @pytest.mark.parametrize(
        ("key", "value", "message"),
        [
            ("TASK_API_EGRESS_ALLOW_PRIVATE", "10.0.0.0/33", "TASK_API_EGRESS_ALLOW_PRIVATE: allowed private target "),
            ("TASK_API_EGRESS_ALLOWED_HOSTS", "https://auth.docker.io/", "TASK_API_EGRESS_ALLOWED_HOSTS: host "),
        ],
    )
    def test_a_bad_value_names_the_key(self, key: str, value: str, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            EgressPolicy.from_env({key: value})
