"""Inspection against a registry that misbehaves on purpose (tests/fixtures/hostile_registry.py), over real sockets.

Each test is an attack a TaskRun author could mount through the image reference they choose. Before issue 13 the
drips hung an inspection for ever (30 s per read, no total), a redirect loop was retried as transient, and realms
and redirects reached any host, with the "token" an internal service answered forwarded to the registry.
"""

from __future__ import annotations

import pytest

from task_api.image import inspect_image
from task_api.image.egress import EgressPolicy
from task_api.image.errors import (
    EgressDenied,
    InsecureTransport,
    InspectionTimedOut,
    InspectionTooLarge,
    RegistryUnavailable,
)
from task_api.image.limits import InspectionLimits
from tests.fixtures.hostile_registry import Canary, HostileRegistry, start_canary

# An inspection here must end long before pytest's own limit; these bound the test, they assert no timing.
pytestmark = pytest.mark.timeout(120)

SHORT = InspectionLimits(deadline_seconds=2.0)


def allow_registry(registry: HostileRegistry, **extra: object) -> EgressPolicy:
    """The policy an administrator would write for this one registry on loopback."""
    return EgressPolicy(
        allowed_private=(registry.host,),
        insecure_registries=(registry.host,),
        **extra,  # type: ignore[arg-type]
    )


class TestTheControl:
    def test_the_good_image_passes_under_the_strict_policy_and_limits(self, hostile_registry: HostileRegistry) -> None:
        found = inspect_image(hostile_registry.ref("good/image"), limits=SHORT, egress=allow_registry(hostile_registry))
        assert found.container.name == "hostile-control"
        assert found.found_in == "label"


class TestSlowRegistries:
    @pytest.mark.parametrize("repository", ["drip/manifest", "drip/headers", "drip/layer"])
    def test_a_drip_ends_at_the_deadline_as_transient(self, hostile_registry: HostileRegistry, repository: str) -> None:
        # One byte every 0.2 s: every read is quick, the 30 s per-read timeout never fires; only a deadline ends it.
        with pytest.raises(InspectionTimedOut) as caught:
            inspect_image(hostile_registry.ref(repository), limits=SHORT, timeout=30)
        error = caught.value
        assert error.transient is True and error.reason == "InspectionTimedOut"
        assert isinstance(error, RegistryUnavailable)  # the documented tree: a kind of unavailability
        assert "did not finish within 2 s" in str(error) and repository in str(error)


class TestHugeRegistries:
    def test_a_huge_manifest_is_cut_at_the_manifest_limit(self, hostile_registry: HostileRegistry) -> None:
        with pytest.raises(InspectionTooLarge) as caught:
            inspect_image(hostile_registry.ref("huge/manifest"), limits=InspectionLimits(max_manifest_bytes=65536))
        assert caught.value.transient is False and caught.value.reason == "InspectionLimitExceeded"
        assert "larger than 65536 bytes" in str(caught.value)

    def test_an_endless_layer_is_cut_at_the_byte_budget(self, hostile_registry: HostileRegistry) -> None:
        limits = InspectionLimits(max_bytes=8 * 1024 * 1024, deadline_seconds=60)
        with pytest.raises(InspectionTooLarge) as caught:
            inspect_image(hostile_registry.ref("huge/layer"), limits=limits)
        assert "more than 8388608 bytes" in str(caught.value)
        assert caught.value.transient is False

    def test_a_thousand_layers_are_refused_before_any_is_read(self, hostile_registry: HostileRegistry) -> None:
        with pytest.raises(InspectionTooLarge, match="1000 layers; at most 128"):
            inspect_image(hostile_registry.ref("huge/layers"))
        assert not [p for p in hostile_registry.paths() if "/blobs/" in p and "huge/layers" in p][1:]

    def test_an_endless_index_stops_at_the_depth_cap(self, hostile_registry: HostileRegistry) -> None:
        with pytest.raises(InspectionTooLarge, match="nested deeper than 3"):
            inspect_image(hostile_registry.ref("endless/index"))
        manifests = [p for p in hostile_registry.paths() if "/manifests/" in p]
        assert len(manifests) == 4  # the tag, then three levels by digest: the fourth level is never asked for

    def test_a_redirect_loop_is_permanent_after_the_cap(self, hostile_registry: HostileRegistry) -> None:
        with pytest.raises(InspectionTooLarge, match="more than 5 redirects"):
            inspect_image(hostile_registry.ref("redirect/loop"))
        assert len(hostile_registry.hits) == 6


