"""BatchService: batches of chat or embedding requests through Vertex batch prediction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc.aio
from vertex_gateway.v1 import batch_pb2, batch_pb2_grpc

from server.backends.batches import BatchStore
from server.routing.registry import Capability
from server.routing.router import Router

from .boundary import StreamGate, server_stream, unary

Ctx = grpc.aio.ServicerContext[Any, Any]


class BatchService(batch_pb2_grpc.BatchServiceServicer):
    """CreateBatch, GetBatch, ListBatches, CancelBatch, ListBatchResults."""

    # The gateway's bound on streams in flight (set by the app; see boundary.StreamGate).
    stream_gate: StreamGate | None = None

    def __init__(self, router: Router, store: BatchStore) -> None:
        self._router = router
        self._store = store

    @unary
    async def CreateBatch(
        self, request: batch_pb2.CreateBatchRequest, context: Ctx
    ) -> batch_pb2.Batch:
        """Validate, stage and start a batch."""
        route = self._router.resolve(request.model, Capability.BATCH)
        return await self._store.create(request, route, context.time_remaining())

    @unary
    async def GetBatch(self, request: batch_pb2.GetBatchRequest, context: Ctx) -> batch_pb2.Batch:
        """A batch's state and counts."""
        return await self._store.get(request.name, context.time_remaining())

    @unary
    async def ListBatches(
        self, request: batch_pb2.ListBatchesRequest, context: Ctx
    ) -> batch_pb2.ListBatchesResponse:
        """A page of batches."""
        return await self._store.list(request, context.time_remaining())

    @unary
    async def CancelBatch(
        self, request: batch_pb2.CancelBatchRequest, context: Ctx
    ) -> batch_pb2.Batch:
        """Ask Vertex to stop a batch."""
        return await self._store.cancel(request.name, context.time_remaining())

    @server_stream
    async def ListBatchResults(
        self, request: batch_pb2.ListBatchResultsRequest, context: Ctx
    ) -> AsyncIterator[batch_pb2.ListBatchResultsResponse]:
        """Every request's outcome, matched to its id."""
        async for message in self._store.results(request, context.time_remaining()):
            yield message
