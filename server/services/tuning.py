"""TuningService: supervised tuning of Gemini models on the caller's chat examples."""

from __future__ import annotations

from typing import Any

import grpc.aio
from vertex_gateway.v1 import tuning_pb2, tuning_pb2_grpc

from server.backends.tuning import TuningStore
from server.routing.registry import Capability
from server.routing.router import Router

from .boundary import unary

Ctx = grpc.aio.ServicerContext[Any, Any]


class TuningService(tuning_pb2_grpc.TuningServiceServicer):
    """CreateTuningJob, GetTuningJob, ListTuningJobs, CancelTuningJob."""

    def __init__(self, router: Router, store: TuningStore) -> None:
        self._router = router
        self._store = store

    @unary
    async def CreateTuningJob(
        self, request: tuning_pb2.CreateTuningJobRequest, context: Ctx
    ) -> tuning_pb2.TuningJob:
        """Check the examples, stage them and start the job."""
        route = self._router.resolve(request.base_model, Capability.TUNING, field="base_model")
        return await self._store.create(request, route, context.time_remaining())

    @unary
    async def GetTuningJob(
        self, request: tuning_pb2.GetTuningJobRequest, context: Ctx
    ) -> tuning_pb2.TuningJob:
        """A tuning job as it stands."""
        return await self._store.get(request.name, context.time_remaining())

    @unary
    async def ListTuningJobs(
        self, request: tuning_pb2.ListTuningJobsRequest, context: Ctx
    ) -> tuning_pb2.ListTuningJobsResponse:
        """A page of tuning jobs."""
        return await self._store.list(request, context.time_remaining())

    @unary
    async def CancelTuningJob(
        self, request: tuning_pb2.CancelTuningJobRequest, context: Ctx
    ) -> tuning_pb2.TuningJob:
        """Ask Vertex to stop a tuning job."""
        return await self._store.cancel(request.name, context.time_remaining())
