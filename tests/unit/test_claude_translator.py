"""Claude-on-Vertex chat translator and backend against hand-written golden JSON
(tests/golden/claude_chat)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2
from vertex_gateway.v1 import chat_pb2, common_pb2

from server.backends.claude_chat import ClaudeChatBackend
from server.errors import GatewayError
from server.routing.registry import ModelSpec, Registry
from server.routing.router import Route
from server.translate import claude_chat
from server.vertex.errors import VertexError
from server.vertex.urls import VertexTarget

GOLDEN = Path(__file__).parent.parent / "golden" / "claude_chat"
REGISTRY = Registry()
MODEL = "anthropic/claude-sonnet-4-5@20250929"


def load(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text())


def spec_for(model: str) -> ModelSpec:
    spec = REGISTRY.get("anthropic", model)
    assert spec is not None, model
    return spec


def chat_request(raw: dict[str, Any]) -> chat_pb2.ChatRequest:
    return json_format.ParseDict(raw, chat_pb2.ChatRequest())


def as_dict(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def names(pattern: str) -> list[str]:
    return sorted(p.name for p in GOLDEN.glob(pattern))


def bad_fields(err: GatewayError) -> list[str]:
    status = err.to_status_proto()
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            return [v.field for v in bad.field_violations]
    return []


# ---------------------------------------------------------------------------------------------
# Requests


@pytest.mark.parametrize("name", names("request_*.json"))
def test_request_golden(name: str) -> None:
    case = load(name)
    body = claude_chat.to_messages(
        chat_request(case["chat_request"]),
        spec_for(case["model"]),
        stream=case.get("stream", False),
    )
    assert body == case["vertex"]


@pytest.mark.parametrize("name", names("request_*.json"))
@pytest.mark.parametrize("stream", [False, True])
def test_body_never_names_the_model_and_carries_anthropic_version(name: str, stream: bool) -> None:
    case = load(name)
    body = claude_chat.to_messages(
        chat_request(case["chat_request"]), spec_for(case["model"]), stream=stream
    )
    assert "model" not in body
    assert body["anthropic_version"] == "vertex-2023-10-16"
    assert isinstance(body["max_tokens"], int)
    assert body.get("stream", False) is stream


def test_count_tokens_golden() -> None:
    case = load("count_tokens_request.json")
    request = json_format.ParseDict(case["count_tokens_request"], chat_pb2.CountTokensRequest())
    assert claude_chat.to_count_tokens(request, spec_for(case["model"])) == case["vertex"]


INVALID = load("invalid_requests.json")


@pytest.mark.parametrize("case", INVALID, ids=[c["name"] for c in INVALID])
def test_invalid_argument(case: dict[str, Any]) -> None:
    with pytest.raises(GatewayError) as info:
        claude_chat.to_messages(chat_request(case["chat_request"]), spec_for(case["model"]))
    err = info.value
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(err) == [case["field"]]
    assert err.message.startswith(case["field"] + ": ")


def test_invalid_argument_cases_are_unique() -> None:
    assert len({c["name"] for c in INVALID}) == len(INVALID)


def test_labels_are_not_sent() -> None:
    case = load("request_full.json")
    assert case["chat_request"]["labels"]
    body = claude_chat.to_messages(chat_request(case["chat_request"]), spec_for(case["model"]))
    assert "labels" not in json.dumps(body) and "acme" not in json.dumps(body)


def test_signature_round_trips_exactly() -> None:
    signature = "EqQBCkYIBxgCKkB+/=="
    reply = claude_chat.from_message(
        {
            "id": "m",
            "model": "v",
            "content": [
                {"type": "thinking", "thinking": "t", "signature": signature},
                {"type": "redacted_thinking", "data": "opaque+/="},
            ],
            "stop_reason": "end_turn",
        },
        model=MODEL,
    )
    request = chat_pb2.ChatRequest(
        messages=[
            chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text="q")]),
            chat_pb2.Message(role=chat_pb2.ROLE_ASSISTANT, parts=reply.candidates[0].message.parts),
            chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text="more")]),
        ]
    )
    body = claude_chat.to_messages(request, spec_for("claude-sonnet-4-5@20250929"))
    assert body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "t", "signature": signature},
        {"type": "redacted_thinking", "data": "opaque+/="},
    ]


def test_streamed_thought_parts_go_back_as_one_block() -> None:
    stream = claude_chat.ClaudeStream(model=MODEL)
    parts: list[chat_pb2.Part] = []
    for event in load("stream_thinking_tools.json")["events"]:
        for chunk in stream.feed(event):
            for candidate in chunk.candidates:
                parts.extend(
                    p for p in candidate.message.parts if p.WhichOneof("kind") == "thought"
                )
    request = chat_pb2.ChatRequest(
        messages=[
            chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text="q")]),
            chat_pb2.Message(role=chat_pb2.ROLE_ASSISTANT, parts=parts),
        ]
    )
    body = claude_chat.to_messages(request, spec_for("claude-sonnet-4-5@20250929"))
    assert body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCkYIBxgCKkA"},
        {"type": "redacted_thinking", "data": "RW5jcnlwdGVk"},
    ]


# ---------------------------------------------------------------------------------------------
# Replies


@pytest.mark.parametrize("name", names("response_*.json"))
def test_response_golden(name: str) -> None:
    case = load(name)
    reply = claude_chat.from_message(case["vertex"], model=MODEL, json_tool=case.get("json_tool"))
    expected = json_format.ParseDict(case["chat_response"], chat_pb2.ChatResponse())
    assert as_dict(reply) == as_dict(expected)


def test_every_stop_reason_is_covered() -> None:
    unary = {load(n)["vertex"]["stop_reason"] for n in names("response_*.json")}
    streamed = {
        e["delta"]["stop_reason"]
        for n in names("stream_*.json")
        for e in load(n)["events"]
        if e["type"] == "message_delta"
    }
    native = {
        "end_turn",
        "stop_sequence",
        "max_tokens",
        "tool_use",
        "refusal",
        "pause_turn",
        "model_context_window_exceeded",
    }
    assert native <= unary
    assert {"stop_sequence", "tool_use", "max_tokens", "refusal"} <= streamed


@pytest.mark.parametrize(
    "payload",
    [["not", "an", "object"], "text", {"id": "m", "stop_reason": "end_turn"}, {"content": {}}],
)
def test_malformed_message(payload: Any) -> None:
    with pytest.raises(GatewayError) as info:
        claude_chat.from_message(payload, model=MODEL)
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
    assert info.value.reason == "UPSTREAM_MALFORMED_RESPONSE"


def test_count_tokens_reply() -> None:
    assert claude_chat.count_tokens_from({"input_tokens": 42}).total_tokens == 42
    assert claude_chat.count_tokens_from({"input_tokens": 0}).total_tokens == 0


@pytest.mark.parametrize("payload", [{}, {"input_tokens": None}, {"input_tokens": "12"}, [], None])
def test_count_tokens_without_input_tokens_fails_loudly(payload: Any) -> None:
    with pytest.raises(GatewayError) as info:
        claude_chat.count_tokens_from(payload)
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
    assert info.value.reason == "UPSTREAM_MALFORMED_RESPONSE"


# ---------------------------------------------------------------------------------------------
# Streams


def run_stream(events: list[Any], json_tool: str | None = None) -> list[dict[str, Any]]:
    stream = claude_chat.ClaudeStream(model=MODEL, json_tool=json_tool)
    out = [chunk for event in events for chunk in stream.feed(event)]
    out += stream.finish()
    return [as_dict(chunk) for chunk in out]


@pytest.mark.parametrize("name", names("stream_*.json"))
def test_stream_golden(name: str) -> None:
    case = load(name)
    got = run_stream(case["events"], case.get("json_tool"))
    expected = [
        as_dict(json_format.ParseDict(m, chat_pb2.StreamChatResponse())) for m in case["expected"]
    ]
    assert got == expected


@pytest.mark.parametrize("name", names("stream_*.json"))
def test_stream_shape(name: str) -> None:
    case = load(name)
    stream = claude_chat.ClaudeStream(model=MODEL, json_tool=case.get("json_tool"))
    chunks = [chunk for event in case["events"] for chunk in stream.feed(event)]
    assert chunks[0].model == MODEL and all(c.model == "" for c in chunks[1:])
    assert all(c.id == chunks[0].id for c in chunks)
    # only the last message has a finish reason and usage; no other message is empty
    assert all(not c.HasField("usage") for c in chunks[:-1])
    assert chunks[-1].HasField("usage")
    assert chunks[-1].candidates[0].finish_reason != common_pb2.FINISH_REASON_UNSPECIFIED
    for chunk in chunks[1:-1]:
        assert chunk.candidates and chunk.candidates[0].message.parts
        assert chunk.candidates[0].finish_reason == common_pb2.FINISH_REASON_UNSPECIFIED


def test_stream_that_ends_early_fails() -> None:
    events = load("stream_text.json")["events"][:5]
    with pytest.raises(GatewayError) as info:
        run_stream(events)
    assert info.value.code == grpc.StatusCode.UNAVAILABLE


def test_stream_without_message_delta_ends_at_message_stop() -> None:
    events = [
        {"type": "message_start", "message": {"id": "m", "model": "v", "usage": {}}},
        {"type": "message_stop"},
    ]
    got = run_stream(events)
    assert got[-1]["candidates"] == [{"message": {"role": "ROLE_ASSISTANT"}}]
    assert "usage" in got[-1]


@pytest.mark.parametrize(
    "event",
    [
        "text",
        [1],
        {"type": "message_start", "message": None},
        {"type": "content_block_start", "index": 0},
        {"type": "content_block_delta", "index": 0, "delta": "x"},
    ],
)
def test_stream_malformed_event(event: Any) -> None:
    stream = claude_chat.ClaudeStream(model=MODEL)
    with pytest.raises(GatewayError) as info:
        stream.feed(event)
    assert info.value.reason == "UPSTREAM_MALFORMED_RESPONSE"


def test_stream_error_event_raises() -> None:
    stream = claude_chat.ClaudeStream(model=MODEL)
    stream.feed({"type": "message_start", "message": {"id": "m", "model": "v"}})
    with pytest.raises(VertexError) as info:
        stream.feed(
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        )
    assert info.value.code == "UNAVAILABLE"


# ---------------------------------------------------------------------------------------------
# Backend


class FakeClient:
    """Records calls; answers with canned JSON or events."""

    def __init__(self, reply: Any = None, events: list[Any] | None = None) -> None:
        self.reply = reply
        self.events = events or []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.closed = False

    def deadline(self, remaining: float | None) -> None:
        return None

    async def call_json(self, url: str, body: dict[str, Any], deadline: Any) -> Any:
        self.calls.append((url, body))
        return self.reply

    def stream_json(self, url: str, body: dict[str, Any], deadline: Any) -> AsyncIterator[Any]:
        self.calls.append((url, body))
        return self._events()

    async def _events(self) -> AsyncIterator[Any]:
        try:
            for event in self.events:
                yield event
        finally:
            self.closed = True


ROUTE = Route(MODEL, spec_for("claude-sonnet-4-5@20250929"), "us-east5")
BASE = "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5"
HELLO = chat_pb2.ChatRequest(
    model=MODEL,
    messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text="hi")])],
)


def backend(client: FakeClient) -> ClaudeChatBackend:
    return ClaudeChatBackend(client, lambda loc: VertexTarget("p", loc))  # type: ignore[arg-type]


async def test_backend_chat() -> None:
    client = FakeClient(reply=load("response_end_turn.json")["vertex"])
    reply = await backend(client).chat(ROUTE, HELLO, None)
    url, body = client.calls[0]
    assert url == f"{BASE}/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    assert "model" not in body and "stream" not in body
    assert reply.model == MODEL and reply.id == "msg_1"
    assert reply.served_by.location == "us-east5"
    assert reply.served_by.vertex_model == "publishers/anthropic/models/claude-sonnet-4-5@20250929"


async def test_backend_chat_json_mode() -> None:
    client = FakeClient(reply=load("response_json_mode.json")["vertex"])
    request = chat_request(
        {
            "model": MODEL,
            "messages": [{"role": "ROLE_USER", "parts": [{"text": "hi"}]}],
            "responseFormat": {
                "type": "TYPE_JSON_SCHEMA",
                "schemaName": "weather_report",
                "jsonSchema": {"type": "object"},
            },
        }
    )
    reply = await backend(client).chat(ROUTE, request, None)
    assert client.calls[0][1]["tool_choice"] == {"type": "tool", "name": "weather_report"}
    assert reply.candidates[0].message.parts[0].text.startswith('{"city":"Paris"')
    assert reply.candidates[0].finish_reason == common_pb2.FINISH_REASON_STOP


async def test_backend_stream_chat() -> None:
    case = load("stream_text.json")
    client = FakeClient(events=case["events"])
    chunks = [c async for c in backend(client).stream_chat(ROUTE, HELLO, None)]
    url, body = client.calls[0]
    assert url == f"{BASE}/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"
    assert body["stream"] is True and "model" not in body
    assert chunks[0].served_by.vertex_model.endswith("claude-sonnet-4-5@20250929")
    assert all(not c.HasField("served_by") for c in chunks[1:])
    assert len(chunks) == len(case["expected"])
    assert client.closed


async def test_backend_stream_closes_upstream_on_error() -> None:
    client = FakeClient(events=load("stream_text.json")["events"][:4])
    with pytest.raises(GatewayError):
        async for _ in backend(client).stream_chat(ROUTE, HELLO, None):
            pass
    assert client.closed


async def test_backend_count_tokens() -> None:
    client = FakeClient(reply={"input_tokens": 17})
    request = chat_pb2.CountTokensRequest(model=MODEL, messages=HELLO.messages)
    reply = await backend(client).count_tokens(ROUTE, request, None)
    url, body = client.calls[0]
    assert url == f"{BASE}/publishers/anthropic/models/count-tokens:rawPredict"
    assert body["model"] == "claude-sonnet-4-5@20250929"
    assert body["anthropic_version"] == "vertex-2023-10-16"
    assert reply.total_tokens == 17


async def test_backend_count_tokens_fails_loudly() -> None:
    client = FakeClient(reply={"tokens": 17})
    request = chat_pb2.CountTokensRequest(model=MODEL, messages=HELLO.messages)
    with pytest.raises(GatewayError):
        await backend(client).count_tokens(ROUTE, request, None)
