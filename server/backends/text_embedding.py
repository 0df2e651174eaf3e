"""Text embeddings over Vertex `:predict` (split to the model's limits) or `:embedContent` (one
input per call), sent concurrently."""

from __future__ import annotations

from vertex_gateway.v1 import embedding_pb2

from server.routing.router import Route
from server.translate import text_embedding

from .base import FanOutBackend
from .fanout import gather_bounded


class TextEmbeddingBackend(FanOutBackend):
    """Embed for text-embedding-00x and gemini-embedding-001."""

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
            served_by=self._served_by(route, url),
        )


class GeminiEmbeddingBackend(FanOutBackend):
    """Embed for the newer Gemini embedding models: one `:embedContent` call per input."""

    async def embed(
        self, route: Route, request: embedding_pb2.EmbedRequest, remaining: float | None
    ) -> embedding_pb2.EmbedResponse:
        """One embedding per input, in input order; any failed call fails the request."""
        text_embedding.validate(request, route.spec)
        url = self._model_url(route, "embedContent")
        deadline = self._client.deadline(remaining)

        async def call(position: int) -> embedding_pb2.Embedding:
            payload = await self._client.call_json(
                url, text_embedding.to_embed_content(request, position), deadline
            )
            return text_embedding.from_embed_content(payload)

        embeddings = await gather_bounded(range(len(request.inputs)), call, self._concurrency)
        return embedding_pb2.EmbedResponse(
            model=route.name,
            embeddings=embeddings,
            usage=text_embedding.usage(embeddings),
            served_by=self._served_by(route, url),
        )
