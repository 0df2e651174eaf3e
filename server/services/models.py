"""ModelService: the models this gateway serves, from its registry and configuration."""

from __future__ import annotations

from typing import Any

import grpc.aio
from vertex_gateway.v1 import model_pb2, model_pb2_grpc

from server.backends.model_discovery import ModelDiscovery
from server.routing import catalog
from server.routing.router import Router
from server.translate.model_listing import DiscoveredModels

from .boundary import unary

Ctx = grpc.aio.ServicerContext[Any, Any]


class ModelService(model_pb2_grpc.ModelServiceServicer):
    """ListModels, GetModel."""

    def __init__(self, router: Router, discovery: ModelDiscovery | None = None) -> None:
        self._router = router
        self._discovery = discovery
        # Built once per discovery result, not per call.
        self._built_from: DiscoveredModels | None = None
        self._models = catalog.all_models(router)

    async def _listing(self, context: Ctx) -> list[model_pb2.Model]:
        if self._discovery is None:
            return self._models
        found = await self._discovery.snapshot(context.time_remaining())
        if found is not self._built_from:
            self._models = catalog.all_models(self._router, found)
            self._built_from = found
        return self._models

    @unary
    async def ListModels(
        self, request: model_pb2.ListModelsRequest, context: Ctx
    ) -> model_pb2.ListModelsResponse:
        """A page of the models a caller may use."""
        catalog.check_list_request(request)
        return catalog.list_page(await self._listing(context), request)

    @unary
    async def GetModel(self, request: model_pb2.GetModelRequest, context: Ctx) -> model_pb2.Model:
        """One model by name, id or alias."""
        catalog.check_model_name(request.name)
        return catalog.get_model(self._router, await self._listing(context), request.name)
