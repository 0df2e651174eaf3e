"""Structural validation of OpenAI chat-completions bodies with the ``openai`` package's own types.

The request TypedDicts (``CompletionCreateParamsNonStreaming`` / ``...Streaming``) are turned
into a pydantic-core validator through ``TypeAdapter``, with three changes to its core schema:

* every TypedDict forbids unknown keys (``max_token`` is an error, not silently dropped);
* ``Iterable[...]`` fields validate eagerly as lists (pydantic validates iterables lazily);
* every union becomes a tagged union whose tag is picked from the value (the ``role`` / ``type``
  literal a member requires, else the JSON kind), so an error names the member the caller meant
  instead of listing every member that failed.

Problems are worded like Google's JSON transcoder, which is what Vertex's front end answers
with (``Invalid JSON payload received. Unknown name "store": Cannot find field.`` is a capture
from Google's OpenAI-compatible endpoint); a missing required member is a semantic problem,
worded as OpenAI words it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from openai.types.chat import completion_create_params
from pydantic import TypeAdapter
from pydantic_core import SchemaValidator, ValidationError

# OpenAI-platform features Vertex does not know (its transcoder names them as unknown fields).
VERTEX_UNKNOWN_PARAMS = (
    "audio",
    "metadata",
    "modalities",
    "moderation",
    "prediction",
    "prompt_cache_key",
    "prompt_cache_options",
    "prompt_cache_retention",
    "safety_identifier",
    "service_tier",
    "store",
    "verbosity",
)
VERTEX_UNKNOWN_PART_KEYS = ("prompt_cache_breakpoint",)
# The literal members that say which kind of object (message, part, tool, format) a dict is.
DISCRIMINATORS = ("role", "type")

_TYPE_NAMES = {
    "string_type": "TYPE_STRING",
    "int_type": "TYPE_INT32",
    "int_from_float": "TYPE_INT32",
    "int_parsing": "TYPE_INT32",
    "float_type": "TYPE_FLOAT",
    "float_parsing": "TYPE_FLOAT",
    "bool_type": "TYPE_BOOL",
    "bool_parsing": "TYPE_BOOL",
    "literal_error": "TYPE_ENUM",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a body; transcoder problems are all reported, semantic ones singly."""

    message: str
    parse_level: bool = False


def render_value(value: Any) -> str:
    """A value as the transcoder quotes it (compact JSON, cut at 120 characters)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= 120 else text[:117] + "..."


def path_text(loc: tuple[Any, ...]) -> str:
    """``('messages', 0, '#2', 'content')`` -> ``messages[0].content`` (union tags dropped)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.startswith("#"):
            continue
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def unknown_name(key: str, parent: str, reason: str = "Cannot find field.") -> str:
    """Google's transcoder message for a name the request message does not have."""
    where = f" at '{parent}'" if parent else ""
    return f'Invalid JSON payload received. Unknown name "{key}"{where}: {reason}'


# --- building the validator -------------------------------------------------------------------


Schema = dict[str, Any]


