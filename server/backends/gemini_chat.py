"""Gemini chat over Vertex: the Gemini translator joined to the Vertex client."""

from __future__ import annotations

from collections.abc import AsyncIterator

from vertex_gateway.v1 import chat_pb2

from server.routing.router import OPENAPI_ENDPOINT, Route
from server.translate import gemini_chat
from server.vertex.accounts import Failover
from server.vertex.urls import endpoint_url

from .base import VertexBackend


class GeminiChatBackend(VertexBackend):
    """Chat, StreamChat and CountTokens for Gemini models, on their publisher model or, for a
    tuned model, on the project endpoint that serves it (`endpoints/{id}:generateContent`)."""

    def _url(self, route: Route, method: str, *, sse: bool = False) -> str | Failover:
        endpoint = route.spec.endpoint
        if endpoint and endpoint != OPENAPI_ENDPOINT:
            # An endpoint belongs to one project and location: no failover to other accounts.
            return endpoint_url(self._target(route), endpoint, method, sse=sse)
        return self._model_url(route, method, sse=sse)

    async def chat(
        self, route: Route, request: chat_pb2.ChatRequest, remaining: float | None
    ) -> chat_pb2.ChatResponse:
        """One complete reply."""
        body = gemini_chat.to_generate_content(request, route.spec)
        url = self._url(route, "generateContent")
        payload = await self._client.call_json(url, body, self._client.deadline(remaining))
        reply = gemini_chat.from_generate_content(payload, model=route.name)
        reply.served_by.CopyFrom(self._served_by(route, url))
        return reply

    def stream_chat(
        self, route: Route, request: chat_pb2.ChatRequest, remaining: float | None
    ) -> AsyncIterator[chat_pb2.StreamChatResponse]:
        """Each Vertex chunk as soon as it arrives."""
        body = gemini_chat.to_generate_content(request, route.spec)
        stream = gemini_chat.GeminiStream(route.name)
        url = self._url(route, "streamGenerateContent", sse=True)
        return self._relay(route, url, body, remaining, lambda e: (stream.feed(e),), stream.finish)

    async def count_tokens(
        self, route: Route, request: chat_pb2.CountTokensRequest, remaining: float | None
    ) -> chat_pb2.CountTokensResponse:
        """Input tokens of a request."""
        body = gemini_chat.to_count_tokens(request)
        payload = await self._client.call_json(
            self._url(route, "countTokens"), body, self._client.deadline(remaining)
        )
        return gemini_chat.count_tokens_from(payload)
