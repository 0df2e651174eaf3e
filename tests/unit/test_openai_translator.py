"""Model Garden (OpenAI-compatible) chat translator against hand-written golden JSON.

tests/golden/openai_chat:
- request_*.json: `model`, `chat_request` (proto JSON), optional `stream`, and the expected
  upstream body (`vertex`); every body is also checked against the `openai` package's own
  request types, with unknown keys rejected (as the emulator and Vertex do).
- invalid_requests.json: requests the translator must reject, with the field each names.
- response_*.json: an upstream chat completion (`vertex`) and the expected `chat_response`.
- stream_*.json: upstream chunks (`events`) and the expected StreamChatResponse list
  (`stream_responses`, including what `finish()` adds).
Upstream fixtures are checked against the `openai` package's ChatCompletion / chunk types,
except those with a `nonstandard` note saying how real OpenAI-compatible servers deviate.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming,
    CompletionCreateParamsStreaming,
)
from typing_extensions import is_typeddict
from vertex_gateway.v1 import chat_pb2, common_pb2

from server.backends.openai_chat import OpenAIChatBackend
from server.errors import GatewayError
from server.routing.registry import Registry
from server.routing.router import Route
from server.translate import openai_chat

GOLDEN = Path(__file__).parent.parent / "golden" / "openai_chat"
REGISTRY = Registry()
MODEL = "meta/llama-3.3-70b-instruct-maas"


def load(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text())


def names(pattern: str) -> list[str]:
    return sorted(p.name for p in GOLDEN.glob(pattern))


def spec_of(model: str) -> Any:
    publisher, _, model_id = model.rpartition("/")
    spec = REGISTRY.get(publisher or None, model_id)
    assert spec is not None, model
    return spec


def as_dict(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message)


# ---------------------------------------------------------------------------------------------
# A strict check of request bodies against the openai package's TypedDicts


def conformance_errors(value: Any, tp: Any, path: str = "$") -> list[str]:
    """Where `value` does not fit the type `tp` (unknown TypedDict keys count as errors)."""
    if tp is Any or tp is object:
        return []
    if tp is type(None):
        return [] if value is None else [f"{path}: expected null"]
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return conformance_errors(value, args[0], path)
    if origin in (typing.Union, types.UnionType):
        branches = [conformance_errors(value, arg, path) for arg in args]
        if any(not b for b in branches):
            return []
        return [f"{path}: fits no branch of {tp}: " + "; ".join(b[0] for b in branches)]
    if origin is typing.Literal:
        return [] if value in args else [f"{path}: {value!r} is not one of {args}"]
    if is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        hints = typing.get_type_hints(tp)
        errors = [f"{path}.{k}: unknown key" for k in value if k not in hints]
        errors += [f"{path}.{k}: missing" for k in tp.__required_keys__ if k not in value]
        for key, item in value.items():
            if key in hints:
                errors += conformance_errors(item, hints[key], f"{path}.{key}")
        return errors
    if tp is str:
        return [] if isinstance(value, str) else [f"{path}: expected a string"]
    if tp is bool:
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean"]
    if tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an integer"]
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number"]
    if origin in (dict, Mapping, typing.Dict):  # noqa: UP006
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        return [e for k, v in value.items() for e in conformance_errors(v, args[1], f"{path}.{k}")]
    if origin is not None and args:  # Iterable, List, Sequence, SequenceNotStr, ...
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [
            e for i, v in enumerate(value) for e in conformance_errors(v, args[0], f"{path}[{i}]")
        ]
    raise AssertionError(f"unhandled type {tp!r} at {path}")


def test_conformance_check_rejects_unknown_keys() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x", "labels": {}}]}
    errors = conformance_errors(body, CompletionCreateParamsNonStreaming)
    assert errors and "labels" in errors[0]
    assert conformance_errors(
        {"model": "m", "messages": [], "top_k": 3}, CompletionCreateParamsNonStreaming
    )
    assert not conformance_errors(
        {"model": "m", "messages": []}, CompletionCreateParamsNonStreaming
    )
    wrong = {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "video", "video": {}}]}],
    }
    assert conformance_errors(wrong, CompletionCreateParamsNonStreaming)


# ---------------------------------------------------------------------------------------------
# Requests


@pytest.mark.parametrize("name", names("request_*.json"))
def test_request_golden(name: str) -> None:
    case = load(name)
    request = json_format.ParseDict(case["chat_request"], chat_pb2.ChatRequest())
    stream = bool(case.get("stream", False))
    body = openai_chat.to_chat_completions(request, spec_of(case["model"]), stream=stream)
    assert body == case["vertex"]
    params = CompletionCreateParamsStreaming if stream else CompletionCreateParamsNonStreaming
    assert conformance_errors(body, params) == []
    json.dumps(body, allow_nan=False)  # plain JSON, nothing proto-typed left


INVALID = load("invalid_requests.json")


@pytest.mark.parametrize("case", INVALID, ids=[c["name"] for c in INVALID])
def test_invalid_request(case: dict[str, Any]) -> None:
    request = json_format.ParseDict(case["chat_request"], chat_pb2.ChatRequest())
    with pytest.raises(GatewayError) as info:
        openai_chat.to_chat_completions(request, spec_of(case["model"]))
    err = info.value
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    assert err.reason == case.get("reason", "INVALID_ARGUMENT")
    assert err.message.startswith(case["field"] + ": ")
    status = err.to_status_proto()
    bad = error_details_pb2.BadRequest()
    assert any(d.Unpack(bad) for d in status.details if d.Is(bad.DESCRIPTOR))
    assert [v.field for v in bad.field_violations] == [case["field"]]
    for word in case.get("mentions", []):
        assert word in err.message


def test_invalid_cases_cover_every_rejection() -> None:
    """Every field path the translator can name appears in invalid_requests.json."""
    fields = {
        c["field"].split("[")[0] if c["field"].startswith("tools[") else c["field"] for c in INVALID
    }
    expected = {
        "generation_config.top_k", "generation_config.media_resolution", "generation_config.logprobs",
        "safety_settings", "cached_content", "tools", "tool_choice.allowed_function_names",
        "tool_choice.mode", "reasoning", "reasoning.budget_tokens", "reasoning.effort",
        "response_format.schema_name",
    }  # fmt: skip
    assert expected <= fields
    media = {c["field"].rsplit(".", 1)[-1] for c in INVALID if ".media." in c["field"]}
    assert media == {"mime_type", "uri", "resolution", "video_metadata"}


# ---------------------------------------------------------------------------------------------
# Replies


@pytest.mark.parametrize("name", names("response_*.json"))
def test_response_golden(name: str) -> None:
    case = load(name)
    if "nonstandard" not in case:  # otherwise it says what a real server does differently
        ChatCompletion.model_validate(case["vertex"])
    reply = openai_chat.from_chat_completion(case["vertex"], model=case.get("model", MODEL))
    expected = json_format.ParseDict(case["chat_response"], chat_pb2.ChatResponse())
    assert as_dict(reply) == as_dict(expected)


@pytest.mark.parametrize("name", names("stream_*.json"))
def test_stream_golden(name: str) -> None:
    case = load(name)
    stream = openai_chat.OpenAIStream(model=case.get("model", MODEL))
    got: list[chat_pb2.StreamChatResponse] = []
    for event in case["events"]:
        if "nonstandard" not in case:  # otherwise it says what a real server does differently
            ChatCompletionChunk.model_validate(event)
        got.extend(stream.feed(event))
    if "error" in case:  # the stream ended before the reply did
        with pytest.raises(GatewayError) as info:
            stream.finish()
        assert info.value.reason == case["error"]
    else:
        got.extend(stream.finish())
    expected = [
        json_format.ParseDict(m, chat_pb2.StreamChatResponse()) for m in case["stream_responses"]
    ]
    assert [as_dict(m) for m in got] == [as_dict(m) for m in expected]
    # The contract: no empty message, except a first one carrying just id/model/model_version.
    for message in got:
        assert message.candidates or message.HasField("usage")
    assert got[0].model == case.get("model", MODEL)
    assert all(m.model == "" for m in got[1:])


def test_every_native_finish_reason_is_covered() -> None:
    seen: set[str] = set()
    for name in names("response_*.json"):
        seen |= {c.get("finish_reason") for c in load(name)["vertex"]["choices"]}
    for name in names("stream_*.json"):
        seen |= {c.get("finish_reason") for e in load(name)["events"] for c in e.get("choices", [])}
    assert {"stop", "length", "tool_calls", "function_call", "content_filter"} <= seen
    assert seen - {"stop", "length", "tool_calls", "function_call", "content_filter", None}


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "text",
        {"id": "x"},
        {"choices": {}},
        {"choices": ["x"]},
        {"choices": [{"index": 0, "finish_reason": "stop"}]},
        {"choices": [{"message": {"tool_calls": {}}}]},
        {"choices": [{"message": {"tool_calls": [{"id": "a"}]}}]},
    ],
)
def test_malformed_reply(payload: Any) -> None:
    with pytest.raises(GatewayError) as info:
        openai_chat.from_chat_completion(payload, model=MODEL)
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
    assert info.value.reason == "UPSTREAM_MALFORMED_RESPONSE"


@pytest.mark.parametrize(
    "event",
    [
        [],
        {"id": "x", "object": "chat.completion.chunk"},
        {"choices": "x"},
        {"choices": [3]},
        {"choices": [{"index": 0, "delta": "x"}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": {}}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": ["x"]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": "f"}]}}]},
    ],
)
def test_malformed_stream_event(event: Any) -> None:
    with pytest.raises(GatewayError) as info:
        openai_chat.OpenAIStream(model=MODEL).feed(event)
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
    assert info.value.reason == "UPSTREAM_MALFORMED_RESPONSE"


def test_stream_fragments_without_index() -> None:
    """Servers that leave out a fragment's index: a new id opens a call, no id continues it."""
    stream = openai_chat.OpenAIStream(model=MODEL)

    def chunk(*fragments: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        delta = {"tool_calls": list(fragments)}
        return {
            "id": "s",
            "model": "v",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    stream.feed(chunk({"id": "a", "function": {"arguments": '{"x"'}}))
    stream.feed(chunk({"function": {"name": "f", "arguments": ":1}"}}))  # a late name
    stream.feed(chunk({"id": "b", "function": {"name": "g", "arguments": "{}"}}))
    (last,) = stream.feed(chunk(finish="tool_calls"))
    calls = [p.tool_call for p in last.candidates[0].message.parts]
    assert [(c.id, c.name, c.index, as_dict(c.arguments)) for c in calls] == [
        ("a", "f", 0, {"x": 1}),
        ("b", "g", 1, {}),
    ]
    assert last.candidates[0].finish_reason == common_pb2.FINISH_REASON_TOOL_CALLS
    assert stream.finish() == []


def test_usage_counters() -> None:
    usage = openai_chat.usage_from(
        {
            "prompt_tokens": 100,
            "completion_tokens": 50,
            "total_tokens": 150,
            "prompt_tokens_details": {
                "cached_tokens": 40, "cache_write_tokens": 10, "text_tokens": 80,
                "image_tokens": 15, "audio_tokens": 5,
            },
            "completion_tokens_details": {"reasoning_tokens": 20, "text_tokens": 30, "audio_tokens": 0},
        }
    )  # fmt: skip
    assert as_dict(usage) == {
        "inputTokens": 100, "outputTokens": 30, "reasoningTokens": 20, "cachedInputTokens": 40,
        "cacheWriteInputTokens": 10, "totalTokens": 150,
        "inputDetails": [
            {"modality": "MODALITY_TEXT", "tokenCount": 80},
            {"modality": "MODALITY_IMAGE", "tokenCount": 15},
            {"modality": "MODALITY_AUDIO", "tokenCount": 5},
        ],
        "outputDetails": [{"modality": "MODALITY_TEXT", "tokenCount": 30}],
    }  # fmt: skip
    # no total reported: input + output + reasoning
    assert openai_chat.usage_from({"prompt_tokens": 3, "completion_tokens": 4}).total_tokens == 7
    # a server that leaves reasoning out of completion_tokens (the total shows it)
    separate = openai_chat.usage_from(
        {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 12,
         "completion_tokens_details": {"reasoning_tokens": 5}}
    )  # fmt: skip
    assert (separate.output_tokens, separate.reasoning_tokens) == (4, 5)


def test_stream_body_differs_only_by_streaming_keys() -> None:
    case = load("request_minimal.json")
    request = json_format.ParseDict(case["chat_request"], chat_pb2.ChatRequest())
    unary = openai_chat.to_chat_completions(request, spec_of(MODEL))
    stream = openai_chat.to_chat_completions(request, spec_of(MODEL), stream=True)
    assert stream == {**unary, "stream": True, "stream_options": {"include_usage": True}}
    assert "stream" not in unary


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

    def stream_json(self, url: str, body: dict[str, Any], deadline: Any) -> Any:
        self.calls.append((url, body))
        client = self

        async def gen() -> Any:
            try:
                for event in client.events:
                    yield event
            finally:
                client.closed = True

        return gen()


def backend(client: FakeClient) -> OpenAIChatBackend:
    from server.vertex.urls import VertexTarget

    return OpenAIChatBackend(client, lambda loc: VertexTarget("proj", loc))  # type: ignore[arg-type]


def route(model: str = MODEL, location: str = "us-central1") -> Route:
    return Route(requested=model, spec=spec_of(model), location=location)


def simple_request() -> chat_pb2.ChatRequest:
    return chat_pb2.ChatRequest(
        model=MODEL,
        messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text="Hi")])],
    )


