"""Turn the bytes of a processing-container.json or task.json into a validated model, or a SpecError.

The steps, each reporting problems with the file name, JSON path and line:column:

1. decode: refuse files over :data:`MAX_BYTES`, empty files, binary files (NUL bytes), non-UTF-8 bytes
   (a UTF-8 byte-order mark is allowed);
2. parse JSON, treating duplicate keys as errors (JSON parsers silently keep the last one) and refusing
   documents nested deeper than :data:`MAX_DEPTH`;
3. for task files, fill ``{{ env.NAME }}`` placeholders inside string values from the given environment
   (an unset variable is an error naming it);
4. validate against the model, gathering *every* problem (see :mod:`task_api.spec._base`).

Everything here is pure: the caller reads the file and passes its bytes and a ``source`` name for messages.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from task_api.spec._base import Collector, Finding
from task_api.spec._jsonpos import line_column, locate
from task_api.spec.errors import Problem, Severity, SpecError, format_path
from task_api.spec.processing_container import ProcessingContainer
from task_api.spec.task import ChannelBinding, Task

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "Document",
    "decode_document",
    "fill_placeholders",
    "parse_processing_container",
    "parse_task",
    "validate_document",
    "validate_processing_container",
    "validate_task",
    "validate_value",
]

#: Larger files are refused: a real processing-container.json is a few kilobytes.
MAX_BYTES = 2 * 1024 * 1024
#: Deeper documents are refused: the real files nest about 6 levels.
MAX_DEPTH = 32

#: Fields whose values are secrets: never shown in messages.
SECRET_FIELDS = frozenset({"registryPassword"})
#: Env vars whose names look like secrets: their values are not shown in messages either.
SECRET_NAME = re.compile(r"(?i)(password|passwd|secret|token|credential|private|api_?key)")

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_ENV_PLACEHOLDER = re.compile(r"^\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*$")

M = TypeVar("M", bound=BaseModel)


@dataclass
class Document:
    """A decoded JSON document: its text (for positions), its value, and problems found while decoding."""

    source: str
    text: str
    value: Any
    findings: list[Finding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: False when ``text`` was made by us (from an already-decoded value): then positions would mislead.
    has_positions: bool = True


def _problem_at(text: str, offset: int, message: str, **kw: Any) -> Problem:
    line, column = line_column(text, offset)
    return Problem(path=kw.pop("path", ""), message=message, line=line, column=column, **kw)


def _depth_offset(text: str, limit: int) -> int | None:
    """Offset of the first bracket nested deeper than ``limit``, ignoring strings (pure)."""
    depth = 0
    for match in re.finditer(r'"(?:\\.|[^"\\])*"|[\[\]{}]', text):
        bracket = match.group()
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return match.start()
        elif bracket in "]}":
            depth -= 1
    return None


def decode_document(data: bytes | str, *, source: str) -> Document:
    """Steps 1 and 2: bytes to a JSON value. Raises SpecError when they are not a usable JSON document."""
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise SpecError(
                source,
                [
                    Problem(
                        path="",
                        message="file is too large",
                        given=f"{len(data)} bytes",
                        allowed=f"at most {MAX_BYTES} bytes",
                    )
                ],
            )
        nul = data.find(b"\x00")
        if nul >= 0:
            raise SpecError(
                source,
                [
                    Problem(
                        path="",
                        message=f"binary file (NUL byte at offset {nul})",
                        allowed="a UTF-8 JSON text",
                    )
                ],
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            raise SpecError(
                source,
                [
                    Problem(
                        path="",
                        message="not UTF-8 text",
                        given=f"byte 0x{data[exc.start]:02x}",
                        allowed="UTF-8",
                        line=line,
                        column=column,
                    )
                ],
            ) from None
    else:
        text = data
        if len(text) > MAX_BYTES:
            raise SpecError(
                source,
                [Problem(path="", message="document is too large", given=f"{len(text)} characters")],
            )
    # A byte-order mark is harmless; Python's json refuses it, so drop it (columns on line 1 shift by one).
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise SpecError(source, [Problem(path="", message="file is empty", allowed="a JSON object")])

    duplicates: list[tuple[dict[str, Any], str]] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                duplicates.append((result, key))
            result[key] = value
        return result

    too_deep = _depth_offset(text, MAX_DEPTH)
    if too_deep is not None:
        raise SpecError(
            source,
            [
                _problem_at(
                    text,
                    too_deep,
                    "nested too deeply",
                    allowed=f"at most {MAX_DEPTH} levels of objects and arrays",
                )
            ],
        )
    try:
        value = json.loads(text, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as exc:
        raise SpecError(
            source,
            [Problem(path="", message=f"malformed JSON: {exc.msg}", line=exc.lineno, column=exc.colno)],
        ) from None
    except RecursionError:  # pragma: no cover - the depth check above refuses such documents first
        raise SpecError(source, [Problem(path="", message="nested too deeply")]) from None

    document = Document(source=source, text=text, value=value)
    for owner, key in duplicates:
        document.findings.append(
            Finding(
                owner=id(owner),
                subpath=(key,),
                message="duplicate key (JSON parsers silently keep the last value)",
                given=repr(key),
                allowed="each key once per object",
                at_key=True,
            )
        )
    if not isinstance(value, dict):
        raise SpecError(
            source,
            [
                Problem(
                    path="",
                    message="the document must be a JSON object",
                    given=_json_type(value),
                    allowed="an object {…}",
                    line=1,
                    column=1,
                )
            ],
        )
    return document


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _walk(value: Any, loc: tuple[str | int, ...] = ()) -> Iterator[tuple[Any, tuple[str | int, ...]]]:
    """Every container in a JSON value with its location, depth first, without recursion (pure)."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, loc)]
    while stack:
        node, here = stack.pop()
        if isinstance(node, dict):
            yield node, here
            stack.extend((v, (*here, k)) for k, v in node.items())
        elif isinstance(node, list):
            yield node, here
            stack.extend((v, (*here, i)) for i, v in enumerate(node))


