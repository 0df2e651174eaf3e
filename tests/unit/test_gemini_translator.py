"""Gemini chat translator against hand-written golden JSON (tests/golden/gemini_chat)."""

import base64
import json
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from vertex_gateway.v1 import chat_pb2, common_pb2

from server.errors import GatewayError
from server.routing.registry import Capability, Registry
from server.translate import gemini_chat
from server.translate.chat_capabilities import required_capabilities

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
    stream = gemini_chat.GeminiStream("google/m")
    first = stream.feed(middle)
    assert first.model == "google/m" and not first.HasField("usage")
    assert first.candidates[0].message.parts[0].text == "Hel"
    end = stream.feed(last)
    assert end.model == "" and end.usage.total_tokens == 5
    assert end.candidates[0].finish_reason == common_pb2.FINISH_REASON_STOP
    # the empty text part that carries the signature is kept, so it can be sent back
    signed = end.candidates[0].message.parts[0]
    assert signed.WhichOneof("kind") == "text" and signed.text == ""
    assert signed.thought_signature == base64.b64decode("AY89")


def test_stream_call_indexes_and_ids_continue_across_events() -> None:
    def event(parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
        if finish:
            candidate["finishReason"] = finish
        return {"candidates": [candidate], "responseId": "resp-1"}

    stream = gemini_chat.GeminiStream("google/m")
    one = stream.feed(event([{"functionCall": {"name": "a", "args": {"x": 1}}}]))
    two = stream.feed(event([{"functionCall": {"name": "b", "args": {}}}]))
    end = stream.feed(event([{"text": ""}], "STOP"))
    calls = [
        one.candidates[0].message.parts[0].tool_call,
        two.candidates[0].message.parts[0].tool_call,
    ]
    assert [c.index for c in calls] == [0, 1]
    assert calls[0].id == gemini_chat.call_id("resp-1", 0, 0) != calls[1].id
    assert end.candidates[0].finish_reason == common_pb2.FINISH_REASON_TOOL_CALLS
    assert end.candidates[0].native_finish_reason == "STOP"
    # the same reply gives the same ids (stable across retries of the translation)
    again = gemini_chat.GeminiStream("google/m").feed(event([{"functionCall": {"name": "a"}}]))
    assert again.candidates[0].message.parts[0].tool_call.id == calls[0].id


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
    # The service refuses it before translation (the model lacks the reasoning capability)...
    assert (Capability.REASONING, "reasoning") in required_capabilities(req)
    assert Capability.REASONING not in spec.capabilities
    # ...and turning reasoning off is simply nothing to send to a model that never reasons.
    req.reasoning.effort = chat_pb2.ReasoningConfig.EFFORT_NONE
    assert required_capabilities(req) == []
    assert "thinkingConfig" not in gemini_chat.to_generate_content(req, spec).get(
        "generationConfig", {}
    )


def _reasoning_request(**reasoning: Any) -> chat_pb2.ChatRequest:
    return chat_pb2.ChatRequest(
        messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text="x")])],
        reasoning=chat_pb2.ReasoningConfig(**reasoning),
    )


@pytest.mark.parametrize(
    ("model", "reasoning", "expected"),
    [
        ("gemini-2.5-flash", {"budget_tokens": 0}, {"thinkingBudget": 0}),
        ("gemini-2.5-flash", {"budget_tokens": -1}, {"thinkingBudget": -1}),
        ("gemini-2.5-flash", {"budget_tokens": 24576}, {"thinkingBudget": 24576}),
        ("gemini-2.5-pro", {"budget_tokens": 128}, {"thinkingBudget": 128}),
        ("gemini-2.5-flash-lite", {"effort": 2}, {"thinkingBudget": 512}),  # MINIMAL, clamped
        ("gemini-2.5-pro", {"effort": 5, "include_thoughts": True}, {"thinkingBudget": 4096, "includeThoughts": True}),
        ("gemini-3-pro-preview", {"effort": 2}, {"thinkingLevel": "LOW"}),  # nearest level
        ("gemini-3-pro-preview", {"effort": 4}, {"thinkingLevel": "HIGH"}),  # tie goes up
        ("gemini-3-flash-preview", {"effort": 4}, {"thinkingLevel": "MEDIUM"}),
    ],
)  # fmt: skip
def test_reasoning_mapping(model: str, reasoning: dict[str, Any], expected: dict[str, Any]) -> None:
    spec = REGISTRY.get(None, model)
    assert spec is not None
    body = gemini_chat.to_generate_content(_reasoning_request(**reasoning), spec)
    assert body["generationConfig"]["thinkingConfig"] == expected


