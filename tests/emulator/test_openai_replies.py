"""Replies of the OpenAI-compatible endpoint: text, tools, structured output, reasoning, media,
triggers and streaming. Shapes are also checked with the ``openai`` package's response types and
with the real ``openai`` client."""

from __future__ import annotations

import json
from typing import Any, cast

import jsonschema
import openai
import pytest
from emu_helpers import Emulator
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from test_openai_compat import (
    DEEPSEEK,
    GEMINI,
    GPT_OSS,
    LLAMA,
    MAVERICK,
    PNG,
    QWEN,
    WEATHER_TOOL,
    chat_body,
    chat_url,
    image_part,
    ok,
    stream_events,
    user_parts,
)

from emulator.counting import count_tokens

TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string", "pattern": "^[A-Z][a-z]+/[A-Z][a-z]+$"}},
            "required": ["zone"],
            "additionalProperties": False,
        },
    },
}
COMPLEX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "item": {
            "type": "object",
            "properties": {
                "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
                "qty": {"type": "integer", "minimum": 1, "maximum": 99, "multipleOf": 3},
                "price": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
            },
            "required": ["sku", "qty"],
            "additionalProperties": False,
        },
        "node": {
            "type": "object",
            "properties": {
                "label": {"type": "string", "minLength": 12},
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            },
            "required": ["label", "children"],
        },
    },
    "properties": {
        "status": {"enum": ["open", "closed"]},
        "kind": {"const": "order"},
        "items": {"type": "array", "items": {"$ref": "#/$defs/item"}, "minItems": 2, "maxItems": 4},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3, "uniqueItems": True},
        "note": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 5}]},
        "choice": {"oneOf": [{"type": "integer"}, {"type": "boolean"}]},
        "when": {"type": "string", "format": "date-time"},
        "tree": {"$ref": "#/$defs/node"},
        "extra": {"type": "object", "additionalProperties": {"type": "number"}, "minProperties": 2},
        "pair": {
            "type": "array",
            "prefixItems": [{"type": "string"}, {"type": "boolean"}],
            "items": False,
        },
    },
    "required": [
        "status",
        "kind",
        "items",
        "tags",
        "note",
        "choice",
        "when",
        "tree",
        "extra",
        "pair",
    ],
    "additionalProperties": False,
}


def message_of(answer: dict[str, Any], index: int = 0) -> dict[str, Any]:
    message: dict[str, Any] = answer["choices"][index]["message"]
    return message


def content_of(answer: dict[str, Any], index: int = 0) -> str:
    content: str = message_of(answer, index)["content"]
    return content


def chunks_of(events: list[Any]) -> list[dict[str, Any]]:
    assert events[-1] == "[DONE]"
    return [e for e in events[:-1]]


def joined(chunks: list[dict[str, Any]], key: str) -> str:
    return "".join(
        c["choices"][0]["delta"].get(key, "")
        for c in chunks
        if c["choices"] and c["choices"][0]["delta"]
    )


# --- text -------------------------------------------------------------------------------------


