"""Chat and StreamChat end to end: gRPC channel -> gateway -> emulator -> back."""

from __future__ import annotations

import grpc
import pytest
from vertex_gateway.v1 import chat_pb2, chat_pb2_grpc, common_pb2

from emulator.admin import EmulatorAdmin

from .conftest import ask, reply_text, user, vertex_calls

Stub = chat_pb2_grpc.ChatServiceStub


async def test_unary_chat_returns_text_finish_reason_and_usage(
    chat: Stub, admin: EmulatorAdmin
) -> None:
    reply = await chat.Chat(ask("Tell me about the moon"))
    assert reply.model == "google/gemini-2.5-flash"
    assert reply.id and reply.model_version
    assert len(reply.candidates) == 1
    candidate = reply.candidates[0]
    assert reply_text(candidate)
    assert candidate.finish_reason == common_pb2.FINISH_REASON_STOP
    assert candidate.native_finish_reason == "STOP"
    usage = reply.usage
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens + usage.reasoning_tokens
    assert usage.traffic_type == "ON_DEMAND"
    assert reply.served_by.location == "us-central1"
    assert reply.served_by.vertex_model == "publishers/google/models/gemini-2.5-flash"
    [call] = vertex_calls(admin, "generateContent")
    assert call["path"].endswith(
        "/v1/projects/emulator-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    )
    assert call["auth"] == "bearer"


async def test_settings_system_instruction_turns_and_labels_reach_vertex(
    chat: Stub, admin: EmulatorAdmin
) -> None:
    request = chat_pb2.ChatRequest(
        model="fast",
        system_instruction=[chat_pb2.Part(text="Be brief.")],
        messages=[
            user("Hi"),
            chat_pb2.Message(role=chat_pb2.ROLE_ASSISTANT, parts=[chat_pb2.Part(text="Hello!")]),
            user("What is a star?"),
        ],
        generation_config=chat_pb2.GenerationConfig(
            temperature=0.5, top_p=0.9, top_k=20, max_output_tokens=200, stop_sequences=["ZZZ"],
            seed=42, presence_penalty=0.25, frequency_penalty=0.5, candidate_count=1,
        ),
        labels={"team": "search", "env": "test"},
    )  # fmt: skip
    reply = await chat.Chat(request)
    assert reply.model == "google/gemini-2.5-flash"  # alias resolved
    [call] = vertex_calls(admin, "generateContent")
    assert call["body"] == {
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello!"}]},
            {"role": "user", "parts": [{"text": "What is a star?"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {
            "temperature": 0.5, "topP": 0.9, "topK": 20, "maxOutputTokens": 200,
            "stopSequences": ["ZZZ"], "seed": 42, "presencePenalty": 0.25,
            "frequencyPenalty": 0.5, "candidateCount": 1,
        },
        "labels": {"team": "search", "env": "test"},
    }  # fmt: skip
    assert call["schema_errors"] == []


async def test_max_output_tokens_gives_max_tokens(chat: Stub) -> None:
    reply = await chat.Chat(
        ask("Describe the ocean", generation_config=chat_pb2.GenerationConfig(max_output_tokens=3))
    )
    candidate = reply.candidates[0]
    assert candidate.finish_reason == common_pb2.FINISH_REASON_MAX_TOKENS
    assert candidate.native_finish_reason == "MAX_TOKENS"
    assert reply.usage.output_tokens == 3


async def test_stop_sequence_cuts_the_reply(chat: Stub) -> None:
    full = reply_text((await chat.Chat(ask("Describe a forest"))).candidates[0])
    assert "emulator" in full
    reply = await chat.Chat(
        ask(
            "Describe a forest",
            generation_config=chat_pb2.GenerationConfig(stop_sequences=["emulator"]),
        )
    )
    text = reply_text(reply.candidates[0])
    assert text and "emulator" not in text
    assert reply.candidates[0].finish_reason == common_pb2.FINISH_REASON_STOP
    assert reply.usage.output_tokens < 40


async def test_candidate_count(chat: Stub) -> None:
    reply = await chat.Chat(
        ask("Name a color", generation_config=chat_pb2.GenerationConfig(candidate_count=3))
    )
    assert [c.index for c in reply.candidates] == [0, 1, 2]
    assert len({reply_text(c) for c in reply.candidates}) == 3


async def test_deterministic_replies(chat: Stub) -> None:
    a = await chat.Chat(ask("Same question"))
    b = await chat.Chat(ask("Same question"))
    assert reply_text(a.candidates[0]) == reply_text(b.candidates[0])


async def test_safety_block_is_content_filter(chat: Stub) -> None:
    reply = await chat.Chat(ask("please EMULATOR_UNSAFE"))
    candidate = reply.candidates[0]
    assert candidate.finish_reason == common_pb2.FINISH_REASON_CONTENT_FILTER
    assert candidate.native_finish_reason == "SAFETY"
    assert any(r.blocked for r in candidate.safety_ratings)


async def test_blocked_prompt_has_feedback_and_no_candidates(chat: Stub) -> None:
    reply = await chat.Chat(ask("EMULATOR_BLOCK_PROMPT now"))
    assert not reply.candidates
    assert reply.prompt_feedback.native_block_reason == "PROHIBITED_CONTENT"
    assert reply.prompt_feedback.block_reason == common_pb2.FINISH_REASON_CONTENT_FILTER


async def test_thoughts_and_signatures_are_typed(chat: Stub) -> None:
    reply = await chat.Chat(
        ask(
            "Think first",
            reasoning=chat_pb2.ReasoningConfig(include_thoughts=True, budget_tokens=512),
        )
    )
    parts = reply.candidates[0].message.parts
    assert parts[0].WhichOneof("kind") == "thought" and parts[0].thought.text
    assert any(p.thought_signature for p in parts)
    assert reply.usage.reasoning_tokens > 0
    # the history, sent back with its signatures, is accepted by Vertex's schema
    follow_up = chat_pb2.ChatRequest(
        model="gemini-2.5-flash",
        messages=[
            user("Think first"),
            chat_pb2.Message(role=chat_pb2.ROLE_ASSISTANT, parts=parts),
            user("and?"),
        ],
    )
    assert (await chat.Chat(follow_up)).candidates


async def test_count_tokens(chat: Stub) -> None:
    reply = await chat.CountTokens(
        chat_pb2.CountTokensRequest(model="gemini-2.5-flash", messages=[user("one two three")])
    )
    assert reply.total_tokens == 3
    assert reply.input_details[0].modality == common_pb2.MODALITY_TEXT


async def test_stream_chat_yields_several_chunks_then_finish_and_usage(chat: Stub) -> None:
    request = ask("Tell me about the moon")
    unary = await chat.Chat(request)
    chunks = [c async for c in chat.StreamChat(request)]
    assert len(chunks) >= 3
    assert chunks[0].model == "google/gemini-2.5-flash"
    assert chunks[0].served_by.location == "us-central1"
    assert all(c.id == chunks[0].id for c in chunks)
    text = "".join(reply_text(c.candidates[0]) for c in chunks if c.candidates)
    assert text == reply_text(unary.candidates[0])
    last = chunks[-1]
    assert last.candidates[0].finish_reason == common_pb2.FINISH_REASON_STOP
    assert last.usage.total_tokens == unary.usage.total_tokens
    assert all(not c.HasField("usage") for c in chunks[:-1])
    assert all(c.candidates[0].finish_reason == 0 for c in chunks[:-1] if c.candidates)


async def test_stream_chunks_arrive_as_produced(chat: Stub, admin: EmulatorAdmin) -> None:
    """The first chunk reaches the caller long before the stream ends (no buffering)."""
    import time

    admin.arm_fault("slow-stream:300", path_contains=":streamGenerateContent")
    start = time.monotonic()
    times = [time.monotonic() - start async for _ in chat.StreamChat(ask("Tell me about the sea"))]
    assert len(times) >= 3
    assert times[-1] - times[0] >= 0.5  # chunks spread out as the emulator paced them


@pytest.mark.parametrize(
    "model", ["gemini-2.0-flash", "gemini-2.5-pro", "smart", "google/gemini-2.5-flash-lite"]
)
async def test_models_and_aliases_route_by_registry(chat: Stub, model: str) -> None:
    reply = await chat.Chat(ask("hello", model=model))
    assert reply.candidates[0].finish_reason == common_pb2.FINISH_REASON_STOP


async def test_global_only_model_goes_to_global(chat: Stub, admin: EmulatorAdmin) -> None:
    reply = await chat.Chat(ask("hello", model="gemini-3-pro-preview"))
    assert reply.served_by.location == "global"
    [call] = vertex_calls(admin, "generateContent")
    assert "/locations/global/" in call["path"]


async def test_health_reports_every_service(channel: grpc.aio.Channel) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from server.app import SERVICE_NAMES

    stub = health_pb2_grpc.HealthStub(channel)
    assert len(SERVICE_NAMES) == 9
    for name in ("", *SERVICE_NAMES):
        resp = await stub.Check(health_pb2.HealthCheckRequest(service=name))
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
