"""Kubernetes quantities: exact parsing, clear refusal, byte formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest

from task_api.spec import InvalidQuantity, format_bytes_quantity, parse_quantity
from task_api.spec.quantity import round_up_bytes


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500Mi", Decimal(500 * 1024**2)),
        ("1Gi", Decimal(1024**3)),
        ("1Ki", Decimal(1024)),
        ("2Ei", Decimal(2 * 1024**6)),
        ("250m", Decimal("0.25")),
        ("0.5", Decimal("0.5")),
        (".5", Decimal("0.5")),
        ("1.", Decimal(1)),
        ("1e3", Decimal(1000)),
        ("1E-2", Decimal("0.01")),
        ("1k", Decimal(1000)),
        ("3M", Decimal(3_000_000)),
        ("1G", Decimal(10**9)),
        ("100n", Decimal("1E-7")),
        ("+2", Decimal(2)),
        ("-1", Decimal(-1)),
        ("0", Decimal(0)),
    ],
)
def test_parses_kubernetes_quantities_exactly(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "Mi", "1 Mi", "1mi", "1MB", "1.2.3", "abc", "1e", "--1", "1Ki1", "0x10"])
def test_refuses_what_is_not_a_quantity(text: str) -> None:
    with pytest.raises(InvalidQuantity) as caught:
        parse_quantity(text)
    assert repr(text) in str(caught.value)
    assert "Mi" in str(caught.value)  # says what is allowed


def test_refuses_a_non_string() -> None:
    with pytest.raises(InvalidQuantity, match="must be a string"):
        parse_quantity(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (1, "1"),
        (1023, "1023"),
        (1024, "1Ki"),
        (1536, "1536"),
        (512 * 1024**2, "512Mi"),
        (3 * 1024**3, "3Gi"),
        (1024**3 + 1024**2, "1025Mi"),
    ],
)
def test_formats_bytes_with_the_largest_exact_binary_suffix(value: int, text: str) -> None:
    assert format_bytes_quantity(value) == text
    assert parse_quantity(text) == value


def test_format_refuses_negative_bytes() -> None:
    with pytest.raises(InvalidQuantity):
        format_bytes_quantity(-1)


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [(0, 1024, 0), (1, 1024, 1024), (1024, 1024, 1024), (1025, 1024, 2048), (Decimal("0.5"), 1, 1)],
)
def test_round_up_bytes(value: int | Decimal, step: int, expected: int) -> None:
    assert round_up_bytes(value, step=step) == expected
