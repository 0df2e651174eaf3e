"""SpeechService: text to speech with Gemini TTS, speech to text with Gemini models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc.aio
from vertex_gateway.v1 import speech_pb2, speech_pb2_grpc

from server.backends.speech import GeminiTranscriptionBackend, GeminiTtsBackend
from server.errors import unimplemented
from server.routing.registry import Capability, Family
from server.routing.router import Route, Router

from .boundary import StreamGate, server_stream, unary

Ctx = grpc.aio.ServicerContext[Any, Any]


class SpeechService(speech_pb2_grpc.SpeechServiceServicer):
    """Synthesize, StreamSynthesize, Transcribe."""

    # The gateway's bound on streams in flight (set by the app; see boundary.StreamGate).
    stream_gate: StreamGate | None = None

    def __init__(
        self, router: Router, tts: GeminiTtsBackend, transcriber: GeminiTranscriptionBackend
    ) -> None:
        self._router = router
        self._tts = tts
        self._transcriber = transcriber

    def _tts_route(self, model: str, capability: Capability) -> Route:
        route = self._router.resolve(model, capability)
        if route.spec.family is not Family.GEMINI_TTS:
            raise unimplemented(
                f"speech with {route.spec.family.value} models",
                "this gateway synthesizes speech with Gemini TTS models",
            )
        return route

    @unary
    async def Synthesize(
        self, request: speech_pb2.SynthesizeRequest, context: Ctx
    ) -> speech_pb2.SynthesizeResponse:
        """The whole audio."""
        route = self._tts_route(request.model, Capability.SPEECH)
        return await self._tts.synthesize(route, request, context.time_remaining())

    @server_stream
    async def StreamSynthesize(
        self, request: speech_pb2.SynthesizeRequest, context: Ctx
    ) -> AsyncIterator[speech_pb2.StreamSynthesizeResponse]:
        """The audio as it is produced."""
        route = self._tts_route(request.model, Capability.SPEECH)
        if Capability.STREAMING not in route.spec.capabilities:
            self._router.resolve(request.model, Capability.STREAMING)  # the refusal, worded once
        async for message in self._tts.stream_synthesize(route, request, context.time_remaining()):
            yield message

    @unary
    async def Transcribe(
        self, request: speech_pb2.TranscribeRequest, context: Ctx
    ) -> speech_pb2.TranscribeResponse:
        """The transcript."""
        route = self._router.resolve(request.model, Capability.TRANSCRIPTION)
        if route.spec.family is not Family.GEMINI:
            raise unimplemented(
                f"transcription with {route.spec.family.value} models",
                "this gateway transcribes with Gemini models",
            )
        return await self._transcriber.transcribe(route, request, context.time_remaining())
