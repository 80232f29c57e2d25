"""How much one inspection may cost: time, bytes, layers and indirections.

A TaskRun author chooses the image, so the registry serving it may be hostile: it can drip one byte every few
seconds (every read is quick, the whole never ends), send a gigabyte manifest, an index of indexes, a thousand
layers, endless redirects. :class:`InspectionLimits` bounds each of those; exceeding one ends the inspection with
a typed error (:mod:`task_api.image.errors`):

============================  ==========================  ==================================================
limit                          error                       transient?
============================  ==========================  ==================================================
``deadline_seconds``           ``InspectionTimedOut``      yes — the registry may be faster later
``max_bytes``                  ``InspectionTooLarge``      no — the same image always needs as many bytes
``max_manifest_bytes``         ``InspectionTooLarge``      no
``max_layers``                 ``InspectionTooLarge``      no
``max_index_depth``            ``InspectionTooLarge``      no
``max_link_hops``              ``SpecFileInvalid``         no (a chain of links to the file)
``max_redirects``              ``InspectionTooLarge``      no
============================  ==========================  ==================================================

The deadline is enforced on every connect, read and write (each waits at most until the deadline), so an
inspection ends within about the deadline however the registry paces its bytes. ``max_bytes`` counts every byte
received from the network (headers, error bodies, TLS records), not only the bodies that are used.

:meth:`InspectionLimits.from_env` reads the operator's ``TASK_API_INSPECT_*`` keys (docs/deploy.md). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

__all__ = ["InspectionLimits"]

_MIB = 1024 * 1024


@dataclass(frozen=True)
class InspectionLimits:
    """Bounds on one inspection (the defaults suit the operator; the CLI uses them too)."""

    #: Wall-clock seconds for the whole inspection: token, manifests, config, layers.
    deadline_seconds: float = 60.0
    #: Bytes received from the network over the whole inspection.
    max_bytes: int = 512 * _MIB
    #: Largest manifest, index or image config (real ones are a few KiB).
    max_manifest_bytes: int = 4 * _MIB
    #: Layers in one image manifest (Docker builds at most 127).
    max_layers: int = 128
    #: Indexes above the platform manifest (an index naming an index naming …).
    max_index_depth: int = 3
    #: Symbolic or hard links followed to reach ``/processing-container.json``.
    max_link_hops: int = 8
    #: HTTP redirects followed for one request (blob storage answers with one).
    max_redirects: int = 5

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            may_be_zero = f.name in ("max_index_depth", "max_link_hops", "max_redirects") and value == 0
            if (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0) and not may_be_zero:
                raise ValueError(f"InspectionLimits.{f.name}: given {value!r}; allowed a positive number")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> InspectionLimits:
        """The limits from the operator's configuration keys (pure). Raises ValueError naming the key.

        ``TASK_API_INSPECT_DEADLINE_SECONDS``, ``TASK_API_INSPECT_MAX_BYTES`` and
        ``TASK_API_INSPECT_MAX_MANIFEST_BYTES`` (integers with an optional ``Ki``/``Mi``/``Gi`` suffix),
        ``TASK_API_INSPECT_MAX_LAYERS``, ``TASK_API_INSPECT_MAX_INDEX_DEPTH``, ``TASK_API_INSPECT_MAX_REDIRECTS``.
        A missing or empty key keeps the default.
        """
        default = cls()
        values: dict[str, float | int] = {}
        keys = {
            "deadline_seconds": ("TASK_API_INSPECT_DEADLINE_SECONDS", _seconds),
            "max_bytes": ("TASK_API_INSPECT_MAX_BYTES", _bytes),
            "max_manifest_bytes": ("TASK_API_INSPECT_MAX_MANIFEST_BYTES", _bytes),
            "max_layers": ("TASK_API_INSPECT_MAX_LAYERS", _count),
            "max_index_depth": ("TASK_API_INSPECT_MAX_INDEX_DEPTH", _count),
            "max_redirects": ("TASK_API_INSPECT_MAX_REDIRECTS", _count),
        }
        for name, (key, parse) in keys.items():
            text = env.get(key, "").strip()
            if not text:
                continue
            try:
                values[name] = parse(text)
            except ValueError as exc:
                raise ValueError(f"{key}: given {text!r}; allowed {exc}") from None
        try:
            return cls(**{f.name: values.get(f.name, getattr(default, f.name)) for f in fields(cls)})
        except ValueError as exc:
            name = str(exc).split(":", 1)[0].removeprefix("InspectionLimits.")
            key = keys.get(name, (name, None))[0]
            raise ValueError(f"{key}: {str(exc).split(': ', 1)[1]}") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("a number of seconds greater than 0") from None
    if not 0 < value < float("inf"):  # also refuses NaN
        raise ValueError("a number of seconds greater than 0")
    return value


_SUFFIXES = {"": 1, "Ki": 1024, "Mi": _MIB, "Gi": 1024 * _MIB}


def _bytes(text: str) -> int:
    number = text.rstrip("KMGi")
    suffix = text[len(number) :]
    if suffix not in _SUFFIXES or not number.isdigit():
        raise ValueError("a whole number of bytes, optionally with Ki, Mi or Gi (e.g. 512Mi)")
    value = int(number) * _SUFFIXES[suffix]
    if value <= 0:
        raise ValueError("a whole number of bytes greater than 0")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise ValueError("a whole number ≥ 0")
    return int(text)
