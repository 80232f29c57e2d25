"""Find where a JSON path lives in a JSON text, for ``file:line:column`` messages.

Python's ``json`` module forgets positions, so after a document has parsed we walk the text again, but only
along the one path asked for: values beside the path are skipped with the C-accelerated ``raw_decode``, which
keeps this fast on big files. Pure functions over strings.
"""

from __future__ import annotations

import json
import re

__all__ = ["line_column", "locate"]

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]


def _skip(text: str, index: int) -> int:
    match = _WS.match(text, index)
    return match.end() if match else index


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``offset`` in ``text`` (pure)."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _value_end(text: str, index: int) -> int:
    _, end = _DECODER.raw_decode(text, index)
    return int(end)


def locate(text: str, loc: tuple[str | int, ...], *, at_key: bool = False, last: bool = True) -> int:
    """Offset of the value at ``loc`` (or of its key when ``at_key``).

    Like JSON parsers, the last of duplicate keys wins unless ``last`` is False.

    When the path does not exist in the text (a missing field), the offset of the deepest existing parent is
    returned. ``text`` must be valid JSON. Pure.
    """
    pos = _skip(text, 0)
    try:
        for depth, part in enumerate(loc):
            final = depth == len(loc) - 1
            if pos >= len(text):
                return pos
            char = text[pos]
            if isinstance(part, int) and char == "[":
                index = _skip(text, pos + 1)
                if text[index] == "]":
                    return pos
                count = 0
                while count < part:
                    index = _skip(text, _value_end(text, index))
                    if text[index] != ",":
                        return pos
                    index = _skip(text, index + 1)
                    count += 1
                pos = index
            elif isinstance(part, str) and char == "{":
                index = _skip(text, pos + 1)
                key_at: int | None = None
                value_at: int | None = None
                while index < len(text) and text[index] == '"':
                    key, end = _scanstring(text, index + 1)
                    colon = _skip(text, end)
                    value_start = _skip(text, colon + 1)
                    if key == part:
                        key_at, value_at = index, value_start
                        if not last:
                            break
                    index = _skip(text, _value_end(text, value_start))
                    if index < len(text) and text[index] == ",":
                        index = _skip(text, index + 1)
                    else:
                        break
                if key_at is None or value_at is None:
                    return pos
                if final and at_key:
                    return key_at
                pos = value_at
            else:
                return pos
    except (ValueError, IndexError):  # the text is not what we expected; point at what we have
        return pos
    return pos