def _walk_definitions(node: Any, found: dict[str, Schema]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "definitions":
            for definition in node.get("definitions", []):
                found[definition["ref"]] = definition
        for value in node.values():
            _walk_definitions(value, found)
    elif isinstance(node, list | tuple):
        for value in node:
            _walk_definitions(value, found)


class _SchemaRewriter:
    """Applies the three changes described in the module docstring to a core schema."""

    def __init__(self, root: Schema) -> None:
        self.root = root
        self.definitions: dict[str, Schema] = {}

    def run(self) -> Schema:
        rewritten = cast(Schema, self._rewrite(self.root))
        _walk_definitions(rewritten, self.definitions)
        return rewritten

    def resolve(self, schema: Schema) -> Schema:
        seen = 0
        while schema.get("type") == "definition-ref" and seen < 50:
            schema = self.definitions.get(schema["schema_ref"], {"type": "any"})
            seen += 1
        return schema

    def _rewrite(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self._rewrite(v) for v in node]
        if isinstance(node, tuple):
            return tuple(self._rewrite(v) for v in node)
        if not isinstance(node, dict):
            return node
        out = {k: self._rewrite(v) for k, v in node.items()}
        kind = out.get("type")
        if kind == "typed-dict":
            out["extra_behavior"] = "forbid"
        elif kind == "generator":
            return {"type": "list", "items_schema": out.get("items_schema", {"type": "any"})}
        elif kind == "union":
            choices = [c[0] if isinstance(c, tuple) else c for c in out["choices"]]
            return {
                "type": "tagged-union",
                "choices": {f"#{i}": c for i, c in enumerate(choices)},
                "discriminator": self._discriminator(choices),
            }
        return out

    def _literal_fields(self, schema: Schema) -> dict[str, list[Any]]:
        schema = self.resolve(schema)
        out: dict[str, list[Any]] = {}
        if schema.get("type") != "typed-dict":
            return out
        for name, field in schema.get("fields", {}).items():
            inner = self.resolve(field.get("schema", {}))
            if inner.get("type") == "literal" and field.get("required", True):
                out[name] = list(inner.get("expected", []))
        return out

    def _kind_matches(self, schema: Schema, value: Any) -> bool:
        schema = self.resolve(schema)
        kind = schema.get("type")
        if kind in ("typed-dict", "dict"):
            return isinstance(value, dict)
        if kind in ("list", "generator", "json-or-python", "chain"):
            return isinstance(value, list)
        if kind == "str":
            return isinstance(value, str)
        if kind == "literal":
            return value in schema.get("expected", [])
        if kind == "bool":
            return isinstance(value, bool)
        if kind == "int":
            return isinstance(value, int) and not isinstance(value, bool)
        if kind == "float":
            return isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "nullable":
            return value is None or self._kind_matches(schema.get("schema", {}), value)
        if kind == "none":
            return value is None
        return kind in ("any", "tagged-union")

    def _discriminator(self, choices: list[Schema]) -> Callable[[Any], str]:
        def pick(value: Any) -> str:
            fallback: str | None = None
            for i, choice in enumerate(choices):
                if not self._kind_matches(choice, value):
                    continue
                literals = self._literal_fields(choice)
                if not literals or not isinstance(value, dict):
                    return f"#{i}"
                if all(value.get(k) in expected for k, expected in literals.items()):
                    return f"#{i}"
                if fallback is None:
                    fallback = f"#{i}"
            # Nothing fits: validate against the first member of the right JSON kind (or the
            # first member), so the error names the wrong literal or the wrong type.
            return fallback or "#0"

        return pick


@cache
def _validator(streaming: bool) -> SchemaValidator:
    params = (
        completion_create_params.CompletionCreateParamsStreaming
        if streaming
        else completion_create_params.CompletionCreateParamsNonStreaming
    )
    core = copy.deepcopy(cast(Schema, TypeAdapter(params).core_schema))
    return SchemaValidator(cast(Any, _SchemaRewriter(core).run()))


# --- turning pydantic errors into Vertex's messages -------------------------------------------


def _drop_union_noise(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An object whose ``role`` / ``type`` (the literals that say what kind of object it is) is
    wrong gets only that reported, not every member the intended kind would have had."""
    prefixes = [
        tuple(e["loc"][:-1])
        for e in errors
        if e["type"] == "literal_error" and e["loc"] and e["loc"][-1] in DISCRIMINATORS
    ]
    kept = []
    for error in errors:
        loc = tuple(error["loc"])
        noisy = any(
            loc[: len(p)] == p and not (error["type"] == "literal_error" and loc[:-1] == p)
            for p in prefixes
        )
        if not noisy:
            kept.append(error)
    return kept


def _problem(error: dict[str, Any]) -> Problem:
    loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        return Problem(unknown_name(str(loc[-1]), path_text(loc[:-1])), parse_level=True)
    if kind == "missing":
        return Problem(f"Missing required parameter: '{path_text(loc)}'.")
    if isinstance(value, list) and kind != "list_type" and loc:
        reason = "Proto field is not repeating, cannot start list."
        return Problem(unknown_name(str(loc[-1]), path_text(loc[:-1]), reason), parse_level=True)
    type_name = _TYPE_NAMES.get(kind, "TYPE_MESSAGE")
    return Problem(
        f"Invalid value at '{path_text(loc)}' ({type_name}), {render_value(value)}",
        parse_level=True,
    )


def _vertex_unknowns(body: dict[str, Any]) -> list[Problem]:
    found = [
        Problem(unknown_name(key, ""), parse_level=True)
        for key in body
        if key in VERTEX_UNKNOWN_PARAMS
    ]
    messages = body.get("messages")
    for i, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, dict) else None
        for j, part in enumerate(content if isinstance(content, list) else []):
            if not isinstance(part, dict):
                continue
            for key in VERTEX_UNKNOWN_PART_KEYS:
                if key in part:
                    found.append(
                        Problem(unknown_name(key, f"messages[{i}].content[{j}]"), parse_level=True)
                    )
    return found


def _google_options(body: dict[str, Any]) -> list[Problem]:
    """Vertex's own addition to the OpenAI body: ``extra_body: {"google": {...}}`` (Gemini
    options such as ``thinking_config``, as the OpenAI SDK sends ``extra_body``)."""
    if "extra_body" not in body:
        return []
    extra = body["extra_body"]
    if not isinstance(extra, dict):
        shown = f"Invalid value at 'extra_body' (TYPE_MESSAGE), {render_value(extra)}"
        return [Problem(shown, parse_level=True)]
    found = [
        Problem(unknown_name(key, "extra_body"), parse_level=True)
        for key in extra
        if key != "google"
    ]
    google = extra.get("google", {})
    if not isinstance(google, dict):
        shown = f"Invalid value at 'extra_body.google' (TYPE_MESSAGE), {render_value(google)}"
        found.append(Problem(shown, parse_level=True))
    return found


def structural_problems(body: dict[str, Any]) -> list[Problem]:
    """Everything the ``openai`` types (unknown keys refused) and Vertex's parser find wrong.

    Transcoder problems (schema order) are all returned; without any, the first semantic one.
    """
    problems = _vertex_unknowns(body) + _google_options(body)
    checked = {k: v for k, v in body.items() if k != "extra_body"}
    try:
        _validator(body.get("stream") is True).validate_json(
            json.dumps(checked, ensure_ascii=False), strict=True
        )
    except ValidationError as exc:
        errors = _drop_union_noise(cast(list[dict[str, Any]], exc.errors()))
        problems.extend(_problem(e) for e in errors)
    parse = [p for p in problems if p.parse_level]
    return parse or problems[:1]
