"""Vertex's OpenAI-compatible endpoint: routing, Google-style errors, body validation, faults.

Replies, tools and streaming are in ``test_openai_replies.py``; the helpers here are shared.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import aiohttp
import pytest
from emu_helpers import Emulator

LLAMA = "meta/llama-3.3-70b-instruct-maas"
MAVERICK = "meta/llama-4-maverick-17b-128e-instruct-maas"
DEEPSEEK = "deepseek-ai/deepseek-r1-0528-maas"
QWEN = "qwen/qwen3-235b-a22b-instruct-2507-maas"
GPT_OSS = "openai/gpt-oss-120b-maas"
GEMINI = "google/gemini-2.5-flash"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nemulator-image").decode()
PDF = base64.b64encode(b"%PDF-1.4 emulator").decode()
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit"],
        },
    },
}


def chat_url(
    emu: Emulator,
    endpoint: str = "openapi",
    *,
    version: str = "v1",
    location: str = "us-central1",
) -> str:
    """The chat-completions URL of an endpoint."""
    return (
        f"{emu.base_url}/{version}/projects/test-project/locations/{location}"
        f"/endpoints/{endpoint}/chat/completions"
    )


def chat_body(
    text: str = "What is the capital of France?", model: str = LLAMA, **extra: Any
) -> dict[str, Any]:
    """A minimal valid chat-completions body."""
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


async def chat(emu: Emulator, body: dict[str, Any], **headers: str) -> tuple[int, Any]:
    """POST a body; return status and parsed JSON."""
    status, answer, _ = await emu.post(chat_url(emu), body, emu.auth(**headers))
    return status, answer


async def ok(emu: Emulator, body: dict[str, Any]) -> dict[str, Any]:
    """POST a body that must succeed."""
    status, answer = await chat(emu, body)
    assert status == 200, answer
    result: dict[str, Any] = answer
    return result


async def rejected(emu: Emulator, body: dict[str, Any], status: int = 400) -> str:
    """POST a body that must fail; check Google's array-wrapped envelope, return the message."""
    code, answer = await chat(emu, body)
    assert code == status, answer
    assert isinstance(answer, list) and len(answer) == 1, answer
    error = answer[0]["error"]
    assert error["code"] == status
    assert error["status"] == {400: "INVALID_ARGUMENT", 404: "NOT_FOUND"}[status]
    assert set(error) == {"code", "message", "status"}
    message: str = error["message"]
    return message


async def stream_events(
    emu: Emulator, body: dict[str, Any], **headers: str
) -> tuple[list[Any], str]:
    """POST a streaming body; return the decoded ``data:`` payloads ("[DONE]" kept) and raw text."""
    async with emu.http.post(
        chat_url(emu), json={**body, "stream": True}, headers=emu.auth(**headers)
    ) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        raw = (await resp.read()).decode()
    events: list[Any] = []
    for block in raw.split("\n\n"):
        if not block.strip():
            continue
        assert block.startswith("data: "), block
        data = block.removeprefix("data: ")
        events.append(data if data == "[DONE]" else json.loads(data))
    return events, raw


def image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def user_parts(*parts: dict[str, Any], model: str = MAVERICK, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Describe"}, *parts]}],
        **extra,
    }


# --- routing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
async def test_both_api_versions_serve_openapi(emu: Emulator, version: str) -> None:
    status, answer, resp = await emu.post(chat_url(emu, version=version), chat_body())
    assert status == 200, answer
    assert resp.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert answer["object"] == "chat.completion"


async def test_other_endpoint_ids_are_not_found(emu: Emulator) -> None:
    status, answer, _ = await emu.post(chat_url(emu, "1234567890"), chat_body())
    assert status == 404
    assert answer == [
        {
            "error": {
                "code": 404,
                "message": "Endpoint `projects/test-project/locations/us-central1/endpoints/1234567890` not found.",
                "status": "NOT_FOUND",
            }
        }
    ]


async def test_unknown_model_is_a_publisher_model_404(emu: Emulator) -> None:
    message = await rejected(emu, chat_body(model="meta/llama-9-nope-maas"), 404)
    assert message.startswith(
        "Publisher Model `projects/test-project/locations/us-central1/publishers/meta/models/"
        "llama-9-nope-maas` was not found or your project does not have access to it."
    )
    message = await rejected(emu, chat_body(model="google/gemini-0.1-nope"), 404)
    assert "publishers/google/models/gemini-0.1-nope" in message


