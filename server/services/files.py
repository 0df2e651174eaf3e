"""FileService: upload, describe and download files kept in the gateway's Cloud Storage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc.aio
from vertex_gateway.v1 import file_pb2, file_pb2_grpc

from server.backends.files import FileStore
from server.errors import invalid_argument

from .boundary import StreamGate, server_stream, unary

Ctx = grpc.aio.ServicerContext[Any, Any]


async def _chunks(messages: AsyncIterator[file_pb2.UploadFileRequest]) -> AsyncIterator[bytes]:
    async for message in messages:
        kind = message.WhichOneof("payload")
        if kind == "metadata":
            raise invalid_argument("metadata", "is only allowed in the first message")
        if kind == "chunk" and message.chunk:
            yield message.chunk


class FileService(file_pb2_grpc.FileServiceServicer):
    """UploadFile, GetFile, DownloadFile."""

    # The gateway's bound on streams in flight (set by the app; see boundary.StreamGate).
    stream_gate: StreamGate | None = None

    def __init__(self, store: FileStore) -> None:
        self._store = store

    @unary
    async def UploadFile(
        self, request: AsyncIterator[file_pb2.UploadFileRequest], context: Ctx
    ) -> file_pb2.File:
        """Store a file sent in chunks after its metadata."""
        messages = aiter(request)
        try:
            first = await anext(messages)
        except StopAsyncIteration:
            raise invalid_argument(
                "metadata", "the first message must carry the metadata"
            ) from None
        if first.WhichOneof("payload") != "metadata":
            raise invalid_argument("metadata", "the first message must carry the metadata")
        _ = self._store.bucket  # FAILED_PRECONDITION before reading any content
        return await self._store.upload(first.metadata, _chunks(messages), context.time_remaining())

    @unary
    async def GetFile(self, request: file_pb2.GetFileRequest, context: Ctx) -> file_pb2.File:
        """A file's metadata."""
        return await self._store.get(request.name, context.time_remaining())

    @server_stream
    async def DownloadFile(
        self, request: file_pb2.DownloadFileRequest, context: Ctx
    ) -> AsyncIterator[file_pb2.DownloadFileResponse]:
        """A file's content in chunks."""
        async for message in self._store.download(request, context.time_remaining()):
            yield message
