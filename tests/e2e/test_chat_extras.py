"""Gemini grounding, citations, caches, safety settings and media by URI; Claude prompt caching
and stop sequences; every Gemini finish reason through a real stream."""

from __future__ import annotations

import pytest
from vertex_gateway.v1 import chat_pb2, chat_pb2_grpc, common_pb2

from emulator.admin import EmulatorAdmin

from .assemble import assemble
from .conftest import ask, reply_text, user, vertex_calls

Stub = chat_pb2_grpc.ChatServiceStub
CLAUDE = "anthropic/claude-sonnet-4-5@20250929"
CACHE = "projects/emulator-project/locations/us-central1/cachedContents/handbook"


async def test_google_search_grounding_and_citations_reach_the_caller(chat: Stub) -> None:
    request = ask(
        "What is the weather in Oslo? EMULATOR_CITE",
        tools=[
            chat_pb2.Tool(google_search=chat_pb2.GoogleSearch(exclude_domains=["spam.example"]))
        ],
    )
    reply = await chat.Chat(request)
    candidate = reply.candidates[0]
    grounding = candidate.grounding
    assert grounding.web_search_queries and grounding.search_entry_point_html
    assert grounding.sources and grounding.sources[0].uri.startswith("https://")
    assert grounding.supports and list(grounding.supports[0].source_indices)
    assert candidate.citations and candidate.citations[0].uri
    usage = reply.usage
    assert usage.tool_use_prompt_tokens > 0
    assert usage.total_tokens == (
        usage.input_tokens
        + usage.output_tokens
        + usage.reasoning_tokens
        + usage.tool_use_prompt_tokens
    )
    streamed = assemble([c async for c in chat.StreamChat(request)])
    assert streamed.candidates[0].grounding.sources


async def test_cached_content_safety_settings_and_media_by_uri(
    chat: Stub, admin: EmulatorAdmin
) -> None:
    video = common_pb2.Media(
        mime_type="video/mp4",
        uri="gs://bucket/talk.mp4",
        resolution=common_pb2.MEDIA_RESOLUTION_LOW,
        video_metadata=common_pb2.VideoMetadata(
            start_offset_seconds=1.5, end_offset_seconds=10, fps=2
        ),
    )
    request = chat_pb2.ChatRequest(
        model="gemini-2.5-flash",
        messages=[
            chat_pb2.Message(
                role=chat_pb2.ROLE_USER,
                parts=[chat_pb2.Part(text="Summarise the talk"), chat_pb2.Part(media=video)],
            )
        ],
        cached_content=CACHE,
        safety_settings=[
            chat_pb2.SafetySetting(
                category=chat_pb2.HARM_CATEGORY_HARASSMENT,
                threshold=chat_pb2.HARM_BLOCK_THRESHOLD_BLOCK_ONLY_HIGH,
                method=chat_pb2.HARM_BLOCK_METHOD_SEVERITY,
            )
        ],
    )
    reply = await chat.Chat(request)
    assert "video/mp4" in reply_text(reply.candidates[0])
    assert 0 < reply.usage.cached_input_tokens <= reply.usage.input_tokens
    [sent] = vertex_calls(admin, "generateContent")
    body = sent["body"]
    assert body["cachedContent"] == CACHE
    assert body["safetySettings"] == [
        {
            "category": "HARM_CATEGORY_HARASSMENT",
            "threshold": "BLOCK_ONLY_HIGH",
            "method": "SEVERITY",
        }
    ]
    part = body["contents"][0]["parts"][1]
    assert part["fileData"] == {"mimeType": "video/mp4", "fileUri": "gs://bucket/talk.mp4"}
    assert part["videoMetadata"] == {"startOffset": "1.5s", "endOffset": "10s", "fps": 2.0}
    assert part["mediaResolution"] == {"level": "MEDIA_RESOLUTION_LOW"}


@pytest.mark.parametrize(
    ("native", "normalized"),
    [
        ("MAX_TOKENS", common_pb2.FINISH_REASON_MAX_TOKENS),
        ("RECITATION", common_pb2.FINISH_REASON_RECITATION),
        ("BLOCKLIST", common_pb2.FINISH_REASON_CONTENT_FILTER),
        ("PROHIBITED_CONTENT", common_pb2.FINISH_REASON_CONTENT_FILTER),
        ("SPII", common_pb2.FINISH_REASON_CONTENT_FILTER),
        ("UNEXPECTED_TOOL_CALL", common_pb2.FINISH_REASON_MALFORMED_TOOL_CALL),
        ("IMAGE_SAFETY", common_pb2.FINISH_REASON_CONTENT_FILTER),
        ("OTHER", common_pb2.FINISH_REASON_OTHER),
    ],
)
async def test_gemini_finish_reasons_through_a_stream(
    chat: Stub, native: str, normalized: int
) -> None:
    reply = assemble([c async for c in chat.StreamChat(ask(f"Go EMULATOR_FINISH_{native}"))])
    assert reply.candidates[0].finish_reason == normalized
    assert reply.candidates[0].native_finish_reason == native


async def test_claude_prompt_cache_counters(chat: Stub) -> None:
    prefix = chat_pb2.Part(text="A long handbook. " * 50, cache_breakpoint=True)
    request = chat_pb2.ChatRequest(
        model=CLAUDE,
        system_instruction=[prefix],
        messages=[user("What does the handbook say?")],
    )
    first = await chat.Chat(request)
    assert first.usage.cache_write_input_tokens > 0 and first.usage.cached_input_tokens == 0
    second = await chat.Chat(request)
    assert second.usage.cached_input_tokens > 0
    assert second.usage.input_tokens >= second.usage.cached_input_tokens
    assert second.usage.total_tokens == second.usage.input_tokens + second.usage.output_tokens


@pytest.mark.parametrize("streaming", [False, True])
async def test_claude_stop_sequence_and_max_tokens(chat: Stub, streaming: bool) -> None:
    async def reply_for(request: chat_pb2.ChatRequest) -> chat_pb2.ChatResponse:
        if streaming:
            return assemble([c async for c in chat.StreamChat(request)])
        return await chat.Chat(request)

    stop = await reply_for(
        chat_pb2.ChatRequest(
            model=CLAUDE,
            messages=[user("Talk EMULATOR_STOP_SEQUENCE")],
            generation_config=chat_pb2.GenerationConfig(stop_sequences=["###"]),
        )
    )
    assert stop.candidates[0].finish_reason == common_pb2.FINISH_REASON_STOP
    assert stop.candidates[0].native_finish_reason == "stop_sequence"
    assert stop.candidates[0].stop_sequence == "###"
    short = await reply_for(
        chat_pb2.ChatRequest(
            model=CLAUDE,
            messages=[user("Talk at length")],
            generation_config=chat_pb2.GenerationConfig(max_output_tokens=3),
        )
    )
    assert short.candidates[0].finish_reason == common_pb2.FINISH_REASON_MAX_TOKENS
    assert short.usage.output_tokens <= 3