async def test_model_without_publisher_is_malformed(emu: Emulator) -> None:
    message = await rejected(emu, chat_body(model="gemini-2.5-flash"))
    assert message == "Malformed publisher model name: expected format '<publisher>/<model>'"


@pytest.mark.parametrize(
    "model", [LLAMA, MAVERICK, DEEPSEEK, QWEN, GPT_OSS, GEMINI, "google/gemini-2.0-flash"]
)
async def test_every_model_answers(emu: Emulator, model: str) -> None:
    answer = await ok(emu, chat_body(model=model))
    assert answer["model"] == model
    assert "emulator" in answer["choices"][0]["message"]["content"]


async def test_bad_location_is_array_wrapped(emu: Emulator) -> None:
    status, answer, _ = await emu.post(chat_url(emu, location="moon"), chat_body())
    assert status == 400 and answer[0]["error"]["message"] == "Location `moon` is not supported."


async def test_auth_comes_first_and_names_the_rpc(emu: Emulator) -> None:
    status, answer, _ = await emu.post(chat_url(emu), {"max_token": 1}, headers={})
    assert status == 401
    info = answer["error"]["details"][0]
    assert info["reason"] == "CREDENTIALS_MISSING"
    assert (
        info["metadata"]["method"] == "google.cloud.aiplatform.v1.PredictionService.ChatCompletions"
    )


async def test_api_key_works(emu: Emulator) -> None:
    from emu_helpers import API_KEY

    status, answer, _ = await emu.post(chat_url(emu), chat_body(), {"x-goog-api-key": API_KEY})
    assert status == 200, answer


# --- transcoder-level problems: all reported together -----------------------------------------


async def test_unknown_keys_are_refused(emu: Emulator) -> None:
    assert await rejected(emu, chat_body(max_token=5)) == (
        'Invalid JSON payload received. Unknown name "max_token": Cannot find field.'
    )
    body = chat_body()
    body["messages"][0]["nmae"] = "x"
    body["tools"] = [{"type": "function", "function": {"name": "f", "paramters": {}}}]
    message = await rejected(emu, body)
    assert message.split("\n") == [
        "Invalid JSON payload received. Unknown name \"nmae\" at 'messages[0]': Cannot find field.",
        "Invalid JSON payload received. Unknown name \"paramters\" at 'tools[0].function': Cannot find field.",
    ]


@pytest.mark.parametrize("key", ["store", "metadata", "service_tier", "prediction", "verbosity"])
async def test_openai_platform_parameters_are_unknown_to_vertex(emu: Emulator, key: str) -> None:
    value: Any = {"store": True, "metadata": {"a": "b"}, "service_tier": "auto"}.get(key)
    if key == "prediction":
        value = {"type": "content", "content": "x"}
    if key == "verbosity":
        value = "low"
    message = await rejected(emu, chat_body(**{key: value}))
    assert message == f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'


async def test_wrong_json_types(emu: Emulator) -> None:
    message = await rejected(emu, chat_body(temperature="hot", max_tokens=5.5, stream_options=[1]))
    assert message.split("\n") == [
        "Invalid value at 'max_tokens' (TYPE_INT32), 5.5",
        'Invalid JSON payload received. Unknown name "stream_options": Proto field is not repeating, cannot start list.',
        "Invalid value at 'temperature' (TYPE_FLOAT), \"hot\"",
    ]


async def test_wrong_role_and_part_type(emu: Emulator) -> None:
    body = chat_body()
    body["messages"] = [
        {"role": "robot", "content": "hi"},
        {"role": "user", "content": [{"type": "video", "video": "x"}]},
    ]
    assert (await rejected(emu, body)).split("\n") == [
        "Invalid value at 'messages[0].role' (TYPE_ENUM), \"robot\"",
        "Invalid value at 'messages[1].content[0].type' (TYPE_ENUM), \"video\"",
    ]


async def test_images_only_in_user_messages(emu: Emulator) -> None:
    body = chat_body(model=MAVERICK)
    body["messages"].insert(0, {"role": "system", "content": [image_part("https://x/y.png")]})
    message = await rejected(emu, body)
    assert message == "Invalid value at 'messages[0].content[0].type' (TYPE_ENUM), \"image_url\""


