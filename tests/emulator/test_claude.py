"""Claude on Vertex in the emulator: body validation (each rule's 400) and unary replies.

Streaming, faults and the anthropic SDK end to end: test_claude_stream.py.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import jsonschema
import pytest
from emu_helpers import Emulator

MODEL = "claude-sonnet-4-5@20250929"
MODEL_VERSION = "claude-sonnet-4-5-20250929"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32).decode()
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\x00" * 32).decode()
PDF = base64.b64encode(b"%PDF-1.4\n%emulator\n").decode()
WEATHER = {
    "name": "get_weather",
    "description": "Weather by city",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "minLength": 2},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
}
TIME = {
    "name": "get_time",
    "description": "Current time in a time zone",
    "input_schema": {
        "type": "object",
        "properties": {"zone": {"type": "string"}},
        "required": ["zone"],
        "additionalProperties": False,
    },
}
COMPLEX = {
    "name": "book_trip",
    "input_schema": {
        "type": "object",
        "properties": {
            "traveler": {"$ref": "#/$defs/person"},
            "nights": {"type": "integer", "minimum": 2, "maximum": 14},
            "budget": {"type": "number", "exclusiveMinimum": 100, "multipleOf": 50},
            "class": {"type": "string", "enum": ["economy", "business"]},
            "version": {"const": 3},
            "stops": {
                "type": "array",
                "items": {"type": "string", "maxLength": 12},
                "minItems": 2,
                "uniqueItems": True,
            },
            "note": {"anyOf": [{"type": "null"}, {"type": "string", "format": "date"}]},
        },
        "required": ["traveler", "nights", "budget", "class", "version", "stops"],
        "additionalProperties": False,
        "$defs": {
            "person": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                "required": ["name", "age"],
            }
        },
    },
}


def claude_url(
    emu: Emulator,
    method: str = "rawPredict",
    model: str = MODEL,
    *,
    version: str = "v1",
    location: str = "us-east5",
) -> str:
    """The URL of a Claude method."""
    return (
        f"{emu.base_url}/{version}/projects/test-project/locations/{location}"
        f"/publishers/anthropic/models/{model}:{method}"
    )


def claude_body(text: str = "What is the capital of France?", **extra: Any) -> dict[str, Any]:
    """A minimal valid rawPredict body."""
    return {
        "anthropic_version": "vertex-2023-10-16",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def thinking_body(text: str = "Weather in Paris?", **extra: Any) -> dict[str, Any]:
    """A body with thinking enabled (budget 2048)."""
    return claude_body(
        text, max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048}, **extra
    )


async def claude_post(
    emu: Emulator, body: Any, method: str = "rawPredict", model: str = MODEL, **kwargs: Any
) -> tuple[int, Any]:
    """POST to a Claude method; returns the status and the parsed JSON."""
    status, answer, _ = await emu.post(claude_url(emu, method, model), body, **kwargs)
    return status, answer


async def reply(emu: Emulator, body: Any, model: str = MODEL) -> dict[str, Any]:
    """A successful unary reply."""
    status, answer = await claude_post(emu, body, model=model)
    assert status == 200, answer
    assert isinstance(answer, dict)
    return answer


async def rejected(emu: Emulator, body: Any, method: str = "rawPredict", model: str = MODEL) -> str:
    """The message of an expected Anthropic-style 400."""
    status, answer = await claude_post(emu, body, method, model)
    assert status == 400, answer
    assert answer["type"] == "error"
    assert answer["error"]["type"] == "invalid_request_error"
    assert answer["request_id"].startswith("req_vrtx_")
    message: str = answer["error"]["message"]
    return message


def texts(message: dict[str, Any]) -> str:
    """All text of a Message."""
    return "".join(b["text"] for b in message["content"] if b["type"] == "text")


def blocks_of(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The content blocks of one type."""
    return [b for b in message["content"] if b["type"] == kind]


def assistant_turn(message: dict[str, Any]) -> dict[str, Any]:
    """A reply, as the next request's assistant message."""
    return {"role": "assistant", "content": message["content"]}


def tool_results(message: dict[str, Any], content: str = "18 degrees and sunny") -> dict[str, Any]:
    """A user message answering every tool_use of ``message``."""
    return {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": b["id"], "content": content}
            for b in blocks_of(message, "tool_use")
        ],
    }


