"""Kubernetes resource quantities (``500Mi``, ``0.5``, ``250m``, ``1e3``, ``2Gi``), parsed exactly.

The grammar is Kubernetes' own (``k8s.io/apimachinery/pkg/api/resource``): a signed decimal number
followed by a binary suffix (``Ki Mi Gi Ti Pi Ei``), a decimal suffix (``n u m "" k M G T P E``) or a
decimal exponent (``e3``, ``E-2``). Values are :class:`~decimal.Decimal` so ``0.1`` stays exactly one
tenth. Pure functions only.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from task_api.spec.errors import InvalidQuantity

__all__ = ["QUANTITY_PATTERN", "format_bytes_quantity", "parse_quantity", "round_up_bytes"]

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

#: The quantity grammar as one regular expression (also published in the JSON Schemas).
QUANTITY_PATTERN = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$"
_RE = re.compile(
    r"^(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<exp>[eE][+-]?[0-9]+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$"
)
_ALLOWED = "a number with an optional suffix Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or an exponent like 1e3"


def parse_quantity(text: str) -> Decimal:
    """Parse a Kubernetes quantity into its exact value (pure). Raises :class:`InvalidQuantity`."""
    if not isinstance(text, str):
        raise InvalidQuantity(f"a quantity must be a string, not {type(text).__name__}")
    match = _RE.match(text)
    if match is None or len(text) > 64:
        raise InvalidQuantity(f"{text!r} is not a Kubernetes quantity; allowed: {_ALLOWED}")
    try:
        number = Decimal(match["num"])
        if match["exp"]:
            exponent = int(match["exp"][1:])
            if abs(exponent) > 30:
                raise InvalidQuantity(f"{text!r}: exponent out of range (at most 30)")
            return number.scaleb(exponent)
        suffix = match["suffix"] or ""
        if suffix in _BINARY:
            return number * Decimal(1024 ** _BINARY[suffix])
        return number.scaleb(_DECIMAL[suffix])
    except InvalidOperation as exc:  # pragma: no cover - the regex only lets valid decimals through
        raise InvalidQuantity(f"{text!r} is not a Kubernetes quantity; allowed: {_ALLOWED}") from exc


def format_bytes_quantity(value: int) -> str:
    """A byte count with the largest binary suffix dividing it exactly: 536870912 -> ``512Mi`` (pure)."""
    if value < 0:
        raise InvalidQuantity(f"a byte count cannot be negative (given {value})")
    if value == 0:
        return "0"
    for suffix, power in sorted(_BINARY.items(), key=lambda item: -item[1]):
        unit = 1024**power
        if value % unit == 0:
            return f"{value // unit}{suffix}"
    return str(value)


def round_up_bytes(value: Decimal | int, *, step: int = 1024**2) -> int:
    """Round a byte amount up to a whole multiple of ``step`` (default 1 MiB) (pure)."""
    # Decimal's // truncates toward zero, so round explicitly toward +infinity.
    whole = int((Decimal(value) / step).to_integral_value(rounding=ROUND_CEILING))
    return max(whole, 0) * step