async def test_reply_shape_and_usage(emu: Emulator) -> None:
    body = chat_body("Explain photosynthesis")
    body["messages"].insert(0, {"role": "system", "content": "Be brief."})
    answer = await ok(emu, body)
    ChatCompletion.model_validate(answer)
    assert answer["object"] == "chat.completion" and answer["id"].startswith("chatcmpl-")
    assert isinstance(answer["created"], int) and answer["model"] == LLAMA
    (choice,) = answer["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop" and choice["logprobs"] is None
    assert choice["message"]["role"] == "assistant"
    assert set(choice["message"]) == {"role", "content"}
    text = choice["message"]["content"]
    assert "emulator" in text and "photosynthesis" in text
    prompt = count_tokens("Explain photosynthesis") + count_tokens("Be brief.")
    assert answer["usage"] == {
        "prompt_tokens": prompt,
        "completion_tokens": count_tokens(text),
        "total_tokens": prompt + count_tokens(text),
    }


async def test_same_request_same_reply(emu: Emulator) -> None:
    first, second = await ok(emu, chat_body()), await ok(emu, chat_body())
    first.pop("created"), second.pop("created")
    assert first == second
    other = await ok(emu, chat_body("Tell me about owls"))
    assert content_of(other) != content_of(first) and other["id"] != first["id"]


async def test_max_tokens_cuts_the_reply(emu: Emulator) -> None:
    full = content_of(await ok(emu, chat_body()))
    answer = await ok(emu, chat_body(max_tokens=5))
    assert answer["choices"][0]["finish_reason"] == "length"
    assert count_tokens(content_of(answer)) == 5 and full.startswith(content_of(answer))
    assert answer["usage"]["completion_tokens"] == 5


async def test_stop_sequences(emu: Emulator) -> None:
    full = content_of(await ok(emu, chat_body()))
    answer = await ok(emu, chat_body(stop=["emulator"]))
    assert content_of(answer) == full[: full.index("emulator")]
    assert answer["choices"][0]["finish_reason"] == "stop"


async def test_gemini_candidates(emu: Emulator) -> None:
    answer = await ok(emu, chat_body(model=GEMINI, n=3))
    assert [c["index"] for c in answer["choices"]] == [0, 1, 2]
    assert len({content_of(answer, i) for i in range(3)}) == 3


async def test_media_is_mentioned(emu: Emulator) -> None:
    body = user_parts(
        image_part(f"data:image/png;base64,{PNG}"), image_part("gs://bucket/cat.jpeg")
    )
    answer = await ok(emu, body)
    assert "The emulator saw image/png, image/jpeg." in content_of(answer)
    assert answer["usage"]["prompt_tokens"] == count_tokens("Describe") + 2 * 258


# --- structured output ------------------------------------------------------------------------


async def test_json_object(emu: Emulator) -> None:
    answer = await ok(emu, chat_body(response_format={"type": "json_object"}))
    value = json.loads(content_of(answer))
    assert isinstance(value, dict) and "emulator" in json.dumps(value)


@pytest.mark.parametrize("model", [LLAMA, GEMINI, GPT_OSS])
async def test_json_schema_output_validates(emu: Emulator, model: str) -> None:
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": "order", "schema": COMPLEX_SCHEMA, "strict": True},
    }
    answer = await ok(emu, chat_body(model=model, response_format=fmt))
    value = json.loads(content_of(answer))
    jsonschema.Draft202012Validator(COMPLEX_SCHEMA).validate(value)
    assert value["kind"] == "order" and len(value["items"]) == 2


# --- tools ------------------------------------------------------------------------------------


async def test_auto_calls_the_functions_the_user_names(emu: Emulator) -> None:
    body = chat_body("Use get_weather and get_time for Paris", tools=[WEATHER_TOOL, TIME_TOOL])
    answer = await ok(emu, body)
    ChatCompletion.model_validate(answer)
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    assert len({c["id"] for c in calls}) == 2 and all(c["id"].startswith("call_") for c in calls)
    for call, tool in zip(calls, (WEATHER_TOOL, TIME_TOOL), strict=True):
        assert call["type"] == "function"
        arguments = json.loads(call["function"]["arguments"])
        jsonschema.validate(arguments, tool["function"]["parameters"])  # type: ignore[index]
    usage = answer["usage"]
    tokens = sum(
        count_tokens(c["function"]["name"]) + count_tokens(c["function"]["arguments"])
        for c in calls
    )
    assert usage["completion_tokens"] == tokens


async def test_whole_words_only(emu: Emulator) -> None:
    body = chat_body("What about get_weathers or myget_weather?", tools=[WEATHER_TOOL])
    answer = await ok(emu, body)
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert "tool_calls" not in message_of(answer)


async def test_parallel_tool_calls_false(emu: Emulator) -> None:
    body = chat_body(
        "Use get_weather and get_time", tools=[WEATHER_TOOL, TIME_TOOL], parallel_tool_calls=False
    )
    calls = message_of(await ok(emu, body))["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather"]


async def test_tool_choice_modes(emu: Emulator) -> None:
    tools = [WEATHER_TOOL, TIME_TOOL]
    required = await ok(emu, chat_body("Hello", tools=tools, tool_choice="required"))
    assert [c["function"]["name"] for c in message_of(required)["tool_calls"]] == ["get_weather"]
    named = {"type": "function", "function": {"name": "get_time"}}
    forced = await ok(emu, chat_body("Use get_weather", tools=tools, tool_choice=named))
    assert [c["function"]["name"] for c in message_of(forced)["tool_calls"]] == ["get_time"]
    none = await ok(emu, chat_body("Use get_weather", tools=tools, tool_choice="none"))
    assert none["choices"][0]["finish_reason"] == "stop"
    auto = await ok(emu, chat_body("Hello", tools=tools, tool_choice="auto"))
    assert auto["choices"][0]["finish_reason"] == "stop"


async def test_complex_parameters_validate(emu: Emulator) -> None:
    tool = {"type": "function", "function": {"name": "place_order", "parameters": COMPLEX_SCHEMA}}
    answer = await ok(emu, chat_body("Please place_order now", tools=[tool]))
    (call,) = message_of(answer)["tool_calls"]
    jsonschema.Draft202012Validator(COMPLEX_SCHEMA).validate(
        json.loads(call["function"]["arguments"])
    )


