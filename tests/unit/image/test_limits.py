"""Inspection limits: defaults, the operator's keys, and the guard that applies them (pure; a fake clock)."""

from __future__ import annotations

import pytest

from task_api.image.errors import InspectionTimedOut, InspectionTooLarge
from task_api.image.limits import InspectionLimits
from task_api.image.transport import Guard


class TestFromEnv:
    def test_empty_keeps_the_defaults(self) -> None:
        assert InspectionLimits.from_env({}) == InspectionLimits()

    def test_reads_every_key(self) -> None:
        limits = InspectionLimits.from_env(
            {
                "TASK_API_INSPECT_DEADLINE_SECONDS": "12.5",
                "TASK_API_INSPECT_MAX_BYTES": "64Mi",
                "TASK_API_INSPECT_MAX_MANIFEST_BYTES": "512Ki",
                "TASK_API_INSPECT_MAX_LAYERS": "40",
                "TASK_API_INSPECT_MAX_INDEX_DEPTH": "1",
                "TASK_API_INSPECT_MAX_REDIRECTS": "0",
            }
        )
        assert limits == InspectionLimits(
            deadline_seconds=12.5,
            max_bytes=64 * 1024 * 1024,
            max_manifest_bytes=512 * 1024,
            max_layers=40,
            max_index_depth=1,
            max_redirects=0,
        )

    @pytest.mark.parametrize(
        ("key", "value", "allowed"),
        [
            ("TASK_API_INSPECT_DEADLINE_SECONDS", "0", "greater than 0"),
            ("TASK_API_INSPECT_DEADLINE_SECONDS", "inf", "greater than 0"),
            ("TASK_API_INSPECT_DEADLINE_SECONDS", "soon", "a number of seconds"),
            ("TASK_API_INSPECT_MAX_BYTES", "1.5Gi", "whole number of bytes"),
            ("TASK_API_INSPECT_MAX_BYTES", "10MB", "whole number of bytes"),
            ("TASK_API_INSPECT_MAX_LAYERS", "-1", "whole number"),
            ("TASK_API_INSPECT_MAX_LAYERS", "0", "positive number"),
        ],
    )
    def test_a_bad_value_names_key_value_and_what_is_allowed(self, key: str, value: str, allowed: str) -> None:
        with pytest.raises(ValueError) as caught:
            InspectionLimits.from_env({key: value})
        assert str(caught.value).startswith(f"{key}: ")
        assert allowed in str(caught.value)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestGuard:
    def test_operations_never_wait_past_the_deadline(self) -> None:
        clock = FakeClock()
        guard = Guard(InspectionLimits(deadline_seconds=10), image="img", clock=clock)
        assert guard.clip(30.0) == 10.0
        clock.now += 7
        assert guard.clip(30.0) == pytest.approx(3.0)
        assert guard.clip(1.0) == 1.0
        assert guard.clip(None) == pytest.approx(3.0)

    def test_after_the_deadline_every_operation_fails_as_timed_out(self) -> None:
        clock = FakeClock()
        guard = Guard(InspectionLimits(deadline_seconds=10), image="img", clock=clock)
        clock.now += 10
        with pytest.raises(InspectionTimedOut, match="img: the inspection did not finish within 10 s"):
            guard.clip(30.0)
        assert guard.timed_out().transient is True

    def test_the_budget_counts_every_byte(self) -> None:
        guard = Guard(InspectionLimits(max_bytes=100), image="img")
        guard.count(60)
        guard.count(40)
        with pytest.raises(InspectionTooLarge, match="more than 100 bytes"):
            guard.count(1)


class TestSettings:
    def test_defaults_follow_the_worker_count(self) -> None:
        from task_api.image.settings import InspectionSettings  # noqa: PLC0415

        settings = InspectionSettings.from_env({}, workers=16)
        assert (settings.slots, settings.slots_per_namespace) == (4, 2)
        assert InspectionSettings.from_env({}, workers=2).slots == 1
        gate = settings.gate()
        assert (gate.slots, gate.per_tenant) == (4, 2)

    def test_keys_and_their_errors(self) -> None:
        from task_api.image.settings import InspectionSettings  # noqa: PLC0415

        env = {"TASK_API_INSPECT_SLOTS": "6", "TASK_API_INSPECT_SLOTS_PER_NAMESPACE": "3"}
        assert InspectionSettings.from_env(env, workers=16).slots_per_namespace == 3
        with pytest.raises(ValueError, match=r"PER_NAMESPACE: given 7; allowed at most TASK_API_INSPECT_SLOTS \(6\)"):
            InspectionSettings.from_env({**env, "TASK_API_INSPECT_SLOTS_PER_NAMESPACE": "7"}, workers=16)
        with pytest.raises(ValueError, match="TASK_API_INSPECT_SLOTS: given 'many'"):
            InspectionSettings.from_env({"TASK_API_INSPECT_SLOTS": "many"}, workers=16)
