"""Bad chat input for tools, media, schemas, reasoning and capabilities: INVALID_ARGUMENT
naming the field, for every model family, with nothing sent to Vertex."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from vertex_gateway.v1 import chat_pb2, chat_pb2_grpc

from emulator.admin import EmulatorAdmin

from ..conftest import error_details
from .conftest import rpc_error

Stub = chat_pb2_grpc.ChatServiceStub
CLAUDE = "anthropic/claude-sonnet-4-5@20250929"
GARDEN = "meta/llama-3.3-70b-instruct-maas"
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def request(model: str, messages: list[dict[str, Any]], **extra: Any) -> chat_pb2.ChatRequest:
    body = {"model": model, "messages": messages, **extra}
    return json_format.ParseDict(body, chat_pb2.ChatRequest())


def text(role: str, value: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"text": value}]}


def with_infinity(req: chat_pb2.ChatRequest) -> chat_pb2.ChatRequest:
    req.tools[0].function.parameters["maxProperties"] = float("inf")
    return req


TOOL = [{"function": {"name": "get_weather", "parameters": WEATHER}}]
CALL = {
    "role": "ROLE_ASSISTANT",
    "parts": [{"toolCall": {"id": "c1", "name": "get_weather", "arguments": {"city": "Oslo"}}}],
}
ORPHAN_RESULT = {"role": "ROLE_TOOL", "parts": [{"toolResult": {"id": "nope", "output": "x"}}]}
PNG_NO_TYPE = {"role": "ROLE_USER", "parts": [{"media": {"data": "iVBORw0KGgo="}}]}

CASES = [
    # tool result without a matching call
    *[
        (m, request(m, [text("ROLE_USER", "hi"), CALL, ORPHAN_RESULT], tools=TOOL),
         "messages[2].parts[0].tool_result.id", "matches no tool call")
        for m in ("gemini-2.5-flash", CLAUDE, GARDEN)
    ],
    *[
        (m, request(m, [text("ROLE_USER", "hi"), ORPHAN_RESULT], tools=TOOL),
         "messages[1].parts[0].tool_result", "no assistant turn")
        for m in ("gemini-2.5-flash", CLAUDE)
    ],
    # media without a MIME type
    *[
        (m, request(m, [PNG_NO_TYPE]), "messages[0].parts[0].media.mime_type", "is required")
        for m in ("gemini-2.5-flash", CLAUDE)
    ],
    # schemas no JSON Schema validator accepts, or Vertex cannot take
    ("gemini-2.5-flash",
     request("gemini-2.5-flash", [text("ROLE_USER", "hi")],
             responseFormat={"type": "TYPE_JSON_SCHEMA", "jsonSchema": {"type": "object", "properties": {"a": {"type": "str"}}}}),
     "response_format.json_schema", "not a valid JSON Schema"),
    ("gemini-2.5-flash",
     request("gemini-2.5-flash", [text("ROLE_USER", "hi")],
             responseFormat={"type": "TYPE_JSON_SCHEMA", "jsonSchema": {
                 "type": "object", "$defs": {"P": {"type": "string"}},
                 "properties": {"p": {"$ref": "#/$defs/P", "description": "a p"}}}}),
     "response_format.json_schema", "no other keywords beside $ref"),
    (CLAUDE,
     request(CLAUDE, [text("ROLE_USER", "hi")], tools=[{"function": {"name": "f", "parameters": {"type": "array"}}}]),
     "tools[0].function.parameters", "must describe an object"),
    # thinking budget out of range
    ("gemini-2.5-pro", request("gemini-2.5-pro", [text("ROLE_USER", "hi")], reasoning={"budgetTokens": 0}),
     "reasoning.budget_tokens", "cannot turn reasoning off"),
    ("gemini-2.5-flash", request("gemini-2.5-flash", [text("ROLE_USER", "hi")], reasoning={"budgetTokens": 50000}),
     "reasoning.budget_tokens", "0, 1 to 24576"),
    (CLAUDE, request(CLAUDE, [text("ROLE_USER", "hi")], reasoning={"budgetTokens": 500}),
     "reasoning.budget_tokens", "1024"),
    # a capability the model lacks
    (GARDEN, request(GARDEN, [{"role": "ROLE_USER", "parts": [{"media": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]}]),
     "messages[0].parts[0].media", "does not support image_input"),
    ("gemini-2.0-flash", request("gemini-2.0-flash", [text("ROLE_USER", "hi")], reasoning={"effort": "EFFORT_HIGH"}),
     "reasoning", "does not support reasoning"),
    (GARDEN, request(GARDEN, [text("ROLE_USER", "hi")], tools=[{"googleSearch": {}}]),
     "tools[0]", "does not support grounding"),
    # enum numbers the contract does not define, and numbers JSON cannot carry
    *[
        (m, request(m, [text("ROLE_USER", "hi")], reasoning={"effort": 7}), "reasoning.effort", "unknown value 7")
        for m in ("gemini-2.5-flash", CLAUDE, GARDEN)
    ],
    ("gemini-2.5-flash",
     request("gemini-2.5-flash", [text("ROLE_USER", "hi")], safetySettings=[{"category": 42, "threshold": "HARM_BLOCK_THRESHOLD_OFF"}]),
     "safety_settings[0].category", "unknown value 42"),
    (CLAUDE, with_infinity(request(CLAUDE, [text("ROLE_USER", "hi")], tools=TOOL)),
     "tools[0].function.parameters.maxProperties", "not a finite number"),
    # settings another family has but this one does not
    (CLAUDE, request(CLAUDE, [text("ROLE_USER", "hi")], safetySettings=[{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "HARM_BLOCK_THRESHOLD_OFF"}]),
     "safety_settings", "Claude"),
    (GARDEN, request(GARDEN, [text("ROLE_USER", "hi")], generationConfig={"topK": 5}),
     "generation_config.top_k", ""),
]  # fmt: skip


@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize(("model", "request_", "field", "needle"), CASES)
async def test_bad_chat_input_names_the_field(
    chat: Stub,
    admin: EmulatorAdmin,
    model: str,
    request_: chat_pb2.ChatRequest,
    field: str,
    needle: str,
    streaming: bool,
) -> None:
    d = error_details(await rpc_error(chat, request_, streaming=streaming))
    assert d.code == grpc.StatusCode.INVALID_ARGUMENT, d.message
    assert d.bad_request is not None, d.message
    violations = {v.field: v.description for v in d.bad_request.field_violations}
    assert field in violations, d.message
    assert needle in violations[field], d.message
    assert admin.requests() == []  # nothing reached Vertex
