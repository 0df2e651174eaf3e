"""VideoService: Veo video jobs (start, poll, download)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
from vertex_gateway.v1 import video_pb2, video_pb2_grpc

from server.backends.video import VideoBackend
from server.errors import FieldViolation, GatewayError
from server.routing.registry import Capability, Family
from server.routing.router import Route, Router
from server.translate import veo
from server.translate.veo import VideoJobName

from .boundary import StreamGate, server_stream, unary

Ctx = grpc.aio.ServicerContext[Any, Any]


class VideoService(video_pb2_grpc.VideoServiceServicer):
    """GenerateVideo, GetVideoJob, DownloadVideo, CancelVideoJob."""

    # The gateway's bound on streams in flight (set by the app; see boundary.StreamGate).
    stream_gate: StreamGate | None = None

    def __init__(self, router: Router, backend: VideoBackend) -> None:
        self._router = router
        self._backend = backend

    def _route(self, model: str) -> Route:
        route = self._router.resolve(model, Capability.VIDEO)
        if route.spec.family is not Family.VEO:
            raise GatewayError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"model: {model!r} ({route.spec.family.value}) is not a Veo model",
                "CAPABILITY_NOT_SUPPORTED",
                field_violations=[FieldViolation("model", "video generation takes Veo models")],
            )
        return route

    def _job(self, name: str) -> VideoJobName:
        """The parsed name, once the caller may still use the job's model (allow-list)."""
        parsed = veo.parse_job_name(name)
        self._route(parsed.model_key)
        return parsed

    @unary
    async def GenerateVideo(
        self, request: video_pb2.GenerateVideoRequest, context: Ctx
    ) -> video_pb2.VideoJob:
        """Start a video job."""
        route = self._route(request.model)
        return await self._backend.generate(route, request, context.time_remaining())

    @unary
    async def GetVideoJob(
        self, request: video_pb2.GetVideoJobRequest, context: Ctx
    ) -> video_pb2.VideoJob:
        """A video job as it stands."""
        name = self._job(request.name)
        return await self._backend.get(name, request.name, context.time_remaining())

    @server_stream
    async def DownloadVideo(
        self, request: video_pb2.DownloadVideoRequest, context: Ctx
    ) -> AsyncIterator[video_pb2.DownloadVideoResponse]:
        """One video's bytes."""
        name = self._job(request.name)
        async for message in self._backend.download(
            name, request.name, request.index, context.time_remaining()
        ):
            yield message

    @unary
    async def CancelVideoJob(
        self, request: video_pb2.CancelVideoJobRequest, context: Ctx
    ) -> video_pb2.VideoJob:
        """Not offered by Vertex: UNIMPLEMENTED with the reason."""
        self._job(request.name)
        raise GatewayError(
            grpc.StatusCode.UNIMPLEMENTED,
            "Vertex AI offers no way to cancel a video operation (its REST API has no"
            " operations resource under publisher models); stop polling the job instead",
            "NOT_OFFERED_BY_VERTEX",
            metadata={"video_job": request.name},
        )
