"""Chat features end to end, for each model family, unary and streaming.

Gemini (generateContent), Claude (rawPredict) and a Model Garden model (the OpenAI-compatible
endpoint) each go through a real gRPC channel, the gateway and the emulator, which validates
every body with Google's discovery schema, the `anthropic` types or the `openai` types.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import grpc
import jsonschema
import pytest
from google.protobuf import json_format, struct_pb2
from vertex_gateway.v1 import chat_pb2, chat_pb2_grpc, common_pb2

from emulator.admin import EmulatorAdmin

from .assemble import assemble
from .conftest import reply_text, rpc_error, user

Stub = chat_pb2_grpc.ChatServiceStub
GEMINI = "gemini-2.5-flash"
GEMINI_3 = "gemini-3-pro-preview"
CLAUDE = "anthropic/claude-sonnet-4-5@20250929"
GARDEN = "meta/llama-4-maverick-17b-128e-instruct-maas"
GARDEN_REASONING = "openai/gpt-oss-120b-maas"
GARDEN_DOCUMENTS = "deepseek-ai/deepseek-r1-0528-maas"
FAMILIES = [GEMINI, CLAUDE, GARDEN]
MODES = ["unary", "stream"]

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
}
TIME = {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}
ANSWER = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    },
    "required": ["title", "score", "tags"],
}


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(value)
    return out


def function(name: str, schema: dict[str, Any]) -> chat_pb2.Tool:
    return chat_pb2.Tool(
        function=chat_pb2.FunctionDeclaration(
            name=name, description=f"{name} tool", parameters=struct(schema)
        )
    )


TOOLS = [function("get_weather", WEATHER), function("get_time", TIME)]


async def call(stub: Stub, request: chat_pb2.ChatRequest, mode: str) -> chat_pb2.ChatResponse:
    """Chat, or StreamChat assembled into the same reply."""
    if mode == "unary":
        return await stub.Chat(request)
    chunks = [c async for c in stub.StreamChat(request)]
    assert chunks and chunks[0].model and chunks[0].served_by.vertex_model
    return assemble(chunks)


def tool_calls(reply: chat_pb2.ChatResponse) -> list[chat_pb2.ToolCall]:
    return [
        p.tool_call
        for p in reply.candidates[0].message.parts
        if p.WhichOneof("kind") == "tool_call"
    ]


def as_assistant(reply: chat_pb2.ChatResponse) -> chat_pb2.Message:
    return chat_pb2.Message(role=chat_pb2.ROLE_ASSISTANT, parts=reply.candidates[0].message.parts)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", FAMILIES)
async def test_two_turn_tool_conversation_with_parallel_calls(
    chat: Stub, model: str, mode: str
) -> None:
    first = chat_pb2.ChatRequest(
        model=model,
        messages=[user("Use get_weather and get_time for Paris, please.")],
        tools=TOOLS,
        tool_choice=chat_pb2.ToolChoice(mode=chat_pb2.ToolChoice.MODE_AUTO),
    )
    reply = await call(chat, first, mode)
    candidate = reply.candidates[0]
    assert candidate.finish_reason == common_pb2.FINISH_REASON_TOOL_CALLS, candidate
    calls = tool_calls(reply)
    assert [c.name for c in calls] == ["get_weather", "get_time"]
    assert [c.index for c in calls] == [0, 1]
    assert len({c.id for c in calls}) == 2 and all(calls[i].id for i in (0, 1))
    jsonschema.validate(json_format.MessageToDict(calls[0].arguments), WEATHER)
    jsonschema.validate(json_format.MessageToDict(calls[1].arguments), TIME)

    # Results by id for one call and by name only for the other: the gateway pairs both.
    results = chat_pb2.Message(
        role=chat_pb2.ROLE_TOOL,
        parts=[
            chat_pb2.Part(
                tool_result=chat_pb2.ToolResult(
                    id=calls[0].id, output=struct_pb2.Value(string_value="18C and sunny")
                )
            ),
            chat_pb2.Part(
                tool_result=chat_pb2.ToolResult(
                    name="get_time", output=struct_pb2.Value(struct_value=struct({"time": "14:05"}))
                )
            ),
        ],
    )
    second = chat_pb2.ChatRequest(
        model=model, messages=[*first.messages, as_assistant(reply), results], tools=TOOLS
    )
    final = await call(chat, second, mode)
    text = reply_text(final.candidates[0])
    assert final.candidates[0].finish_reason == common_pb2.FINISH_REASON_STOP
    assert "18C and sunny" in text and "14:05" in text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", [GEMINI, CLAUDE])
async def test_image_and_pdf_input(chat: Stub, model: str, mode: str) -> None:
    request = chat_pb2.ChatRequest(
        model=model,
        messages=[
            chat_pb2.Message(
                role=chat_pb2.ROLE_USER,
                parts=[
                    chat_pb2.Part(text="What is in these?"),
                    chat_pb2.Part(media=common_pb2.Media(mime_type="image/png", data=PNG)),
                    chat_pb2.Part(media=common_pb2.Media(mime_type="application/pdf", data=PDF)),
                ],
            )
        ],
    )
    reply = await call(chat, request, mode)
    assert "image/png, application/pdf" in reply_text(reply.candidates[0])


@pytest.mark.parametrize("mode", MODES)
async def test_model_garden_images_and_pdfs_by_model(chat: Stub, mode: str) -> None:
    """No Model Garden model takes both: Llama 4 Maverick reads images, DeepSeek R1 reads PDFs
    (sent as OpenAI `file` parts), and each refuses the other by name before any call."""
    image = chat_pb2.Part(media=common_pb2.Media(mime_type="image/png", data=PNG))
    pdf = chat_pb2.Part(media=common_pb2.Media(mime_type="application/pdf", data=PDF))
    for model, good, bad, capability in (
        (GARDEN, image, pdf, "document_input"),
        (GARDEN_DOCUMENTS, pdf, image, "image_input"),
    ):
        question = chat_pb2.Part(text="What is in this?")
        request = chat_pb2.ChatRequest(
            model=model,
            messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[question, good])],
        )
        reply = await call(chat, request, mode)
        assert good.media.mime_type in reply_text(reply.candidates[0])
        request.messages[0].parts.append(bad)
        error = await rpc_error(chat, request, streaming=mode == "stream")
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "messages[0].parts[2].media" in str(error.details())
        assert capability in str(error.details())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", FAMILIES)
async def test_json_schema_output_parses_and_validates(chat: Stub, model: str, mode: str) -> None:
    request = chat_pb2.ChatRequest(
        model=model,
        messages=[user("Review the film Alien as JSON.")],
        response_format=chat_pb2.ResponseFormat(
            type=chat_pb2.ResponseFormat.TYPE_JSON_SCHEMA,
            json_schema=struct(ANSWER),
            schema_name="review",
        ),
    )
    reply = await call(chat, request, mode)
    candidate = reply.candidates[0]
    assert candidate.finish_reason == common_pb2.FINISH_REASON_STOP
    jsonschema.validate(json.loads(reply_text(candidate)), ANSWER)


def _signatures(reply: chat_pb2.ChatResponse) -> list[bytes]:
    return [p.thought_signature for p in reply.candidates[0].message.parts if p.thought_signature]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("model", "reasoning"),
    [
        (GEMINI_3, chat_pb2.ReasoningConfig(effort=chat_pb2.ReasoningConfig.EFFORT_HIGH, include_thoughts=True)),
        (CLAUDE, chat_pb2.ReasoningConfig(budget_tokens=2048)),
    ],
)  # fmt: skip
async def test_thinking_signatures_survive_three_turns(
    chat: Stub, admin: EmulatorAdmin, model: str, reasoning: chat_pb2.ReasoningConfig, mode: str
) -> None:
    history = [user("Use get_weather for Oslo.")]
    base = {"model": model, "tools": [TOOLS[0]], "reasoning": reasoning}
    one = await call(chat, chat_pb2.ChatRequest(messages=history, **base), mode)
    assert _signatures(one), "the model's first turn must carry a signature"
    assert any(p.WhichOneof("kind") == "thought" for p in one.candidates[0].message.parts)
    [first_call] = tool_calls(one)
    history += [
        as_assistant(one),
        chat_pb2.Message(
            role=chat_pb2.ROLE_TOOL,
            parts=[
                chat_pb2.Part(
                    tool_result=chat_pb2.ToolResult(
                        id=first_call.id, output=struct_pb2.Value(string_value="-3C")
                    )
                )
            ],
        ),
    ]
    two = await call(chat, chat_pb2.ChatRequest(messages=history, **base), mode)
    assert "-3C" in reply_text(two.candidates[0])
    history += [as_assistant(two), user("Now use get_weather for Bergen.")]
    three = await call(chat, chat_pb2.ChatRequest(messages=history, **base), mode)
    assert tool_calls(three) and _signatures(three)
    # The signatures went back byte for byte: the emulator verified every one it issued.
    assert all(r["status"] == 200 for r in admin.requests() if "/token" not in r["path"])

    # A history with a signature altered is refused by Vertex; the caller sees why.
    tampered = [chat_pb2.Message() for _ in history]
    for copy, original in zip(tampered, history, strict=True):
        copy.CopyFrom(original)
    for part in tampered[1].parts:
        if part.thought_signature:
            part.thought_signature = part.thought_signature[::-1] + b"x"
    error = await rpc_error(
        chat, chat_pb2.ChatRequest(messages=tampered, **base), streaming=mode == "stream"
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "signature" in str(error.details()).lower()


@pytest.mark.parametrize("mode", MODES)
async def test_model_garden_reasoning_comes_back_as_thoughts(chat: Stub, mode: str) -> None:
    history = [user("Think about prime numbers.")]
    effort = chat_pb2.ReasoningConfig(effort=chat_pb2.ReasoningConfig.EFFORT_MEDIUM)
    for turn in range(3):
        reply = await call(
            chat,
            chat_pb2.ChatRequest(model=GARDEN_REASONING, messages=history, reasoning=effort),
            mode,
        )
        parts = reply.candidates[0].message.parts
        assert parts[0].WhichOneof("kind") == "thought" and parts[0].thought.text
        assert reply.usage.reasoning_tokens > 0
        history += [as_assistant(reply), user(f"And turn {turn + 2}?")]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("model", "reason", "native"),
    [
        (GEMINI, common_pb2.FINISH_REASON_CONTENT_FILTER, "SAFETY"),
        (CLAUDE, common_pb2.FINISH_REASON_REFUSAL, "refusal"),
        (GARDEN, common_pb2.FINISH_REASON_CONTENT_FILTER, "content_filter"),
    ],
)
async def test_safety_stop_keeps_the_partial_reply(
    chat: Stub, model: str, reason: int, native: str, mode: str
) -> None:
    chunks: list[chat_pb2.StreamChatResponse] = []
    request = chat_pb2.ChatRequest(model=model, messages=[user("Say something EMULATOR_UNSAFE")])
    if mode == "unary":
        reply = await chat.Chat(request)
    else:
        chunks = [c async for c in chat.StreamChat(request)]
        reply = assemble(chunks)
    candidate = reply.candidates[0]
    assert candidate.finish_reason == reason
    assert candidate.native_finish_reason == native
    if mode == "stream":
        # Text streamed before the stop reached the caller before the stop itself.
        texts = [
            c for c in chunks if any(p.text for cand in c.candidates for p in cand.message.parts)
        ]
        assert texts and reply_text(candidate)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("model", "native"),
    [(GEMINI, "MALFORMED_FUNCTION_CALL"), (CLAUDE, "tool_use"), (GARDEN, "tool_calls")],
)
async def test_malformed_function_call_is_surfaced_with_its_native_reason(
    chat: Stub, model: str, native: str, mode: str
) -> None:
    request = chat_pb2.ChatRequest(
        model=model,
        messages=[user("Use get_weather now EMULATOR_MALFORMED_CALL")],
        tools=[TOOLS[0]],
    )
    reply = await call(chat, request, mode)
    candidate = reply.candidates[0]
    assert candidate.finish_reason == common_pb2.FINISH_REASON_MALFORMED_TOOL_CALL
    assert candidate.native_finish_reason == native
    if model != GEMINI:  # Gemini's own message; the gateway says which call and why
        assert "get_weather" in candidate.finish_message


@pytest.mark.parametrize("model", [GEMINI, CLAUDE])
async def test_count_tokens(chat: Stub, model: str) -> None:
    reply = await chat.CountTokens(
        chat_pb2.CountTokensRequest(
            model=model, messages=[user("How many tokens is this?")], tools=TOOLS
        )
    )
    assert reply.total_tokens > 0


async def test_count_tokens_on_model_garden_is_refused_by_capability(chat: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await chat.CountTokens(chat_pb2.CountTokensRequest(model=GARDEN, messages=[user("hi")]))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "count_tokens" in str(info.value.details())