# --- type validation (the anthropic package's own types) ---------------------------------------

TYPE_ERRORS = [
    ("typo", {"max_token": 5}, "max_token: Extra inputs are not permitted"),
    (
        "system_prompt",
        {"system_prompt": "Be terse."},
        "system_prompt: Extra inputs are not permitted",
    ),
    ("model in body", {"model": "claude-sonnet-4-5"}, "model: Extra inputs are not permitted"),
    (
        "bad version",
        {"anthropic_version": "bedrock-2023-05-31"},
        "anthropic_version: Input should be 'vertex-2023-10-16' or '2026-10-21'",
    ),
    ("stream on rawPredict", {"stream": True}, "stream: Input should be False"),
    ("max_tokens type", {"max_tokens": "1024"}, "max_tokens: Input should be a valid integer"),
    ("temperature type", {"temperature": "hot"}, "temperature: Input should be a valid number"),
    (
        "block field",
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "foo": 1}]}]},
        "messages.0.content.0.text.foo: Extra inputs are not permitted",
    ),
    (
        "block type",
        {"messages": [{"role": "user", "content": [{"type": "txt", "text": "hi"}]}]},
        "messages.0.content.0: Input tag 'txt' found using 'type' does not match any of the "
        "expected tags: 'text', 'image'",
    ),
    (
        "image media type",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/tiff", "data": PNG},
                        }
                    ],
                }
            ]
        },
        "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', "
        "'image/png', 'image/gif' or 'image/webp'",
    ),
    (
        "cache_control",
        {"system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "x": 1}}]},
        "system.0.cache_control.ephemeral.x: Extra inputs are not permitted",
    ),
    (
        "tool without schema",
        {"tools": [{"name": "get_weather"}]},
        "tools.0.custom.input_schema: Field required",
    ),
    (
        "thinking budget type",
        {"thinking": {"type": "enabled", "budget_tokens": "lots"}},
        "thinking.enabled.budget_tokens: Input should be a valid integer",
    ),
]


@pytest.mark.parametrize(
    ("extra", "message"), [t[1:] for t in TYPE_ERRORS], ids=[t[0] for t in TYPE_ERRORS]
)
async def test_type_errors(emu: Emulator, extra: dict[str, Any], message: str) -> None:
    assert (await rejected(emu, claude_body(**extra))).startswith(message)


async def test_missing_fields(emu: Emulator) -> None:
    body = claude_body()
    del body["anthropic_version"]
    assert await rejected(emu, body) == "anthropic_version: Field required"
    body = claude_body()
    del body["max_tokens"]
    assert await rejected(emu, body) == "max_tokens: Field required"
    assert await rejected(emu, claude_body(), "streamRawPredict") == "stream: Field required"


async def test_both_anthropic_versions_accepted(emu: Emulator) -> None:
    for version in ("vertex-2023-10-16", "2026-10-21"):
        await reply(emu, claude_body(anthropic_version=version))


async def test_error_is_recorded_for_the_audit(emu: Emulator) -> None:
    await rejected(emu, claude_body(max_token=5))
    (record,) = await emu.records()
    assert record["status"] == 400
    assert record["schema_errors"] == ["max_token: Extra inputs are not permitted"]


async def test_rule_errors_are_recorded_but_not_audited(emu: Emulator) -> None:
    body = claude_body(messages=[{"role": "assistant", "content": "Hi"}])
    assert await rejected(emu, body) == 'messages: first message must use the "user" role'
    (record,) = await emu.records()
    assert record["schema_errors"] == ['messages: first message must use the "user" role']
    audit = await emu.admin("GET", "audit", params={"user_agent_prefix": ""})
    assert all("first message" not in " ".join(v["schema_errors"]) for v in audit["violations"])


async def test_auth_comes_before_body_errors(emu: Emulator) -> None:
    status, answer, _ = await emu.post(claude_url(emu), {"max_token": 1}, headers={})
    assert status == 401 and answer["error"]["status"] == "UNAUTHENTICATED"
    details = answer["error"]["details"][0]["metadata"]
    assert details["method"] == "google.cloud.aiplatform.v1.PredictionService.RawPredict"


