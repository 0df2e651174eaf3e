"""Deterministic JSON values that validate against a JSON Schema.

Used for tool-call ``arguments`` (against the function's ``parameters``) and for
``response_format: json_schema`` replies. Understands ``type`` (and lists of types),
``properties`` / ``required`` / ``additionalProperties`` / ``minProperties``, ``items`` /
``prefixItems`` / ``minItems`` / ``maxItems`` / ``uniqueItems`` / ``contains``, ``enum`` /
``const``, string ``format`` / ``pattern`` / ``minLength`` / ``maxLength``, numeric bounds
(inclusive and exclusive) and ``multipleOf``, ``anyOf`` / ``oneOf`` (the first branch whose value
validates), ``allOf`` (merged), and local ``$ref`` into ``$defs`` / ``definitions`` (recursion
is cut off by depth: deep down only required properties and minimum item counts are produced).
"""

from __future__ import annotations

import importlib
import math
import re
from typing import Any

import jsonschema

MAX_DEPTH = 12
FULL_DEPTH = 4
HARD_DEPTH = 40  # an unsatisfiable recursive schema (a required self-reference) stops here
MAX_ITEMS = 256
MAX_LENGTH = 10000
_FORMATS = {
    "date-time": "2025-01-01T12:00:00Z",
    "date": "2025-01-01",
    "time": "12:00:00Z",
    "duration": "P1D",
    "email": "emulator@example.com",
    "idn-email": "emulator@example.com",
    "hostname": "emulator.example.com",
    "idn-hostname": "emulator.example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/emulator",
    "iri": "https://example.com/emulator",
    "uri-reference": "https://example.com/emulator",
    "url": "https://example.com/emulator",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "regex": "^emulator$",
    "json-pointer": "/emulator",
}
# sre_parse lives on as re._parser; typeshed does not describe it, so it is used untyped.
_PARSER: Any = importlib.import_module("re._parser")
_CONSTANTS: Any = importlib.import_module("re._constants")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


