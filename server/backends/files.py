"""Files the gateway keeps in Cloud Storage under its configured bucket and prefix.

Callers never name objects: a file is `files/{32 hex}` stored as `{prefix}files/{id}`. The
content streams through in bounded memory (resumable upload in `upload_chunk_bytes` pieces;
downloads relayed as they arrive), hashed on the way in; a short, long or corrupted upload is
deleted and refused rather than kept.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator

import google_crc32c
import grpc
from vertex_gateway.v1 import file_pb2

from server.config import StorageConfig
from server.errors import GatewayError, invalid_argument
from server.translate.timestamps import timestamp
from server.vertex.gcs import GcsClient, GcsObject

_NAME = re.compile(r"^files/([0-9a-f]{32})$")
DOWNLOAD_PIECE = 1024 * 1024
MAX_DISPLAY_NAME = 512
_META_DISPLAY = "vertex-gateway-display-name"
_META_PURPOSE = "vertex-gateway-purpose"
_META_SHA256 = "vertex-gateway-sha256"


def storage_unconfigured() -> GatewayError:
    """FAILED_PRECONDITION while no bucket is configured."""
    return GatewayError(
        grpc.StatusCode.FAILED_PRECONDITION,
        "no Cloud Storage bucket is configured for files and batches (storage.bucket,"
        " VG_STORAGE_BUCKET)",
        "STORAGE_NOT_CONFIGURED",
    )


def file_id(name: str, field: str = "name") -> str:
    """The id of "files/{id}"; INVALID_ARGUMENT naming the field otherwise."""
    match = _NAME.match(name)
    if match is None:
        raise invalid_argument(field, 'must be "files/{id}" as UploadFile returned it')
    return match.group(1)


def not_found(name: str) -> GatewayError:
    """NOT_FOUND naming the file."""
    return GatewayError(
        grpc.StatusCode.NOT_FOUND,
        f"file {name!r} does not exist",
        "FILE_NOT_FOUND",
        metadata={"file": name},
    )


class FileStore:
    """Upload, describe and read files."""

    def __init__(self, gcs: GcsClient, config: StorageConfig) -> None:
        self._gcs = gcs
        self._config = config

    @property
    def bucket(self) -> str:
        """The configured bucket; FAILED_PRECONDITION without one."""
        if self._config.bucket is None:
            raise storage_unconfigured()
        return self._config.bucket

    def object_name(self, ident: str) -> str:
        """Where a file's content is kept."""
        return f"{self._config.prefix}files/{ident}"

    def to_file(self, ident: str, obj: GcsObject) -> file_pb2.File:
        """The File message for a stored object."""
        out = file_pb2.File(
            name=f"files/{ident}",
            display_name=obj.metadata.get(_META_DISPLAY, ""),
            mime_type=obj.content_type,
            size_bytes=obj.size,
            uri=obj.uri,
        )
        purpose = obj.metadata.get(_META_PURPOSE, "")
        if purpose in file_pb2.FilePurpose.keys():  # noqa: SIM118 (an enum wrapper, not a dict)
            out.purpose = file_pb2.FilePurpose.Value(purpose)
        if obj.metadata.get(_META_SHA256):
            out.sha256 = bytes.fromhex(obj.metadata[_META_SHA256])
        if obj.crc32c is not None:
            out.crc32c = obj.crc32c
        created = timestamp(obj.created)
        if created is not None:
            out.create_time.CopyFrom(created)
        return out

    def check_metadata(self, meta: file_pb2.UploadFileMetadata) -> None:
        """INVALID_ARGUMENT for metadata that cannot be stored."""
        if not meta.mime_type or "/" not in meta.mime_type:
            raise invalid_argument(
                "metadata.mime_type", "is required (an IANA type such as application/jsonl)"
            )
        if (
            meta.purpose == file_pb2.FILE_PURPOSE_UNSPECIFIED
            or meta.purpose not in file_pb2.FilePurpose.values()
        ):
            raise invalid_argument(
                "metadata.purpose", "is required: BATCH_INPUT, MEDIA or TUNING_DATA"
            )
        if len(meta.display_name) > MAX_DISPLAY_NAME:
            raise invalid_argument(
                "metadata.display_name", f"is longer than {MAX_DISPLAY_NAME} characters"
            )
        if (
            meta.HasField("expected_size_bytes")
            and not 0 <= meta.expected_size_bytes <= self._config.max_file_bytes
        ):
            raise invalid_argument(
                "metadata.expected_size_bytes",
                f"must be 0 to {self._config.max_file_bytes} (the file size limit)",
            )
        if meta.expected_sha256 and len(meta.expected_sha256) != 32:
            raise invalid_argument("metadata.expected_sha256", "must be 32 bytes")

    async def upload(
        self,
        meta: file_pb2.UploadFileMetadata,
        chunks: AsyncIterator[bytes],
        remaining: float | None,
    ) -> file_pb2.File:
        """Store the content; the File once every byte is written and checked."""
        bucket = self.bucket
        self.check_metadata(meta)
        ident = uuid.uuid4().hex
        name = self.object_name(ident)
        deadline = self._gcs.deadline(remaining)
        digest = hashlib.sha256()
        crc = google_crc32c.Checksum()  # type: ignore[no-untyped-call]
        size = 0
        limit = self._config.max_file_bytes

        async def counted() -> AsyncIterator[bytes]:
            nonlocal size
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise invalid_argument(
                        "chunk", f"the file is larger than the limit of {limit} bytes"
                    )
                digest.update(chunk)
                crc.update(chunk)  # type: ignore[no-untyped-call]
                yield chunk

        metadata = {_META_PURPOSE: file_pb2.FilePurpose.Name(meta.purpose)}
        if meta.display_name:
            metadata[_META_DISPLAY] = meta.display_name
        obj = await self._gcs.write(
            bucket, name, meta.mime_type, counted(), deadline,
            chunk_bytes=self._config.upload_chunk_bytes, metadata=metadata,
        )  # fmt: skip
        problem = None
        if meta.HasField("expected_size_bytes") and size != meta.expected_size_bytes:
            problem = (
                "metadata.expected_size_bytes",
                f"{size} bytes arrived, {meta.expected_size_bytes} were announced",
            )
        elif meta.expected_sha256 and digest.digest() != meta.expected_sha256:
            problem = (
                "metadata.expected_sha256",
                "the content has another SHA-256: corrupted or truncated",
            )
        elif obj.size != size or (
            obj.crc32c is not None and obj.crc32c != int.from_bytes(crc.digest(), "big")  # type: ignore[no-untyped-call]
        ):
            problem = ("chunk", "Cloud Storage stored other bytes than were sent; upload again")
        elif (
            meta.HasField("expected_crc32c")
            and obj.crc32c is not None
            and obj.crc32c != meta.expected_crc32c
        ):
            problem = (
                "metadata.expected_crc32c",
                "the content has another CRC32C: corrupted or truncated",
            )
        if problem is not None:
            await self._gcs.delete(bucket, name, deadline)
            raise invalid_argument(*problem)
        obj = await self._gcs.patch_metadata(
            bucket, name, {**metadata, _META_SHA256: digest.hexdigest()}, deadline
        )
        return self.to_file(ident, obj)

    async def stat(
        self, name: str, remaining: float | None, field: str = "name"
    ) -> tuple[str, GcsObject]:
        """The id and stored object of a file name."""
        ident = file_id(name, field)
        obj = await self._gcs.get(
            self.bucket, self.object_name(ident), self._gcs.deadline(remaining)
        )
        if obj is None:
            raise not_found(name)
        return ident, obj

    async def get(self, name: str, remaining: float | None) -> file_pb2.File:
        """A file's metadata."""
        ident, obj = await self.stat(name, remaining)
        return self.to_file(ident, obj)

    async def download(
        self, request: file_pb2.DownloadFileRequest, remaining: float | None
    ) -> AsyncIterator[file_pb2.DownloadFileResponse]:
        """The content in order, the metadata on the first message."""
        if request.read_offset < 0 or request.read_limit < 0:
            raise invalid_argument(
                "read_offset" if request.read_offset < 0 else "read_limit", "must not be negative"
            )
        ident, obj = await self.stat(request.name, remaining)
        if request.read_offset and request.read_offset >= obj.size:
            raise GatewayError(
                grpc.StatusCode.OUT_OF_RANGE,
                f"read_offset {request.read_offset} is beyond the end of the file ({obj.size} bytes)",
                "OUT_OF_RANGE",
            )
        first = file_pb2.DownloadFileResponse(file=self.to_file(ident, obj))
        sent_first = False
        if obj.size:
            deadline = self._gcs.deadline(remaining)
            stream = self._gcs.read(
                self.bucket,
                obj.name,
                deadline,
                offset=request.read_offset,
                limit=request.read_limit,
            )
            async for chunk in stream:
                for start in range(0, len(chunk), DOWNLOAD_PIECE):
                    piece = chunk[start : start + DOWNLOAD_PIECE]
                    if not sent_first:
                        first.chunk = piece
                        sent_first = True
                        yield first
                    else:
                        yield file_pb2.DownloadFileResponse(chunk=piece)
        if not sent_first:
            yield first