async def test_unknown_model_is_a_google_404(emu: Emulator) -> None:
    status, answer = await claude_post(emu, claude_body(), model="claude-nonexistent@20990101")
    assert status == 404
    assert answer["error"]["status"] == "NOT_FOUND"
    assert "claude-nonexistent@20990101" in answer["error"]["message"]


# --- semantic rules -----------------------------------------------------------------------------


async def test_max_tokens_limit(emu: Emulator) -> None:
    assert await rejected(emu, claude_body(max_tokens=64001)) == (
        "max_tokens: 64001 > 64000, which is the maximum allowed number of output tokens for "
        f"{MODEL_VERSION}"
    )
    await reply(emu, claude_body(max_tokens=64000))
    message = await rejected(emu, claude_body(max_tokens=8193), model="claude-3-5-haiku@20241022")
    assert message.startswith("max_tokens: 8193 > 8192")


async def test_message_order_rules(emu: Emulator) -> None:
    assistant_first = claude_body(
        messages=[
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Hi"},
        ]
    )
    assert (
        await rejected(emu, assistant_first) == 'messages: first message must use the "user" role'
    )
    assert await rejected(emu, claude_body(messages=[])) == (
        "messages: at least one message is required"
    )
    empty = claude_body(messages=[{"role": "user", "content": []}])
    assert await rejected(emu, empty) == (
        "messages.0: all messages must have non-empty content except for the optional final "
        "assistant message"
    )


async def test_sampling_ranges(emu: Emulator) -> None:
    assert await rejected(emu, claude_body(temperature=1.5)) == "temperature: range: 0..1"
    assert await rejected(emu, claude_body(top_p=-0.1)) == "top_p: range: 0..1"
    await reply(emu, claude_body(temperature=0.2, top_k=40))
    both = claude_body(temperature=0.2, top_p=0.9)
    assert await rejected(emu, both) == (
        "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
    )
    await reply(emu, both, model="claude-sonnet-4@20250514")


def tool_use_turns(tool_id: str = "toolu_vrtx_01abc") -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": tool_id,
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                }
            ],
        },
    ]


async def test_tool_result_must_answer_the_previous_tool_use(emu: Emulator) -> None:
    messages = [
        *tool_use_turns(),
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_vrtx_01abc", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_vrtx_01zzz", "content": "rain"},
            ],
        },
    ]
    assert await rejected(emu, claude_body(messages=messages, tools=[WEATHER])) == (
        "messages.2.content.1: unexpected `tool_use_id` found in `tool_result` blocks: "
        "toolu_vrtx_01zzz. Each `tool_result` block must have a corresponding `tool_use` block in "
        "the previous message."
    )
    first = [
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "r"}],
        }
    ]
    message = await rejected(emu, claude_body(messages=first, tools=[WEATHER]))
    assert message.startswith("messages.0.content.0: unexpected `tool_use_id`")


async def test_tool_use_needs_a_result_in_the_next_message(emu: Emulator) -> None:
    messages = [*tool_use_turns(), {"role": "user", "content": "Never mind."}]
    assert await rejected(emu, claude_body(messages=messages, tools=[WEATHER])) == (
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: "
        "toolu_vrtx_01abc. Each `tool_use` block must have a corresponding `tool_result` block in "
        "the next message."
    )
    # A trailing assistant tool_use (prefill) needs no result yet.
    await reply(emu, claude_body(messages=tool_use_turns(), tools=[WEATHER]))


async def test_tool_names_must_be_declared(emu: Emulator) -> None:
    messages = [*tool_use_turns(), tool_results({"content": tool_use_turns()[1]["content"]})]
    assert await rejected(emu, claude_body(messages=messages)) == (
        "Requests which include `tool_use` or `tool_result` blocks must define tools."
    )
    assert await rejected(emu, claude_body(messages=messages, tools=[TIME])) == (
        "messages.1.content.0: tool_use name `get_weather` is not defined in `tools`."
    )
    choice = {"type": "tool", "name": "get_stock"}
    message = await rejected(emu, claude_body(tools=[WEATHER], tool_choice=choice))
    assert message == "tool_choice.tool.name: Tool `get_stock` not found in `tools`."
    assert await rejected(emu, claude_body(tools=[WEATHER, copy.deepcopy(WEATHER)])) == (
        "tools: Tool names must be unique."
    )
    bad_schema = {**WEATHER, "input_schema": {"type": "object", "properties": {"x": "number"}}}
    assert await rejected(emu, claude_body(tools=[TIME, bad_schema])) == (
        "tools.1.custom.input_schema: JSON schema is invalid. It must match JSON Schema draft "
        "2020-12 (https://json-schema.org/draft/2020-12). Learn more about tool use at "
        "https://docs.claude.com/en/docs/tool-use."
    )
    bad_name = {**WEATHER, "name": "get weather"}
    message = await rejected(emu, claude_body(tools=[bad_name]))
    assert message == "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"