async def test_not_json(emu: Emulator) -> None:
    async with emu.http.post(
        chat_url(emu),
        data=b'{"model": "x",}',
        headers=emu.auth(**{"Content-Type": "application/json"}),
    ) as resp:
        assert resp.status == 400
        answer = await resp.json()
    assert answer[0]["error"]["message"].startswith("Invalid JSON payload received.")


async def test_problems_are_recorded(emu: Emulator) -> None:
    await rejected(emu, chat_body(max_token=5))
    (record,) = await emu.records()
    assert record["schema_errors"] == [
        'Invalid JSON payload received. Unknown name "max_token": Cannot find field.'
    ]
    assert record["body"]["max_token"] == 5 and record["status"] == 400


# --- semantic problems: one at a time ---------------------------------------------------------


async def test_missing_required_members(emu: Emulator) -> None:
    assert await rejected(emu, {"model": LLAMA}) == "Missing required parameter: 'messages'."
    body = chat_body()
    body["messages"] = [{"role": "tool", "content": "r"}]
    assert await rejected(emu, body) == "Missing required parameter: 'messages[0].tool_call_id'."
    assert await rejected(emu, {}) == "Missing required parameter: 'messages'."


async def test_messages_must_not_be_empty(emu: Emulator) -> None:
    assert await rejected(emu, {"model": LLAMA, "messages": []}) == (
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
        "empty array instead."
    )


def _assistant_calls(*ids: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": i, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            for i in ids
        ],
    }


def _tool(call_id: str, content: str = "sunny") -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


async def test_tool_message_needs_a_preceding_tool_call(emu: Emulator) -> None:
    body = chat_body(tools=[WEATHER_TOOL])
    body["messages"].append(_tool("call_1"))
    assert await rejected(emu, body) == (
        "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
        "message with 'tool_calls'."
    )


async def test_tool_message_must_answer_a_listed_id(emu: Emulator) -> None:
    body = chat_body(tools=[WEATHER_TOOL])
    body["messages"] += [_assistant_calls("call_1"), _tool("call_9")]
    assert await rejected(emu, body) == (
        "Invalid parameter: 'tool_call_id' of 'call_9' not found in 'tool_calls' of previous message."
    )


async def test_every_tool_call_must_be_answered(emu: Emulator) -> None:
    expected = (
        "An assistant message with 'tool_calls' must be followed by tool messages responding to "
        "each 'tool_call_id'. The following tool_call_ids did not have response messages: "
    )
    body = chat_body(tools=[WEATHER_TOOL])
    body["messages"] += [_assistant_calls("call_1", "call_2"), {"role": "user", "content": "and?"}]
    assert await rejected(emu, body) == expected + "call_1, call_2"
    body["messages"] = [body["messages"][0], _assistant_calls("call_1", "call_2"), _tool("call_2")]
    assert await rejected(emu, body) == expected + "call_1"
    # A tool message after a user message does not answer the earlier calls either.
    body["messages"] = [
        body["messages"][0],
        _assistant_calls("call_1"),
        {"role": "user", "content": "x"},
        _tool("call_1"),
    ]
    assert await rejected(emu, body) == expected + "call_1"


async def test_pending_tool_calls_at_the_end_are_allowed(emu: Emulator) -> None:
    body = chat_body(tools=[WEATHER_TOOL])
    body["messages"].append(_assistant_calls("call_1"))
    await ok(emu, body)


async def test_assistant_message_needs_content_or_calls(emu: Emulator) -> None:
    body = chat_body()
    body["messages"] = [
        {"role": "user", "content": "a"},
        {"role": "assistant"},
        {"role": "user", "content": "b"},
    ]
    assert await rejected(emu, body) == "Invalid value for 'content': expected a string, got null."


