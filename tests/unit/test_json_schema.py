"""Caller schemas are checked before sending; returned tool calls are checked against them."""

from typing import Any

import pytest
from google.protobuf import json_format
from vertex_gateway.v1 import chat_pb2, common_pb2

from server.translate.json_schema import (
    arguments_problem,
    schema_problem,
    subschemas,
    unsupported_keywords,
)
from server.translate.tool_calls import ToolCallChecker

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
    "required": ["city"],
}


def test_valid_and_invalid_schemas() -> None:
    assert schema_problem(WEATHER, object_root=True) is None
    assert "not a valid JSON Schema at /properties/city/type" in str(
        schema_problem({"type": "object", "properties": {"city": {"type": "text"}}})
    )
    assert "must describe an object" in str(schema_problem({"type": "array"}, object_root=True))
    dangling = {"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}}
    assert "at /properties/a: $ref '#/$defs/Missing' points to nothing" in str(
        schema_problem(dangling)
    )
    remote = {"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}}
    assert "points to nothing" in str(schema_problem(remote))
    local = {
        "$defs": {"A": {"type": "string"}},
        "properties": {"a": {"$ref": "#/$defs/A"}, "b": {"$ref": "#"}},
    }
    assert schema_problem(local) is None


def test_subschemas_and_unsupported_keywords_are_found_with_paths() -> None:
    schema = {
        "type": "object",
        "$defs": {"P": {"type": "string", "pattern": "^a"}},
        "properties": {"xs": {"type": "array", "items": {"allOf": [{"$ref": "#/$defs/P"}]}}},
    }
    paths = [p for p, _ in subschemas(schema)]
    assert paths == [
        "/",
        "/properties/xs",
        "/properties/xs/items",
        "/properties/xs/items/allOf/0",
        "/$defs/P",
    ]
    allowed = frozenset({"type", "$defs", "properties", "items", "$ref"})
    assert unsupported_keywords(schema, allowed) == [
        ("/properties/xs/items", "allOf"),
        ("/$defs/P", "pattern"),
    ]


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"city": "Paris"}, None),
        ({}, "'city' is a required property"),
        ({"city": "Paris", "days": 0}, "at /days"),
        ({"city": 3}, "at /city"),
    ],
)
def test_arguments_against_the_schema(arguments: dict[str, Any], problem: str | None) -> None:
    found = arguments_problem(arguments, WEATHER)
    assert (found is None) if problem is None else (problem in str(found))


def _candidate(
    name: str, arguments: dict[str, Any], finish: int, delta: str = ""
) -> chat_pb2.Candidate:
    call = chat_pb2.ToolCall(id="c1", name=name, arguments_delta=delta)
    json_format.ParseDict(arguments, call.arguments)
    return chat_pb2.Candidate(
        message=chat_pb2.Message(
            role=chat_pb2.ROLE_ASSISTANT, parts=[chat_pb2.Part(tool_call=call)]
        ),
        finish_reason=finish,  # type: ignore[arg-type]
        native_finish_reason="STOP" if finish else "",
    )


def _request() -> chat_pb2.ChatRequest:
    request = chat_pb2.ChatRequest()
    fn = request.tools.add().function
    fn.name = "get_weather"
    json_format.ParseDict(WEATHER, fn.parameters)
    return request


def test_checker_marks_a_call_that_breaks_its_schema() -> None:
    checker = ToolCallChecker(_request())
    bad = _candidate("get_weather", {"days": 2}, common_pb2.FINISH_REASON_TOOL_CALLS)
    checker.check(bad)
    assert bad.finish_reason == common_pb2.FINISH_REASON_MALFORMED_TOOL_CALL
    assert bad.native_finish_reason == "STOP"
    assert (
        "get_weather (c1)" in bad.finish_message
        and "'city' is a required property" in bad.finish_message
    )


def test_checker_keeps_good_calls_and_waits_for_the_finish_in_streams() -> None:
    checker = ToolCallChecker(_request())
    good = _candidate("get_weather", {"city": "Oslo"}, common_pb2.FINISH_REASON_TOOL_CALLS)
    checker.check(good)
    assert good.finish_reason == common_pb2.FINISH_REASON_TOOL_CALLS and not good.finish_message
    checker = ToolCallChecker(_request())
    fragment = _candidate("get_weather", {}, common_pb2.FINISH_REASON_UNSPECIFIED, delta='{"da')
    checker.check(fragment)  # fragments are never judged
    undeclared = _candidate("launch", {}, common_pb2.FINISH_REASON_UNSPECIFIED)
    checker.check(undeclared)
    assert undeclared.finish_reason == common_pb2.FINISH_REASON_UNSPECIFIED
    end = chat_pb2.Candidate(finish_reason=common_pb2.FINISH_REASON_TOOL_CALLS)
    checker.check(end)
    assert end.finish_reason == common_pb2.FINISH_REASON_MALFORMED_TOOL_CALL
    assert "not declared" in end.finish_message
