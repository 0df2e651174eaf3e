"""multimodalembedding@001 over Vertex `:predict`: one call per modality, sent concurrently."""

from __future__ import annotations

from typing import Any

from vertex_gateway.v1 import embedding_pb2

from server.routing.router import Route
from server.translate import multimodal_embedding
from server.translate.multimodal_embedding import Call

from .base import FanOutBackend
from .fanout import gather_bounded


class MultimodalEmbeddingBackend(FanOutBackend):
    """Embed for multimodalembedding@001: text, image and video-segment vectors per input."""

    async def embed(
        self, route: Route, request: embedding_pb2.EmbedRequest, remaining: float | None
    ) -> embedding_pb2.EmbedResponse:
        """One Embedding per input, in input order; any failed call fails the request."""
        spec = route.spec
        multimodal_embedding.validate(request, spec.id)
        url = self._model_url(route, "predict")
        deadline = self._client.deadline(remaining)
        planned = multimodal_embedding.calls(request)

        async def call(planned_call: Call) -> Any:
            return await self._client.call_json(url, planned_call.body, deadline)

        payloads = await gather_bounded(planned, call, self._concurrency)
        embeddings = [embedding_pb2.Embedding() for _ in request.inputs]
        for planned_call, payload in zip(planned, payloads, strict=True):
            multimodal_embedding.apply(planned_call, payload, embeddings[planned_call.position])
        return embedding_pb2.EmbedResponse(
            model=route.name,
            embeddings=embeddings,
            served_by=self._served_by(route, url),
        )
