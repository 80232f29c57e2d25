"""Scale rules: how an input channel's data size turns into a memory request or limit.

Two spellings are accepted (the semantics are in ``docs/scale-rules.md``):

* Kaapana's object ``{scale_factor, type: request|limit, mode: sum|max_file_size|max_item_sum, target_dir,
  target_glob, target_regex}`` — memory = ``scale_factor`` x measured bytes;
* the older ``complexity`` formula, either as ``{"complexity": "1.5*n**1.2", "type": …, "mode": …}`` or as a
  bare string ``"2*n"`` (then ``type`` is ``limit`` and ``mode`` is ``sum``). ``n`` is the measured size
  in MiB and the result is MiB; the formula is parsed by a regular expression, never evaluated as code.

Pure: models and parsing only.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator

from task_api.spec._base import CrossProblem, SpecModel, quote, spec_error
from task_api.spec.fields import RelativePath

__all__ = [
    "COMPLEXITY_PATTERN",
    "Complexity",
    "ScaleRule",
    "ScaleRuleMode",
    "ScaleRuleType",
    "parse_complexity",
]


class ScaleRuleType(enum.StrEnum):
    """Which value a rule raises: the memory request or the memory limit."""

    REQUEST = "request"
    LIMIT = "limit"


class ScaleRuleMode(enum.StrEnum):
    """What size is measured (see docs/scale-rules.md)."""

    SUM = "sum"
    MAX_FILE_SIZE = "max_file_size"
    MAX_ITEM_SUM = "max_item_sum"


_NUM = r"[0-9]+(?:\.[0-9]+)?"
#: The complexity grammar: ``[a *] n [** b] [* c]`` with non-negative decimal numbers a, b, c.
COMPLEXITY_PATTERN = rf"^\s*(?:{_NUM}\s*\*\s*)?n\s*(?:\*\*\s*{_NUM}\s*)?(?:\*\s*{_NUM}\s*)?$"
_COMPLEXITY_RE = re.compile(
    rf"^\s*(?:(?P<a>{_NUM})\s*\*\s*)?n\s*(?:\*\*\s*(?P<b>{_NUM})\s*)?(?:\*\s*(?P<c>{_NUM})\s*)?$"
)
MAX_EXPONENT = Decimal(3)


class Complexity(tuple[Decimal, Decimal]):
    """A parsed formula ``factor * n ** exponent``."""

    @property
    def factor(self) -> Decimal:
        return self[0]

    @property
    def exponent(self) -> Decimal:
        return self[1]


def parse_complexity(text: str) -> Complexity:
    """Parse ``"1.5*n**1.2"`` into (factor 1.5, exponent 1.2) (pure). The error names the grammar."""
    allowed = "a formula in n: 'n', '2*n', 'n**2', '1.5*n**1.2' (0 < factor, 0 < exponent ≤ 3)"
    match = _COMPLEXITY_RE.match(text)
    if match is None:
        raise spec_error("not a complexity formula", given=quote(text), allowed=allowed)
    factor = Decimal(match["a"] or 1) * Decimal(match["c"] or 1)
    exponent = Decimal(match["b"] or 1)
    if factor <= 0 or exponent <= 0 or exponent > MAX_EXPONENT:
        raise spec_error("factor and exponent out of range", given=quote(text), allowed=allowed)
    return Complexity((factor, exponent))


def _none_to_default(default: str) -> Any:
    # Kaapana's models declare these Optional; a JSON null means "use the default".
    def convert(value: Any) -> Any:
        return default if value is None else value

    return BeforeValidator(convert)


def complexity_shorthand(value: Any) -> Any:
    """Expand the bare-string spelling ``"2*n"`` into the object form (pure)."""
    if isinstance(value, str):
        return {"complexity": value, "type": "limit", "mode": "sum"}
    return value


class ScaleRule(SpecModel):
    """How the size of an input channel's data scales the task's memory request or limit."""

    scale_factor: Annotated[float | None, Field(gt=0, le=1e6)] = None
    complexity: str | None = None
    type: ScaleRuleType
    mode: ScaleRuleMode
    target_dir: Annotated[RelativePath, _none_to_default("")] = ""
    target_regex: Annotated[str, _none_to_default(".*")] = ".*"
    target_glob: Annotated[str, _none_to_default("*")] = "*"

    @field_validator("complexity")
    @classmethod
    def _complexity(cls, value: str | None) -> str | None:
        if value is not None:
            parse_complexity(value)
        return value

    @field_validator("target_regex")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise spec_error(
                f"not a regular expression: {exc}", given=quote(value), allowed="a Python regular expression"
            ) from exc
        return value

    @field_validator("target_glob")
    @classmethod
    def _glob(cls, value: str) -> str:
        allowed = "a file-name pattern with * ? [..], without '/' (use target_dir or target_regex for folders)"
        if "/" in value or not value:
            raise spec_error("not a file-name pattern", given=quote(value), allowed=allowed)
        fnmatch.translate(value)
        return value

    @classmethod
    def cross_check(cls, data: Mapping[str, Any]) -> list[CrossProblem]:
        has_factor = data.get("scale_factor") is not None
        has_complexity = data.get("complexity") is not None
        if has_factor == has_complexity:
            return [
                (
                    (),
                    "give exactly one of scale_factor and complexity",
                    "both" if has_factor else "neither",
                    "scale_factor (a number > 0) or complexity (a formula like '2*n')",
                )
            ]
        return []

    @property
    def formula(self) -> Complexity:
        """The rule as ``factor * n ** exponent`` (scale_factor rules have exponent 1)."""
        if self.complexity is not None:
            return parse_complexity(self.complexity)
        return Complexity((Decimal(repr(self.scale_factor)), Decimal(1)))

    def describe(self) -> str:
        """A short human form of the formula, for explanations."""
        if self.complexity is not None:
            return f"complexity {self.complexity.strip()} (n in MiB)"
        return f"{self.scale_factor:g} x bytes"