THINKING_ERRORS = [
    (
        "budget too small",
        {"thinking": {"type": "enabled", "budget_tokens": 1000}},
        "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
    ),
    (
        "budget not below max_tokens",
        {"max_tokens": 2048, "thinking": {"type": "enabled", "budget_tokens": 2048}},
        "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
        "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
        "#max-tokens-and-context-window-size",
    ),
    (
        "temperature",
        {"temperature": 0.5},
        "`temperature` may only be set to 1 when thinking is enabled.",
    ),
    ("top_k", {"top_k": 5}, "`top_k` must be unset when thinking is enabled."),
    (
        "forced tool",
        {"tools": [WEATHER], "tool_choice": {"type": "any"}},
        "Thinking may not be enabled when tool_choice forces tool use.",
    ),
    (
        "named tool",
        {"tools": [WEATHER], "tool_choice": {"type": "tool", "name": "get_weather"}},
        "Thinking may not be enabled when tool_choice forces tool use.",
    ),
]


@pytest.mark.parametrize(
    ("extra", "message"), [t[1:] for t in THINKING_ERRORS], ids=[t[0] for t in THINKING_ERRORS]
)
async def test_thinking_rules(emu: Emulator, extra: dict[str, Any], message: str) -> None:
    body = {**thinking_body(), **extra}
    assert (await rejected(emu, body)).startswith(message)


async def test_thinking_needs_a_thinking_model(emu: Emulator) -> None:
    body = claude_body(max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048})
    message = await rejected(emu, body, model="claude-3-5-haiku@20241022")
    assert message == "'claude-3-5-haiku-20241022' does not support thinking."
    await reply(emu, claude_body(temperature=1.0, thinking={"type": "disabled"}))


async def test_media_rules(emu: Emulator) -> None:
    def image(data: str, media_type: str = "image/png") -> dict[str, Any]:
        source = {"type": "base64", "media_type": media_type, "data": data}
        return {"role": "user", "content": [{"type": "image", "source": source}]}

    assert await rejected(emu, claude_body(messages=[image(JPEG)])) == (
        "messages.0.content.0.image.source.base64.data: Image does not match the provided media "
        "type image/png"
    )
    assert await rejected(emu, claude_body(messages=[image("not base64!")])) == (
        "messages.0.content.0.image.source.base64.data: Could not process image"
    )
    url_pdf = {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}
    message = await rejected(emu, claude_body(messages=[{"role": "user", "content": [url_pdf]}]))
    assert message == (
        "messages.0.content.0.document.source.url: `url` document sources are not supported on "
        "Vertex AI"
    )
    not_pdf = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": PNG},
    }
    message = await rejected(emu, claude_body(messages=[{"role": "user", "content": [not_pdf]}]))
    assert message.endswith("document.source.base64.data: The PDF specified was not valid.")


# --- replies --------------------------------------------------------------------------------------


async def test_unary_message(emu: Emulator) -> None:
    message = await reply(emu, claude_body())
    assert message["id"].startswith("msg_vrtx_")
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["model"] == MODEL_VERSION
    assert message["stop_reason"] == "end_turn" and message["stop_sequence"] is None
    (block,) = message["content"]
    assert block["type"] == "text" and "emulator" in block["text"]
    assert "What is the capital of France?" in block["text"]
    usage = message["usage"]
    assert usage["input_tokens"] == 7  # "What is the capital of France?"
    assert usage["output_tokens"] > 10
    assert usage["cache_creation_input_tokens"] == 0 and usage["cache_read_input_tokens"] == 0
    assert await reply(emu, claude_body()) == message  # deterministic