class InstanceMaker:
    """Builds one value for ``schema`` (the root, against which ``$ref`` pointers resolve)."""

    def __init__(self, schema: Any) -> None:
        self.root = schema
        cls = jsonschema.validators.validator_for(schema) if isinstance(schema, dict) else None
        self.validator = cls(schema) if cls else None

    def make(self, name: str = "value") -> Any:
        """A value valid against the root schema (best effort for exotic keywords)."""
        return self._make(self.root, 0, name)

    def valid(self, schema: Any, value: Any) -> bool:
        """``value`` fits ``schema`` (a part of the root, so ``$ref`` resolves)."""
        if self.validator is None:
            return True
        try:
            return bool(self.validator.evolve(schema=schema).is_valid(value))
        except Exception:  # an unresolvable reference or a schema the validator cannot use
            return False

    # --- schema plumbing ----------------------------------------------------------------------

    def _lookup(self, ref: str) -> Any:
        if not ref.startswith("#"):
            return {}
        node: Any = self.root
        for token in [t for t in ref[1:].split("/") if t]:
            token = _unescape(token)
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return {}
        return node

    def _expand(self, schema: Any, depth: int) -> Any:
        """Resolve ``$ref`` and merge ``allOf`` into one schema dict."""
        for _ in range(MAX_DEPTH):
            if not isinstance(schema, dict) or "$ref" not in schema:
                break
            target = self._lookup(str(schema["$ref"]))
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **siblings} if isinstance(target, dict) else target
        if isinstance(schema, dict) and isinstance(schema.get("allOf"), list):
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = self._expand(part, depth)
                if not isinstance(part, dict):
                    continue
                for key, value in part.items():
                    if key == "properties" and isinstance(value, dict):
                        merged["properties"] = {**merged.get("properties", {}), **value}
                    elif key == "required" and isinstance(value, list):
                        merged["required"] = list(dict.fromkeys(merged.get("required", []) + value))
                    else:
                        merged.setdefault(key, value)
            schema = merged
        return schema

    # --- generation ---------------------------------------------------------------------------

    def _make(self, schema: Any, depth: int, name: str) -> Any:
        if depth > HARD_DEPTH:
            return None
        schema = self._expand(schema, depth)
        if schema is True or schema == {} or not isinstance(schema, dict):
            return f"emulator {name}"
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return self._choose(schema, key, depth, name)
        kind = self._kind(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, depth, name)
        if kind == "integer":
            return self._integer(schema)
        if kind == "number":
            return self._number(schema)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self._string(schema, name)

    def _choose(self, schema: dict[str, Any], key: str, depth: int, name: str) -> Any:
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
        branches = [self._expand(b, depth) for b in schema[key]]
        # Prefer real values to null, and (deep down) simple values to nested ones.
        order = sorted(
            range(len(branches)),
            key=lambda i: (
                isinstance(branches[i], dict) and branches[i].get("type") == "null",
                depth > FULL_DEPTH and self._kind(branches[i]) in ("object", "array"),
            ),
        )
        first: Any = None
        for i in order:
            branch = branches[i]
            merged = {**rest, **branch} if isinstance(branch, dict) else branch
            candidate = self._make(merged, depth + 1, name)
            if i == order[0]:
                first = candidate
            if self.valid(schema, candidate):
                return candidate
        return first

    def _kind(self, schema: Any) -> str:
        if not isinstance(schema, dict):
            return "string"
        kind = schema.get("type")
        if isinstance(kind, list):
            real = [k for k in kind if k != "null"]
            return str(real[0]) if real else "null"
        if isinstance(kind, str):
            return kind
        if any(k in schema for k in ("properties", "required", "additionalProperties")):
            return "object"
        if any(k in schema for k in ("items", "prefixItems", "minItems", "contains")):
            return "array"
        if any(k in schema for k in ("minimum", "maximum", "multipleOf", "exclusiveMinimum")):
            return "number"
        return "string"

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = _member(schema, "properties", dict, {})
        required = [r for r in _member(schema, "required", list, []) if isinstance(r, str)]
        extra = schema.get("additionalProperties", True)
        names = list(properties) if depth < FULL_DEPTH else []
        names += [r for r in required if r not in names]
        out: dict[str, Any] = {}
        for key in names:
            if depth >= MAX_DEPTH and key not in required:
                continue
            sub = properties.get(key, extra if isinstance(extra, dict) else True)
            out[key] = self._make(sub, depth + 1, key)
        wanted = schema.get("minProperties", 0)
        k = 1
        while isinstance(wanted, int) and len(out) < wanted and extra is not False and k < 100:
            key = f"emulator_{k}"
            if key not in out:
                out[key] = self._make(extra if isinstance(extra, dict) else True, depth + 1, key)
            k += 1
        return out

    def _array(self, schema: dict[str, Any], depth: int, name: str) -> list[Any]:
        prefix: list[Any] = _member(schema, "prefixItems", list, [])
        items = schema.get("items", True)
        if isinstance(items, list):  # draft 4-7 tuple form
            prefix, items = items, schema.get("additionalItems", True)
        low = _int_member(schema, "minItems") or 0
        high = _int_member(schema, "maxItems")
        count = min(max(low, len(prefix), 1 if depth < FULL_DEPTH else 0), MAX_ITEMS)
        if high is not None:
            count = min(count, high)
        out: list[Any] = []
        if "contains" in schema and count > len(prefix):
            out.append(self._make(schema["contains"], depth + 1, name))
        while len(out) < count:
            i = len(out)
            sub = prefix[i] if i < len(prefix) else items
            if sub is False:
                break
            out.append(self._make(sub, depth + 1, name))
        if schema.get("uniqueItems"):
            out = _distinct(out)
        return out

    def _integer(self, schema: dict[str, Any]) -> int:
        low, high = _bounds(schema, integer=True)
        value = low if low is not None else (min(1, high) if high is not None else 1)
        step = schema.get("multipleOf")
        if isinstance(step, int | float) and step > 0:
            value = math.ceil(value / step) * step
            if high is not None and value > high:
                value = math.floor(high / step) * step
        return int(value)

    def _number(self, schema: dict[str, Any]) -> float:
        low, high = _bounds(schema, integer=False)
        if low is not None and high is not None:
            value = (low + high) / 2
        elif low is not None:
            value = low + 1
        elif high is not None:
            value = min(1.5, high - 1)
        else:
            value = 1.5
        step = schema.get("multipleOf")
        if isinstance(step, int | float) and step > 0:
            value = math.ceil(value / step) * step
        return float(value)

    def _string(self, schema: dict[str, Any], name: str) -> str:
        fmt = schema.get("format")
        text = _FORMATS.get(fmt, f"emulator {name}") if isinstance(fmt, str) else f"emulator {name}"
        low = min(_int_member(schema, "minLength") or 0, MAX_LENGTH)
        high = _int_member(schema, "maxLength")
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            return _matching(pattern, text, low, high)
        if len(text) < low:
            text = text + "x" * (low - len(text))
        if high is not None and len(text) > high:
            text = text[:high]
        return text


