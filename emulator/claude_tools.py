"""Deterministic tool inputs for the emulator's ``tool_use`` blocks, made from the tool's JSON
Schema (``input_schema``): one that validates, and one that does not (``EMULATOR_MALFORMED_CALL``).

Understood: ``type`` (also a list of types), ``properties`` / ``required`` /
``additionalProperties``, ``enum``, ``const``, ``minimum`` / ``maximum`` (and the exclusive forms),
``multipleOf``, ``minLength`` / ``maxLength``, common string ``format`` values, ``items`` /
``prefixItems`` / ``minItems`` / ``maxItems`` / ``uniqueItems``, ``anyOf`` / ``oneOf`` /
``allOf``, ``$ref`` to ``#/$defs/…`` or ``#/definitions/…``, and ``default``. The result is
checked with ``jsonschema``; if it does not validate, the required properties alone are tried.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import jsonschema

_MAX_DEPTH = 8
_FORMATS = {
    "date-time": "2025-01-01T12:00:00Z",
    "date": "2025-01-01",
    "time": "12:00:00Z",
    "email": "emulator@example.com",
    "uri": "https://example.com/emulator",
    "url": "https://example.com/emulator",
    "hostname": "emulator.example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    seen = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < _MAX_DEPTH:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            return {}
        target: Any = root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest} if isinstance(target, dict) else rest
        seen += 1
    return schema


def _merge_all_of(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema.get("allOf") or []:
        part = _resolve(part, root)
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return "string"


def _string(schema: dict[str, Any], name: str, salt: int) -> str:
    value = _FORMATS.get(str(schema.get("format")), f"emulator {name}".strip())
    suffix = f" {salt}" if salt else ""
    low = int(schema.get("minLength", 0))
    high = schema.get("maxLength")
    if isinstance(high, int) and len(value) + len(suffix) > high:
        value = value[: max(0, high - len(suffix))]
        suffix = suffix[-high:] if high > 0 else ""
    value += suffix
    if len(value) < low:
        value += "x" * (low - len(value))
    return value


def _number(schema: dict[str, Any], integer: bool, salt: int) -> int | float:
    low = schema.get("minimum")
    high = schema.get("maximum")
    xlow = schema.get("exclusiveMinimum")
    xhigh = schema.get("exclusiveMaximum")
    step = schema.get("multipleOf")
    lo = -math.inf if low is None else float(low)
    hi = math.inf if high is None else float(high)
    if isinstance(xlow, int | float) and not isinstance(xlow, bool):
        lo = max(lo, float(xlow) + (1 if integer else 1e-6))
    if isinstance(xhigh, int | float) and not isinstance(xhigh, bool):
        hi = min(hi, float(xhigh) - (1 if integer else 1e-6))
    base = 3 + salt if integer else 2.5 + salt
    value = min(max(float(base), lo), hi)
    if isinstance(step, int | float) and step > 0:
        value = math.ceil(value / step) * step
        if value > hi:
            value -= step
    if integer:
        return math.ceil(value) if value <= hi else math.floor(value)
    return value


def _example(schema: Any, root: dict[str, Any], name: str, depth: int, salt: int = 0) -> Any:
    schema = _resolve(schema, root)
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return f"emulator {name}".strip()
    if "allOf" in schema:
        schema = _merge_all_of(schema, root)
    if "const" in schema:
        return copy.deepcopy(schema["const"])
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return copy.deepcopy(schema["enum"][salt % len(schema["enum"])])
    for key in ("anyOf", "oneOf"):
        options = [o for o in schema.get(key) or [] if _resolve(o, root) != {"type": "null"}]
        if options:
            return _example(options[0], root, name, depth + 1, salt)
    if "default" in schema and not salt:
        return copy.deepcopy(schema["default"])
    kind = _type_of(schema)
    if kind == "object":
        return _object(schema, root, depth, optional=True)
    if kind == "array":
        return _array(schema, root, name, depth)
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer", salt)
    if kind == "boolean":
        return salt % 2 == 0
    if kind == "null":
        return None
    return _string(schema, name, salt)


def _object(schema: dict[str, Any], root: dict[str, Any], depth: int, *, optional: bool) -> Any:
    properties = schema.get("properties") or {}
    required = [r for r in schema.get("required") or [] if isinstance(r, str)]
    out: dict[str, Any] = {}
    for key, sub in properties.items():
        if optional or key in required:
            out[key] = _example(sub, root, key, depth + 1)
    for key in required:
        if key not in out:
            extra = schema.get("additionalProperties")
            out[key] = _example(extra if isinstance(extra, dict) else {}, root, key, depth + 1)
    return out


def _array(schema: dict[str, Any], root: dict[str, Any], name: str, depth: int) -> list[Any]:
    prefix = schema.get("prefixItems") or []
    items = schema.get("items")
    count = max(int(schema.get("minItems", 1)), len(prefix))
    high = schema.get("maxItems")
    if isinstance(high, int):
        count = min(count, high)
    out: list[Any] = []
    for i in range(count):
        sub = prefix[i] if i < len(prefix) else items if isinstance(items, dict) else {}
        salt = i if schema.get("uniqueItems") else 0
        out.append(_example(sub, root, name, depth + 1, salt))
    return out


def _validator(schema: dict[str, Any]) -> Any:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)


def schema_is_valid(schema: Any) -> bool:
    """True when ``schema`` is a valid JSON Schema (draft 2020-12), as Anthropic requires."""
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError:
        return False
    return True


def is_valid(schema: dict[str, Any], value: Any) -> bool:
    """True when ``value`` validates against ``schema`` (an unusable schema accepts anything)."""
    try:
        return bool(_validator(schema).is_valid(value))
    except Exception:  # a schema jsonschema cannot apply (bad $ref, unknown type …)
        return True


def example_input(schema: dict[str, Any]) -> dict[str, Any]:
    """A deterministic object that validates against ``schema`` (best effort)."""
    try:
        return _example_input(schema)
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError):
        return {}


def _example_input(schema: dict[str, Any]) -> dict[str, Any]:
    schema = schema if isinstance(schema, dict) else {}
    full = _example(schema, schema, "", 0)
    if isinstance(full, dict) and is_valid(schema, full):
        return full
    resolved = _resolve(schema, schema)
    if isinstance(resolved, dict):
        if "allOf" in resolved:
            resolved = _merge_all_of(resolved, schema)
        minimal = _object(resolved, schema, 0, optional=False)
        if is_valid(schema, minimal):
            return dict(minimal)
    return full if isinstance(full, dict) else {}


def malformed_input(schema: dict[str, Any]) -> dict[str, Any]:
    """An object that does NOT validate against ``schema``: a required property left out, else a
    property of the wrong type, else an unexpected property."""
    schema = schema if isinstance(schema, dict) else {}
    good = example_input(schema)
    try:
        return _broken(schema, good)
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError):
        return {**good, "__emulator_unexpected__": [None]}


def _broken(schema: dict[str, Any], good: dict[str, Any]) -> dict[str, Any]:
    resolved = _resolve(schema, schema)
    resolved = resolved if isinstance(resolved, dict) else {}
    required = [r for r in resolved.get("required") or [] if r in good]
    if required:
        candidate = {k: v for k, v in good.items() if k != required[0]}
        if not is_valid(schema, candidate):
            return candidate
    for key, value in good.items():
        wrong: Any = 12345 if isinstance(value, str) else "not-a-" + type(value).__name__
        candidate = {**good, key: wrong}
        if not is_valid(schema, candidate):
            return candidate
    return {**good, "__emulator_unexpected__": [None]}
