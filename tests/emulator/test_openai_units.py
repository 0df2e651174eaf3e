"""Unit tests of the OpenAI-compatible endpoint's pieces: the JSON Schema instance maker, the
body validator (never raises, whatever the body), the rules and the reply planner."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from emulator.openai_compat import validate_body
from emulator.openai_jsonschema import make_instance
from emulator.openai_models import MAAS_MODELS, find_open_model
from emulator.openai_reply import plan_reply, stream_chunks, unary_response
from emulator.openai_rules import semantic_problems
from emulator.openai_schema import path_text, structural_problems
from emulator.routing import parse_path

TARGET = parse_path("/v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions")
OTHER = parse_path("/v1/projects/p/locations/us-central1/endpoints/42/chat/completions")
LLAMA = MAAS_MODELS["meta/llama-3.3-70b-instruct-maas"]

SCHEMAS: list[Any] = [
    {},
    True,
    {"type": "string"},
    {"type": ["null", "integer"], "minimum": 5},
    {"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 2},
    {"type": "integer", "exclusiveMaximum": -10, "multipleOf": 4},
    {"type": "number", "multipleOf": 0.25, "minimum": 0.3},
    {"type": "string", "pattern": "^[a-f0-9]{8}-(dev|prod)$"},
    {"type": "string", "pattern": "\\d{3}[^a-z]\\w+", "maxLength": 6},
    {"type": "string", "minLength": 20, "maxLength": 22},
    {"type": "string", "format": "uuid"},
    {"type": "string", "format": "email"},
    {"enum": [3, "x", None]},
    {"const": {"a": [1, 2]}},
    {"type": "array", "items": {"type": "integer"}, "minItems": 5, "uniqueItems": True},
    {"type": "array", "items": {"type": "boolean"}, "maxItems": 0},
    {"type": "array", "contains": {"const": 7}, "items": {"type": "integer"}},
    {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "array",
        "items": [{"type": "string"}, {"type": "null"}],
        "minItems": 2,
    },
    {"type": "object", "additionalProperties": False, "properties": {"a": {"type": "null"}}},
    {"type": "object", "patternProperties": {"^x": {"type": "string"}}, "minProperties": 1},
    {"allOf": [{"properties": {"a": {"type": "integer"}}, "required": ["a"]}, {"required": ["b"]}]},
    {"oneOf": [{"type": "string", "maxLength": 2}, {"type": "integer"}]},
    {
        "anyOf": [{"$ref": "#/definitions/x"}, {"type": "null"}],
        "definitions": {"x": {"type": "boolean"}},
    },
    {
        "$defs": {"list": {"type": "array", "items": {"$ref": "#/$defs/list"}}},
        "$ref": "#/$defs/list",
    },
    {
        "$defs": {
            "person": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "friends": {
                        "type": "array",
                        "items": {"$ref": "#/$defs/person"},
                        "minItems": 1,
                    },
                    "age": {"type": "integer", "minimum": 0, "maximum": 130},
                },
                "required": ["name"],
            }
        },
        "type": "object",
        "properties": {"people": {"type": "array", "items": {"$ref": "#/$defs/person"}}},
    },
    {
        "type": "object",
        "properties": {"a~b": {"type": "string"}, "c/d": {"$ref": "#/properties/a~0b"}},
    },
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=[json.dumps(s)[:40] for s in SCHEMAS])
def test_instances_validate(schema: Any) -> None:
    value = make_instance(schema)
    assert jsonschema.validators.validator_for(schema)(schema).is_valid(value), value
    assert make_instance(schema) == value  # deterministic


def test_unsatisfiable_recursion_terminates() -> None:
    schema = {
        "$defs": {
            "a": {"type": "object", "properties": {"a": {"$ref": "#/$defs/a"}}, "required": ["a"]}
        },
        "$ref": "#/$defs/a",
    }
    make_instance(schema)  # no RecursionError


def test_huge_bounds_are_capped() -> None:
    value = make_instance(
        {"type": "array", "minItems": 10**9, "items": {"type": "string", "minLength": 10**9}}
    )
    assert len(value) <= 256 and all(len(v) <= 10000 for v in value)


JUNK: list[Any] = [
    {},
    {"messages": None},
    {"messages": [1, "x", None, [], {"role": None}]},
    {"messages": [{"role": "user", "content": [1, None, {"type": None}, {"type": "image_url"}]}]},
    {"model": 5, "messages": {"role": "user"}},
    {"model": "a/b", "messages": [{"role": "assistant", "tool_calls": "x"}], "tools": {"a": 1}},
    {"model": "a/b", "messages": [{"role": "tool", "tool_call_id": 3, "content": {}}]},
    {"model": "a", "messages": [{"role": "user", "content": "x"}], "stream": True, "n": "2"},
    {"model": "a/b/c", "messages": [{"role": "user", "content": "x"}]},
    {"model": "/b", "messages": [{"role": "user", "content": "x"}]},
    {"model": "google/", "messages": [{"role": "user", "content": "x"}]},
    {
        "model": "meta/llama-3.3-70b-instruct-maas",
        "messages": [{"role": "user", "content": "x"}],
        "tools": [
            {
                "type": "function",
                "function": {"name": "f", "parameters": {"$ref": "http://nowhere/x"}},
            }
        ],
    },
    {
        "model": "meta/llama-3.3-70b-instruct-maas",
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": True}},
    },
    {
        "model": "meta/llama-3.3-70b-instruct-maas",
        "messages": [{"role": "user", "content": "x"}],
        "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}},
        "tools": [],
    },
]


@pytest.mark.parametrize("body", JUNK)
def test_validator_never_raises(body: Any) -> None:
    assert TARGET is not None
    problems = validate_body(TARGET, body)
    assert isinstance(problems, list) and all(isinstance(p, str) for p in problems)


def test_validator_ignores_other_endpoints_and_non_objects() -> None:
    assert TARGET is not None and OTHER is not None
    assert validate_body(OTHER, {"max_token": 1}) == []
    assert validate_body(TARGET, None) == []


def test_streaming_and_unary_params_are_both_checked() -> None:
    body = {"model": "a/b", "messages": [{"role": "user", "content": "x"}]}
    assert (
        structural_problems({**body, "stream": True, "stream_options": {"include_usage": True}})
        == []
    )
    assert structural_problems({**body, "stream": False}) == []
    (problem,) = structural_problems({**body, "stream": 1})
    assert problem.message == "Invalid value at 'stream' (TYPE_ENUM), 1"


def test_path_text() -> None:
    assert path_text(("messages", 0, "#2", "content", "#1", 3, "image_url")) == (
        "messages[0].content[3].image_url"
    )


def test_gemini_models_come_from_the_catalog() -> None:
    flash = find_open_model("google/gemini-2.5-flash")
    assert flash is not None and flash.vision and flash.thinking and flash.max_candidates == 8
    old = find_open_model("google/gemini-2.0-flash-001")
    assert old is not None and not old.thinking and old.max_output_tokens == 8192
    assert find_open_model("anthropic/claude-sonnet-4-5@20250929") is None
    assert find_open_model("meta/llama-3.3-70b-instruct") is None


def test_first_semantic_problem_only() -> None:
    body = {"model": LLAMA.name, "messages": [], "n": 3, "temperature": 9}
    (problem,) = semantic_problems(body, LLAMA)
    assert problem.startswith("Invalid 'messages': empty array.")


def test_plan_is_deterministic_and_renders_consistently() -> None:
    body = {
        "model": LLAMA.name,
        "messages": [{"role": "user", "content": "Use lookup"}],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                },
            }
        ],
    }
    first, second = plan_reply(body, LLAMA, now=1.0), plan_reply(body, LLAMA, now=1.0)
    assert first == second
    unary = unary_response(first)
    chunks = stream_chunks(first, include_usage=True)
    assert unary["created"] == 1 and chunks[-1]["usage"] == unary["usage"]
    calls = unary["choices"][0]["message"]["tool_calls"]
    streamed = "".join(
        d["function"]["arguments"]
        for c in chunks
        if c["choices"]
        for d in c["choices"][0]["delta"].get("tool_calls", [])
    )
    assert streamed == calls[0]["function"]["arguments"]
