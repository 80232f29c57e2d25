"""Kubernetes timestamps: one formatter and one parser for every module. Pure.

Kubernetes writes RFC 3339 times in UTC with a ``Z`` and whole seconds (``metav1.Time``); Events also carry
microseconds (``metav1.MicroTime``).
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_micro_rfc3339", "format_rfc3339", "parse_rfc3339"]


def format_rfc3339(moment: datetime) -> str:
    """Pure: ``2026-01-01T12:00:00Z`` (seconds, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_rfc3339(moment: datetime) -> str:
    """Pure: ``2026-01-01T12:00:00.123456Z`` (an Event's ``eventTime``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str) -> datetime:
    """Pure: a Kubernetes timestamp (with or without fractional seconds) as an aware UTC datetime.

    Raises ValueError for anything else, so a hand-edited annotation is a clear error, not a crash later.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"not an RFC 3339 time with a zone: {text!r}")
    return moment.astimezone(UTC)
