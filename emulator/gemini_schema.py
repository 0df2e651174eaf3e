"""Schemas in Gemini requests: deterministic values that fit them, and Vertex's keyword rules.

Two schema dialects reach Vertex:

* JSON Schema (``parametersJsonSchema``, ``responseJsonSchema``): ``$ref``/``$defs``/``$anchor``,
  ``anyOf``/``oneOf``, ``enum``, ``items``/``prefixItems``, bounds, ``properties``/``required``...
* the OpenAPI subset (``parameters``, ``responseSchema``): upper-case ``type`` names,
  ``nullable``, ``ref``/``defs`` without ``$``, int64 bounds sent as strings.

:func:`json_schema_from_openapi` turns the second into the first, so one generator serves both.
:func:`generate` builds a value that validates against the schema (checked with ``jsonschema``
where a choice between branches matters). Keywords Vertex does not support in JSON Schema
(``allOf``, ``not``, ``if``, ``patternProperties``, ``const``, ``default``, ``$schema``, ...) are
accepted and ignored by Vertex; the generator still honours the cheap ones (``const``, ``allOf``,
string lengths, exclusive bounds) so that replies validate.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import jsonschema
import jsonschema.validators

# Optional properties are filled in down to this depth; below it only required ones are.
_OPTIONAL_DEPTH = 3
# Deeper than this only the cheapest value is produced (cyclic schemas stay finite).
_MAX_DEPTH = 24
_PATTERN_GUESSES = ("emulator", "a", "A", "0", "abc", "ABC", "a1", "A1", "x", "2025-01-01")
_OPENAPI_TYPES = {
    "STRING": "string",
    "NUMBER": "number",
    "INTEGER": "integer",
    "BOOLEAN": "boolean",
    "ARRAY": "array",
    "OBJECT": "object",
    "NULL": "null",
}
_OPENAPI_SCHEMA_LISTS = ("anyOf",)
_OPENAPI_INT_FIELDS = (
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
)
_OPENAPI_COPIED = (
    "format",
    "title",
    "description",
    "enum",
    "required",
    "minimum",
    "maximum",
    "pattern",
    "default",
    "propertyOrdering",
)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def json_schema_from_openapi(schema: Any) -> Any:
    """Translate a Vertex ``Schema`` (OpenAPI subset) into the equivalent JSON Schema."""
    if not isinstance(schema, dict):
        return {}
    out: dict[str, Any] = {}
    kind = schema.get("type")
    json_type = _OPENAPI_TYPES.get(str(kind).upper()) if isinstance(kind, str) else None
    if json_type is not None:
        out["type"] = [json_type, "null"] if schema.get("nullable") is True else json_type
    for key in _OPENAPI_COPIED:
        if schema.get(key) is not None:
            out[key] = schema[key]
    for key in _OPENAPI_INT_FIELDS:
        number = _as_int(schema.get(key))
        if number is not None:
            out[key] = number
    if isinstance(schema.get("items"), dict):
        out["items"] = json_schema_from_openapi(schema["items"])
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {
            name: json_schema_from_openapi(sub) for name, sub in schema["properties"].items()
        }
    for key in _OPENAPI_SCHEMA_LISTS:
        if isinstance(schema.get(key), list):
            out[key] = [json_schema_from_openapi(sub) for sub in schema[key]]
    extra = schema.get("additionalProperties")
    if isinstance(extra, bool):
        out["additionalProperties"] = extra
    elif isinstance(extra, dict):
        out["additionalProperties"] = json_schema_from_openapi(extra)
    if isinstance(schema.get("ref"), str):
        out["$ref"] = schema["ref"].replace("#/defs/", "#/$defs/")
    if isinstance(schema.get("defs"), dict):
        out["$defs"] = {name: json_schema_from_openapi(sub) for name, sub in schema["defs"].items()}
    if schema.get("nullable") is True and json_type is None and "anyOf" in out:
        out["anyOf"].append({"type": "null"})
    return out


def _pointer(root: Any, fragment: str) -> Any:
    node = root
    for raw in fragment.lstrip("/").split("/") if fragment.strip("/") else []:
        token = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def _subschemas(schema: Any) -> Iterator[Any]:
    if isinstance(schema, dict):
        yield schema
        for value in schema.values():
            yield from _subschemas(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _subschemas(value)


class _Generator:
    """Builds one value for a schema; ``vary`` shifts enum picks and string texts."""

    def __init__(self, root: Any, vary: int) -> None:
        self.root = root
        self.vary = vary
        self._anchors: dict[str, Any] = {}
        for node in _subschemas(root):
            for key in ("$anchor", "$id"):
                if isinstance(node.get(key), str):
                    self._anchors.setdefault(node[key].lstrip("#"), node)
        self._validator: Any = None

    def _is_valid(self, value: Any, schema: Any) -> bool:
        try:
            if self._validator is None:
                cls = jsonschema.validators.validator_for(
                    self.root, jsonschema.Draft202012Validator
                )
                self._validator = cls(self.root)
            return bool(self._validator.evolve(schema=schema).is_valid(value))
        except Exception:  # an odd schema jsonschema cannot handle: do not second-guess it
            return True

    def resolve(self, ref: str) -> Any:
        """The schema a ``$ref`` points at ({} when it cannot be found)."""
        base, _, fragment = ref.partition("#")
        if not base and (not fragment or fragment.startswith("/")):
            found = _pointer(self.root, fragment)
        elif base:
            found = self._anchors.get(base)
            if found is not None and fragment.startswith("/"):
                found = _pointer(found, fragment)
        else:
            found = self._anchors.get(fragment)
        return found if found is not None else {}

    def value(self, schema: Any, name: str, depth: int, index: int = 0) -> Any:
        if depth > 2 * _MAX_DEPTH:  # a pathological self-referencing schema: give up politely
            return None
        if schema is True or schema is None:
            return self._string({}, name, index)
        if not isinstance(schema, dict):
            return None
        if isinstance(schema.get("$ref"), str):
            if depth > _MAX_DEPTH:
                return {}
            return self.value(self.resolve(schema["$ref"]), name, depth + 1, index)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("allOf"), list) and schema["allOf"]:
            return self.value(self._merged(schema), name, depth + 1, index)
        for key in ("oneOf", "anyOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return self._choice(schema, key, name, depth, index)
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return enum[(self.vary + index) % len(enum)]
        kind = self._type(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind == "integer":
            return self._integer(schema, index)
        if kind == "number":
            return self._number(schema, index)
        if kind == "boolean":
            return index % 2 == 0
        if kind == "null":
            return None
        return self._string(schema, name, index)

    def _merged(self, schema: dict[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            for _ in range(_MAX_DEPTH):
                if not (isinstance(part, dict) and isinstance(part.get("$ref"), str)):
                    break
                part = self.resolve(part["$ref"])
            if not isinstance(part, dict):
                continue
            for key, value in part.items():
                if key == "properties" and isinstance(value, dict):
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required" and isinstance(value, list):
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged.setdefault(key, value)
        return merged

    def _choice(self, schema: dict[str, Any], key: str, name: str, depth: int, index: int) -> Any:
        rest = {k: v for k, v in schema.items() if k != key}
        options = [o for o in schema[key] if isinstance(o, dict | bool)]
        ordered = [o for o in options if not _is_null_schema(o)] + [
            o for o in options if _is_null_schema(o)
        ]
        first: Any = None
        for n, option in enumerate(ordered):
            candidate_schema = {**rest, **option} if isinstance(option, dict) else option
            value = self.value(candidate_schema, name, depth + 1, index)
            if n == 0:
                first = value
            if key == "anyOf" or sum(self._is_valid(value, o) for o in options) == 1:
                return value
        return first

    @staticmethod
    def _type(schema: dict[str, Any]) -> str:
        kind = schema.get("type")
        if isinstance(kind, list):
            real = [k for k in kind if k != "null"]
            kind = real[0] if real else "null"
        if isinstance(kind, str):
            return kind
        if any(k in schema for k in ("properties", "required", "additionalProperties")):
            return "object"
        if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
            return "array"
        if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
            return "number"
        return "string"

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        raw_props = schema.get("properties")
        props: dict[str, Any] = raw_props if isinstance(raw_props, dict) else {}
        required = [r for r in schema.get("required") or [] if isinstance(r, str)]
        ordering = [p for p in schema.get("propertyOrdering") or [] if p in props]
        names = ordering + [p for p in props if p not in ordering]
        names += [r for r in required if r not in names]
        keep_optional = depth < _OPTIONAL_DEPTH
        out: dict[str, Any] = {}
        for prop in names:
            if prop in required or keep_optional:
                out[prop] = self.value(props.get(prop, {}), prop, depth + 1)
        extra = schema.get("additionalProperties")
        wanted = _as_int(schema.get("minProperties")) or (1 if not props and extra else 0)
        k = 0
        while len(out) < wanted and extra is not False and k < 64:
            k += 1
            key = f"key{k}"
            if key not in out:
                out[key] = self.value(extra if isinstance(extra, dict) else {}, key, depth + 1)
        limit = _as_int(schema.get("maxProperties"))
        if limit is not None and len(out) > limit:
            for prop in [p for p in reversed(list(out)) if p not in required]:
                if len(out) <= limit:
                    break
                del out[prop]
        return out

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        items = schema.get("items")
        if not isinstance(prefix, list):
            prefix = items if isinstance(items, list) else []
            items = schema.get("additionalItems", True) if isinstance(items, list) else items
        has_rest = items is not False
        low = _as_int(schema.get("minItems")) or 0
        high = _as_int(schema.get("maxItems"))
        count = max(low, len(prefix) if prefix else (1 if has_rest else 0))
        if not has_rest:
            count = min(count, len(prefix))
        if high is not None:
            count = min(count, high)
        if depth >= _MAX_DEPTH:
            count = min(count, low)
        out = []
        for k in range(count):
            item_schema = prefix[k] if k < len(prefix) else (items if items is not None else {})
            out.append(self.value(item_schema, name, depth + 1, index=k))
        return out

    @staticmethod
    def _bounds(schema: dict[str, Any]) -> tuple[float | None, float | None, bool, bool]:
        low, high = _as_number(schema.get("minimum")), _as_number(schema.get("maximum"))
        low_open = high_open = False
        exclusive_low = schema.get("exclusiveMinimum")
        exclusive_high = schema.get("exclusiveMaximum")
        if exclusive_low is True:
            low_open = True
        elif _as_number(exclusive_low) is not None:
            low, low_open = _as_number(exclusive_low), True
        if exclusive_high is True:
            high_open = True
        elif _as_number(exclusive_high) is not None:
            high, high_open = _as_number(exclusive_high), True
        return low, high, low_open, high_open

    def _integer(self, schema: dict[str, Any], index: int) -> int:
        low, high, low_open, high_open = self._bounds(schema)
        lo = None if low is None else (math.floor(low) + 1 if low_open else math.ceil(low))
        hi = None if high is None else (math.ceil(high) - 1 if high_open else math.floor(high))
        value = 42 + index
        if lo is not None and hi is not None:
            if lo > hi:
                return lo
            mid = lo + (hi - lo) // 2
            value = mid + index if mid + index <= hi else lo + index % (hi - lo + 1)
        elif lo is not None:
            value = max(value, lo + index)
        elif hi is not None:
            value = min(value, hi - index)
        step = _as_int(schema.get("multipleOf"))
        if step and step > 0:
            value = math.ceil(value / step) * step
            if hi is not None and value > hi:
                value -= step
        return value

    def _number(self, schema: dict[str, Any], index: int) -> float:
        low, high, low_open, high_open = self._bounds(schema)
        value = 4.5 + index
        if low is not None and high is not None:
            value = low + (high - low) * (index + 1) / (index + 2)
        elif low is not None:
            value = max(value, low + (1 if low_open else 0) + index)
        elif high is not None:
            value = min(value, high - (1 if high_open else 0) - index)
        step = _as_number(schema.get("multipleOf"))
        if step and step > 0:
            value = math.ceil(value / step) * step
            if high is not None and (value > high or (high_open and value >= high)):
                value -= step
            value = round(value, 10)
        return value

    def _string(self, schema: dict[str, Any], name: str, index: int) -> str:
        n = index + self.vary
        digest = hashlib.sha256(f"{name}/{n}".encode()).hexdigest()
        day = 1 + n % 28
        formats = {
            "date-time": f"2025-01-{day:02d}T12:00:00Z",
            "date": f"2025-01-{day:02d}",
            "time": "12:00:00",
            "email": f"emulator{n or ''}@example.com",
            "uri": f"https://example.com/emulator/{n}",
            "url": f"https://example.com/emulator/{n}",
            "uuid": f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}",
            "ipv4": f"192.0.2.{1 + n % 254}",
            "hostname": f"emulator{n or ''}.example.com",
            "duration": f"PT{1 + n}H",
        }
        text = formats.get(str(schema.get("format", "")), "")
        if not text:
            text = f"emulator {name}".strip() if name else "emulator"
            if n:
                text = f"{text} {n + 1}"
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            text = _fit_pattern(text, pattern)
        low = _as_int(schema.get("minLength"))
        high = _as_int(schema.get("maxLength"))
        if low is not None and len(text) < low:
            text = (text + " " + "x" * low)[:low] if text else "x" * low
        if high is not None and len(text) > high:
            text = text[: max(high, 0)]
        return text


def _is_null_schema(option: Any) -> bool:
    return isinstance(option, dict) and option.get("type") == "null"


def _fit_pattern(text: str, pattern: str) -> str:
    try:
        compiled = re.compile(pattern)
    except re.error:
        return text
    if compiled.search(text):
        return text
    return next((g for g in _PATTERN_GUESSES if compiled.search(g)), text)


def generate(schema: Any, *, vary: int = 0) -> Any:
    """A deterministic value that fits ``schema`` (JSON Schema); ``vary`` picks a variant."""
    return _Generator(schema, vary).value(schema, "", 0)


def validation_errors(value: Any, schema: Any) -> list[str]:
    """``jsonschema``'s complaints about ``value`` (empty when it fits)."""
    cls = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
    return [error.message for error in cls(schema).iter_errors(value)]


