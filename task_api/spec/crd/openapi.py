"""Turn a pydantic model's JSON Schema into a Kubernetes *structural* OpenAPI v3 schema. Pure.

Structural schemas forbid ``$ref``, ``additionalProperties`` beside ``properties``, and ``anyOf`` that declares
types; every node must carry a ``type``. Pydantic's output is rewritten accordingly:

* ``$ref`` → the referenced definition, inlined;
* ``anyOf: [X, {type: null}]`` (an optional field) → ``X``;
* ``int | str`` values (Kubernetes quantities) → ``x-kubernetes-int-or-string: true``;
* ``dict[str, Any]`` / untyped objects → ``x-kubernetes-preserve-unknown-fields: true``;
* titles and defaults dropped (defaults are applied by the models, not by the API server).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_DROP = {"title", "default", "examples"}


def structural_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Pure: convert a pydantic JSON Schema document into a structural schema."""
    defs: Mapping[str, Any] = schema.get("$defs", {})
    return _convert(schema, defs)


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    target = defs[ref.rsplit("/", 1)[-1]]
    merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return _resolve(merged, defs)


def _is_int_or_string(options: list[Mapping[str, Any]]) -> bool:
    return sorted(o.get("type", "") for o in options) == ["integer", "string"]


def _convert(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    node = _resolve(node, defs)
    options = node.get("anyOf")
    if options is not None:
        non_null = [_resolve(o, defs) for o in options if o.get("type") != "null"]
        extra = {k: v for k, v in node.items() if k != "anyOf"}
        if _is_int_or_string(non_null):
            out: dict[str, Any] = {"x-kubernetes-int-or-string": True}
            out.update(_plain(extra))
            return out
        if len(non_null) == 1:
            return _convert({**non_null[0], **extra}, defs)
        raise ValueError(f"cannot express anyOf {options!r} in a structural schema")
    out = _plain(node)
    kind = node.get("type")
    if "const" in node:
        out.pop("const", None)
        out["enum"] = [node["const"]]
        out.setdefault("type", "string")
    if kind == "object" or "properties" in node:
        out["type"] = "object"
        props = node.get("properties")
        if props:
            out["properties"] = {name: _convert(sub, defs) for name, sub in props.items()}
            if node.get("required"):
                out["required"] = list(node["required"])
        else:
            additional = node.get("additionalProperties")
            if isinstance(additional, Mapping) and additional:
                out["additionalProperties"] = _convert(additional, defs)
            else:
                out["x-kubernetes-preserve-unknown-fields"] = True
    elif kind == "array":
        out["items"] = _convert(node.get("items", {}), defs) if node.get("items") else {"type": "string"}
    return out


def _plain(node: Mapping[str, Any]) -> dict[str, Any]:
    """Copy the keywords that need no rewriting."""
    skip = _DROP | {"$defs", "properties", "required", "additionalProperties", "items", "anyOf", "$ref"}
    out = {k: v for k, v in node.items() if k not in skip}
    # JSON Schema's 'maxLength' on arrays comes out of pydantic as maxItems already; nothing else to rename.
    return out