def _member(schema: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = schema.get(key)
    return value if isinstance(value, kind) else default


def _int_member(schema: dict[str, Any], key: str) -> int | None:
    value = schema.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bounds(schema: dict[str, Any], *, integer: bool) -> tuple[float | None, float | None]:
    """Inclusive ``(low, high)`` for integers; for numbers exclusive bounds are nudged inward."""
    low: float | None = None
    high: float | None = None
    nudge = 1 if integer else 0.5
    if isinstance(schema.get("minimum"), int | float):
        low = schema["minimum"]
    excl = schema.get("exclusiveMinimum")
    if isinstance(excl, int | float) and not isinstance(excl, bool):
        low = max(low, excl + nudge) if low is not None else excl + nudge
    if isinstance(schema.get("maximum"), int | float):
        high = schema["maximum"]
    excl = schema.get("exclusiveMaximum")
    if isinstance(excl, int | float) and not isinstance(excl, bool):
        high = min(high, excl - nudge) if high is not None else excl - nudge
    if integer:
        low = math.ceil(low) if low is not None else None
        high = math.floor(high) if high is not None else None
    if low is not None and high is not None and low > high and not integer:
        low = high = (low + high) / 2
    return low, high


def _distinct(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for i, value in enumerate(values):
        candidate = value
        if candidate in out:
            if isinstance(value, str):
                candidate = f"{value} {i}"
            elif isinstance(value, int | float) and not isinstance(value, bool):
                candidate = value + i
        out.append(candidate)
    return out


def _matching(pattern: str, preferred: str, low: int, high: int | None) -> str:
    """``preferred`` if it matches ``pattern`` (and the length bounds), else a string built from
    the pattern itself, repeating its repeatable parts more until the length fits."""
    try:
        compiled = re.compile(pattern)
    except re.error:
        return preferred

    def fits(text: str) -> bool:
        length_ok = low <= len(text) and (high is None or len(text) <= high)
        return length_ok and compiled.search(text) is not None

    if fits(preferred):
        return preferred
    try:
        tree = _PARSER.parse(pattern)
        for extra in range(0, 64):
            built = _from_regex(tree, {}, extra)
            if fits(built):
                return built
    except Exception:  # an exotic construct: fall back to the preferred text
        return preferred
    return preferred


def _from_regex(tree: Any, groups: dict[int, str], extra: int = 0) -> str:
    """A string matching a parsed regular expression: first alternatives, and every repeat
    ``extra`` times more than its minimum (within its maximum)."""
    c = _CONSTANTS
    out = []
    for op, arg in tree:
        if op is c.LITERAL:
            out.append(chr(arg))
        elif op is c.NOT_LITERAL:
            out.append("a" if chr(arg) != "a" else "b")
        elif op is c.ANY:
            out.append("a")
        elif op is c.IN:
            out.append(_from_class(arg))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            low, high, sub = arg
            times = min(max(low, 0) + extra, high) if high != c.MAXREPEAT else low + extra
            times = min(times, MAX_LENGTH)
            out.append("".join(_from_regex(sub, groups, extra) for _ in range(times)))
        elif op is c.SUBPATTERN:
            group, _add, _del, sub = arg
            text = _from_regex(sub, groups, extra)
            if group:
                groups[group] = text
            out.append(text)
        elif op is c.BRANCH:
            out.append(_from_regex(arg[1][0], groups, extra))
        elif op is c.GROUPREF:
            out.append(groups.get(arg, ""))
        elif op is c.CATEGORY:
            out.append(_from_category(arg))
        # AT (anchors), ASSERT and ASSERT_NOT produce no text.
    return "".join(out)


def _from_category(category: Any) -> str:
    c = _CONSTANTS
    if category is c.CATEGORY_DIGIT:
        return "0"
    if category is c.CATEGORY_SPACE:
        return " "
    if category in (c.CATEGORY_NOT_DIGIT, c.CATEGORY_WORD, c.CATEGORY_NOT_SPACE):
        return "a"
    if category is c.CATEGORY_NOT_WORD:
        return "-"
    return "a"


def _from_class(items: Any) -> str:
    c = _CONSTANTS
    negate = any(op is c.NEGATE for op, _ in items)
    if negate:
        excluded = set()
        for op, arg in items:
            if op is c.LITERAL:
                excluded.add(chr(arg))
            elif op is c.RANGE:
                excluded.update(chr(x) for x in range(arg[0], arg[1] + 1))
        return next(ch for ch in "aA0-_ xyz" if ch not in excluded)
    for op, arg in items:
        if op is c.LITERAL:
            return chr(arg)
        if op is c.RANGE:
            return chr(arg[0])
        if op is c.CATEGORY:
            return _from_category(arg)
    return "a"


def make_instance(schema: Any, name: str = "value") -> Any:
    """One deterministic value for ``schema``."""
    return InstanceMaker(schema).make(name)
