"""Cloud Storage through its JSON API, over the same transport and credentials as Vertex.

Uploads are resumable (vertex-wire.md §8.4): a session is opened with the object's metadata,
then the content goes in pieces that are multiples of 256 KiB, the last one naming the total, so
a file of any size passes through in bounded memory. Downloads stream with an optional byte
range. Object names are percent-encoded whole (`/` too), as the API requires.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from .auth import AuthProvider
from .client import Deadline
from .errors import VertexError, from_http_error, malformed
from .http import Transport

DEFAULT_BASE_URL = "https://storage.googleapis.com"
PIECE = 256 * 1024


@dataclass(frozen=True)
class GcsObject:
    """What the gateway reads of an object's metadata."""

    bucket: str
    name: str
    size: int
    content_type: str
    created: str
    crc32c: int | None
    metadata: Mapping[str, str]

    @property
    def uri(self) -> str:
        """`gs://bucket/name`."""
        return f"gs://{self.bucket}/{self.name}"


def parse_object(raw: Any) -> GcsObject:
    """An Object resource; UNAVAILABLE for one that is not."""
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise malformed("Cloud Storage object metadata is not an object")
    crc = None
    if isinstance(raw.get("crc32c"), str):
        try:
            crc = int.from_bytes(base64.b64decode(raw["crc32c"]), "big")
        except ValueError:
            crc = None
    metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    return GcsObject(
        bucket=str(raw.get("bucket", "")),
        name=raw["name"],
        size=int(raw.get("size") or 0),
        content_type=str(raw.get("contentType") or ""),
        created=str(raw.get("timeCreated") or ""),
        crc32c=crc,
        metadata={str(k): str(v) for k, v in (metadata or {}).items()},
    )


def parse_uri(uri: str) -> tuple[str, str]:
    """(bucket, object) of `gs://bucket/object`; ValueError otherwise."""
    if not uri.startswith("gs://"):
        raise ValueError(f"not a gs:// URI: {uri!r}")
    bucket, _, name = uri[5:].partition("/")
    if not bucket or not name:
        raise ValueError(f"not a gs://bucket/object URI: {uri!r}")
    return bucket, name


