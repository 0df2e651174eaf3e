"""EmbeddingService: route to the embedding family's backend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import grpc.aio
from vertex_gateway.v1 import embedding_pb2, embedding_pb2_grpc

from server.errors import unimplemented
from server.routing.registry import Capability, Family
from server.routing.router import Route, Router

from .boundary import unary

Ctx = grpc.aio.ServicerContext[Any, Any]


class EmbeddingBackend(Protocol):
    """What an embedding model family offers."""

    async def embed(
        self, route: Route, request: embedding_pb2.EmbedRequest, remaining: float | None
    ) -> embedding_pb2.EmbedResponse:
        """One embedding per input, in order."""
        ...


class EmbeddingService(embedding_pb2_grpc.EmbeddingServiceServicer):
    """Embed."""

    def __init__(self, router: Router, backends: Mapping[Family, EmbeddingBackend]) -> None:
        self._router = router
        self._backends = dict(backends)

    @unary
    async def Embed(
        self, request: embedding_pb2.EmbedRequest, context: Ctx
    ) -> embedding_pb2.EmbedResponse:
        """Embeddings of every input, in input order."""
        route = self._router.resolve(request.model, Capability.EMBEDDINGS)
        backend = self._backends.get(route.spec.family)
        if backend is None:
            raise unimplemented(
                f"embeddings with {route.spec.family.value} models",
                "this gateway does not embed with that model family yet",
            )
        return await backend.embed(route, request, context.time_remaining())
