"""Object names and label values that Kubernetes accepts, made the same way everywhere. Pure.

Names the operator derives (pods, Secrets) must be deterministic — an operator restart has to find what it created
before, never make a second one — and at most 63 characters. When a name must be cut, a hash of the *whole*
original keeps two long names that share a prefix apart.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["MAX_NAME", "bounded_name", "label_value", "slug", "unique_name"]

#: The limit of a DNS-1123 label and of a label value.
MAX_NAME = 63

_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9._-]+")


def _digest(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def bounded_name(base: str, suffix: str) -> str:
    """Pure: ``<base>-<suffix>``, cut to 63 characters; a cut name keeps a hash of ``base`` so it stays distinct."""
    name = f"{base}-{suffix}"
    if len(name) <= MAX_NAME:
        return name
    digest = _digest(base)
    keep = MAX_NAME - len(suffix) - len(digest) - 2
    return f"{base[:keep].rstrip('-.')}-{digest}-{suffix}"


def slug(text: str) -> str:
    """Pure: ``text`` lower-cased with every run of characters outside ``[a-z0-9-]`` made one ``-`` (may be empty)."""
    return re.sub(r"-{2,}", "-", _NOT_DNS.sub("-", text.lower())).strip("-")


def unique_name(readable: str, *, unique: str, digits: int = 6, fallback: str = "run") -> str:
    """Pure: a DNS-1123 label from ``readable`` plus a hash of ``unique``: ``<slug>-<hash>``, ≤ 63 characters
    (``fallback`` stands in for a ``readable`` with no usable character)."""
    suffix = _digest(unique, digits)
    base = slug(readable)[: MAX_NAME - len(suffix) - 1].rstrip("-") or fallback
    return f"{base}-{suffix}"


def label_value(text: str) -> str:
    """Pure: ``text`` as a valid label value: characters outside ``[A-Za-z0-9._-]`` replaced, alphanumeric at both
    ends, ≤ 63 characters — a longer text is cut and ends in a hash of the whole text, so two long names sharing a
    prefix get different values."""
    cleaned = _NOT_LABEL.sub("-", text).strip("-._")
    if len(cleaned) <= MAX_NAME:
        return cleaned
    digest = _digest(text, 10)
    return f"{cleaned[: MAX_NAME - len(digest) - 1].rstrip('-._')}-{digest}"