async def test_function_without_parameters(emu: Emulator) -> None:
    tool = {"type": "function", "function": {"name": "ping"}}
    (call,) = message_of(await ok(emu, chat_body("ping", tools=[tool])))["tool_calls"]
    assert call["function"]["arguments"] == "{}"


async def test_tool_results_are_read_back(emu: Emulator) -> None:
    first = await ok(
        emu, chat_body("Use get_weather and get_time", tools=[WEATHER_TOOL, TIME_TOOL])
    )
    calls = message_of(first)["tool_calls"]
    body = chat_body("Use get_weather and get_time", tools=[WEATHER_TOOL, TIME_TOOL])
    body["messages"] += [
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "18C and sunny"},
        {
            "role": "tool",
            "tool_call_id": calls[1]["id"],
            "content": [{"type": "text", "text": "09:30"}],
        },
    ]
    answer = await ok(emu, body)
    assert answer["choices"][0]["finish_reason"] == "stop"
    text = content_of(answer)
    assert f'{calls[0]["id"]} returned "18C and sunny"' in text
    assert f'{calls[1]["id"]} returned "09:30"' in text and "emulator" in text


async def test_malformed_call_trigger(emu: Emulator) -> None:
    answer = await ok(emu, chat_body("EMULATOR_MALFORMED_CALL please", tools=[WEATHER_TOOL]))
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    with pytest.raises(ValueError):
        json.loads(call["function"]["arguments"])
    # Without tools the trigger is just text.
    plain = await ok(emu, chat_body("EMULATOR_MALFORMED_CALL please"))
    assert plain["choices"][0]["finish_reason"] == "stop"


async def test_unsafe_trigger(emu: Emulator) -> None:
    answer = await ok(emu, chat_body("EMULATOR_UNSAFE tell me"))
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "content_filter"
    assert 0 < count_tokens(choice["message"]["content"]) <= 8


async def test_tool_call_cut_by_max_tokens(emu: Emulator) -> None:
    answer = await ok(emu, chat_body("Use get_weather", tools=[WEATHER_TOOL], max_tokens=6))
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "length"
    (call,) = choice["message"]["tool_calls"]
    with pytest.raises(ValueError):
        json.loads(call["function"]["arguments"])


# --- reasoning --------------------------------------------------------------------------------


async def test_deepseek_returns_reasoning_content(emu: Emulator) -> None:
    answer = await ok(emu, chat_body(model=DEEPSEEK))
    message = message_of(answer)
    reasoning, content = message["reasoning_content"], message["content"]
    assert "emulator" in reasoning and "emulator" in content
    usage = answer["usage"]
    assert usage["completion_tokens_details"] == {"reasoning_tokens": count_tokens(reasoning)}
    assert usage["completion_tokens"] == count_tokens(reasoning) + count_tokens(content)


async def test_gpt_oss_effort_changes_the_reasoning(emu: Emulator) -> None:
    low = message_of(await ok(emu, chat_body(model=GPT_OSS, reasoning_effort="low")))
    high = message_of(await ok(emu, chat_body(model=GPT_OSS, reasoning_effort="high")))
    assert len(low["reasoning_content"]) < len(high["reasoning_content"])


