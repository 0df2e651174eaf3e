"""Gemini chat over Vertex: the Gemini translator joined to the Vertex client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from vertex_gateway.v1 import chat_pb2, common_pb2

from server.routing.router import Route
from server.translate import gemini_chat
from server.vertex.client import VertexClient
from server.vertex.urls import VertexTarget, publisher_model_url


class GeminiChatBackend:
    """Chat, StreamChat and CountTokens for Gemini models."""

    def __init__(self, client: VertexClient, target_for: Callable[[str], VertexTarget]) -> None:
        self._client = client
        self._target_for = target_for

    def _url(self, route: Route, method: str, *, sse: bool = False) -> str:
        target = self._target_for(route.location)
        return publisher_model_url(target, route.spec.publisher, route.spec.id, method, sse=sse)

    @staticmethod
    def _served_by(route: Route) -> common_pb2.ServedBy:
        return common_pb2.ServedBy(
            location=route.location,
            vertex_model=f"publishers/{route.spec.publisher}/models/{route.spec.id}",
        )

    async def chat(
        self, route: Route, request: chat_pb2.ChatRequest, remaining: float | None
    ) -> chat_pb2.ChatResponse:
        """One complete reply."""
        body = gemini_chat.to_generate_content(request, route.spec)
        payload = await self._client.call_json(
            self._url(route, "generateContent"), body, self._client.deadline(remaining)
        )
        reply = gemini_chat.from_generate_content(payload, model=route.name)
        reply.served_by.CopyFrom(self._served_by(route))
        return reply

    async def stream_chat(
        self, route: Route, request: chat_pb2.ChatRequest, remaining: float | None
    ) -> AsyncIterator[chat_pb2.StreamChatResponse]:
        """Each Vertex chunk as soon as it arrives."""
        body = gemini_chat.to_generate_content(request, route.spec)
        url = self._url(route, "streamGenerateContent", sse=True)
        first = True
        stream = gemini_chat.GeminiStream(route.name)
        events = self._client.stream_json(url, body, self._client.deadline(remaining))
        try:
            async for event in events:
                chunk = stream.feed(event)
                if first:
                    chunk.served_by.CopyFrom(self._served_by(route))
                    first = False
                yield chunk
            stream.finish()
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    async def count_tokens(
        self, route: Route, request: chat_pb2.CountTokensRequest, remaining: float | None
    ) -> chat_pb2.CountTokensResponse:
        """Input tokens of a request."""
        body = gemini_chat.to_count_tokens(request)
        payload = await self._client.call_json(
            self._url(route, "countTokens"), body, self._client.deadline(remaining)
        )
        return gemini_chat.count_tokens_from(payload)
