"""Model Garden chat over Vertex's OpenAI-compatible endpoint: the translator joined to the client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from vertex_gateway.v1 import chat_pb2, common_pb2

from server.errors import unimplemented
from server.routing.router import Route
from server.translate import openai_chat
from server.vertex.client import VertexClient
from server.vertex.urls import VertexTarget, endpoint_path_url

OPENAPI_ENDPOINT = "openapi"  # Vertex's reserved endpoint id for Model Garden MaaS models


class OpenAIChatBackend:
    """Chat and StreamChat for models served through `endpoints/{id}/chat/completions`."""

    def __init__(self, client: VertexClient, target_for: Callable[[str], VertexTarget]) -> None:
        self._client = client
        self._target_for = target_for

    def _url(self, route: Route) -> str:
        target = self._target_for(route.location)
        return endpoint_path_url(
            target, route.spec.endpoint or OPENAPI_ENDPOINT, "chat/completions"
        )

    @staticmethod
    def _served_by(route: Route) -> common_pb2.ServedBy:
        endpoint = route.spec.endpoint or OPENAPI_ENDPOINT
        # The shared openapi endpoint serves publisher models; name the model it served.
        resource = (
            f"publishers/{route.spec.publisher}/models/{route.spec.id}"
            if endpoint == OPENAPI_ENDPOINT
            else f"endpoints/{endpoint}"
        )
        return common_pb2.ServedBy(location=route.location, vertex_model=resource)

    async def chat(
        self, route: Route, request: chat_pb2.ChatRequest, remaining: float | None
    ) -> chat_pb2.ChatResponse:
        """One complete reply."""
        body = openai_chat.to_chat_completions(request, route.spec)
        payload = await self._client.call_json(
            self._url(route), body, self._client.deadline(remaining)
        )
        reply = openai_chat.from_chat_completion(payload, model=route.name)
        reply.served_by.CopyFrom(self._served_by(route))
        return reply

    async def stream_chat(
        self, route: Route, request: chat_pb2.ChatRequest, remaining: float | None
    ) -> AsyncIterator[chat_pb2.StreamChatResponse]:
        """Deltas as the upstream chunks arrive."""
        body = openai_chat.to_chat_completions(request, route.spec, stream=True)
        translator = openai_chat.OpenAIStream(model=route.name)
        first = True
        events = self._client.stream_json(self._url(route), body, self._client.deadline(remaining))
        try:
            async for event in events:
                for chunk in translator.feed(event):
                    if first:
                        chunk.served_by.CopyFrom(self._served_by(route))
                        first = False
                    yield chunk
            for chunk in translator.finish():
                if first:
                    chunk.served_by.CopyFrom(self._served_by(route))
                    first = False
                yield chunk
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    async def count_tokens(
        self, route: Route, request: chat_pb2.CountTokensRequest, remaining: float | None
    ) -> chat_pb2.CountTokensResponse:
        """Not offered: the OpenAI-compatible endpoint has no token-counting method."""
        raise unimplemented(
            f"CountTokens for {route.name}",
            f"{openai_chat.FAMILY} are served by Vertex's OpenAI-compatible chat/completions"
            " endpoint, which has no token-counting method (usage is reported on each reply)",
        )