class GcsClient:
    """Objects in Cloud Storage."""

    def __init__(
        self,
        transport: Transport,
        auth: AuthProvider,
        *,
        base_url: str | None,
        user_agent: str,
        default_timeout: float,
    ) -> None:
        self._transport = transport
        self._auth = auth
        self._base = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._user_agent = user_agent
        self._default_timeout = default_timeout

    def deadline(self, remaining: float | None) -> Deadline:
        """A deadline bounded by the caller's remaining time and the configured timeout."""
        return Deadline(remaining, self._default_timeout)

    async def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"user-agent": self._user_agent}
        headers.update(await self._auth.headers())
        if extra:
            headers.update(extra)
        return headers

    def _object_url(self, bucket: str, name: str) -> str:
        return f"{self._base}/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}"

    async def _call(
        self,
        method: str,
        url: str,
        deadline: Deadline,
        body: bytes = b"",
        extra: Mapping[str, str] | None = None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        headers = await self._headers(extra)
        resp = await self._transport.request(method, url, headers, body, deadline.remaining())
        return resp.status, resp.headers, resp.body

    async def start_upload(
        self,
        bucket: str,
        name: str,
        content_type: str,
        metadata: Mapping[str, str],
        deadline: Deadline,
    ) -> str:
        """Open a resumable upload session; its URL."""
        url = (
            f"{self._base}/upload/storage/v1/b/{quote(bucket, safe='')}/o"
            f"?uploadType=resumable&name={quote(name, safe='')}"
        )
        body = orjson.dumps({"contentType": content_type, "metadata": dict(metadata)})
        status, headers, data = await self._call(
            "POST",
            url,
            deadline,
            body,
            {"content-type": "application/json", "x-upload-content-type": content_type},
        )
        if status >= 300:
            raise from_http_error(status, data)
        location = headers.get("location") or headers.get("Location")
        if not location:
            raise malformed("Cloud Storage opened no upload session (no Location header)")
        return location

    async def put_piece(
        self, session: str, data: bytes, offset: int, total: int | None, deadline: Deadline
    ) -> GcsObject | None:
        """Send one piece at `offset`; the object once `total` bytes are in, else None."""
        end = offset + len(data) - 1
        size = "*" if total is None else str(total)
        span = f"bytes {offset}-{end}/{size}" if data else f"bytes */{size}"
        status, _, body = await self._call(
            "PUT",
            session,
            deadline,
            data,
            {"content-range": span, "content-type": "application/octet-stream"},
        )
        if status == 308:
            if total is not None and offset + len(data) >= total:
                raise malformed("Cloud Storage did not complete an upload it had every byte of")
            return None
        if status >= 300:
            raise from_http_error(status, body)
        return parse_object(orjson.loads(body))

    async def cancel_upload(self, session: str, deadline: Deadline) -> None:
        """Abandon a resumable session (best effort)."""
        with contextlib.suppress(VertexError):
            await self._call("DELETE", session, deadline)

    async def write(
        self,
        bucket: str,
        name: str,
        content_type: str,
        pieces: AsyncIterator[bytes],
        deadline: Deadline,
        *,
        chunk_bytes: int = 8 * 1024 * 1024,
        metadata: Mapping[str, str] | None = None,
    ) -> GcsObject:
        """Write an object from pieces of any size, holding at most about `chunk_bytes`."""
        session = await self.start_upload(bucket, name, content_type, metadata or {}, deadline)
        pending: list[bytes] = []
        held = 0
        offset = 0
        try:
            async for piece in pieces:
                pending.append(piece)
                held += len(piece)
                # Keep a tail back: the last request must carry bytes and name the total.
                while held >= chunk_bytes + PIECE:
                    joined = b"".join(pending)
                    pending, held = [joined[chunk_bytes:]], held - chunk_bytes
                    await self.put_piece(session, joined[:chunk_bytes], offset, None, deadline)
                    del joined
                    offset += chunk_bytes
            rest = b"".join(pending)
            done = await self.put_piece(session, rest, offset, offset + len(rest), deadline)
        except BaseException:
            await self.cancel_upload(session, deadline)
            raise
        if done is None:
            raise malformed("Cloud Storage left the upload open after the last piece")
        return done

    async def get(self, bucket: str, name: str, deadline: Deadline) -> GcsObject | None:
        """Object metadata, or None when there is no such object."""
        status, _, body = await self._call("GET", self._object_url(bucket, name), deadline)
        if status == 404:
            return None
        if status >= 300:
            raise from_http_error(status, body)
        return parse_object(orjson.loads(body))

    async def patch_metadata(
        self, bucket: str, name: str, metadata: Mapping[str, str], deadline: Deadline
    ) -> GcsObject:
        """Set custom metadata on an object."""
        body = orjson.dumps({"metadata": dict(metadata)})
        status, _, data = await self._call(
            "PATCH",
            self._object_url(bucket, name),
            deadline,
            body,
            {"content-type": "application/json"},
        )
        if status >= 300:
            raise from_http_error(status, data)
        return parse_object(orjson.loads(data))

    async def delete(self, bucket: str, name: str, deadline: Deadline) -> None:
        """Delete an object (a missing one is fine)."""
        status, _, body = await self._call("DELETE", self._object_url(bucket, name), deadline)
        if status >= 300 and status != 404:
            raise from_http_error(status, body)

    async def list(self, bucket: str, prefix: str, deadline: Deadline) -> list[GcsObject]:
        """Every object whose name starts with `prefix`, in name order."""
        out: list[GcsObject] = []
        token = ""
        while True:
            url = f"{self._base}/storage/v1/b/{quote(bucket, safe='')}/o?prefix={quote(prefix, safe='')}"
            if token:
                url += f"&pageToken={quote(token, safe='')}"
            status, _, body = await self._call("GET", url, deadline)
            if status >= 300:
                raise from_http_error(status, body)
            page = orjson.loads(body)
            out.extend(parse_object(item) for item in page.get("items") or [])
            token = page.get("nextPageToken") or ""
            if not token:
                return sorted(out, key=lambda o: o.name)

    async def read(
        self, bucket: str, name: str, deadline: Deadline, *, offset: int = 0, limit: int = 0
    ) -> AsyncIterator[bytes]:
        """The object's bytes from `offset` (at most `limit`, 0 = to the end), as they arrive."""
        headers = await self._headers()
        if offset or limit:
            last = f"{offset + limit - 1}" if limit else ""
            headers["range"] = f"bytes={offset}-{last}"
        url = self._object_url(bucket, name) + "?alt=media"
        async with self._transport.stream(url, headers, b"", deadline.remaining(), "GET") as resp:
            if resp.status >= 300:
                raise from_http_error(resp.status, await resp.read())
            async for chunk in resp.chunks():
                yield chunk

    async def read_all(self, bucket: str, name: str, deadline: Deadline) -> bytes:
        """A small object whole."""
        return b"".join([chunk async for chunk in self.read(bucket, name, deadline)])
