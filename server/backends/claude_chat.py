"""Claude on Vertex chat: the Claude translator joined to the Vertex client."""

from __future__ import annotations

from collections.abc import AsyncIterator

from vertex_gateway.v1 import chat_pb2

from server.routing.router import Route
from server.translate import claude_chat

from .base import VertexBackend


class ClaudeChatBackend(VertexBackend):
    """Chat, StreamChat and CountTokens for Anthropic Claude models on Vertex."""

    async def chat(
        self, route: Route, request: chat_pb2.ChatRequest, remaining: float | None
    ) -> chat_pb2.ChatResponse:
        """One complete reply."""
        body = claude_chat.to_messages(request, route.spec)
        url = self._model_url(route, "rawPredict")
        payload = await self._client.call_json(url, body, self._client.deadline(remaining))
        reply = claude_chat.from_message(
            payload, model=route.name, json_tool=claude_chat.json_tool_name(request)
        )
        reply.served_by.CopyFrom(self._served_by(route, url))
        return reply

    def stream_chat(
        self, route: Route, request: chat_pb2.ChatRequest, remaining: float | None
    ) -> AsyncIterator[chat_pb2.StreamChatResponse]:
        """Deltas as Claude produces them."""
        body = claude_chat.to_messages(request, route.spec, stream=True)
        stream = claude_chat.ClaudeStream(
            model=route.name, json_tool=claude_chat.json_tool_name(request)
        )
        url = self._model_url(route, "streamRawPredict")
        return self._relay(route, url, body, remaining, stream.feed, stream.finish)

    async def count_tokens(
        self, route: Route, request: chat_pb2.CountTokensRequest, remaining: float | None
    ) -> chat_pb2.CountTokensResponse:
        """Input tokens of a request (the count-tokens pseudo-model; the body names the model)."""
        body = claude_chat.to_count_tokens(request, route.spec)
        url = self._model_url(route, "rawPredict", model=claude_chat.COUNT_TOKENS_MODEL)
        payload = await self._client.call_json(url, body, self._client.deadline(remaining))
        return claude_chat.count_tokens_from(payload)