class TestEgress:
    def test_loopback_registry_refused_unless_allowed(self, hostile_registry: HostileRegistry) -> None:
        with pytest.raises(EgressDenied) as caught:
            inspect_image(
                hostile_registry.ref("good/image"), egress=EgressPolicy(insecure_registries=(hostile_registry.host,))
            )
        assert "resolves to 127.0.0.1" in str(caught.value) and "TASK_API_EGRESS_ALLOW_PRIVATE" in str(caught.value)
        assert hostile_registry.hits == []  # refused before connecting

    def test_plain_http_only_for_listed_registries(self, hostile_registry: HostileRegistry) -> None:
        # Allowed as a private target but not listed insecure: spoken to over HTTPS, which this server cannot do.
        with pytest.raises(RegistryUnavailable):
            inspect_image(
                hostile_registry.ref("good/image"), egress=EgressPolicy(allowed_private=(hostile_registry.host,))
            )
        assert hostile_registry.hits == []  # a TLS hello is not an HTTP request: no plain request was sent

    def test_a_redirect_to_another_host_is_refused(self, hostile_registry: HostileRegistry) -> None:
        canary, server = start_canary("127.0.0.2")
        try:
            hostile_registry.settings["redirect_target"] = canary.url + "latest/meta-data/"
            with pytest.raises(EgressDenied, match=r"redirect points at 127\.0\.0\.2:\d+, which is neither"):
                inspect_image(hostile_registry.ref("redirect/to"), egress=allow_registry(hostile_registry))
            assert canary.hits == []
        finally:
            server.shutdown()
            server.server_close()

    def test_a_redirect_to_a_private_port_of_the_same_host_is_refused(
        self, hostile_registry: HostileRegistry, canary: Canary
    ) -> None:
        # HTTPS, so the plain-HTTP rule does not stop it first: the address check does, before any byte is sent.
        hostile_registry.settings["redirect_target"] = canary.url.replace("http://", "https://")
        with pytest.raises(EgressDenied, match=r"resolves to 127\.0\.0\.1"):
            inspect_image(hostile_registry.ref("redirect/to"), egress=allow_registry(hostile_registry))
        assert canary.hits == []

    def test_a_realm_on_another_host_is_refused_and_no_token_is_forwarded(
        self, hostile_registry: HostileRegistry
    ) -> None:
        canary, server = start_canary("127.0.0.2")
        try:
            hostile_registry.settings["realm"] = canary.url + "token"
            with pytest.raises(EgressDenied, match=r"token realm points at 127\.0\.0\.2"):
                inspect_image(hostile_registry.ref("realm/to"), egress=allow_registry(hostile_registry))
            assert canary.hits == []
            assert [h.authorized for h in hostile_registry.hits] == [False]
        finally:
            server.shutdown()
            server.server_close()

    def test_a_realm_on_an_allowlisted_host_is_used(self, hostile_registry: HostileRegistry) -> None:
        canary, server = start_canary("127.0.0.2")
        try:
            hostile_registry.settings["realm"] = canary.url + "token"
            policy = allow_registry(hostile_registry)
            policy = EgressPolicy(
                allowed_hosts=(canary.host,),
                allowed_private=(*(policy.allowed_private or ()), canary.host),
                insecure_registries=(*policy.insecure_registries, canary.host),
            )
            found = inspect_image(hostile_registry.ref("realm/to"), egress=policy)
            assert found.container.name == "hostile-control"
            assert len(canary.hits) == 1
        finally:
            server.shutdown()
            server.server_close()

    def test_a_plain_http_realm_is_refused_unless_listed(self, hostile_registry: HostileRegistry) -> None:
        canary, server = start_canary("127.0.0.2")
        try:
            hostile_registry.settings["realm"] = canary.url + "token"
            policy = EgressPolicy(
                allowed_hosts=(canary.host,),
                allowed_private=(hostile_registry.host, canary.host),
                insecure_registries=(hostile_registry.host,),
            )
            with pytest.raises(InsecureTransport, match="token realm uses plain HTTP"):
                inspect_image(hostile_registry.ref("realm/to"), egress=policy)
            assert canary.hits == []
        finally:
            server.shutdown()
            server.server_close()

    def test_without_a_policy_the_old_behaviour_stays_for_the_cli(
        self, hostile_registry: HostileRegistry, canary: Canary
    ) -> None:
        # The workstation default: loopback registries and realms anywhere (the limits still apply).
        hostile_registry.settings["realm"] = canary.url + "token"
        found = inspect_image(hostile_registry.ref("realm/to"))
        assert found.container.name == "hostile-control"
        assert len(canary.hits) == 1