async def test_reply_is_valid_for_the_sdk_types(emu: Emulator) -> None:
    from anthropic.types import Message

    message = await reply(
        emu, thinking_body("Weather in Paris, get_weather please", tools=[WEATHER])
    )
    parsed = Message.model_validate(message)
    assert parsed.stop_reason == "tool_use"


async def test_max_tokens_cuts_the_reply(emu: Emulator) -> None:
    full = await reply(emu, claude_body())
    cut = await reply(emu, claude_body(max_tokens=5))
    assert cut["stop_reason"] == "max_tokens"
    assert cut["usage"]["output_tokens"] == 5
    assert texts(full).startswith(texts(cut)) and len(texts(cut)) < len(texts(full))


async def test_stop_sequences(emu: Emulator) -> None:
    natural = await reply(emu, claude_body(stop_sequences=["emulator"]))
    assert natural["stop_reason"] == "stop_sequence" and natural["stop_sequence"] == "emulator"
    assert "emulator" not in texts(natural)
    triggered = await reply(
        emu, claude_body("EMULATOR_STOP_SEQUENCE please", stop_sequences=["###", "END"])
    )
    assert triggered["stop_reason"] == "stop_sequence" and triggered["stop_sequence"] == "###"
    plain = await reply(emu, claude_body("EMULATOR_STOP_SEQUENCE please"))
    assert plain["stop_reason"] == "end_turn"


@pytest.mark.parametrize(
    ("trigger", "stop_reason"),
    [
        ("EMULATOR_UNSAFE", "refusal"),
        ("EMULATOR_PAUSE", "pause_turn"),
        ("EMULATOR_CONTEXT", "model_context_window_exceeded"),
    ],
)
async def test_stop_reason_triggers(emu: Emulator, trigger: str, stop_reason: str) -> None:
    message = await reply(emu, claude_body(f"{trigger} tell me more"))
    assert message["stop_reason"] == stop_reason
    assert texts(message)


async def test_tool_call_from_the_prompt(emu: Emulator) -> None:
    message = await reply(emu, claude_body("Use get_weather for Paris", tools=[WEATHER, TIME]))
    assert message["stop_reason"] == "tool_use"
    (call,) = blocks_of(message, "tool_use")
    assert call["id"].startswith("toolu_vrtx_") and call["name"] == "get_weather"
    jsonschema.validate(call["input"], WEATHER["input_schema"])
    assert message["content"][0]["type"] == "text"  # auto: a few words before the call
    no_call = await reply(emu, claude_body("What is the weather like?", tools=[WEATHER]))
    assert no_call["stop_reason"] == "end_turn" and not blocks_of(no_call, "tool_use")


async def test_parallel_and_forced_tool_calls(emu: Emulator) -> None:
    body = claude_body("Call get_weather and get_time", tools=[WEATHER, TIME])
    calls = blocks_of(await reply(emu, body), "tool_use")
    assert [c["name"] for c in calls] == ["get_weather", "get_time"]
    assert len({c["id"] for c in calls}) == 2
    for call, tool in zip(calls, (WEATHER, TIME), strict=True):
        jsonschema.validate(call["input"], tool["input_schema"])
    single = {**body, "tool_choice": {"type": "auto", "disable_parallel_tool_use": True}}
    assert len(blocks_of(await reply(emu, single), "tool_use")) == 1
    forced = await reply(
        emu, claude_body("Hello", tools=[WEATHER, TIME], tool_choice={"type": "any"})
    )
    assert [c["name"] for c in blocks_of(forced, "tool_use")] == ["get_weather"]
    assert forced["content"][0]["type"] == "tool_use"
    named = claude_body(
        "Hello", tools=[WEATHER, TIME], tool_choice={"type": "tool", "name": "get_time"}
    )
    assert [c["name"] for c in blocks_of(await reply(emu, named), "tool_use")] == ["get_time"]
    none = claude_body("get_weather", tools=[WEATHER], tool_choice={"type": "none"})
    assert not blocks_of(await reply(emu, none), "tool_use")


async def test_tool_input_follows_a_rich_schema(emu: Emulator) -> None:
    body = claude_body("Hi", tools=[COMPLEX], tool_choice={"type": "any"})
    (call,) = blocks_of(await reply(emu, body), "tool_use")
    jsonschema.validate(call["input"], COMPLEX["input_schema"])
    assert call["input"]["version"] == 3 and call["input"]["class"] in ("economy", "business")