def fill_placeholders(
    document: Document,
    environ: Mapping[str, str],
    *,
    optional: frozenset[tuple[str, ...]] | None = None,
) -> None:
    """Step 3: replace ``{{ env.NAME }}`` in string values, in place; problems go to ``document`` (pure).

    An unset variable is an error naming it, except where the whole value would be empty and its field is
    ``optional`` (a path such as ``("config", "namespace")``; default: :attr:`Task.unset_means_absent`): then the
    value becomes ``""`` — "not set", as Kaapana's rendering leaves it — and a warning says so.
    """
    optional = Task.unset_means_absent if optional is None else optional
    for node, here in list(_walk(document.value)):
        items: list[tuple[Any, Any]] = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        for key, value in items:
            if not isinstance(value, str) or "{{" not in value:
                continue
            missing: list[str] = []
            unsupported: list[str] = []

            def replace(match: re.Match[str], missing: list[str] = missing, bad: list[str] = unsupported) -> str:
                found = _ENV_PLACEHOLDER.match(match.group(1))
                if found is None:
                    bad.append(match.group(0))
                    return match.group(0)
                name = found.group(1)
                if name not in environ:
                    missing.append(name)
                    return match.group(0)
                return environ[name]

            filled = _PLACEHOLDER.sub(replace, value)
            loc = (*here, key)
            if missing and not unsupported and loc in optional and not _PLACEHOLDER.sub("", filled).strip():
                # Kaapana renders an unset variable as "" and its models read "" in these fields as "not set".
                document.problems.append(
                    _located(
                        document,
                        loc,
                        f"environment variable {', '.join(missing)} is not set: this optional field is left unset",
                        given=value[:60],
                        severity=Severity.WARNING,
                    )
                )
                node[key] = ""
                continue
            for name in missing:
                document.problems.append(
                    _located(
                        document,
                        loc,
                        f"environment variable {name} is not set",
                        given="{{ env." + name + " }}",
                        allowed=f"export {name} before running",
                    )
                )
            for text in unsupported:
                document.problems.append(
                    _located(
                        document,
                        loc,
                        "unsupported placeholder",
                        given=text[:60],
                        allowed="{{ env.NAME }}",
                    )
                )
            node[key] = filled


