"""Every reply parser with malformed Vertex JSON and SSE: a clean reply or a GatewayError /
VertexError (UNAVAILABLE, malformed upstream), never any other exception. Seeded, bounded."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vertex_gateway.v1 import common_pb2

from server.errors import GatewayError
from server.routing.registry import Family
from server.translate import (
    batch_jobs,
    batch_lines,
    claude_chat,
    gemini_chat,
    gemini_image,
    gemini_tts,
    imagen,
    model_listing,
    openai_chat,
    text_embedding,
    transcription,
)  # fmt: skip
from server.vertex.errors import VertexError
from server.vertex.sse import SseDecoder, SseTooLarge

FUZZ = settings(
    max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
              st.text(max_size=12), st.sampled_from(["", "STOP", "image/png", "audio/L16;codec=pcm;rate=24000", "@@"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20,
)  # fmt: skip

GEMINI = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}, {"functionCall": {"name": "f", "args": {"a": 1}}},
                   {"inlineData": {"mimeType": "image/png", "data": "aGk="}}]}, "finishReason": "STOP",
                   "safetyRatings": [{"category": "HARM", "probability": "LOW"}], "citationMetadata": {"citations": [{"startIndex": 1}]}}],
    "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3}]},
    "modelVersion": "v", "createTime": "2026-11-21T10:00:00Z", "responseId": "r",
}  # fmt: skip
CLAUDE = {
    "id": "m", "type": "message", "role": "assistant", "model": "c",
    "content": [{"type": "text", "text": "hi"}, {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}},
                {"type": "thinking", "thinking": "x", "signature": "s"}],
    "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 2},
}  # fmt: skip
OPENAI = {
    "id": "x", "object": "chat.completion", "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}]}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
}  # fmt: skip
PREDICT = {"predictions": [{"embeddings": {"values": [0.1, 0.2], "statistics": {"token_count": 2, "truncated": False}}}],
           "metadata": {"billableCharacterCount": 5}}  # fmt: skip
IMAGEN = {
    "predictions": [
        {"bytesBase64Encoded": "aGk=", "mimeType": "image/png"},
        {"raiFilteredReason": "x"},
    ]
}
TTS = {"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "audio/L16;codec=pcm;rate=24000", "data": "AAAA"}}]},
                       "finishReason": "STOP"}]}  # fmt: skip
JOB = {"name": "projects/1/locations/l/batchPredictionJobs/2", "state": "JOB_STATE_RUNNING", "labels": {"vertex-gateway": "batch"},
       "completionStats": {"successfulCount": "1"}, "outputInfo": {"gcsOutputDirectory": "gs://b/o"}}  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, sample: Any) -> Any:
    """The sample with a few subtrees replaced by arbitrary JSON."""
    value = copy.deepcopy(sample)
    for _ in range(draw(st.integers(1, 3))):
        node, path = value, []
        while isinstance(node, dict | list) and node and draw(st.booleans()):
            key = draw(
                st.sampled_from(list(node.keys()) if isinstance(node, dict) else range(len(node)))
            )
            path.append((node, key))
            node = node[key]
        if not path:
            return draw(JSON)
        parent, key = path[-1]
        parent[key] = draw(JSON)
    return value


def _survives(parse: Callable[[Any], Any], payload: Any) -> None:
    with contextlib.suppress(GatewayError, VertexError):
        parse(payload)


def _case(sample: Any, parse: Callable[[Any], Any]) -> None:
    @FUZZ
    @given(st.one_of(mutated(sample), JSON))
    def run(payload: Any) -> None:
        _survives(parse, payload)

    run()


def _gemini_stream(payload: Any) -> None:
    stream = gemini_chat.GeminiStream("m")
    stream.feed(payload)
    stream.finish()


def _claude_stream(payload: Any) -> None:
    stream = claude_chat.ClaudeStream(model="m")
    for event in ({"type": "message_start", "message": CLAUDE}, payload, {"type": "message_stop"}):
        stream.feed(event)
    stream.finish()


def _openai_stream(payload: Any) -> None:
    stream = openai_chat.OpenAIStream(model="m")
    stream.feed(payload)
    stream.finish()


def test_gemini() -> None:
    _case(GEMINI, lambda p: gemini_chat.from_generate_content(p, model="m"))
    _case(GEMINI, _gemini_stream)
    _case(GEMINI, gemini_image.from_generate)
    _case(
        GEMINI,
        lambda p: transcription.from_generate_content(
            p,
            __import__("vertex_gateway.v1.speech_pb2", fromlist=["x"]).TranscribeRequest(
                diarize=True
            ),
        ),
    )


def test_claude_and_openai() -> None:
    _case(CLAUDE, lambda p: claude_chat.from_message(p, model="m", json_tool=None))
    _case(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}},
        _claude_stream,
    )
    _case(OPENAI, lambda p: openai_chat.from_chat_completion(p, model="m"))
    _case({"choices": [{"index": 0, "delta": {"content": "x"}}]}, _openai_stream)


def test_embeddings_images_speech() -> None:
    _case(PREDICT, lambda p: text_embedding.from_predict(p, 1))
    _case(
        {"embedding": {"values": [0.1]}, "usageMetadata": {"promptTokenCount": 1}},
        text_embedding.from_embed_content,
    )
    _case(IMAGEN, lambda p: imagen.from_predict(p, 2))
    _case(TTS, gemini_tts.audio_parts)


def test_jobs_lines_and_listings() -> None:
    _case(JOB, lambda p: batch_jobs.to_batch(p if isinstance(p, dict) else {}, "us-central1"))
    line = {"status": "", "request": {"labels": {"vertex-gateway-row": "0"}}, "response": GEMINI}
    _case(
        line,
        lambda p: batch_lines.result_of(
            p if isinstance(p, dict) else {}, Family.GEMINI, "m", None, common_pb2.ServedBy()
        ),
    )
    _case(line, lambda p: batch_lines.row_of(p if isinstance(p, dict) else {}, Family.CLAUDE))
    _case({"name": "projects/p/locations/l/endpoints/1", "deployedModels": [{"model": "projects/p/locations/l/models/2"}]},
          lambda p: model_listing.endpoint_entry(p, {}, "l"))  # fmt: skip
    _case({"name": "publishers/google/models/x", "versionId": "1"}, model_listing.publisher_entry)


@FUZZ
@given(st.lists(st.binary(max_size=200), max_size=6))
def test_sse_decoder(chunks: list[bytes]) -> None:
    decoder = SseDecoder(max_event_bytes=512)
    try:
        for chunk in chunks:
            decoder.feed(chunk)
        decoder.close()
    except SseTooLarge:
        pass
