"""Veo video jobs: `:predictLongRunning` to start, `:fetchPredictOperation` to poll, and the
videos' bytes from the operation (inline) or from Cloud Storage.

An operation belongs to the project and location it was started in, so video calls go to the
primary account at the model's location, never through failover, and the job's name records
the location the operation lives in.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from vertex_gateway.v1 import common_pb2, video_pb2

from server.errors import GatewayError
from server.routing.router import Route
from server.translate import veo
from server.translate.veo import VideoJobName
from server.vertex.client import Deadline, VertexClient
from server.vertex.errors import VertexError
from server.vertex.gcs import GcsClient, parse_uri
from server.vertex.urls import VertexTarget, publisher_model_url, resource_prefix

from .base import VertexBackend
from .images import check_output_uri

DOWNLOAD_PIECE = 1024 * 1024


def _not_found(name: str) -> GatewayError:
    return GatewayError(
        grpc.StatusCode.NOT_FOUND,
        f"video job {name!r} does not exist",
        "VIDEO_JOB_NOT_FOUND",
        metadata={"video_job": name},
    )


def _not_downloadable(job: video_pb2.VideoJob) -> GatewayError:
    state = common_pb2.JobState.Name(job.state)
    why = (
        "is still running; download once GetVideoJob says JOB_STATE_SUCCEEDED"
        if job.state == common_pb2.JOB_STATE_RUNNING
        else "failed and has no videos"
    )
    return GatewayError(
        grpc.StatusCode.FAILED_PRECONDITION,
        f"video job {job.name!r} {why}",
        "VIDEO_JOB_NOT_DONE" if job.state == common_pb2.JOB_STATE_RUNNING else "VIDEO_JOB_FAILED",
        metadata={"video_job": job.name, "state": state},
    )


class VideoBackend(VertexBackend):
    """GenerateVideo, GetVideoJob and DownloadVideo for Veo models."""

    def __init__(
        self,
        client: VertexClient,
        target_for: Callable[[str], VertexTarget],
        gcs: GcsClient,
        *,
        output_prefixes: tuple[str, ...] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(client, target_for)
        self._gcs = gcs
        self._output_prefixes = output_prefixes
        self._clock = clock

    def _url(self, location: str, publisher: str, model: str, method: str) -> str:
        return publisher_model_url(self._target_for(location), publisher, model, method)

    async def generate(
        self, route: Route, request: video_pb2.GenerateVideoRequest, remaining: float | None
    ) -> video_pb2.VideoJob:
        """Start the operation; the job as it stands right after (running)."""
        body = veo.to_predict_long_running(request, route.spec)
        check_output_uri(request.output_gcs_uri, self._output_prefixes)
        spec = route.spec
        created_ms = int(self._clock() * 1000)
        url = self._url(route.location, spec.publisher, spec.id, "predictLongRunning")
        # Not retried: an operation Vertex started before failing to answer would run twice.
        reply = await self._client.call_json(
            url, body, self._client.deadline(remaining), retry=False
        )
        name = veo.job_name_from(reply, spec, route.location, created_ms)
        job = veo.running_job(name)
        job.vertex_operation = name.operation_name(resource_prefix(self._target_for(name.location)))
        return job

    async def _operation(self, name: VideoJobName, text: str, deadline: Deadline) -> Any:
        target = self._target_for(name.location)
        url = self._url(name.location, name.publisher, name.model, "fetchPredictOperation")
        try:
            return await self._client.call_json(
                url, veo.fetch_body(name, resource_prefix(target)), deadline, resource=True
            )
        except VertexError as err:
            if err.code == "NOT_FOUND":
                raise _not_found(text) from None
            raise

    def _readable(self, uri: str) -> bool:
        return any(uri.startswith(prefix) for prefix in self._output_prefixes)

    async def _sizes(self, job: video_pb2.VideoJob, deadline: Deadline) -> None:
        """Fill in the size of videos in Cloud Storage (left unset when it cannot be read)."""
        for video in job.videos:
            if video.storage != video_pb2.VIDEO_STORAGE_CLOUD_STORAGE:
                continue
            if not self._readable(video.uri):
                continue
            try:
                obj = await self._gcs.get(*parse_uri(video.uri), deadline)
            except (VertexError, ValueError):
                continue
            if obj is not None:
                video.size_bytes = obj.size

    async def get(
        self, name: VideoJobName, text: str, remaining: float | None
    ) -> video_pb2.VideoJob:
        """The job as Vertex reports it now."""
        deadline = self._client.deadline(remaining)
        job = veo.to_video_job(await self._operation(name, text, deadline), name)
        if job.state == common_pb2.JOB_STATE_SUCCEEDED:
            await self._sizes(job, deadline)
        return job

    async def download(
        self, name: VideoJobName, text: str, index: int, remaining: float | None
    ) -> AsyncIterator[video_pb2.DownloadVideoResponse]:
        """Video `index` of a succeeded job, in pieces of at most 1 MiB; its metadata first."""
        deadline = self._client.deadline(remaining)
        operation = await self._operation(name, text, deadline)
        job = veo.to_video_job(operation, name)
        if job.state != common_pb2.JOB_STATE_SUCCEEDED:
            raise _not_downloadable(job)
        if not 0 <= index < len(job.videos):
            raise GatewayError(
                grpc.StatusCode.OUT_OF_RANGE,
                f"index {index} is not a video of this job (it has {len(job.videos)})",
                "OUT_OF_RANGE",
                metadata={"video_job": text, "videos": str(len(job.videos))},
            )
        video = job.videos[index]
        if video.storage == video_pb2.VIDEO_STORAGE_INLINE:
            pieces = _pieces_of(veo.inline_video(operation, index))
        else:
            pieces = self._stored(video, deadline)
        first = True
        async for piece in pieces:
            message = video_pb2.DownloadVideoResponse(chunk=piece)
            if first:
                message.video.CopyFrom(video)
                first = False
            yield message
        if first:
            yield video_pb2.DownloadVideoResponse(video=video)

    async def _stored(
        self, video: video_pb2.GeneratedVideo, deadline: Deadline
    ) -> AsyncIterator[bytes]:
        """A video's bytes from Cloud Storage, read only under an allowed output prefix (the
        gateway reads with its own identity, so not from any bucket a name might point to)."""
        if not self._readable(video.uri):
            raise GatewayError(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{video.uri!r} is not under an allowed output prefix (vertex.output_gcs_prefixes)",
                "OUTPUT_LOCATION_NOT_ALLOWED",
            )
        bucket, obj = parse_uri(video.uri)
        stored = await self._gcs.get(bucket, obj, deadline)
        if stored is None:
            raise GatewayError(
                grpc.StatusCode.NOT_FOUND,
                f"the video {video.uri!r} is no longer in Cloud Storage",
                "VIDEO_NOT_FOUND",
            )
        video.size_bytes = stored.size
        async for chunk in self._gcs.read(bucket, obj, deadline):
            for start in range(0, len(chunk), DOWNLOAD_PIECE):
                yield chunk[start : start + DOWNLOAD_PIECE]


async def _pieces_of(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), DOWNLOAD_PIECE):
        yield data[start : start + DOWNLOAD_PIECE]