def _position(
    document: Document, loc: tuple[str | int, ...], *, at_key: bool = False, last: bool = True
) -> tuple[int | None, int | None]:
    """Line and column of ``loc`` in the document's text (None, None for a document built in memory)."""
    if not document.has_positions:
        return None, None
    return line_column(document.text, locate(document.text, loc, at_key=at_key, last=last))


def _located(document: Document, loc: tuple[str | int, ...], message: str, **kw: Any) -> Problem:
    line, column = _position(document, loc)
    return Problem(path=format_path(loc), message=message, line=line, column=column, **kw)


#: Pydantic inserts union tags and key markers into error locations; they are not part of the JSON path.
_TAGS_AFTER = {"taskTemplate": {"by-name", "inline"}, "config": {"docker", "k8s"}}


def _clean_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    out: list[str | int] = []
    for part in loc:
        if part == "[key]":
            continue
        if out and isinstance(out[-1], str) and part in _TAGS_AFTER.get(out[-1], ()):
            continue
        if isinstance(part, str) and "[" in part and part.endswith("]"):  # e.g. function-after[...]
            continue
        out.append(part)
    return tuple(out)


#: Deprecated spellings the models read (old key -> field): problems inside them are reported where the file has them.
_RENAMED: Mapping[str, str] = {**ChannelBinding.renamed_keys}


