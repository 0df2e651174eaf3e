"""Claude on Vertex chat: the Claude translator joined to the Vertex client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from vertex_gateway.v1 import chat_pb2, common_pb2

from server.routing.router import Route
from server.translate import claude_chat
from server.vertex.client import VertexClient
from server.vertex.urls import VertexTarget, publisher_model_url


class ClaudeChatBackend:
    """Chat, StreamChat and CountTokens for Anthropic Claude models on Vertex."""

    def __init__(self, client: VertexClient, target_for: Callable[[str], VertexTarget]) -> None:
        self._client = client
        self._target_for = target_for

    def _url(self, route: Route, model: str, method: str) -> str:
        target = self._target_for(route.location)
        return publisher_model_url(target, claude_chat.PUBLISHER, model, method)

    @staticmethod
    def _served_by(route: Route) -> common_pb2.ServedBy:
        return common_pb2.ServedBy(
            location=route.location,
            vertex_model=f"publishers/{claude_chat.PUBLISHER}/models/{route.spec.id}",
        )

    async def chat(
        self, route: Route, request: chat_pb2.ChatRequest, remaining: float | None
    ) -> chat_pb2.ChatResponse:
        """One complete reply."""
        body = claude_chat.to_messages(request, route.spec)
        payload = await self._client.call_json(
            self._url(route, route.spec.id, "rawPredict"), body, self._client.deadline(remaining)
        )
        reply = claude_chat.from_message(
            payload, model=route.name, json_tool=claude_chat.json_tool_name(request)
        )
        reply.served_by.CopyFrom(self._served_by(route))
        return reply

    async def stream_chat(
        self, route: Route, request: chat_pb2.ChatRequest, remaining: float | None
    ) -> AsyncIterator[chat_pb2.StreamChatResponse]:
        """Deltas as Claude produces them."""
        body = claude_chat.to_messages(request, route.spec, stream=True)
        url = self._url(route, route.spec.id, "streamRawPredict")
        stream = claude_chat.ClaudeStream(
            model=route.name, json_tool=claude_chat.json_tool_name(request)
        )
        first = True
        events = self._client.stream_json(url, body, self._client.deadline(remaining))
        try:
            async for event in events:
                for chunk in stream.feed(event):
                    if first:
                        chunk.served_by.CopyFrom(self._served_by(route))
                        first = False
                    yield chunk
            for chunk in stream.finish():
                yield chunk
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    async def count_tokens(
        self, route: Route, request: chat_pb2.CountTokensRequest, remaining: float | None
    ) -> chat_pb2.CountTokensResponse:
        """Input tokens of a request."""
        body = claude_chat.to_count_tokens(request, route.spec)
        payload = await self._client.call_json(
            self._url(route, claude_chat.COUNT_TOKENS_MODEL, "rawPredict"),
            body,
            self._client.deadline(remaining),
        )
        return claude_chat.count_tokens_from(payload)
