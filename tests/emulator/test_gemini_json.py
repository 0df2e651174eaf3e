"""Structured output: JSON replies shaped by responseJsonSchema / responseSchema, enum replies,
and what Vertex does with JSON Schema keywords it does not support."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from emu_helpers import Emulator
from test_gemini_helpers import GEMINI_DOCS, generate, json_stream, reject, sse, streamed_text, user

from emulator.gemini_schema import generate as generate_value
from emulator.gemini_schema import json_schema_from_openapi, validation_errors

JSON = "application/json"

RECIPE = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Recipe name"},
        "servings": {"type": "integer", "minimum": 1, "maximum": 12},
        "vegan": {"type": "boolean"},
        "ingredients": {
            "type": "array",
            "minItems": 2,
            "maxItems": 4,
            "items": {"$ref": "#/$defs/ingredient"},
        },
        "difficulty": {"enum": ["easy", "medium", "hard"]},
        "rating": {"anyOf": [{"type": "number", "minimum": 0, "maximum": 5}, {"type": "null"}]},
        "steps": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
        "extras": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "minProperties": 2,
        },
    },
    "required": ["name", "servings", "ingredients", "difficulty"],
    "propertyOrdering": ["name", "difficulty", "servings"],
    "$defs": {
        "ingredient": {
            "$anchor": "ing",
            "type": "object",
            "properties": {
                "item": {"type": "string"},
                "grams": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.5},
            },
            "required": ["item", "grams"],
        }
    },
}

# Keywords outside Vertex's supported list: accepted (no 400) and not enforced by Vertex; the
# emulator still produces values that satisfy the cheap ones.
UNSUPPORTED_KEYWORDS: list[dict[str, Any]] = [
    {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"},
    {"type": "object", "allOf": [{"properties": {"a": {"type": "string"}}, "required": ["a"]}]},
    {"type": "object", "properties": {"a": {"const": "fixed"}}, "required": ["a"]},
    {"type": "object", "properties": {"a": {"type": "string", "default": "d"}}, "required": ["a"]},
    {"type": "object", "properties": {"a": {"type": "string", "minLength": 20}}, "required": ["a"]},
    {
        "type": "object",
        "properties": {"a": {"type": "string", "pattern": "^[0-9]+$"}},
        "required": ["a"],
    },
    {"type": "object", "properties": {"a": {"not": {"type": "null"}, "type": "string"}}},
    {"type": "object", "patternProperties": {"^x": {"type": "integer"}}},
    {"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}},
    {"type": "array", "items": {"type": "integer"}, "uniqueItems": True, "minItems": 3},
]


def config(**settings: Any) -> dict[str, Any]:
    return {"generationConfig": settings}


async def test_json_without_schema_is_an_object(emu: Emulator) -> None:
    body = {"contents": [user("Describe owls")], **config(responseMimeType=JSON)}
    reply = await generate(emu, body)
    value = json.loads(reply["candidates"][0]["content"]["parts"][0]["text"])
    assert set(value) == {"answer"} and "emulator" in value["answer"]


async def test_response_json_schema_is_followed(emu: Emulator) -> None:
    body = {
        "contents": [user("A recipe")],
        **config(responseMimeType=JSON, responseJsonSchema=RECIPE),
    }
    reply = await generate(emu, body)
    value = json.loads(reply["candidates"][0]["content"]["parts"][0]["text"])
    jsonschema.validate(value, RECIPE)
    assert list(value)[:3] == ["name", "difficulty", "servings"]
    assert len(value["extras"]) >= 2


async def test_response_schema_openapi_is_followed(emu: Emulator) -> None:
    schema = {
        "type": "ARRAY",
        "minItems": "2",
        "items": {
            "type": "OBJECT",
            "properties": {
                "title": {"type": "STRING", "maxLength": "6"},
                "year": {"type": "INTEGER", "minimum": 1900, "maximum": 2000},
                "genre": {"type": "STRING", "enum": ["drama", "comedy"], "nullable": True},
            },
            "required": ["title", "year"],
        },
    }
    body = {"contents": [user("Films")], **config(responseMimeType=JSON, responseSchema=schema)}
    reply = await generate(emu, body, model="gemini-2.0-flash")
    value = json.loads(reply["candidates"][0]["content"]["parts"][0]["text"])
    jsonschema.validate(value, json_schema_from_openapi(schema))
    assert len(value) == 2


async def test_enum_mime_type(emu: Emulator) -> None:
    schema = {"type": "STRING", "enum": ["positive", "negative", "neutral"]}
    body = {
        "contents": [user("I love it")],
        **config(responseMimeType="text/x.enum", responseSchema=schema),
    }
    reply = await generate(emu, body)
    assert reply["candidates"][0]["content"]["parts"][0]["text"] in schema["enum"]


async def test_json_streams_like_text(emu: Emulator) -> None:
    body = {
        "contents": [user("A recipe")],
        **config(responseMimeType=JSON, responseJsonSchema=RECIPE),
    }
    unary = await generate(emu, body)
    text = unary["candidates"][0]["content"]["parts"][0]["text"]
    for events in (await sse(emu, body), await json_stream(emu, body)):
        assert len(events) >= 3
        assert streamed_text(events) == text
    jsonschema.validate(json.loads(text), RECIPE)


async def test_candidates_differ_but_all_fit(emu: Emulator) -> None:
    body = {
        "contents": [user("A recipe")],
        **config(responseMimeType=JSON, responseJsonSchema=RECIPE, candidateCount=3),
    }
    reply = await generate(emu, body)
    values = [json.loads(c["content"]["parts"][0]["text"]) for c in reply["candidates"]]
    for value in values:
        jsonschema.validate(value, RECIPE)
    assert len({v["difficulty"] for v in values}) == 3


@pytest.mark.parametrize("mime", [None, "text/plain"])
@pytest.mark.parametrize("key", ["responseJsonSchema", "responseSchema"])
async def test_schema_needs_json_mime_type(emu: Emulator, mime: str | None, key: str) -> None:
    settings: dict[str, Any] = {
        key: {"type": "object" if key == "responseJsonSchema" else "OBJECT"}
    }
    if mime:
        settings["responseMimeType"] = mime
    message = await reject(emu, {"contents": [user("x")], **config(**settings)})
    snake = "response_json_schema" if key == "responseJsonSchema" else "response_schema"
    assert message.startswith(
        f"Unable to submit request because `{snake}` requires `response_mime_type`"
    )
    assert message.endswith(GEMINI_DOCS)


async def test_both_schemas_rejected(emu: Emulator) -> None:
    settings = {
        "responseMimeType": JSON,
        "responseSchema": {"type": "OBJECT"},
        "responseJsonSchema": {"type": "object"},
    }
    assert "are both set" in await reject(emu, {"contents": [user("x")], **config(**settings)})


async def test_ref_with_siblings_rejected(emu: Emulator) -> None:
    schema = {
        "$defs": {"A": {"type": "string"}},
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/A", "title": "A"}},
    }
    body = {"contents": [user("x")], **config(responseMimeType=JSON, responseJsonSchema=schema)}
    assert await reject(emu, body) == (
        "schema at properties.a can only contain properties starting with '$' when $ref is present"
    )


@pytest.mark.parametrize("schema", UNSUPPORTED_KEYWORDS)
async def test_unsupported_keywords_are_accepted(emu: Emulator, schema: dict[str, Any]) -> None:
    body = {"contents": [user("x")], **config(responseMimeType=JSON, responseJsonSchema=schema)}
    reply = await generate(emu, body)
    value = json.loads(reply["candidates"][0]["content"]["parts"][0]["text"])
    assert validation_errors(value, schema) == []


GENERATOR_CASES: list[dict[str, Any]] = [
    RECIPE,
    {"type": "integer", "exclusiveMinimum": 5, "exclusiveMaximum": 7},
    {"type": "number", "minimum": -3, "maximum": -2},
    {"type": "integer", "multipleOf": 7, "minimum": 50},
    {"type": "array", "items": False, "prefixItems": [{"type": "boolean"}, {"type": "null"}]},
    {"type": "array", "maxItems": 0},
    {"type": "string", "format": "uuid"},
    {"type": "string", "maxLength": 0},
    {"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]},
    {"oneOf": [{"type": "number"}, {"type": "integer"}]},
    {"$ref": "#/definitions/t", "definitions": {"t": {"type": "boolean"}}},
    {"$ref": "#ing", "$defs": {"x": {"$anchor": "ing", "type": "integer", "minimum": 3}}},
    {
        "$defs": {
            "tree": {
                "type": "object",
                "properties": {
                    "kids": {"type": "array", "items": {"$ref": "#/$defs/tree"}},
                    "v": {"type": "integer"},
                },
                "required": ["v"],
            }
        },
        "$ref": "#/$defs/tree",
    },
    {
        "type": "object",
        "maxProperties": 1,
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
    },
    {"type": ["null", "integer"], "minimum": 10, "maximum": 10},
    {"type": "array", "items": {"type": "boolean"}, "minItems": 2, "uniqueItems": True},
]


@pytest.mark.parametrize("schema", GENERATOR_CASES)
def test_generated_values_validate(schema: dict[str, Any]) -> None:
    for vary in range(3):
        value = generate_value(schema, vary=vary)
        assert validation_errors(value, schema) == [], (value, schema)
    assert generate_value(schema) == generate_value(schema)


def test_openapi_translation() -> None:
    schema = {
        "type": "OBJECT",
        "nullable": True,
        "properties": {"p": {"ref": "#/defs/P"}},
        "defs": {"P": {"type": "INTEGER", "minimum": 1}},
        "minProperties": "1",
    }
    assert json_schema_from_openapi(schema) == {
        "type": ["object", "null"],
        "properties": {"p": {"$ref": "#/$defs/P"}},
        "$defs": {"P": {"type": "integer", "minimum": 1}},
        "minProperties": 1,
    }
