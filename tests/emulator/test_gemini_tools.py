"""Function calling: which functions are called, their arguments, tool results, and Vertex's
rules for function call / response turns."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from emu_helpers import Emulator
from test_gemini_helpers import (
    declare,
    generate,
    json_stream,
    parts_of,
    reject,
    sse,
    user,
)

from emulator.counting import count_tokens
from emulator.gemini_schema import json_schema_from_openapi
from emulator.gemini_tools import undeclared_function_problems

WEATHER: dict[str, Any] = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "parametersJsonSchema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
        },
        "required": ["city"],
    },
}
TIME: dict[str, Any] = {
    "name": "get_time",
    "parameters": {
        "type": "OBJECT",
        "properties": {
            "timezone": {"type": "STRING", "nullable": True},
            "precision": {"type": "STRING", "enum": ["seconds", "minutes"]},
        },
        "required": ["timezone", "precision"],
    },
}
NO_ARGS = {"name": "ping"}

ORDER = {
    "$defs": {
        "Item": {
            "type": "object",
            "properties": {
                "sku": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "qty": {"type": "integer", "minimum": 1, "maximum": 99},
                "notes": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
            "required": ["sku", "qty"],
        },
        "Node": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "child": {"$ref": "#/$defs/Node"}},
            "required": ["name"],
        },
    },
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "minItems": 2},
        "priority": {"oneOf": [{"type": "integer"}, {"type": "string", "format": "date"}]},
        "mode": {"const": "express"},
        "price": {"type": "number", "exclusiveMinimum": 0, "maximum": 10},
        "point": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}]},
        "tags": {
            "type": "array",
            "items": {"enum": ["a", "b", "c"]},
            "minItems": 3,
            "uniqueItems": True,
        },
        "meta": {"type": "object", "additionalProperties": {"type": "integer"}},
        "tree": {"$ref": "#/$defs/Node"},
        "merged": {"allOf": [{"properties": {"x": {"type": "boolean"}}, "required": ["x"]}]},
        "when": {"type": "string", "format": "date-time"},
        "contact": {"type": "string", "format": "email"},
        "nickname": {"type": ["string", "null"], "minLength": 3, "maxLength": 5},
    },
    "required": ["items", "priority", "mode", "price", "tags", "tree", "merged"],
}
OPENAPI_ORDER = {
    "type": "OBJECT",
    "properties": {
        "lines": {
            "type": "ARRAY",
            "minItems": "2",
            "maxItems": "3",
            "items": {"ref": "#/defs/Line"},
        },
        "rush": {"type": "BOOLEAN"},
        "kind": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]},
    },
    "required": ["lines", "rush", "kind"],
    "propertyOrdering": ["rush", "lines", "kind"],
    "defs": {
        "Line": {
            "type": "OBJECT",
            "properties": {
                "sku": {"type": "STRING", "minLength": "4"},
                "qty": {"type": "INTEGER", "minimum": 2, "maximum": 4},
            },
            "required": ["sku", "qty"],
        }
    },
}


def calls_of(reply: dict[str, Any], index: int = 0) -> list[dict[str, Any]]:
    return [p for p in parts_of(reply, index) if "functionCall" in p]


async def test_auto_mode_calls_every_named_function_in_declaration_order(emu: Emulator) -> None:
    body = {
        "contents": [user("Please get_time and then get_weather for Paris.")],
        "tools": declare(WEATHER, TIME, NO_ARGS),
    }
    reply = await generate(emu, body)
    (candidate,) = reply["candidates"]
    assert candidate["finishReason"] == "STOP"
    calls = calls_of(reply)
    assert [c["functionCall"]["name"] for c in calls] == ["get_weather", "get_time"]
    assert all(set(c["functionCall"]) == {"name", "args"} for c in calls)  # no `id` on v1
    jsonschema.validate(calls[0]["functionCall"]["args"], WEATHER["parametersJsonSchema"])
    jsonschema.validate(
        calls[1]["functionCall"]["args"], json_schema_from_openapi(TIME["parameters"])
    )
    assert not any("text" in p for p in parts_of(reply))
    usage = reply["usageMetadata"]
    assert usage["candidatesTokenCount"] > 0
    assert usage["totalTokenCount"] == (
        usage["promptTokenCount"] + usage["candidatesTokenCount"] + usage["thoughtsTokenCount"]
    )


async def test_auto_mode_without_a_named_function_answers_in_text(emu: Emulator) -> None:
    body = {"contents": [user("What is the weather like?")], "tools": declare(WEATHER)}
    reply = await generate(emu, body)
    assert not calls_of(reply)
    assert "emulator" in parts_of(reply)[0]["text"]


async def test_whole_words_only(emu: Emulator) -> None:
    body = {"contents": [user("call get_weathers or xget_weather")], "tools": declare(WEATHER)}
    assert not calls_of(await generate(emu, body))


@pytest.mark.parametrize("mode", ["ANY", "VALIDATED"])
async def test_forced_modes(emu: Emulator, mode: str) -> None:
    tools = declare(WEATHER, TIME, NO_ARGS)
    forced = {"functionCallingConfig": {"mode": mode}}
    body = {"contents": [user("Hello there")], "tools": tools, "toolConfig": forced}
    names = [c["functionCall"]["name"] for c in calls_of(await generate(emu, body))]
    assert names == ["get_weather"]  # nothing named: the first allowed function
    body["contents"] = [user("ping, then get_time")]
    names = [c["functionCall"]["name"] for c in calls_of(await generate(emu, body))]
    assert names == ["get_time", "ping"]
    allowed = {
        "functionCallingConfig": {"mode": mode, "allowedFunctionNames": ["ping", "get_time"]}
    }
    body = {"contents": [user("get_weather please")], "tools": tools, "toolConfig": allowed}
    names = [c["functionCall"]["name"] for c in calls_of(await generate(emu, body))]
    assert names == ["get_time"]  # get_weather is not allowed; first allowed in declaration order
    reply = await generate(emu, {**body, "contents": [user("ping")]})
    assert calls_of(reply) == [
        {
            "functionCall": {"name": "ping", "args": {}},
            "thoughtSignature": calls_of(reply)[0]["thoughtSignature"],
        }
    ]


async def test_none_mode_never_calls(emu: Emulator) -> None:
    body = {
        "contents": [user("get_weather now")],
        "tools": declare(WEATHER),
        "toolConfig": {"functionCallingConfig": {"mode": "NONE"}},
    }
    assert not calls_of(await generate(emu, body))


async def test_complex_json_schema_arguments_validate(emu: Emulator) -> None:
    declaration = {"name": "place_order", "parametersJsonSchema": ORDER}
    body = {"contents": [user("place_order")], "tools": declare(declaration)}
    reply = await generate(emu, body)
    (call,) = calls_of(reply)
    args = call["functionCall"]["args"]
    jsonschema.validate(args, ORDER, format_checker=jsonschema.FormatChecker())
    assert args["mode"] == "express" and len(args["items"]) >= 2


async def test_openapi_parameters_arguments_validate(emu: Emulator) -> None:
    declaration = {"name": "order", "parameters": OPENAPI_ORDER}
    body = {"contents": [user("order")], "tools": declare(declaration)}
    reply = await generate(emu, body, model="gemini-2.0-flash")
    (call,) = calls_of(reply)
    args = call["functionCall"]["args"]
    jsonschema.validate(args, json_schema_from_openapi(OPENAPI_ORDER))
    assert list(args) == ["rush", "lines", "kind"]  # propertyOrdering
    assert "thoughtSignature" not in call  # gemini-2.0 does not think


async def test_candidates_each_call(emu: Emulator) -> None:
    body = {
        "contents": [user("get_weather")],
        "tools": declare(WEATHER),
        "generationConfig": {"candidateCount": 2},
    }
    reply = await generate(emu, body)
    assert [len(calls_of(reply, i)) for i in (0, 1)] == [1, 1]


async def test_tool_results_get_a_text_reply(emu: Emulator) -> None:
    body = {
        "contents": [
            user("get_weather and get_time"),
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "get_time", "args": {"timezone": "CET"}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "name": "get_weather",
                            "response": {"output": {"tempC": 18}},
                        }
                    },
                    {"functionResponse": {"name": "get_time", "response": {"output": "12:00"}}},
                ],
            },
        ],
        "tools": declare(WEATHER, TIME),
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
    }
    reply = await generate(emu, body)
    assert not calls_of(reply)
    text = parts_of(reply)[0]["text"]
    assert 'emulator received get_weather result {"output":{"tempC":18}}' in text
    assert 'get_time result {"output":"12:00"}' in text
    assert reply["usageMetadata"]["candidatesTokenCount"] == count_tokens(text)


async def test_stream_calls_arrive_whole_before_the_final_chunk(emu: Emulator) -> None:
    body = {
        "contents": [user("get_weather and get_time")],
        "tools": declare(WEATHER, TIME),
        "generationConfig": {"thinkingConfig": {"includeThoughts": True}},
    }
    unary = await generate(emu, body)
    for events in (await sse(emu, body), await json_stream(emu, body)):
        assert events[0]["candidates"][0]["content"]["parts"][0]["thought"] is True
        call_chunks = [
            e
            for e in events
            if any(
                "functionCall" in p for p in e["candidates"][0].get("content", {}).get("parts", [])
            )
        ]
        assert len(call_chunks) == 1
        (chunk,) = call_chunks
        assert chunk["candidates"][0]["content"]["parts"] == calls_of(unary)
        assert "finishReason" not in chunk["candidates"][0]
        assert chunk["usageMetadata"] == {"trafficType": "ON_DEMAND"}
        last = events[-1]
        assert last is not chunk and last["candidates"][0]["finishReason"] == "STOP"
        assert "content" not in last["candidates"][0]
        assert last["usageMetadata"] == unary["usageMetadata"]


def history(calls: list[str], responses: list[str]) -> list[dict[str, Any]]:
    return [
        user("Weather and time?"),
        {"role": "model", "parts": [{"functionCall": {"name": n, "args": {}}} for n in calls]},
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": n, "response": {"output": 1}}} for n in responses
            ],
        },
    ]


async def test_function_response_count_must_match(emu: Emulator) -> None:
    body = {"contents": history(["get_weather", "get_time"], ["get_weather"])}
    assert await reject(emu, body) == (
        "Please ensure that the number of function response parts is equal to the number of "
        "function call parts of the function call turn."
    )


async def test_function_response_needs_a_call_turn_before_it(emu: Emulator) -> None:
    contents = history(["get_weather"], ["get_weather"])
    body = {"contents": [contents[0], contents[2]]}
    assert await reject(emu, body) == (
        "Please ensure that function response turn comes immediately after a function call turn."
    )


async def test_function_call_turn_needs_a_user_turn_before_it(emu: Emulator) -> None:
    contents = history(["get_weather"], ["get_weather"])
    for broken in (
        [contents[1], contents[2]],
        [contents[0], {"role": "model", "parts": [{"text": "Hm."}]}, *contents[1:]],
    ):
        assert await reject(emu, {"contents": broken}) == (
            "Please ensure that function call turn comes immediately after a user turn or after "
            "a function response turn."
        )


async def test_function_response_names_must_match_the_calls(emu: Emulator) -> None:
    body = {"contents": history(["get_weather", "get_time"], ["get_weather", "get_weather"])}
    assert "names of the function response parts match" in await reject(emu, body)


async def test_parallel_results_in_any_order_are_fine(emu: Emulator) -> None:
    body = {"contents": history(["get_weather", "get_time"], ["get_time", "get_weather"])}
    await generate(emu, body)


async def test_undeclared_functions_in_history(emu: Emulator) -> None:
    body = {"contents": history(["lookup"], ["lookup"]), "tools": declare(TIME)}
    assert await reject(emu, body) == (
        "Unable to submit request because function call `lookup` in the 2. content block is not "
        "declared in `tools.function_declarations`. Add the function declaration and try again."
    )
    body.pop("tools")  # without declarations the history is not checked against them
    await generate(emu, body)


async def test_count_tokens_skips_turn_rules(emu: Emulator) -> None:
    body = {"contents": history(["get_weather", "get_time"], ["get_weather"])}
    status, answer, _ = await emu.post(emu.url("countTokens"), body)
    assert status == 200 and answer["totalTokens"] > 0


async def test_openapi_any_of_must_stand_alone(emu: Emulator) -> None:
    declaration = {
        "name": "edit",
        "parameters": {
            "type": "OBJECT",
            "properties": {
                "edits": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}], "description": "x"}
            },
        },
    }
    body = {"contents": [user("edit")], "tools": declare(declaration)}
    assert await reject(emu, body) == (
        "Unable to submit request because `edit` functionDeclaration `parameters.edits` schema "
        "specified other fields alongside any_of. When using anyOf, it must be the only field set."
    )


async def test_json_schema_ref_takes_no_siblings(emu: Emulator) -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "$defs": {"D": {"type": "string"}},
        "properties": {"draft": {"$ref": "#/$defs/D", "description": "the draft"}},
    }
    body = {
        "contents": [user("save")],
        "tools": declare({"name": "save", "parametersJsonSchema": schema}),
    }
    assert await reject(emu, body) == (
        "schema at properties.draft can only contain properties starting with '$' when $ref is present"
    )
    schema["properties"]["draft"] = {"$ref": "#/$defs/D", "$comment": "fine"}
    await generate(emu, body)


def test_undeclared_function_response_is_found() -> None:
    body = {
        "contents": [
            user("hi"),
            {"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {}}}]},
        ],
        "tools": declare(WEATHER),
    }
    ((where, message),) = undeclared_function_problems(body)
    assert where == "contents[1].parts[0].function_response.name"
    assert message.startswith("Unable to submit request because function response `lookup`")
