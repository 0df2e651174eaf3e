"""Transcription with Gemini audio understanding: TranscribeRequest -> a `:generateContent` body
(the recording, then the instruction), reply -> TranscribeResponse. Pure functions, no I/O.

Plain transcripts come back as text. Timed segments, words or speaker labels are asked for as
JSON with a response schema (Gemini's structured output), so they are parsed, not scraped; a
reply that is not the promised JSON still yields its text as the transcript.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from vertex_gateway.v1 import speech_pb2

from server.errors import FieldViolation, invalid_request, upstream_malformed
from server.routing.registry import ModelSpec

from .gemini_chat import finish_reason, media_part, usage_from
from .labels import label_problems
from .message_checks import message_problems
from .tolerant import tolerant

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
T = speech_pb2.TimestampGranularity


def _timed() -> dict[str, Any]:
    """A piece of transcript with its start and end (words and segments share it)."""
    return {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "start_offset_seconds": {"type": "number"},
            "end_offset_seconds": {"type": "number"},
        },
        "required": ["text", "start_offset_seconds", "end_offset_seconds"],
    }


def _schema(words: bool, speakers: bool) -> dict[str, Any]:
    segment = _timed()
    if speakers:
        segment["properties"]["speaker"] = {"type": "string"}
        segment["required"].append("speaker")
    if words:
        segment["properties"]["words"] = {"type": "array", "items": _timed()}
        segment["required"].append("words")
    return {
        "type": "object",
        "properties": {
            "language_code": {"type": "string"},
            "segments": {"type": "array", "items": segment},
        },
        "required": ["segments"],
    }


def _wants_segments(request: speech_pb2.TranscribeRequest) -> bool:
    return request.diarize or request.timestamps != T.TIMESTAMP_GRANULARITY_UNSPECIFIED


def to_generate_content(request: speech_pb2.TranscribeRequest, spec: ModelSpec) -> dict[str, Any]:
    """The body; INVALID_ARGUMENT listing every problem."""
    out: list[FieldViolation] = list(message_problems(request))
    audio = request.audio
    source = audio.WhichOneof("source")
    if source is None:
        out.append(FieldViolation("audio", "is required: audio bytes or a gs:// URI"))
    elif not audio.mime_type.startswith(("audio/", "video/")):
        out.append(
            FieldViolation("audio.mime_type", "must be an audio or video type (audio/wav, ...)")
        )
    elif source == "data" and not audio.data:
        out.append(FieldViolation("audio.data", "is empty"))
    for i, code in enumerate(request.language_codes):
        if not _LANGUAGE.match(code):
            out.append(FieldViolation(f"language_codes[{i}]", "is not a BCP-47 code such as en-US"))
    out.extend(label_problems(request.labels))
    if out:
        raise invalid_request(out)
    lines = [
        "Transcribe the speech in this recording verbatim, in the language spoken."
        " Do not translate, summarize or add commentary."
    ]
    if request.language_codes:
        lines.append(f"Languages spoken: {', '.join(request.language_codes)}.")
    if request.vocabulary:
        lines.append(f"Words and names that may occur: {', '.join(request.vocabulary)}.")
    config: dict[str, Any] = {"temperature": 0}
    if _wants_segments(request):
        words = request.timestamps == T.TIMESTAMP_GRANULARITY_WORD
        lines.append(
            "Answer with the transcript split into segments (sentences"
            + (" or speaker turns" if request.diarize else "")
            + "), each with its start and end time in seconds from the start of the recording"
            + ("; label each segment's speaker" if request.diarize else "")
            + ("; give each word with its own start and end time" if words else "")
            + "; and the BCP-47 code of the main language."
        )
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = _schema(words, request.diarize)
    if request.prompt:
        lines.append(f"Further instructions: {request.prompt}")
    body: dict[str, Any] = {
        "contents": [{"role": "user", "parts": [media_part(audio), {"text": "\n".join(lines)}]}],
        "generationConfig": config,
    }
    if request.labels:
        body["labels"] = dict(request.labels)
    return body


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _segments(data: Mapping[str, Any], reply: speech_pb2.TranscribeResponse) -> bool:
    segments = data.get("segments")
    if not isinstance(segments, list):
        return False
    texts = []
    for raw in segments:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("text"), str):
            return False
        seg = reply.segments.add(text=raw["text"], speaker=str(raw.get("speaker") or ""))
        start, end = (
            _seconds(raw.get("start_offset_seconds")),
            _seconds(raw.get("end_offset_seconds")),
        )
        if start is not None:
            seg.start_offset_seconds = start
        if end is not None:
            seg.end_offset_seconds = end
        for word in raw.get("words") or []:
            if isinstance(word, Mapping) and isinstance(word.get("text"), str):
                seg.words.add(
                    text=word["text"],
                    start_offset_seconds=_seconds(word.get("start_offset_seconds")) or 0.0,
                    end_offset_seconds=_seconds(word.get("end_offset_seconds")) or 0.0,
                )
        texts.append(raw["text"].strip())
    reply.text = " ".join(t for t in texts if t)
    if isinstance(data.get("language_code"), str):
        reply.language_code = data["language_code"]
    return True


@tolerant
def from_generate_content(
    payload: Any, request: speech_pb2.TranscribeRequest
) -> speech_pb2.TranscribeResponse:
    """The transcript (model and served_by left unset)."""
    if not isinstance(payload, Mapping):
        raise upstream_malformed("transcription reply: expected a JSON object")
    reply = speech_pb2.TranscribeResponse(model_version=str(payload.get("modelVersion") or ""))
    candidates = payload.get("candidates") or []
    candidate = candidates[0] if isinstance(candidates, list) and candidates else {}
    if not isinstance(candidate, Mapping):
        raise upstream_malformed("transcription reply: a candidate is not an object")
    content = candidate.get("content") or {}
    parts = content.get("parts") if isinstance(content, Mapping) else None
    text = "".join(
        p["text"]
        for p in (parts if isinstance(parts, list) else [])
        if isinstance(p, Mapping) and isinstance(p.get("text"), str) and not p.get("thought")
    )
    parsed = False
    if _wants_segments(request):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, Mapping):
            parsed = _segments(data, reply)
        if not parsed:
            del reply.segments[:]
    if not parsed:
        reply.text = text.strip()
    native = str(candidate.get("finishReason") or "")
    feedback = payload.get("promptFeedback")
    if isinstance(feedback, Mapping) and feedback.get("blockReason"):
        native = str(feedback["blockReason"])
        reply.finish_reason = finish_reason("SAFETY")
    elif native:
        reply.finish_reason = finish_reason(native)
    reply.native_finish_reason = native
    meta = payload.get("usageMetadata")
    if isinstance(meta, Mapping):
        reply.usage.CopyFrom(usage_from(meta))
    return reply