URL = (
    "https://us-central1-aiplatform.googleapis.com/v1/projects/proj/locations/us-central1"
    "/endpoints/openapi/chat/completions"
)


async def test_backend_chat() -> None:
    client = FakeClient(reply=load("response_text.json")["vertex"])
    reply = await backend(client).chat(route(), simple_request(), 5.0)
    assert client.calls[0][0] == URL
    assert client.calls[0][1]["model"] == MODEL and "stream" not in client.calls[0][1]
    assert reply.model == MODEL
    assert as_dict(reply.served_by) == {
        "location": "us-central1",
        "vertexModel": "publishers/meta/models/llama-3.3-70b-instruct-maas",
    }


async def test_backend_stream_chat() -> None:
    case = load("stream_tool_calls.json")
    client = FakeClient(events=case["events"])
    got = [m async for m in backend(client).stream_chat(route(), simple_request(), None)]
    assert client.calls[0][0] == URL
    assert client.calls[0][1]["stream"] is True
    assert client.calls[0][1]["stream_options"] == {"include_usage": True}
    assert got[0].served_by.vertex_model == "publishers/meta/models/llama-3.3-70b-instruct-maas"
    assert all(not m.HasField("served_by") for m in got[1:])
    assert len(got) == len(case["stream_responses"])
    assert got[-1].HasField("usage")
    assert client.closed


