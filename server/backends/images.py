"""Image generation and editing: Imagen over `:predict`, Gemini image models over
`:generateContent` (one image per call, N calls sent concurrently)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from vertex_gateway.v1 import image_pb2

from server.errors import GatewayError, invalid_argument
from server.routing.router import Route
from server.translate import gemini_image, imagen
from server.vertex.client import VertexClient
from server.vertex.urls import VertexTarget

from .base import FanOutBackend, VertexBackend
from .fanout import gather_bounded

_R = TypeVar("_R", image_pb2.GenerateImagesResponse, image_pb2.EditImageResponse)


def check_output_uri(uri: str, allowed: tuple[str, ...]) -> None:
    """PERMISSION_DENIED unless `uri` lies under a configured prefix: Vertex writes there with
    the gateway's identity, so a caller must not pick an arbitrary bucket."""
    if not uri:
        return
    if not uri.startswith("gs://") or uri.count("/") < 3:
        raise invalid_argument("output_gcs_uri", "must be a gs://bucket/prefix/ URI")
    if not any(uri.startswith(prefix) for prefix in allowed):
        where = ", ".join(allowed) if allowed else "none are configured"
        raise GatewayError(
            grpc.StatusCode.PERMISSION_DENIED,
            f"output_gcs_uri: {uri!r} is not under an allowed output prefix ({where};"
            " vertex.output_gcs_prefixes)",
            "OUTPUT_LOCATION_NOT_ALLOWED",
            metadata={"field": "output_gcs_uri"},
        )


class ImagenBackend(VertexBackend):
    """GenerateImages and EditImage for Imagen models."""

    def __init__(
        self,
        client: VertexClient,
        target_for: Callable[[str], VertexTarget],
        *,
        output_prefixes: tuple[str, ...] = (),
    ) -> None:
        super().__init__(client, target_for)
        self._output_prefixes = output_prefixes

    async def _predict(
        self,
        route: Route,
        body: dict[str, Any],
        request: image_pb2.GenerateImagesRequest | image_pb2.EditImageRequest,
        reply: _R,
        remaining: float | None,
    ) -> _R:
        check_output_uri(request.output_gcs_uri, self._output_prefixes)
        url = self._model_url(route, "predict")
        payload = await self._client.call_json(url, body, self._client.deadline(remaining))
        images, prompt_safety = imagen.from_predict(payload, request.number_of_images or 1)
        reply.model = route.name
        reply.images.extend(images)
        reply.served_by.CopyFrom(self._served_by(route, url))
        if prompt_safety is not None:
            reply.prompt_safety_attributes.CopyFrom(prompt_safety)
        return reply

    async def generate(
        self, route: Route, request: image_pb2.GenerateImagesRequest, remaining: float | None
    ) -> image_pb2.GenerateImagesResponse:
        """The images of one `:predict` call, filtered ones reported with their reason."""
        body = imagen.to_generate_predict(request, route.spec)
        return await self._predict(
            route, body, request, image_pb2.GenerateImagesResponse(), remaining
        )

    async def edit(
        self, route: Route, request: image_pb2.EditImageRequest, remaining: float | None
    ) -> image_pb2.EditImageResponse:
        """The edited images of one `:predict` call on a capability model."""
        body = imagen.to_edit_predict(request, route.spec)
        return await self._predict(route, body, request, image_pb2.EditImageResponse(), remaining)


class GeminiImageBackend(FanOutBackend):
    """GenerateImages and EditImage for Gemini image models."""

    async def _calls(
        self, route: Route, body: dict[str, object], count: int, remaining: float | None
    ) -> image_pb2.GenerateImagesResponse:
        url = self._model_url(route, "generateContent")
        deadline = self._client.deadline(remaining)

        async def call(_: int) -> image_pb2.GenerateImagesResponse:
            return gemini_image.from_generate(await self._client.call_json(url, body, deadline))

        replies = await gather_bounded(range(count), call, self._concurrency)
        merged = image_pb2.GenerateImagesResponse(
            model=route.name, served_by=self._served_by(route, url)
        )
        for reply in replies:
            merged.images.extend(reply.images)
            merged.usage.input_tokens += reply.usage.input_tokens
            merged.usage.output_tokens += reply.usage.output_tokens
            merged.usage.total_tokens += reply.usage.total_tokens
        texts = [r.text for r in replies if r.text]
        merged.text = "\n".join(texts)
        first = replies[0]
        merged.model_version = first.model_version
        # The most telling outcome: a filtered call outranks a clean one.
        worst = next((r for r in replies if not any(i.HasField("image") for i in r.images)), first)
        merged.finish_reason = worst.finish_reason
        merged.native_finish_reason = worst.native_finish_reason
        return merged

    async def generate(
        self, route: Route, request: image_pb2.GenerateImagesRequest, remaining: float | None
    ) -> image_pb2.GenerateImagesResponse:
        """number_of_images images, one call each."""
        body = gemini_image.to_generate(request, route.spec)
        return await self._calls(route, body, request.number_of_images or 1, remaining)

    async def edit(
        self, route: Route, request: image_pb2.EditImageRequest, remaining: float | None
    ) -> image_pb2.EditImageResponse:
        """number_of_images edited images, one call each."""
        body = gemini_image.to_edit(request, route.spec)
        merged = await self._calls(route, body, request.number_of_images or 1, remaining)
        return image_pb2.EditImageResponse(
            model=merged.model,
            model_version=merged.model_version,
            images=merged.images,
            text=merged.text,
            finish_reason=merged.finish_reason,
            native_finish_reason=merged.native_finish_reason,
            usage=merged.usage,
            served_by=merged.served_by,
        )
