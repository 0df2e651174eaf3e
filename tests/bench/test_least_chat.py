"""`client_in_server --modes least`: the ceiling handler answers a Chat as the gateway would on
the wire, so its figure is a fair bound for the gateway's."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from vertex_gateway.v1 import chat_pb2, common_pb2

from bench.perf.client_in_server import _LeastChat
from bench.perf.upstream import unary_body
from server.vertex.http import HttpResponse


class _Transport:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, float | None]] = []

    async def request(
        self, method: str, url: str, headers: Any, body: bytes, timeout: float | None
    ) -> HttpResponse:
        self.sent.append((url, body, timeout))
        return HttpResponse(200, {}, orjson.dumps(unary_body()))

    async def close(self) -> None:
        return None


class _Context:
    trailers: tuple[tuple[str, str], ...] = ()

    def time_remaining(self) -> float | None:
        return 2.5

    def set_trailing_metadata(self, trailers: tuple[tuple[str, str], ...]) -> None:
        self.trailers = trailers


def test_the_least_handler_sends_the_turns_and_returns_text_usage_and_trailers() -> None:
    transport, context = _Transport(), _Context()
    least = _LeastChat(transport, "http://upstream/model:generateContent")
    request = chat_pb2.ChatRequest(
        model="gemini-2.5-flash",
        messages=[
            chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text="How far?")])
        ],
    )
    reply = asyncio.run(least.chat(request, context))
    url, body, timeout = transport.sent[0]
    assert orjson.loads(body) == {"contents": [{"role": "user", "parts": [{"text": "How far?"}]}]}
    assert (url, timeout) == ("http://upstream/model:generateContent", 2.5)
    candidate = reply.candidates[0]
    assert candidate.message.parts[0].text == "The moon is about 384,400 km from Earth."
    assert candidate.finish_reason == common_pb2.FINISH_REASON_STOP
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (9, 12)
    names = [name for name, _ in context.trailers]
    assert names[0] == "x-request-id" and "vg-usage-output-tokens" in names
    assert dict(context.trailers)["vg-usage-output-tokens"] == "12"