async def test_images_need_a_vision_model(emu: Emulator) -> None:
    body = user_parts(image_part(f"data:image/png;base64,{PNG}"), model=LLAMA)
    assert await rejected(emu, body) == (
        "Invalid content type. image_url is only supported by certain models."
    )
    for model in (QWEN, GPT_OSS, DEEPSEEK):
        body["model"] = model
        await rejected(emu, body)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "data:text/plain;base64,aGVsbG8=",
            "Invalid 'messages[0].content[1].image_url'. Expected a base64-encoded data URL with "
            "an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got "
            "unsupported MIME type 'text/plain'.",
        ),
        (
            "data:image/png;base64,@@not-base64@@",
            "Invalid 'messages[0].content[1].image_url'. Expected a base64-encoded data URL with "
            "an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got an "
            "invalid base64-encoded value.",
        ),
        (
            "http://example.com/cat.png",
            "Invalid 'messages[0].content[1].image_url.url'. Expected an https:// or gs:// URL "
            "or a base64-encoded data URL with an image MIME type (e.g. "
            "'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got a value with an unsupported "
            "scheme.",
        ),
    ],
)
async def test_bad_image_urls(emu: Emulator, url: str, message: str) -> None:
    assert await rejected(emu, user_parts(image_part(url))) == message
    assert "unsupported scheme" in await rejected(emu, user_parts(image_part("file:///etc/passwd")))


async def test_at_most_three_images_for_maverick(emu: Emulator) -> None:
    images = [image_part(f"https://example.com/{i}.png") for i in range(4)]
    message = await rejected(emu, user_parts(*images))
    assert message.startswith("Unable to submit request because it has 4 images")
    await ok(emu, user_parts(*images[:3]))


def pdf_part(data_url: str | None = None, **file: Any) -> dict[str, Any]:
    spec = {"filename": "doc.pdf", **file}
    if data_url is not None:
        spec["file_data"] = data_url
    return {"type": "file", "file": spec}


async def test_pdf_files(emu: Emulator) -> None:
    good = pdf_part(f"data:application/pdf;base64,{PDF}")
    for model in (GEMINI, DEEPSEEK):
        answer = await ok(emu, user_parts(good, model=model))
        assert "emulator saw application/pdf" in answer["choices"][0]["message"]["content"]
    for model in (LLAMA, MAVERICK, GPT_OSS):
        assert await rejected(emu, user_parts(good, model=model)) == (
            "Invalid content type. file is only supported by certain models."
        )
    message = await rejected(emu, user_parts(pdf_part("data:text/csv;base64,YSxi"), model=GEMINI))
    assert message.startswith("Invalid file data: 'messages[0].content[1].file.file_data'.")
    assert message.endswith("but got unsupported MIME type 'text/csv'.")
    message = await rejected(emu, user_parts(pdf_part(None, file_id="file-abc"), model=GEMINI))
    assert message.startswith("Unsupported parameter: 'messages[0].content[1].file.file_id'")


async def test_response_format_json_schema_needs_a_schema(emu: Emulator) -> None:
    body = chat_body(response_format={"type": "json_schema", "json_schema": {"name": "answer"}})
    assert await rejected(emu, body) == (
        "Missing required parameter: 'response_format.json_schema.schema'."
    )
    body["response_format"]["json_schema"]["schema"] = {"type": "nonsense"}
    assert (await rejected(emu, body)).startswith("Invalid schema for response_format 'answer': ")
    body["response_format"]["json_schema"] = {"name": "bad name", "schema": {}}
    assert (await rejected(emu, body)).startswith(
        "Invalid 'response_format.json_schema.name': string does not match pattern."
    )


async def test_tool_definitions(emu: Emulator) -> None:
    tool = {"type": "function", "function": {"name": "get weather"}}
    assert (await rejected(emu, chat_body(tools=[tool]))).startswith(
        "Invalid 'tools[0].function.name': string does not match pattern."
    )
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}
    assert await rejected(emu, chat_body(tools=[tool])) == (
        "Invalid schema for function 'f': schema must be a JSON Schema of 'type: \"object\"', "
        "got 'type: \"string\"'."
    )
    tool = {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "object", "required": "x"}},
    }
    assert (await rejected(emu, chat_body(tools=[tool]))).startswith(
        "Invalid schema for function 'f': "
    )
    custom = {"type": "custom", "custom": {"name": "grammar"}}
    assert await rejected(emu, chat_body(tools=[custom])) == (
        "Unsupported value: 'tools[0].type' does not support 'custom' with this model. "
        "Supported values are: 'function'."
    )