def _as_spelled(root: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """``loc`` with each field the file spells the deprecated way spelled as in the file (pure)."""
    node = root
    out: list[str | int] = []
    for part in loc:
        if isinstance(node, dict) and part not in node:
            part = next((old for old, new in _RENAMED.items() if new == part and old in node), part)  # noqa: PLW2901
        out.append(part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return tuple(out)


def _get(root: Any, loc: tuple[str | int, ...]) -> Any:
    node = root
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _is_secret(root: Any, loc: tuple[str | int, ...]) -> bool:
    if any(part in SECRET_FIELDS for part in loc):
        return True
    if loc and loc[-1] == "value":
        parent = _get(root, loc[:-1])
        name = parent.get("name") if isinstance(parent, dict) else None
        return isinstance(name, str) and bool(SECRET_NAME.search(name))
    return False


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return _json_type(value)
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "…"


def _translate(document: Document, error: Mapping[str, Any]) -> Problem:
    loc = _clean_loc(tuple(error["loc"]))
    kind = error["type"]
    ctx = error.get("ctx") or {}
    message = str(error["msg"]).removeprefix("Value error, ")
    given: str | None = None if kind == "missing" else _show(error.get("input"))
    allowed: str | None = None
    if kind == "spec":
        message = ctx.get("message", message)
        given = ctx.get("given", given)
        allowed = ctx.get("allowed")
        loc = (*loc, *ctx.get("subpath", ()))
    elif kind == "missing":
        message = "required field is missing"
    elif kind in ("literal_error", "enum"):
        message = "not an allowed value"
        allowed = str(ctx.get("expected", ""))
    elif kind == "union_tag_invalid":
        message = "unknown config type"
        allowed = str(ctx.get("expected_tags", ""))
    elif kind == "union_tag_not_found":
        loc = (*loc, str(ctx.get("discriminator", "type")).strip("'"))
        message = "required field is missing"
        allowed = "'docker' or 'k8s'"
        given = None
    elif kind in ("model_type", "dict_type", "model_attributes_type"):
        message = "must be an object"
    elif kind == "list_type":
        message = "must be an array"
    elif kind == "string_type":
        message = "must be a string"
    elif kind == "extra_forbidden":
        message = "unknown field"
    loc = _as_spelled(document.value, loc)
    if _is_secret(document.value, loc):
        given = "<redacted>" if given is not None else None
    at_key = kind == "extra_forbidden"
    line, column = _position(document, loc, at_key=at_key)
    return Problem(path=format_path(loc), message=message, given=given, allowed=allowed, line=line, column=column)


def _finding_problem(document: Document, finding: Finding, paths: Mapping[int, tuple[str | int, ...]]) -> Problem:
    base = paths.get(finding.owner, ())
    loc = (*base, *finding.subpath)
    given = finding.given
    if given is not None and _is_secret(document.value, loc):
        given = "<redacted>"
    line, column = _position(document, loc, at_key=finding.at_key, last=finding.at_key)
    return Problem(
        path=format_path(loc),
        message=finding.message,
        given=given,
        allowed=finding.allowed,
        line=line,
        column=column,
        severity=finding.severity,
    )


def validate_document(document: Document, model: type[M], *, warnings: list[Problem] | None = None) -> M:
    """Step 4: validate a decoded document; SpecError lists every problem, sorted by position (pure).

    On success the warnings (a deprecated spelling, an unset placeholder left out) are appended to ``warnings``
    when a list is given.
    """
    collector = Collector()
    result: M | None = None
    problems = list(document.problems)
    try:
        result = model.model_validate(document.value, context={"collector": collector})
    except ValidationError as exc:
        problems += [_translate(document, e) for e in exc.errors(include_url=False)]
    paths = {id(node): here for node, here in _walk(document.value)}
    problems += [_finding_problem(document, f, paths) for f in [*document.findings, *collector.findings]]
    # A value whose placeholder could not be filled is already reported; its knock-on errors would only confuse.
    unfilled = {p.path for p in document.problems if p.severity is Severity.ERROR}
    problems = [p for p in problems if p in document.problems or p.path not in unfilled]
    if not document.has_positions:
        problems = [dataclasses.replace(p, line=None, column=None) for p in problems]
    errors = [p for p in problems if p.severity is Severity.ERROR]
    unique = list(dict.fromkeys(problems))
    unique.sort(key=lambda p: (p.line or 0, p.column or 0, p.path))
    if errors or result is None:
        raise SpecError(document.source, unique)
    if warnings is not None:
        warnings.extend(unique)
    return result


def parse_processing_container(data: bytes | str, *, source: str) -> ProcessingContainer:
    """Decode and validate a processing-container.json (pure). Raises SpecError with every problem."""
    return validate_document(decode_document(data, source=source), ProcessingContainer)


def parse_task(
    data: bytes | str, *, source: str, environ: Mapping[str, str], warnings: list[Problem] | None = None
) -> Task:
    """Decode a task.json, fill ``{{ env.NAME }}`` from ``environ`` and validate (pure). Raises SpecError.

    Warnings go to ``warnings`` when a list is given.
    """
    document = decode_document(data, source=source)
    fill_placeholders(document, environ, optional=Task.unset_means_absent)
    return validate_document(document, Task, warnings=warnings)


def _from_value(value: Any, *, source: str) -> Document:
    # Round-trip through JSON text so the same checks (depth, duplicate keys cannot occur) apply.
    document = decode_document(json.dumps(value), source=source)
    document.has_positions = False
    return document


def validate_value(value: Any, model: type[M], *, source: str) -> M:
    """Validate a value built in memory (a custom resource's fields) with the same checks and messages as a file,
    without positions and without placeholder filling: a literal ``{{`` in it stays as written (pure)."""
    return validate_document(Document(source=source, text="", value=value, has_positions=False), model)


def validate_processing_container(value: Any, *, source: str) -> ProcessingContainer:
    """Validate an already-decoded value (e.g. a custom resource's spec) with the same messages, no positions
    (pure)."""
    return validate_document(_from_value(value, source=source), ProcessingContainer)


def validate_task(value: Any, *, source: str) -> Task:
    """Validate an already-decoded task value (placeholders are not filled), no positions (pure)."""
    return validate_document(_from_value(value, source=source), Task)