async def test_backend_stream_closes_upstream_when_caller_stops() -> None:
    client = FakeClient(events=load("stream_text.json")["events"])
    stream = backend(client).stream_chat(route(), simple_request(), None)
    await stream.__anext__()
    await stream.aclose()  # type: ignore[attr-defined]
    assert client.closed


async def test_backend_self_deployed_endpoint() -> None:
    import dataclasses

    spec = dataclasses.replace(spec_of(MODEL), endpoint="1234")
    client = FakeClient(reply=load("response_text.json")["vertex"])
    reply = await backend(client).chat(
        Route(requested=MODEL, spec=spec, location="europe-west4"), simple_request(), None
    )
    assert client.calls[0][0].endswith("/locations/europe-west4/endpoints/1234/chat/completions")
    assert reply.served_by.vertex_model == "endpoints/1234"


async def test_backend_count_tokens_is_unimplemented() -> None:
    with pytest.raises(GatewayError) as info:
        await backend(FakeClient()).count_tokens(
            route(), chat_pb2.CountTokensRequest(model=MODEL), None
        )
    assert info.value.code == grpc.StatusCode.UNIMPLEMENTED
    assert "token-counting" in info.value.message


def test_finish_reason_enum_names_are_stable() -> None:
    # the golden files spell these names; fail loudly if the proto renames one
    for name in (
        "FINISH_REASON_MALFORMED_TOOL_CALL",
        "FINISH_REASON_REFUSAL",
        "FINISH_REASON_OTHER",
    ):
        assert common_pb2.FinishReason.Value(name)
