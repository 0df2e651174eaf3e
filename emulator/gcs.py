"""A small asynchronous Cloud Storage JSON API client, for the emulator's own use (batch jobs).

It speaks the subset of the JSON API that Vertex batch prediction needs (vertex-wire.md §8.4):
object metadata, media download (whole or streamed), resumable upload, listing under a prefix.
It is written for the loopback storage emulator (``gcp-storage-emulator``, see
``storage_process.py``), which answers HTTP/1.0 and closes every connection, so no connection is
ever reused. Object names are percent-encoded in paths (``/`` → ``%2F``), as the API requires.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from yarl import URL

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Resumable uploads send whole multiples of 256 KiB except for the last chunk.
UPLOAD_CHUNK_BYTES = 32 * 256 * 1024
STREAM_CHUNK_BYTES = 64 * 1024
_RESUME_INCOMPLETE = 308
# Bucket names: 3-63 characters (222 with dots) of lowercase letters, digits, ``-``, ``_``, ``.``.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")


class GcsError(Exception):
    """A Cloud Storage call failed; ``status`` is the HTTP status (None: no answer at all)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GcsNotFound(GcsError):
    """The bucket or object does not exist (HTTP 404)."""


@dataclass(frozen=True)
class GcsUri:
    """A ``gs://bucket/object`` URI; ``name`` is ``""`` for a bucket (or prefix) on its own."""

    bucket: str
    name: str = ""

    @classmethod
    def parse(cls, uri: str, *, require_object: bool = True) -> GcsUri:
        """Parse ``gs://bucket/object``; raises ValueError for anything else."""
        if not isinstance(uri, str) or not uri.startswith("gs://"):
            raise ValueError(f"not a gs:// URI: {uri!r}")
        bucket, _, name = uri[len("gs://") :].partition("/")
        if not _BUCKET.match(bucket):
            raise ValueError(f"invalid bucket name in {uri!r}")
        if require_object and not name:
            raise ValueError(f"no object name in {uri!r}")
        return cls(bucket, name)

    @property
    def has_wildcard(self) -> bool:
        """True when the object name holds a ``*`` or ``?`` wildcard."""
        return "*" in self.name or "?" in self.name

    def child(self, name: str) -> GcsUri:
        """The object ``name`` under this URI taken as a directory."""
        base = self.name.rstrip("/")
        return GcsUri(self.bucket, f"{base}/{name}" if base else name)

    def __str__(self) -> str:
        return f"gs://{self.bucket}/{self.name}"


def _object_path(uri: GcsUri) -> str:
    return f"b/{quote(uri.bucket, safe='')}/o/{quote(uri.name, safe='')}"