async def test_malformed_call(emu: Emulator) -> None:
    message = await reply(emu, claude_body("EMULATOR_MALFORMED_CALL get_weather", tools=[WEATHER]))
    assert message["stop_reason"] == "tool_use"
    (call,) = blocks_of(message, "tool_use")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(call["input"], WEATHER["input_schema"])


async def test_tool_results_arrive(emu: Emulator) -> None:
    first_body = claude_body("Use get_weather and get_time", tools=[WEATHER, TIME])
    first = await reply(emu, first_body)
    follow = {
        **first_body,
        "messages": [*first_body["messages"], assistant_turn(first), tool_results(first)],
    }
    answer = await reply(emu, follow)
    assert answer["stop_reason"] == "end_turn" and not blocks_of(answer, "tool_use")
    text = texts(answer)
    assert "emulator" in text and "18 degrees and sunny" in text
    for call in blocks_of(first, "tool_use"):
        assert call["id"] in text and call["name"] in text


async def test_thinking_round_trip(emu: Emulator) -> None:
    body = thinking_body("Use get_weather for Paris", tools=[WEATHER])
    first = await reply(emu, body)
    thinking = first["content"][0]
    assert thinking["type"] == "thinking" and thinking["thinking"] and thinking["signature"]
    assert first["stop_reason"] == "tool_use"
    follow = {**body, "messages": [*body["messages"], assistant_turn(first), tool_results(first)]}
    assert (await reply(emu, follow))["stop_reason"] == "end_turn"

    tampered = copy.deepcopy(follow)
    tampered["messages"][1]["content"][0]["thinking"] += " (edited)"
    assert await rejected(emu, tampered) == (
        "messages.1.content.0: Invalid `signature` in `thinking` block"
    )
    forged = copy.deepcopy(follow)
    forged["messages"][1]["content"][0]["signature"] = base64.b64encode(b"x" * 48).decode()
    assert (
        await rejected(emu, forged)
        == "messages.1.content.0: Invalid `signature` in `thinking` block"
    )

    stripped = copy.deepcopy(follow)
    stripped["messages"][1]["content"] = [
        b for b in stripped["messages"][1]["content"] if b["type"] != "thinking"
    ]
    message = await rejected(emu, stripped)
    assert message.startswith(
        "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `text`. "
        "When `thinking` is enabled, a final `assistant` message must start with a thinking block"
    )
    # Without thinking the same history is fine (old thinking blocks are allowed, not required).
    plain = {k: v for k, v in stripped.items() if k != "thinking"}
    await reply(emu, plain)


async def test_redacted_thinking(emu: Emulator) -> None:
    body = thinking_body("EMULATOR_REDACTED use get_weather", tools=[WEATHER])
    first = await reply(emu, body)
    assert [b["type"] for b in first["content"]][:2] == ["thinking", "redacted_thinking"]
    follow = {**body, "messages": [*body["messages"], assistant_turn(first), tool_results(first)]}
    await reply(emu, follow)
    forged = copy.deepcopy(follow)
    forged["messages"][1]["content"][1]["data"] = base64.b64encode(b"made up").decode()
    assert await rejected(emu, forged) == (
        "messages.1.content.1: Invalid `data` in `redacted_thinking` block"
    )


async def test_thinking_block_in_final_assistant_without_thinking(emu: Emulator) -> None:
    first = await reply(emu, thinking_body())
    body = claude_body(messages=[{"role": "user", "content": "Hi"}, assistant_turn(first)])
    message = await rejected(emu, body)
    assert message.startswith(
        "messages.1.content.0: When thinking is disabled, an `assistant` message in the final "
        "position cannot contain `thinking`."
    )


async def test_media_are_seen(emu: Emulator) -> None:
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {"type": "text", "text": "Describe these."},
    ]
    message = await reply(emu, claude_body(messages=[{"role": "user", "content": content}]))
    assert "emulator saw image/png, application/pdf, image url" in texts(message)
    assert message["usage"]["input_tokens"] > 3 * 258