@pytest.mark.parametrize(
    ("model", "reasoning", "field"),
    [
        ("gemini-2.5-pro", {"budget_tokens": 0}, "reasoning.budget_tokens"),
        ("gemini-2.5-pro", {"budget_tokens": 64}, "reasoning.budget_tokens"),
        ("gemini-2.5-flash", {"budget_tokens": 30000}, "reasoning.budget_tokens"),
        ("gemini-2.5-flash-lite", {"budget_tokens": 100}, "reasoning.budget_tokens"),
        ("gemini-2.5-flash", {"budget_tokens": -2}, "reasoning.budget_tokens"),
        ("gemini-3-pro-preview", {"effort": 1}, "reasoning.effort"),
        ("gemini-2.5-pro", {"effort": 1}, "reasoning.effort"),
    ],
)
def test_reasoning_out_of_range(model: str, reasoning: dict[str, Any], field: str) -> None:
    spec = REGISTRY.get(None, model)
    assert spec is not None
    with pytest.raises(GatewayError) as info:
        gemini_chat.to_generate_content(_reasoning_request(**reasoning), spec)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in info.value.field_violations] == [field]


def test_count_tokens_without_total_fails_loudly() -> None:
    with pytest.raises(GatewayError):
        gemini_chat.count_tokens_from({})
    assert gemini_chat.count_tokens_from({"totalTokens": 5}).total_tokens == 5


FINISH_TABLE = load("finish_reasons.json")


@pytest.mark.parametrize(("native", "normalized"), sorted(FINISH_TABLE["finish_reasons"].items()))
def test_every_finish_reason(native: str, normalized: str) -> None:
    payload = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": native}
        ]
    }
    for candidate in (
        gemini_chat.from_generate_content(payload, model="m").candidates[0],
        gemini_chat.GeminiStream("m").feed(payload).candidates[0],
    ):
        assert common_pb2.FinishReason.Name(candidate.finish_reason) == normalized
        assert candidate.native_finish_reason == native
        assert reply_text_of(candidate) == "x"  # content before the stop is kept


@pytest.mark.parametrize(("native", "normalized"), sorted(FINISH_TABLE["block_reasons"].items()))
def test_every_block_reason(native: str, normalized: str) -> None:
    payload = {"promptFeedback": {"blockReason": native, "blockReasonMessage": "why"}}
    feedback = gemini_chat.from_generate_content(payload, model="m").prompt_feedback
    assert common_pb2.FinishReason.Name(feedback.block_reason) == normalized
    assert feedback.native_block_reason == native and feedback.block_reason_message == "why"


def reply_text_of(candidate: chat_pb2.Candidate) -> str:
    return "".join(p.text for p in candidate.message.parts)


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.glob("stream_*.json")))
def test_stream_golden(name: str) -> None:
    case = load(name)
    stream = gemini_chat.GeminiStream("google/gemini-2.5-flash")
    got = [json_format.MessageToDict(stream.feed(event)) for event in case["vertex_events"]]
    assert got == case["stream"]


def test_a_stream_cut_before_the_finish_reason_fails() -> None:
    stream = gemini_chat.GeminiStream("m")
    stream.feed({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hal"}]}}]})
    with pytest.raises(GatewayError) as info:
        stream.finish()
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
    assert info.value.reason == "UPSTREAM_CONNECTION_LOST"
    stream.feed(
        {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": "f"}]}, "finishReason": "STOP"}
            ]
        }
    )
    stream.finish()  # complete now
    blocked = gemini_chat.GeminiStream("m")
    blocked.feed({"promptFeedback": {"blockReason": "SAFETY"}})
    blocked.finish()  # a blocked prompt is a complete answer


@pytest.mark.parametrize(
    "payload",
    [
        {"candidates": [{"content": {"parts": [{"functionCall": "x"}]}}]},
        {"candidates": [{"groundingMetadata": {"groundingSupports": [None]}}]},
        {"candidates": [{"safetyRatings": [{"probabilityScore": "high"}]}]},
    ],
)
def test_wrongly_typed_replies_are_malformed_upstream_not_internal(payload: dict[str, Any]) -> None:
    for convert in (
        lambda: gemini_chat.from_generate_content(payload, model="m"),
        lambda: gemini_chat.GeminiStream("m").feed(payload),
    ):
        with pytest.raises(GatewayError) as info:
            convert()
        assert info.value.reason == "UPSTREAM_MALFORMED_RESPONSE"
        assert info.value.code == grpc.StatusCode.UNAVAILABLE


def test_call_arguments_a_struct_cannot_hold_are_left_empty() -> None:
    # The service then finds them wrong for the declared schema and marks the call malformed.
    payload = {
        "candidates": [
            {"content": {"parts": [{"functionCall": {"name": "f", "args": {"n": 10**400}}}]}}
        ]
    }
    call = (
        gemini_chat.from_generate_content(payload, model="m")
        .candidates[0]
        .message.parts[0]
        .tool_call
    )
    assert call.name == "f" and not call.arguments.fields