class GcsClient:
    """``async with GcsClient("http://127.0.0.1:9023") as gcs: await gcs.read_object(uri)``."""

    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True),
            timeout=aiohttp.ClientTimeout(total=timeout),
        )

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._session.close()

    async def __aenter__(self) -> GcsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _url(self, path: str, query: dict[str, str] | None = None) -> URL:
        text = f"{self.base_url}/{path}"
        if query:
            text += "?" + urlencode(query, quote_via=quote)
        return URL(text, encoded=True)

    async def _request(
        self, method: str, url: URL, what: str, **kwargs: Any
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            async with self._session.request(method, url, **kwargs) as resp:
                body = await resp.read()
                return resp.status, dict(resp.headers), body
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GcsError(
                f"Cloud Storage at {self.base_url} did not answer ({what}): {exc}"
            ) from exc

    @staticmethod
    def _check(status: int, body: bytes, what: str) -> None:
        if status == 404:
            raise GcsNotFound(f"{what}: not found", 404)
        if status >= 400:
            detail = body.decode("utf-8", "replace").strip()[:300]
            raise GcsError(f"{what}: HTTP {status} {detail}".rstrip(), status)

    async def object_metadata(self, uri: GcsUri) -> dict[str, Any]:
        """The object resource (``name``, ``size`` as a string, ``contentType``, ...)."""
        what = f"metadata of {uri}"
        status, _, body = await self._request(
            "GET", self._url(f"storage/v1/{_object_path(uri)}"), what
        )
        self._check(status, body, what)
        result: dict[str, Any] = json.loads(body)
        return result

    async def read_object(self, uri: GcsUri) -> bytes:
        """The whole object's bytes."""
        what = f"download of {uri}"
        url = self._url(f"download/storage/v1/{_object_path(uri)}", {"alt": "media"})
        status, _, body = await self._request("GET", url, what)
        self._check(status, body, what)
        return body

    async def stream_object(
        self, uri: GcsUri, chunk_size: int = STREAM_CHUNK_BYTES
    ) -> AsyncIterator[bytes]:
        """The object's bytes in chunks, as they arrive."""
        what = f"download of {uri}"
        url = self._url(f"download/storage/v1/{_object_path(uri)}", {"alt": "media"})
        try:
            async with self._session.get(url) as resp:
                if resp.status >= 400:
                    self._check(resp.status, await resp.read(), what)
                async for chunk in resp.content.iter_chunked(chunk_size):
                    yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GcsError(
                f"Cloud Storage at {self.base_url} did not answer ({what}): {exc}"
            ) from exc

    async def iter_lines(self, uri: GcsUri) -> AsyncIterator[bytes]:
        """The object's lines (without line ends), streamed; a last line without ``\\n`` counts."""
        pending = b""
        async for chunk in self.stream_object(uri):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.rstrip(b"\r")
        if pending:
            yield pending.rstrip(b"\r")

    async def write_object(
        self, uri: GcsUri, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> dict[str, Any]:
        """Create (or replace) the object with a resumable upload; returns the object resource."""
        what = f"upload of {uri}"
        start = self._url(
            f"upload/storage/v1/b/{quote(uri.bucket, safe='')}/o",
            {"uploadType": "resumable", "name": uri.name},
        )
        headers = {
            "X-Upload-Content-Type": content_type,
            "X-Upload-Content-Length": str(len(data)),
        }
        status, reply_headers, body = await self._request(
            "POST",
            start,
            what,
            json={"name": uri.name, "contentType": content_type},
            headers=headers,
        )
        self._check(status, body, what)
        location = reply_headers.get("Location")
        if not location:
            raise GcsError(f"{what}: no resumable session URI in the answer", status)
        session = URL(location, encoded=True)
        total = len(data)
        offset = 0
        while True:
            chunk = data[offset : offset + UPLOAD_CHUNK_BYTES]
            if total == 0:
                content_range = "bytes */0"
            else:
                content_range = f"bytes {offset}-{offset + len(chunk) - 1}/{total}"
            status, reply_headers, body = await self._request(
                "PUT",
                session,
                what,
                data=chunk,
                headers={"Content-Range": content_range, "Content-Type": content_type},
            )
            if status == _RESUME_INCOMPLETE:
                received = reply_headers.get("Range", "")
                offset = int(received.rsplit("-", 1)[-1]) + 1 if received else offset + len(chunk)
                if offset >= total:
                    raise GcsError(f"{what}: the server kept the upload open after every byte")
                continue
            self._check(status, body, what)
            result: dict[str, Any] = json.loads(body) if body.strip() else {}
            return result

    async def list_objects(self, bucket: str, prefix: str = "") -> list[dict[str, Any]]:
        """Every object resource in ``bucket`` whose name starts with ``prefix`` (all pages)."""
        what = f"listing of gs://{bucket}/{prefix}"
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query = {"prefix": prefix} if prefix else {}
            if token:
                query["pageToken"] = token
            url = self._url(f"storage/v1/b/{quote(bucket, safe='')}/o", query)
            status, _, body = await self._request("GET", url, what)
            self._check(status, body, what)
            page = json.loads(body)
            items.extend(page.get("items") or [])
            token = page.get("nextPageToken") or ""
            if not token:
                return items

    async def expand(self, uri: GcsUri) -> list[GcsUri]:
        """The objects a URI names: itself, or for a wildcard URI every match (sorted).

        ``*`` and ``?`` match any characters (``/`` included), as Vertex's input URIs allow.
        """
        if not uri.has_wildcard:
            return [uri]
        prefix = re.split(r"[*?]", uri.name, maxsplit=1)[0]
        names = sorted(
            str(item["name"])
            for item in await self.list_objects(uri.bucket, prefix)
            if fnmatch.fnmatchcase(str(item.get("name", "")), uri.name)
        )
        return [GcsUri(uri.bucket, name) for name in names]
