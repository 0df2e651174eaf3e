"""Speech: Gemini TTS over `:generateContent` (whole) and `:streamGenerateContent` (streamed),
and transcription with Gemini audio understanding."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from vertex_gateway.v1 import common_pb2, speech_pb2

from server.errors import upstream_malformed
from server.routing.router import Route
from server.translate import audio_formats, gemini_tts, transcription
from server.translate.gemini_chat import finish_reason, usage_from

from .base import VertexBackend


def _outcome(
    candidate: Mapping[str, Any], payload: Mapping[str, Any]
) -> tuple[common_pb2.FinishReason.ValueType, str]:
    feedback = payload.get("promptFeedback")
    if isinstance(feedback, Mapping) and feedback.get("blockReason"):
        return common_pb2.FINISH_REASON_CONTENT_FILTER, str(feedback["blockReason"])
    native = str(candidate.get("finishReason") or "")
    return (finish_reason(native) if native else common_pb2.FINISH_REASON_UNSPECIFIED), native


def _rate(pieces: list[audio_formats.Pcm]) -> int:
    rates = {p.rate for p in pieces}
    if len(rates) > 1:
        raise upstream_malformed("speech reply: audio pieces at different sample rates")
    return rates.pop() if rates else gemini_tts.DEFAULT_RATE


class GeminiTtsBackend(VertexBackend):
    """Synthesize and StreamSynthesize for Gemini TTS models."""

    async def synthesize(
        self, route: Route, request: speech_pb2.SynthesizeRequest, remaining: float | None
    ) -> speech_pb2.SynthesizeResponse:
        """The whole audio in the requested encoding."""
        body = gemini_tts.to_generate_content(request, route.spec, streaming=False)
        url = self._model_url(route, "generateContent")
        payload = await self._client.call_json(url, body, self._client.deadline(remaining))
        pieces, candidate = gemini_tts.audio_parts(payload)
        finish, native = _outcome(candidate, payload)
        if not pieces and finish != common_pb2.FINISH_REASON_CONTENT_FILTER:
            raise upstream_malformed(f"speech reply: no audio (finish reason {native or 'none'})")
        rate = _rate(pieces)
        pcm = b"".join(p.data for p in pieces)
        reply = speech_pb2.SynthesizeResponse(
            model=route.name,
            model_version=str(payload.get("modelVersion") or ""),
            audio=audio_formats.encode(pcm, rate, request.audio_format) if pcm else b"",
            audio_info=audio_formats.audio_info(request.audio_format, rate),
            duration_seconds=audio_formats.duration(len(pcm), rate),
            finish_reason=finish,
            native_finish_reason=native,
            served_by=self._served_by(route, url),
        )
        meta = payload.get("usageMetadata")
        if isinstance(meta, Mapping):
            reply.usage.CopyFrom(usage_from(meta))
        return reply

    async def stream_synthesize(
        self, route: Route, request: speech_pb2.SynthesizeRequest, remaining: float | None
    ) -> AsyncIterator[speech_pb2.StreamSynthesizeResponse]:
        """Audio as Vertex streams it; the last message carries length, finish and usage."""
        body = gemini_tts.to_generate_content(request, route.spec, streaming=True)
        url = self._model_url(route, "streamGenerateContent", sse=True)
        events = self._client.stream_json(url, body, self._client.deadline(remaining))
        transcoder: audio_formats.Transcoder | None = None
        first = speech_pb2.StreamSynthesizeResponse(model=route.name)
        sent_first = False
        pcm_bytes = 0
        finish, native = common_pb2.FINISH_REASON_UNSPECIFIED, ""
        usage: common_pb2.Usage | None = None
        try:
            async for event in events:
                pieces, candidate = gemini_tts.audio_parts(event)
                if not sent_first and not first.HasField("served_by"):
                    first.served_by.CopyFrom(self._served_by(route, url))
                if not first.model_version and isinstance(event, Mapping):
                    first.model_version = str(event.get("modelVersion") or "")
                if candidate.get("finishReason") or event.get("promptFeedback"):
                    finish, native = _outcome(candidate, event)
                if isinstance(event.get("usageMetadata"), Mapping) and finish:
                    usage = usage_from(event["usageMetadata"])
                for piece in pieces:
                    if transcoder is None:
                        transcoder = audio_formats.Transcoder(request.audio_format, piece.rate)
                    elif piece.rate != transcoder.rate:
                        raise upstream_malformed("speech stream: the sample rate changed")
                    pcm_bytes += len(piece.data)
                    message = first if not sent_first else speech_pb2.StreamSynthesizeResponse()
                    message.audio = transcoder.feed(piece.data)
                    message.audio_info.CopyFrom(
                        audio_formats.audio_info(request.audio_format, transcoder.rate)
                    )
                    sent_first = True
                    yield message
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        if transcoder is None and finish != common_pb2.FINISH_REASON_CONTENT_FILTER:
            raise upstream_malformed(f"speech stream: no audio (finish reason {native or 'none'})")
        rate = transcoder.rate if transcoder else gemini_tts.DEFAULT_RATE
        last = first if not sent_first else speech_pb2.StreamSynthesizeResponse()
        if not sent_first and not first.HasField("served_by"):
            first.served_by.CopyFrom(self._served_by(route, url))
        last.audio = transcoder.finish() if transcoder else b""
        last.audio_info.CopyFrom(audio_formats.audio_info(request.audio_format, rate))
        last.duration_seconds = audio_formats.duration(pcm_bytes, rate)
        last.finish_reason = finish
        last.native_finish_reason = native
        if usage is not None:
            last.usage.CopyFrom(usage)
        yield last


class GeminiTranscriptionBackend(VertexBackend):
    """Transcribe with Gemini models that understand audio."""

    async def transcribe(
        self, route: Route, request: speech_pb2.TranscribeRequest, remaining: float | None
    ) -> speech_pb2.TranscribeResponse:
        """The transcript, with segments when asked for."""
        body = transcription.to_generate_content(request, route.spec)
        url = self._model_url(route, "generateContent")
        payload = await self._client.call_json(url, body, self._client.deadline(remaining))
        reply = transcription.from_generate_content(payload, request)
        reply.model = route.name
        reply.served_by.CopyFrom(self._served_by(route, url))
        return reply