async def test_prompt_caching(emu: Emulator) -> None:
    system = [
        {"type": "text", "text": "You answer questions about the emulator. " * 20},
        {"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}},
    ]
    first = (await reply(emu, claude_body(system=system)))["usage"]
    assert first["cache_creation_input_tokens"] > 0 and first["cache_read_input_tokens"] == 0
    second = (await reply(emu, claude_body("Another question", system=system)))["usage"]
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0
    assert second["input_tokens"] == 2  # only the part after the breakpoint
    other = [system[0], {**system[1], "text": "Be verbose."}]
    third = (await reply(emu, claude_body(system=other)))["usage"]
    assert third["cache_creation_input_tokens"] > 0 and third["cache_read_input_tokens"] == 0
    plain = (await reply(emu, claude_body()))["usage"]
    assert plain["cache_creation_input_tokens"] == 0


async def test_cache_is_emptied_by_reset(emu: Emulator) -> None:
    system = [{"type": "text", "text": "Cached words.", "cache_control": {"type": "ephemeral"}}]
    await reply(emu, claude_body(system=system))
    assert (await reply(emu, claude_body(system=system)))["usage"]["cache_read_input_tokens"] > 0
    await emu.admin("POST", "reset")
    usage = (await reply(emu, claude_body(system=system)))["usage"]
    assert usage["cache_read_input_tokens"] == 0 and usage["cache_creation_input_tokens"] > 0


def count_body(**extra: Any) -> dict[str, Any]:
    """A count-tokens body: it keeps ``model`` and has no ``max_tokens``."""
    body = {**claude_body(), "model": MODEL, **extra}
    del body["max_tokens"]
    return body


async def test_count_tokens(emu: Emulator) -> None:
    body = count_body()
    status, answer = await claude_post(emu, body, model="count-tokens")
    assert status == 200 and answer == {"input_tokens": 7}
    with_extras = {**body, "system": "Be terse.", "tools": [WEATHER]}
    status, more = await claude_post(emu, with_extras, model="count-tokens")
    assert status == 200 and more["input_tokens"] > answer["input_tokens"] + 3
    unary = {k: v for k, v in with_extras.items() if k != "model"}
    generated = await reply(emu, {**unary, "max_tokens": 1024})
    assert generated["usage"]["input_tokens"] == more["input_tokens"]


async def test_count_tokens_errors(emu: Emulator) -> None:
    no_model = claude_body()
    del no_model["max_tokens"]
    assert await rejected(emu, no_model, model="count-tokens") == "model: Field required"
    extra = {**claude_body(), "model": MODEL}
    message = await rejected(emu, extra, model="count-tokens")
    assert message == "max_tokens: Extra inputs are not permitted"
    body = {**no_model, "model": "claude-unknown@20990101"}
    status, answer = await claude_post(emu, body, model="count-tokens")
    assert status == 404
    assert answer["error"] == {
        "type": "not_found_error",
        "message": "model: claude-unknown@20990101",
    }


@pytest.mark.parametrize(("version", "location"), [("v1beta1", "global"), ("v1", "europe-west1")])
async def test_other_versions_and_locations(emu: Emulator, version: str, location: str) -> None:
    url = claude_url(emu, version=version, location=location)
    status, answer, _ = await emu.post(url, claude_body())
    assert status == 200 and answer["type"] == "message"


async def test_express_mode_with_api_key(emu: Emulator) -> None:
    from emu_helpers import API_KEY

    url = f"{emu.base_url}/v1/publishers/anthropic/models/{MODEL}:rawPredict"
    status, answer, _ = await emu.post(url, claude_body(), {"x-goog-api-key": API_KEY})
    assert status == 200 and answer["model"] == MODEL_VERSION


async def test_max_tokens_zero_warms_the_cache(emu: Emulator) -> None:
    system = [{"type": "text", "text": "Warm me.", "cache_control": {"type": "ephemeral"}}]
    warm = await reply(emu, claude_body(max_tokens=0, system=system))
    assert warm["content"] == [] and warm["stop_reason"] == "max_tokens"
    assert warm["usage"]["output_tokens"] == 0 and warm["usage"]["cache_creation_input_tokens"] > 0
    assert (await reply(emu, claude_body(system=system)))["usage"]["cache_read_input_tokens"] > 0
