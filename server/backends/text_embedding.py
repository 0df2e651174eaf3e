"""Text embeddings over Vertex `:predict`, split to the model's limits and sent concurrently."""

from __future__ import annotations

from collections.abc import Callable

from vertex_gateway.v1 import embedding_pb2

from server.routing.router import Route
from server.translate import text_embedding
from server.vertex.client import VertexClient
from server.vertex.urls import VertexTarget

from .base import VertexBackend
from .fanout import gather_bounded

# Vertex calls in flight for one Embed request: enough to hide latency for one-text-per-call
# models, few enough not to spend a project's whole quota on one caller.
MAX_CONCURRENT_CALLS = 8


class TextEmbeddingBackend(VertexBackend):
    """Embed for text-embedding-00x and gemini-embedding-001."""

    def __init__(
        self,
        client: VertexClient,
        target_for: Callable[[str], VertexTarget],
        *,
        concurrency: int = MAX_CONCURRENT_CALLS,
    ) -> None:
        super().__init__(client, target_for)
        self._concurrency = concurrency

    async def embed(
        self, route: Route, request: embedding_pb2.EmbedRequest, remaining: float | None
    ) -> embedding_pb2.EmbedResponse:
        """One embedding per input, in input order; any failed call fails the request."""
        text_embedding.validate(request, route.spec)
        spec = route.spec
        url = self._model_url(route, "predict")
        deadline = self._client.deadline(remaining)
        batches = text_embedding.batches(request, spec)

        async def call(positions: list[int]) -> tuple[list[embedding_pb2.Embedding], int]:
            payload = await self._client.call_json(
                url, text_embedding.to_predict(request, positions), deadline
            )
            return text_embedding.from_predict(payload, len(positions))

        replies = await gather_bounded(batches, call, self._concurrency)
        embeddings = [e for batch, _ in replies for e in batch]
        billable = sum(characters for _, characters in replies)
        return embedding_pb2.EmbedResponse(
            model=route.name,
            embeddings=embeddings,
            usage=text_embedding.usage(embeddings),
            billable_characters=billable,
            served_by=route.served_by(),
        )