# Keywords whose values are schemas (or maps/lists of schemas), to find every sub-schema.
_SCHEMA_VALUED = ("items", "additionalProperties", "not", "if", "then", "else", "contains")
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def _walk(schema: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(schema, dict):
        return
    yield path, schema
    for key in _SCHEMA_VALUED:
        yield from _walk(schema.get(key), f"{path}.{key}" if path else key)
    for key in _SCHEMA_MAPS:
        sub = schema.get(key)
        if isinstance(sub, dict):
            for name, child in sub.items():
                yield from _walk(child, f"{path}.{key}.{name}" if path else f"{key}.{name}")
    for key in _SCHEMA_LISTS:
        sub = schema.get(key)
        if isinstance(sub, list):
            for i, child in enumerate(sub):
                yield from _walk(child, f"{path}.{key}[{i}]" if path else f"{key}[{i}]")


def ref_sibling_problem(schema: Any) -> str | None:
    """Vertex's rule for JSON Schema fields: beside ``$ref`` only ``$``-keywords may appear."""
    for path, node in _walk(schema, ""):
        if "$ref" in node and any(not k.startswith("$") for k in node):
            where = f"schema at {path}" if path else "schema"
            return f"{where} can only contain properties starting with '$' when $ref is present"
    return None


def _openapi_walk(schema: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(schema, dict):
        return
    yield path, schema
    props = schema.get("properties")
    if isinstance(props, dict):
        for name, child in props.items():
            yield from _openapi_walk(child, f"{path}.{name}")
    yield from _openapi_walk(schema.get("items"), f"{path}.items")
    for i, child in enumerate(schema.get("anyOf") or []):
        yield from _openapi_walk(child, f"{path}.anyOf[{i}]")
    defs = schema.get("defs")
    if isinstance(defs, dict):
        for name, child in defs.items():
            yield from _openapi_walk(child, f"{path}.defs.{name}")


def any_of_sibling_path(schema: Any, root: str) -> str | None:
    """The first node of an OpenAPI ``Schema`` that sets ``anyOf`` beside other fields."""
    for path, node in _openapi_walk(schema, root):
        if node.get("anyOf") is not None and any(
            k != "anyOf" and v is not None for k, v in node.items()
        ):
            return path
    return None
