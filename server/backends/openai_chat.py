"""Model Garden chat over Vertex's OpenAI-compatible endpoint: the translator joined to the client."""

from __future__ import annotations

from collections.abc import AsyncIterator

from vertex_gateway.v1 import chat_pb2

from server.errors import unimplemented
from server.routing.router import OPENAPI_ENDPOINT, Route
from server.translate import openai_chat
from server.vertex.urls import endpoint_path_url

from .base import VertexBackend


class OpenAIChatBackend(VertexBackend):
    """Chat and StreamChat for models served through `endpoints/{id}/chat/completions`."""

    def _url(self, route: Route) -> str:
        endpoint = route.spec.endpoint or OPENAPI_ENDPOINT
        return endpoint_path_url(self._target(route), endpoint, "chat/completions")

    async def chat(
        self, route: Route, request: chat_pb2.ChatRequest, remaining: float | None
    ) -> chat_pb2.ChatResponse:
        """One complete reply."""
        body = openai_chat.to_chat_completions(request, route.spec)
        payload = await self._client.call_json(
            self._url(route), body, self._client.deadline(remaining)
        )
        reply = openai_chat.from_chat_completion(payload, model=route.name)
        reply.served_by.CopyFrom(route.served)
        return reply

    def stream_chat(
        self, route: Route, request: chat_pb2.ChatRequest, remaining: float | None
    ) -> AsyncIterator[chat_pb2.StreamChatResponse]:
        """Deltas as the upstream chunks arrive."""
        body = openai_chat.to_chat_completions(request, route.spec, stream=True)
        stream = openai_chat.OpenAIStream(model=route.name)
        return self._relay(route, self._url(route), body, remaining, stream.feed, stream.finish)

    async def count_tokens(
        self, route: Route, request: chat_pb2.CountTokensRequest, remaining: float | None
    ) -> chat_pb2.CountTokensResponse:
        """Not offered: the OpenAI-compatible endpoint has no token-counting method."""
        raise unimplemented(
            f"CountTokens for {route.name}",
            f"{openai_chat.FAMILY} are served by Vertex's OpenAI-compatible chat/completions"
            " endpoint, which has no token-counting method (usage is reported on each reply)",
        )
