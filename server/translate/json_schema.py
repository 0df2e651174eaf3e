"""JSON Schema checks for caller schemas (function parameters, structured-output schemas).

A schema is checked once at the gateway so a caller learns which keyword at which path is wrong
before anything is sent, instead of an opaque upstream 400 (or, worse, an upstream that ignores
the keyword and returns JSON the caller's validator then rejects).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError

# Keywords whose value is a schema, a list of schemas, or a map of name -> schema.
_SCHEMA_VALUED = ("additionalProperties", "items", "not", "if", "then", "else", "contains")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")


def subschemas(schema: Any, path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every (JSON pointer, schema object) in `schema`, the root first."""
    if not isinstance(schema, Mapping):
        return
    yield path or "/", schema
    for key in _SCHEMA_VALUED:
        value = schema.get(key)
        if isinstance(value, Mapping):
            yield from subschemas(value, f"{path}/{key}")
        elif key == "items" and isinstance(value, list):
            for i, item in enumerate(value):
                yield from subschemas(item, f"{path}/items/{i}")
    for key in _SCHEMA_LISTS:
        for i, item in enumerate(schema.get(key) or []):
            yield from subschemas(item, f"{path}/{key}/{i}")
    for key in _SCHEMA_MAPS:
        members = schema.get(key)
        if isinstance(members, Mapping):
            for name, item in members.items():
                yield from subschemas(item, f"{path}/{key}/{name}")


def schema_problem(schema: Mapping[str, Any], *, object_root: bool = False) -> str | None:
    """Why `schema` is not a valid JSON Schema (2020-12), or None when it is.

    With `object_root`, the schema must describe a JSON object (function arguments always are).
    """
    try:
        jsonschema.Draft202012Validator.check_schema(dict(schema))
    except SchemaError as exc:
        where = "/" + "/".join(str(p) for p in exc.path) if exc.path else "/"
        return f"is not a valid JSON Schema at {where}: {exc.message}"
    if object_root and schema.get("type", "object") != "object":
        return 'must describe an object: set "type": "object"'
    for path, sub in subschemas(schema):
        ref = sub.get("$ref")
        if ref is not None and not _resolves(schema, ref):
            return f"at {path}: $ref {ref!r} points to nothing in this schema (use #/$defs/...)"
    return None


def _resolves(root: Mapping[str, Any], ref: Any) -> bool:
    """True for a local reference ("#", "#/$defs/x") that names a part of `root`."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return False  # remote references cannot be fetched by Vertex
    node: Any = root
    for token in [t for t in ref[1:].split("/") if t]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return isinstance(node, Mapping | bool)


def unsupported_keywords(
    schema: Mapping[str, Any], supported: frozenset[str]
) -> list[tuple[str, str]]:
    """(path, keyword) for every keyword outside `supported`, in document order."""
    found: list[tuple[str, str]] = []
    for path, sub in subschemas(schema):
        found.extend((path, key) for key in sub if key not in supported)
    return found


def arguments_problem(arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> str | None:
    """Why `arguments` do not satisfy `schema`, or None when they do."""
    try:
        validator = jsonschema.Draft202012Validator(dict(schema))
        error = jsonschema.exceptions.best_match(validator.iter_errors(dict(arguments)))
    except Exception as exc:  # a caller's schema can fail in many ways once applied ($ref, ...)
        return f"the declared schema cannot be applied: {type(exc).__name__}"
    if error is None:
        return None
    where = "/" + "/".join(str(p) for p in error.absolute_path) if error.absolute_path else "/"
    return f"at {where}: {error.message}"


def ref_sibling_problem(schema: Mapping[str, Any]) -> str | None:
    """Vertex refuses a `$ref` next to keywords that do not start with `$` (Gemini's rule)."""
    for path, sub in subschemas(schema):
        if "$ref" in sub:
            others = sorted(k for k in sub if not k.startswith("$"))
            if others:
                return (
                    f"at {path}: Vertex takes no other keywords beside $ref (found"
                    f" {', '.join(others)}); wrap the reference as"
                    ' {"anyOf": [{"$ref": ...}], ...}'
                )
    return None