async def test_tool_choice_needs_tools(emu: Emulator) -> None:
    assert await rejected(emu, chat_body(tool_choice="required")) == (
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."
    )
    assert await rejected(emu, chat_body(parallel_tool_calls=False)) == (
        "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when "
        "'tools' are specified."
    )
    named = {"type": "function", "function": {"name": "get_time"}}
    assert await rejected(emu, chat_body(tools=[WEATHER_TOOL], tool_choice=named)) == (
        "Invalid value for 'tool_choice': function 'get_time' is not in 'tools'."
    )
    await ok(emu, chat_body(tool_choice="none"))


async def test_reasoning_effort(emu: Emulator) -> None:
    for model in (LLAMA, QWEN, MAVERICK, DEEPSEEK, "google/gemini-2.0-flash"):
        assert await rejected(emu, chat_body(model=model, reasoning_effort="low")) == (
            "Unsupported parameter: 'reasoning_effort' is not supported with this model."
        )
    assert await rejected(emu, chat_body(model=GPT_OSS, reasoning_effort="xhigh")) == (
        "Unsupported value: 'reasoning_effort' does not support 'xhigh' with this model. "
        "Supported values are: 'low', 'medium', and 'high'."
    )
    await ok(emu, chat_body(model=GPT_OSS, reasoning_effort="low"))
    await ok(emu, chat_body(model=GEMINI, reasoning_effort="none"))


@pytest.mark.parametrize(
    ("model", "limit"),
    [(LLAMA, 8192), (MAVERICK, 8192), (DEEPSEEK, 32768), (GPT_OSS, 131072), (GEMINI, 65536)],
)
async def test_output_token_limits(emu: Emulator, model: str, limit: int) -> None:
    for key in ("max_tokens", "max_completion_tokens"):
        too_many: dict[str, Any] = {key: limit + 1}
        assert await rejected(emu, chat_body(model=model, **too_many)) == (
            f"Unable to submit request because it has a maxOutputTokens value of {limit + 1} but "
            f"the supported range is from 1 (inclusive) to {limit + 1} (exclusive). Update the "
            "value and try again."
        )
        at_limit: dict[str, Any] = {key: limit}
        await ok(emu, chat_body(model=model, **at_limit))
    assert "maxOutputTokens value of 0" in await rejected(emu, chat_body(model=model, max_tokens=0))


async def test_max_tokens_and_max_completion_tokens_must_agree(emu: Emulator) -> None:
    message = await rejected(emu, chat_body(max_tokens=10, max_completion_tokens=20))
    assert "`max_tokens` and `max_completion_tokens` are both set" in message
    await ok(emu, chat_body(max_tokens=20, max_completion_tokens=20))


async def test_candidate_count(emu: Emulator) -> None:
    assert await rejected(emu, chat_body(n=2)) == (
        "Unable to submit request because candidateCount must be 1 but the entered value was 2. "
        "Update the candidateCount value and try again."
    )
    await ok(emu, chat_body(n=1))
    assert "candidateCount value of 9" in await rejected(emu, chat_body(model=GEMINI, n=9))


@pytest.mark.parametrize(
    ("key", "value", "name"),
    [
        (
            "temperature",
            2.5,
            "temperature value of 2.5 but the supported range is from 0 (inclusive) to 2.0001",
        ),
        ("top_p", 1.5, "topP value of 1.5"),
        ("presence_penalty", -3, "presencePenalty value of -3"),
        ("stop", ["a", "b", "c", "d", "e", "f"], "stopSequences value of 6"),
    ],
)
async def test_sampling_ranges(emu: Emulator, key: str, value: Any, name: str) -> None:
    assert name in await rejected(emu, chat_body(**{key: value}))


async def test_stream_options_need_stream(emu: Emulator) -> None:
    assert await rejected(emu, chat_body(stream_options={"include_usage": True})) == (
        "The 'stream_options' parameter is only allowed when 'stream' is enabled."
    )


# --- faults -----------------------------------------------------------------------------------


async def test_status_faults_are_array_wrapped(emu: Emulator) -> None:
    status, answer = await chat(emu, chat_body(), **{"x-emulator-fault": "429"})
    assert status == 429 and answer[0]["error"]["status"] == "RESOURCE_EXHAUSTED"
    status, answer = await chat(emu, chat_body(), **{"x-emulator-fault": "503"})
    assert status == 503 and answer[0]["error"]["status"] == "UNAVAILABLE"


