"""The base model of every spec object, and the reusable field types.

Why a custom base: pydantic stops at the first failing validator of an object and reports unknown keys
without a hint. Files written by hand deserve better, so :class:`SpecModel`

* allows *extension keys* — any key starting with ``x-`` — at every object level and ignores them (the OpenAPI
  convention; this is the one documented place for tool-specific data);
* reports every other unknown key with a "did you mean" hint;
* runs each model's cross-field checks (:meth:`SpecModel.cross_check`) on the raw input, so a file with a bad
  field *and* two overlapping channels reports both.

When validation runs through :mod:`task_api.spec.load`, a :class:`Collector` travels in pydantic's validation
context and the findings are gathered there, keyed by the identity of the raw JSON object they belong to; the
loader turns identities into JSON paths and line:column positions. Without a collector (someone calls
``model_validate`` directly) unknown keys fall back to pydantic's ``extra_forbidden`` error and the first
cross-field problem becomes an ordinary validation error.

Pure: no I/O.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ModelWrapValidatorHandler,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from task_api.spec.errors import Severity

__all__ = [
    "EXTENSION_PREFIX",
    "Collector",
    "Finding",
    "ScalarStr",
    "SpecModel",
    "did_you_mean",
    "quote",
]

#: Keys starting with this prefix are extension keys: allowed everywhere, ignored by task-api.
EXTENSION_PREFIX = "x-"
_EXTENSION_PATTERN = "^x-"


@dataclass(frozen=True)
class Finding:
    """A problem found by a validator, located relative to a raw JSON object (by its identity)."""

    owner: int
    subpath: tuple[str | int, ...]
    message: str
    given: str | None = None
    allowed: str | None = None
    severity: Severity = Severity.ERROR
    #: True when the position to report is the key itself (unknown or duplicate keys), not its value.
    at_key: bool = False


@dataclass
class Collector:
    """Gathers findings during one validation run (in pydantic's validation context as ``"collector"``)."""

    findings: list[Finding] = field(default_factory=list)
    _seen: set[tuple[int, tuple[str | int, ...], str]] = field(default_factory=set)

    def add(self, finding: Finding) -> None:
        # Union members may validate the same raw object twice; report each finding once.
        key = (finding.owner, finding.subpath, finding.message)
        if key not in self._seen:
            self._seen.add(key)
            self.findings.append(finding)


def did_you_mean(word: str, candidates: list[str]) -> str | None:
    """The closest candidate to ``word``, or None when nothing is close (pure)."""
    lowered = {c.lower(): c for c in candidates}
    if word.lower() in lowered:
        return lowered[word.lower()]
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _collector(info: ValidationInfo) -> Collector | None:
    context = info.context
    if isinstance(context, Mapping):
        found = context.get("collector")
        if isinstance(found, Collector):
            return found
    return None


#: A cross-field check returns (subpath, message, given, allowed) tuples about the raw object it was given.
CrossProblem = tuple[tuple[str | int, ...], str, str | None, str | None]


class SpecModel(BaseModel):
    """Base of the models read from files: unknown keys are errors with hints, ``x-*`` keys are extensions."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        # Build validators on first use: `task-api validate pc.json` never pays for the task models.
        defer_build=True,
        json_schema_extra={"patternProperties": {_EXTENSION_PATTERN: {}}},
    )

    #: Keys tolerated without a field (e.g. ``$schema`` at the top of a file); subclasses extend this.
    tolerated_keys: ClassVar[frozenset[str]] = frozenset()
    #: Deprecated spellings of fields, ``{old key: field key}``: read as the field, with a warning saying what to
    #: write instead; giving both is an error.
    renamed_keys: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def cross_check(cls, data: Mapping[str, Any]) -> list[CrossProblem]:
        """Checks spanning several fields, run on the raw mapping so they run even when a field is invalid.

        Implementations must be defensive: the raw data may have any shape. Pure.
        """
        return []

    @classmethod
    def _known_keys(cls) -> list[str]:
        keys: list[str] = []
        for name, info in cls.model_fields.items():
            keys.append(info.alias or name)
        return keys

    @model_validator(mode="wrap")
    @classmethod
    def _spec_checks(cls, data: Any, handler: ModelWrapValidatorHandler[Any], info: ValidationInfo) -> Any:
        if not isinstance(data, Mapping):
            return handler(data)
        collector = _collector(info)
        known = cls._known_keys()
        names = set(known) | set(cls.model_fields)
        kept: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(key, str) and (key.startswith(EXTENSION_PREFIX) or key in cls.tolerated_keys):
                continue
            if key in cls.renamed_keys and key not in names:
                cls._rename(data, str(key), value, kept, collector)
                continue
            if key in names or collector is None:
                kept[key] = value
                continue
            hint = did_you_mean(str(key), known)
            collector.add(
                Finding(
                    owner=id(data),
                    subpath=(str(key),),
                    message="unknown field" + (f" (did you mean {hint!r}?)" if hint else ""),
                    given=quote(key),
                    allowed=", ".join(known) + f", or an extension key starting with {EXTENSION_PREFIX!r}",
                    at_key=True,
                )
            )
        problems = cls.cross_check(kept)
        if collector is not None:
            for subpath, message, given, allowed in problems:
                collector.add(Finding(id(data), subpath, message, given, allowed))
            return handler(kept)
        result = handler(kept)
        if problems:
            subpath, message, given, allowed = problems[0]
            raise PydanticCustomError(
                "spec",
                "{message}",
                {"message": message, "given": given, "allowed": allowed, "subpath": subpath},
            )
        return result

    @classmethod
    def _rename(
        cls, data: Mapping[str, Any], key: str, value: Any, kept: dict[str, Any], collector: Collector | None
    ) -> None:
        current = cls.renamed_keys[key]
        if current in data:
            finding = Finding(
                owner=id(data),
                subpath=(key,),
                message=f"{key!r} is a deprecated spelling of {current!r}, which is given too: remove {key!r}",
                given=quote(key),
                allowed=quote(current),
                at_key=True,
            )
            if collector is None:
                raise PydanticCustomError(
                    "spec", "{message}", {"message": finding.message, "given": finding.given, "subpath": (key,)}
                )
            collector.add(finding)
            return
        kept[current] = value
        if collector is not None:
            collector.add(
                Finding(
                    owner=id(data),
                    subpath=(key,),
                    message=f"deprecated spelling: write {current!r} instead of {key!r} (same content)",
                    given=quote(key),
                    allowed=quote(current),
                    severity=Severity.WARNING,
                    at_key=True,
                )
            )


def _scalar_to_str(value: Any) -> Any:
    # JSON numbers and booleans are kept in their JSON spelling ("3", "1.5", "true"), because an environment
    # variable is a string in the end; Kaapana rejects them outright, which users trip over.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return value


#: A string field that also accepts a JSON number or boolean, stored as its string form.
ScalarStr = Annotated[
    str,
    BeforeValidator(_scalar_to_str),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]


def spec_error(message: str, *, given: str | None = None, allowed: str | None = None) -> PydanticCustomError:
    """A pydantic error carrying ``given``/``allowed`` for the loader to show (pure)."""
    return PydanticCustomError("spec", "{message}", {"message": message, "given": given, "allowed": allowed})


Check = Callable[[Mapping[str, Any]], list[CrossProblem]]


def quote(value: Any) -> str:
    """How a given value is shown in messages: its JSON spelling, as it looks in the file (pure)."""
    return json.dumps(value, ensure_ascii=False, default=str)
