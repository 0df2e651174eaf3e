"""Claude on Vertex in the emulator: ``:streamRawPredict`` events, stream faults, and the
anthropic SDK's own Vertex client driving the emulator end to end."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import jsonschema
import pytest
from emu_helpers import Emulator
from test_claude import (
    MODEL,
    WEATHER,
    claude_body,
    claude_url,
    reply,
    texts,
    thinking_body,
)

Event = tuple[str, dict[str, Any]]


def parse_sse(raw: str) -> list[Event]:
    """Events as (event name, data); every event must carry both lines."""
    events: list[Event] = []
    for frame in raw.split("\n\n"):
        if not frame.strip():
            continue
        lines = dict(line.split(": ", 1) for line in frame.split("\n"))
        assert set(lines) == {"event", "data"}, frame
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def stream(
    emu: Emulator, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, str, aiohttp.ClientResponse]:
    """POST to :streamRawPredict; returns the status, the raw body and the response."""
    async with emu.http.post(
        claude_url(emu, "streamRawPredict"),
        json={**body, "stream": True},
        headers=emu.auth(**(headers or {})),
    ) as resp:
        raw = await resp.text()
    return resp.status, raw, resp


async def events_of(emu: Emulator, body: dict[str, Any]) -> list[Event]:
    status, raw, resp = await stream(emu, body)
    assert status == 200, raw
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    events = parse_sse(raw)
    for name, data in events:
        assert data["type"] == name
    return events


def deltas(events: list[Event], kind: str) -> list[dict[str, Any]]:
    return [
        d["delta"] for n, d in events if n == "content_block_delta" and d["delta"]["type"] == kind
    ]


async def test_event_sequence(emu: Emulator) -> None:
    events = await events_of(emu, claude_body())
    names = [n for n, _ in events]
    assert names[:5] == [
        "message_start",
        "vertex_event",
        "content_block_start",
        "ping",
        "content_block_delta",
    ]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    assert start["usage"]["output_tokens"] == 1 and start["usage"]["input_tokens"] == 7
    assert events[1][1]["usage"]["tiers"]
    text = deltas(events, "text_delta")
    assert len(text) >= 3
    unary = await reply(emu, claude_body())
    assert "".join(d["text"] for d in text) == texts(unary)
    final = events[-2][1]
    assert final["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert final["usage"]["output_tokens"] == unary["usage"]["output_tokens"]
    assert start["id"] == unary["id"]


async def test_tool_call_stream(emu: Emulator) -> None:
    events = await events_of(emu, claude_body("Use get_weather for Paris", tools=[WEATHER]))
    starts = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert [b["type"] for b in starts] == ["text", "tool_use"]
    assert starts[1]["name"] == "get_weather" and starts[1]["input"] == {}
    fragments = [d["partial_json"] for d in deltas(events, "input_json_delta")]
    assert len(fragments) >= 3
    jsonschema.validate(json.loads("".join(fragments)), WEATHER["input_schema"])
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


async def test_malformed_call_stream(emu: Emulator) -> None:
    body = claude_body("EMULATOR_MALFORMED_CALL now", tools=[WEATHER])
    events = await events_of(emu, body)
    joined = "".join(d["partial_json"] for d in deltas(events, "input_json_delta"))
    assert joined
    with pytest.raises(json.JSONDecodeError):
        json.loads(joined)
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


async def test_thinking_stream(emu: Emulator) -> None:
    events = await events_of(emu, thinking_body())
    first = next(d for n, d in events if n == "content_block_start")
    assert first["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    block0 = [
        d["delta"]["type"] for n, d in events if n == "content_block_delta" and d["index"] == 0
    ]
    assert block0[0] == "thinking_delta" and block0[-1] == "signature_delta"
    assert block0.count("signature_delta") == 1
    unary = await reply(emu, thinking_body())
    assert (
        "".join(d["thinking"] for d in deltas(events, "thinking_delta"))
        == (unary["content"][0]["thinking"])
    )
    assert deltas(events, "signature_delta")[0]["signature"] == unary["content"][0]["signature"]


async def test_refusal_stream(emu: Emulator) -> None:
    events = await events_of(emu, claude_body("EMULATOR_UNSAFE tell me"))
    assert deltas(events, "text_delta")
    assert events[-2][1]["delta"]["stop_reason"] == "refusal"


async def test_stream_error_fault(emu: Emulator) -> None:
    status, raw, _ = await stream(emu, claude_body(), {"x-emulator-fault": "stream-error"})
    assert status == 200
    events = parse_sse(raw)
    assert "content_block_delta" in [n for n, _ in events]
    assert events[-1] == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    assert "message_stop" not in [n for n, _ in events]


async def test_disconnect_fault(emu: Emulator) -> None:
    with pytest.raises(aiohttp.ClientPayloadError):
        await stream(emu, claude_body(), {"x-emulator-fault": "disconnect-mid-stream"})


async def test_slow_stream_fault(emu: Emulator) -> None:
    began = time.monotonic()
    status, raw, _ = await stream(emu, claude_body(), {"x-emulator-fault": "slow-stream:20"})
    assert status == 200 and parse_sse(raw)[-1][0] == "message_stop"
    assert time.monotonic() - began >= 0.2


async def test_malformed_json_fault(emu: Emulator) -> None:
    status, raw, _ = await stream(emu, claude_body(), {"x-emulator-fault": "malformed-json"})
    assert status == 200
    data = raw.split("data: ", 1)[1]
    with pytest.raises(json.JSONDecodeError):
        json.loads(data)
    status, answer, _ = await emu.post(
        claude_url(emu), claude_body(), emu.auth(**{"x-emulator-fault": "malformed-json"})
    )
    assert status == 200 and isinstance(answer, str)


async def test_status_fault_is_google_style(emu: Emulator) -> None:
    status, raw, _ = await stream(emu, claude_body(), {"x-emulator-fault": "429"})
    assert status == 429
    assert json.loads(raw)[0]["error"]["status"] == "RESOURCE_EXHAUSTED"


async def test_stream_validation_error(emu: Emulator) -> None:
    status, raw, _ = await stream(emu, claude_body(max_token=3))
    assert status == 400
    assert json.loads(raw)["error"]["message"] == "max_token: Extra inputs are not permitted"


# --- the anthropic SDK's Vertex client against the emulator ------------------------------------


def sdk_client(emu: Emulator) -> Any:
    from anthropic import AsyncAnthropicVertex

    return AsyncAnthropicVertex(
        region="us-east5",
        project_id="test-project",
        access_token=emu.token,
        base_url=f"{emu.base_url}/v1",
        max_retries=0,
    )


async def test_sdk_create(emu: Emulator) -> None:
    async with sdk_client(emu) as client:
        message = await client.messages.create(
            model=MODEL,
            max_tokens=1024,
            messages=[{"role": "user", "content": "Use get_weather for Paris"}],
            tools=[WEATHER],
        )
    assert message.stop_reason == "tool_use"
    call = next(b for b in message.content if b.type == "tool_use")
    jsonschema.validate(call.input, WEATHER["input_schema"])
    (record,) = await emu.records()
    assert record["body"]["anthropic_version"] == "2026-10-21"
    assert record["schema_errors"] == []


async def test_sdk_stream(emu: Emulator) -> None:
    async with (
        sdk_client(emu) as client,
        client.messages.stream(
            model=MODEL,
            max_tokens=4096,
            thinking={"type": "enabled", "budget_tokens": 2048},
            messages=[{"role": "user", "content": "Use get_weather for Paris"}],
            tools=[WEATHER],
        ) as events,
    ):
        final = await events.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    unary = await reply(emu, thinking_body("Use get_weather for Paris", tools=[WEATHER]))
    assert final.model_dump(exclude_none=True)["content"] == unary["content"]
    assert final.usage.output_tokens == unary["usage"]["output_tokens"]


async def test_sdk_count_tokens(emu: Emulator) -> None:
    async with sdk_client(emu) as client:
        counted = await client.messages.count_tokens(
            model=MODEL, messages=[{"role": "user", "content": "What is the capital of France?"}]
        )
    assert counted.input_tokens == 7


async def test_sdk_sees_400(emu: Emulator) -> None:
    from anthropic import BadRequestError

    async with sdk_client(emu) as client:
        with pytest.raises(BadRequestError) as raised:
            await client.messages.create(
                model=MODEL,
                max_tokens=1024,
                messages=[{"role": "assistant", "content": "Hi"}],
            )
    assert 'first message must use the "user" role' in str(raised.value)


async def test_sdk_stream_error(emu: Emulator) -> None:
    from anthropic import APIStatusError

    async with sdk_client(emu) as client:
        with pytest.raises(APIStatusError, match="Overloaded"):
            async with client.messages.stream(
                model=MODEL,
                max_tokens=1024,
                messages=[{"role": "user", "content": "Hi"}],
                extra_headers={"x-emulator-fault": "stream-error"},
            ) as events:
                await events.get_final_message()


async def test_empty_stream(emu: Emulator) -> None:
    events = await events_of(emu, claude_body(max_tokens=0))
    assert [n for n, _ in events] == [
        "message_start",
        "vertex_event",
        "ping",
        "message_delta",
        "message_stop",
    ]
    assert events[3][1]["delta"]["stop_reason"] == "max_tokens"
