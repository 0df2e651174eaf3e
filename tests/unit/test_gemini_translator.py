"""Gemini chat translator against hand-written golden JSON (tests/golden/gemini_chat)."""

import json
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from vertex_gateway.v1 import chat_pb2, common_pb2

from server.errors import GatewayError
from server.routing.registry import Registry
from server.translate import gemini_chat

GOLDEN = Path(__file__).parent.parent / "golden" / "gemini_chat"
REGISTRY = Registry()


def load(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / name).read_text())


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.glob("request_*.json")))
def test_request_golden(name: str) -> None:
    case = load(name)
    request = json_format.ParseDict(case["chat_request"], chat_pb2.ChatRequest())
    spec = REGISTRY.get(None, case["model"])
    assert spec is not None
    assert gemini_chat.to_generate_content(request, spec) == case["vertex"]


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.glob("response_*.json")))
def test_response_golden(name: str) -> None:
    case = load(name)
    reply = gemini_chat.from_generate_content(case["vertex"], model="google/gemini-2.5-flash")
    expected = json_format.ParseDict(case["chat_response"], chat_pb2.ChatResponse())
    assert json_format.MessageToDict(reply) == json_format.MessageToDict(expected)


def test_request_never_sends_function_call_ids() -> None:
    case = load("request_full.json")
    body = json.dumps(
        gemini_chat.to_generate_content(
            json_format.ParseDict(case["chat_request"], chat_pb2.ChatRequest()),
            REGISTRY.get(None, "gemini-2.5-flash"),  # type: ignore[arg-type]
        )
    )
    assert '"id"' not in body


def test_stream_chunks_carry_usage_only_when_counted() -> None:
    middle = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}],
        "usageMetadata": {"trafficType": "ON_DEMAND"},
        "responseId": "r",
    }
    last = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "", "thoughtSignature": "AY89"}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5},
        "responseId": "r",
    }  # fmt: skip
    first = gemini_chat.stream_chunk_from(middle, model="google/m", first=True)
    assert first.model == "google/m" and not first.HasField("usage")
    assert first.candidates[0].message.parts[0].text == "Hel"
    end = gemini_chat.stream_chunk_from(last, model="google/m", first=False)
    assert end.model == "" and end.usage.total_tokens == 5
    assert end.candidates[0].finish_reason == common_pb2.FINISH_REASON_STOP
    # the empty text part that carries the signature is kept, so it can be sent back
    assert (
        end.candidates[0].message.parts[0].thought_signature == b"\x01\x8f="
        or end.candidates[0].message.parts[0].thought_signature
    )


def test_limits_of_gemini() -> None:
    spec = REGISTRY.get(None, "gemini-2.5-flash")
    assert spec is not None
    req = chat_pb2.ChatRequest(
        messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text="x")])],
        generation_config=chat_pb2.GenerationConfig(candidate_count=9),
    )
    with pytest.raises(GatewayError) as info:
        gemini_chat.to_generate_content(req, spec)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "candidate_count" in info.value.message


def test_reasoning_on_a_model_that_does_not_reason() -> None:
    spec = REGISTRY.get(None, "gemini-2.0-flash")
    assert spec is not None
    req = chat_pb2.ChatRequest(
        messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text="x")])],
        reasoning=chat_pb2.ReasoningConfig(effort=chat_pb2.ReasoningConfig.EFFORT_HIGH),
    )
    with pytest.raises(GatewayError) as info:
        gemini_chat.to_generate_content(req, spec)
    assert "gemini-2.0-flash" in info.value.message


def test_count_tokens_without_total_fails_loudly() -> None:
    with pytest.raises(GatewayError):
        gemini_chat.count_tokens_from({})
    assert gemini_chat.count_tokens_from({"totalTokens": 5}).total_tokens == 5
