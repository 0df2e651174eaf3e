"""The pooled async HTTP transport to Vertex, behind a small interface (as httpx does).

aiohttp was chosen by measurement (bench/http_client): on this path it serves well over twice
the requests per CPU-second of httpx. The transport maps network failures to VertexError and
closes the upstream connection whenever a stream is abandoned (caller cancelled, deadline,
error), so Vertex stops generating for nobody.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from .errors import VertexError


@dataclass(frozen=True)
class HttpResponse:
    """A complete HTTP reply."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class StreamingResponse(Protocol):
    """An HTTP reply whose body is read incrementally."""

    @property
    def status(self) -> int:
        """HTTP status code."""
        ...

    async def read(self) -> bytes:
        """The whole remaining body (for error replies)."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive, without waiting to fill a buffer."""
        ...


class Transport(Protocol):
    """What the Vertex client needs from HTTP."""

    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float | None
    ) -> HttpResponse:
        """POST and read the whole reply."""
        ...

    def stream(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float | None
    ) -> AbstractAsyncContextManager[StreamingResponse]:
        """POST and read the reply incrementally; leaving the context closes the request."""
        ...

    async def close(self) -> None:
        """Release pooled connections."""
        ...


def timeout_error() -> VertexError:
    """The error for an upstream call cut off by the caller's deadline or the gateway timeout."""
    return VertexError(
        "DEADLINE_EXCEEDED", "the deadline expired before Vertex AI answered", "DEADLINE_EXCEEDED"
    )


def connection_error(exc: BaseException) -> VertexError:
    """The error for a failure to reach Vertex or a connection lost mid-reply."""
    kind = type(exc).__name__
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return VertexError(
            "UNAVAILABLE",
            f"the connection to Vertex AI broke before the reply was complete ({kind})",
            "UPSTREAM_CONNECTION_LOST",
        )
    return VertexError(
        "UNAVAILABLE", f"could not reach Vertex AI ({kind})", "UPSTREAM_CONNECTION_FAILED"
    )


class _AiohttpStream:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _map(exc) from None

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _map(exc) from None


def _map(exc: BaseException) -> VertexError:
    return timeout_error() if isinstance(exc, TimeoutError) else connection_error(exc)


class AiohttpTransport:
    """aiohttp ClientSession with one pool per process and event loop."""

    def __init__(
        self,
        *,
        max_connections: int = 512,
        connect_timeout: float = 10.0,
        idle_read_timeout: float = 600.0,
    ) -> None:
        self._max_connections = max_connections
        self._connect_timeout = connect_timeout
        self._idle_read_timeout = idle_read_timeout
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, ttl_dns_cache=300, enable_cleanup_closed=True
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                raise_for_status=False,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    def _timeout(self, timeout: float | None) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=timeout,
            sock_connect=self._connect_timeout,
            sock_read=None if timeout is not None else self._idle_read_timeout,
        )

    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float | None
    ) -> HttpResponse:
        """POST and read the whole reply."""
        if timeout is not None and timeout <= 0:
            raise timeout_error()
        try:
            async with self._client().post(
                url, data=body, headers=dict(headers), timeout=self._timeout(timeout)
            ) as resp:
                data = await resp.read()
                return HttpResponse(resp.status, resp.headers, data)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _map(exc) from None

    @asynccontextmanager
    async def stream(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float | None
    ) -> AsyncIterator[StreamingResponse]:
        """POST and expose the reply incrementally; always closes an unfinished reply."""
        if timeout is not None and timeout <= 0:
            raise timeout_error()
        try:
            resp = await self._client().post(
                url, data=body, headers=dict(headers), timeout=self._timeout(timeout)
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _map(exc) from None
        try:
            yield _AiohttpStream(resp)
        finally:
            # close() (not release()) drops the connection if the body was not fully read,
            # which is what tells Vertex the caller has gone.
            if resp.content.at_eof():
                resp.release()
            else:
                resp.close()

    async def close(self) -> None:
        """Close the pool."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
            await asyncio.sleep(0)
