"""ImageService: route GenerateImages and EditImage to the model family's backend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import grpc.aio
from vertex_gateway.v1 import image_pb2, image_pb2_grpc

from server.errors import unimplemented
from server.routing.registry import Capability, Family
from server.routing.router import Route, Router

from .boundary import unary

Ctx = grpc.aio.ServicerContext[Any, Any]


class ImageBackend(Protocol):
    """What an image model family offers."""

    async def generate(
        self, route: Route, request: image_pb2.GenerateImagesRequest, remaining: float | None
    ) -> image_pb2.GenerateImagesResponse:
        """Images from a prompt."""
        ...

    async def edit(
        self, route: Route, request: image_pb2.EditImageRequest, remaining: float | None
    ) -> image_pb2.EditImageResponse:
        """An edited image."""
        ...


class ImageService(image_pb2_grpc.ImageServiceServicer):
    """GenerateImages, EditImage."""

    def __init__(self, router: Router, backends: Mapping[Family, ImageBackend]) -> None:
        self._router = router
        self._backends = dict(backends)

    def _backend(self, route: Route) -> ImageBackend:
        backend = self._backends.get(route.spec.family)
        if backend is None:
            raise unimplemented(
                f"images with {route.spec.family.value} models",
                "this gateway has no image backend for that model family",
            )
        return backend

    @unary
    async def GenerateImages(
        self, request: image_pb2.GenerateImagesRequest, context: Ctx
    ) -> image_pb2.GenerateImagesResponse:
        """Images from a text prompt."""
        route = self._router.resolve(request.model, Capability.IMAGES)
        return await self._backend(route).generate(route, request, context.time_remaining())

    @unary
    async def EditImage(
        self, request: image_pb2.EditImageRequest, context: Ctx
    ) -> image_pb2.EditImageResponse:
        """An edited image."""
        route = self._router.resolve(request.model, Capability.IMAGE_EDIT)
        return await self._backend(route).edit(route, request, context.time_remaining())