async def test_fault_comes_before_body_errors(emu: Emulator) -> None:
    status, answer = await chat(emu, chat_body(max_token=1), **{"x-emulator-fault": "500"})
    assert status == 500 and answer[0]["error"]["status"] == "INTERNAL"


async def test_unary_malformed_json_and_disconnect(emu: Emulator) -> None:
    headers = emu.auth(**{"x-emulator-fault": "malformed-json"})
    async with emu.http.post(chat_url(emu), json=chat_body(), headers=headers) as resp:
        assert resp.status == 200
        text = await resp.text()
    with pytest.raises(ValueError):
        json.loads(text)
    headers = emu.auth(**{"x-emulator-fault": "disconnect-mid-stream"})
    async with emu.http.post(chat_url(emu), json=chat_body(), headers=headers) as resp:
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()


async def _raw_stream(emu: Emulator, spec: str) -> str:
    headers = emu.auth(**{"x-emulator-fault": spec})
    async with emu.http.post(chat_url(emu), json=chat_body(stream=True), headers=headers) as resp:
        assert resp.status == 200
        return (await resp.read()).decode()


async def test_stream_error(emu: Emulator) -> None:
    raw = await _raw_stream(emu, "stream-error")
    blocks = [b for b in raw.split("\n\n") if b.strip()]
    payloads = [json.loads(b.removeprefix("data: ")) for b in blocks]
    assert 2 <= len(payloads) <= 3 and "[DONE]" not in raw
    assert all(p["object"] == "chat.completion.chunk" for p in payloads[:-1])
    assert payloads[-1]["error"]["status"] == "RESOURCE_EXHAUSTED"


async def test_stream_error_raw(emu: Emulator) -> None:
    raw = await _raw_stream(emu, "stream-error-raw")
    tail = raw[raw.rindex("\n\n") + 2 :]
    assert tail.startswith("{\n") and json.loads(tail)["error"]["code"] == 429


async def test_stream_malformed_json(emu: Emulator) -> None:
    raw = await _raw_stream(emu, "malformed-json")
    (block,) = [b for b in raw.split("\n\n") if b.strip()]
    with pytest.raises(ValueError):
        json.loads(block.removeprefix("data: "))


async def test_stream_disconnect(emu: Emulator) -> None:
    headers = emu.auth(**{"x-emulator-fault": "disconnect-mid-stream"})
    async with emu.http.post(chat_url(emu), json=chat_body(stream=True), headers=headers) as resp:
        first = await resp.content.readline()
        assert first.startswith(b"data: ")
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    (record,) = await emu.records()
    assert not record["completed"]


async def test_slow_stream(emu: Emulator) -> None:
    import itertools
    import time

    headers = emu.auth(**{"x-emulator-fault": "slow-stream:60"})
    arrivals = []
    async with emu.http.post(chat_url(emu), json=chat_body(stream=True), headers=headers) as resp:
        async for line in resp.content:
            if line.startswith(b"data: "):
                arrivals.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(arrivals) >= 4 and min(gaps[:-1]) >= 0.04
    (record,) = await emu.records()
    assert record["completed"]


async def test_google_options_in_extra_body(emu: Emulator) -> None:
    google = {"google": {"thinking_config": {"thinking_budget": 0, "include_thoughts": False}}}
    await ok(emu, chat_body(model=GEMINI, extra_body=google))
    assert await rejected(emu, chat_body(extra_body=google)) == (
        "Unsupported parameter: 'extra_body.google' is only supported for Google models."
    )
    assert await rejected(emu, chat_body(model=GEMINI, extra_body={"goggle": {}})) == (
        "Invalid JSON payload received. Unknown name \"goggle\" at 'extra_body': Cannot find field."
    )


async def test_prompt_must_fit_the_context_window(emu: Emulator) -> None:
    message = await rejected(emu, chat_body("word " * 128_001))
    assert message == (
        "The input token count (128001) exceeds the maximum number of tokens allowed (128000)."
    )
    await ok(emu, chat_body("word " * 128_001, model=GPT_OSS))


async def test_parameters_must_declare_an_object(emu: Emulator) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {}}}
    assert await rejected(emu, chat_body(tools=[tool])) == (
        "Invalid schema for function 'f': schema must be a JSON Schema of 'type: \"object\"', "
        "got 'type: \"None\"'."
    )