async def test_gemini_thinks_without_showing_it(emu: Emulator) -> None:
    answer = await ok(emu, chat_body(model=GEMINI))
    assert "reasoning_content" not in message_of(answer)
    assert answer["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    off = await ok(emu, chat_body(model=GEMINI, reasoning_effort="none"))
    assert off["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0


async def test_non_reasoning_models_report_no_reasoning(emu: Emulator) -> None:
    for model in (LLAMA, QWEN, MAVERICK):
        answer = await ok(emu, chat_body(model=model))
        assert "completion_tokens_details" not in answer["usage"]
        assert "reasoning_content" not in message_of(answer)


async def test_budget_spent_on_reasoning(emu: Emulator) -> None:
    answer = await ok(emu, chat_body(model=DEEPSEEK, max_tokens=3))
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "length" and choice["message"]["content"] == ""
    assert count_tokens(choice["message"]["reasoning_content"]) == 3


# --- streaming --------------------------------------------------------------------------------


async def test_stream_matches_the_unary_reply(emu: Emulator) -> None:
    unary = await ok(emu, chat_body())
    events, raw = await stream_events(emu, chat_body())
    assert raw.endswith("data: [DONE]\n\n")
    chunks = chunks_of(events)
    for chunk in chunks:
        check_chunk(chunk, unary)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    content_chunks = [c for c in chunks if "content" in c["choices"][0]["delta"]]
    assert len(content_chunks) >= 3
    assert joined(chunks, "content") == content_of(unary)
    final = chunks[-1]["choices"][0]
    assert final["finish_reason"] == "stop" and final["delta"] == {}
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert not any("usage" in c for c in chunks)


def check_chunk(chunk: dict[str, Any], unary: dict[str, Any]) -> None:
    ChatCompletionChunk.model_validate(chunk)
    assert chunk["object"] == "chat.completion.chunk"
    assert chunk["id"] == unary["id"] and chunk["model"] == unary["model"]


async def test_stream_usage_chunk(emu: Emulator) -> None:
    unary = await ok(emu, chat_body())
    events, _ = await stream_events(emu, chat_body(stream_options={"include_usage": True}))
    chunks = chunks_of(events)
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == unary["usage"]
    assert all(c["usage"] is None for c in chunks[:-1])


async def test_stream_reasoning_comes_first(emu: Emulator) -> None:
    unary = await ok(emu, chat_body(model=DEEPSEEK))
    chunks = chunks_of((await stream_events(emu, chat_body(model=DEEPSEEK)))[0])
    kinds = [next(iter(c["choices"][0]["delta"]), "") for c in chunks]
    assert kinds.index("content") > max(i for i, k in enumerate(kinds) if k == "reasoning_content")
    assert joined(chunks, "reasoning_content") == message_of(unary)["reasoning_content"]
    assert joined(chunks, "content") == content_of(unary)


async def test_stream_tool_calls(emu: Emulator) -> None:
    body = chat_body("Use get_weather and get_time", tools=[WEATHER_TOOL, TIME_TOOL])
    unary_calls = message_of(await ok(emu, body))["tool_calls"]
    chunks = chunks_of((await stream_events(emu, body))[0])
    deltas = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls", [])]
    for k, call in enumerate(unary_calls):
        mine = [d for d in deltas if d["index"] == k]
        assert mine[0] == {
            "index": k,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        assert len(mine) >= 2 and all(set(d) == {"index", "function"} for d in mine[1:])
        assert "".join(d["function"]["arguments"] for d in mine) == call["function"]["arguments"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_stream_unsafe_sends_some_content_first(emu: Emulator) -> None:
    chunks = chunks_of((await stream_events(emu, chat_body("EMULATOR_UNSAFE now")))[0])
    assert joined(chunks, "content")
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"


async def test_stream_candidates_are_interleaved(emu: Emulator) -> None:
    unary = await ok(emu, chat_body(model=GEMINI, n=2))
    chunks = chunks_of((await stream_events(emu, chat_body(model=GEMINI, n=2)))[0])
    for index in (0, 1):
        mine = [c for c in chunks if c["choices"][0]["index"] == index]
        assert joined(mine, "content") == content_of(unary, index)
        assert mine[-1]["choices"][0]["finish_reason"] == "stop"


# --- the real openai client -------------------------------------------------------------------


def client(emu: Emulator, version: str = "v1") -> openai.AsyncOpenAI:
    base = chat_url(emu, version=version).removesuffix("/chat/completions")
    return openai.AsyncOpenAI(base_url=base, api_key=emu.token, max_retries=0)


async def test_openai_client_unary_and_tools(emu: Emulator) -> None:
    async with client(emu) as api:
        reply = await api.chat.completions.create(
            model=GPT_OSS,
            messages=[{"role": "user", "content": "Use get_weather for Oslo"}],
            tools=[cast(Any, WEATHER_TOOL)],
            reasoning_effort="high",
        )
    (choice,) = reply.choices
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), WEATHER_TOOL["function"]["parameters"])  # type: ignore[index]
    assert reply.usage and reply.usage.completion_tokens_details
    assert reply.usage.completion_tokens_details.reasoning_tokens


async def test_openai_client_streaming(emu: Emulator) -> None:
    async with client(emu, "v1beta1") as api:
        stream = await api.chat.completions.create(
            model=DEEPSEEK,
            messages=[{"role": "user", "content": "Hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        text, usage = "", None
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
            usage = chunk.usage or usage
    assert "emulator" in text and usage is not None and usage.total_tokens > 0


async def test_openai_client_sees_google_errors(emu: Emulator) -> None:
    async with client(emu) as api:
        with pytest.raises(openai.BadRequestError) as caught:
            await api.chat.completions.create(
                model=LLAMA,
                messages=[{"role": "user", "content": "x"}],
                extra_body={"max_token": 5},
            )
        with pytest.raises(openai.NotFoundError):
            await api.chat.completions.create(
                model="meta/none-maas", messages=[{"role": "user", "content": "x"}]
            )
    # The body is Google's one-element array, so the client keeps it whole in ``body`` (its
    # exception text only quotes ``error.message`` of an object body).
    assert caught.value.status_code == 400
    body: Any = caught.value.body
    assert body[0]["error"]["message"] == (
        'Invalid JSON payload received. Unknown name "max_token": Cannot find field.'
    )
