"""ModelService: the models this gateway serves, from its registry and configuration."""

from __future__ import annotations

from typing import Any

import grpc.aio
from vertex_gateway.v1 import model_pb2, model_pb2_grpc

from server.routing import catalog
from server.routing.router import Router

from .boundary import unary

Ctx = grpc.aio.ServicerContext[Any, Any]


class ModelService(model_pb2_grpc.ModelServiceServicer):
    """ListModels, GetModel."""

    def __init__(self, router: Router) -> None:
        self._router = router
        # The listing follows from configuration alone: build it once, not per call.
        self._models = catalog.all_models(router)

    @unary
    async def ListModels(
        self, request: model_pb2.ListModelsRequest, context: Ctx
    ) -> model_pb2.ListModelsResponse:
        """A page of the models a caller may use."""
        return catalog.list_page(self._models, request)

    @unary
    async def GetModel(self, request: model_pb2.GetModelRequest, context: Ctx) -> model_pb2.Model:
        """One model by name, id or alias."""
        return catalog.get_model(self._router, self._models, request.name)
