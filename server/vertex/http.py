"""The HTTP transport interface the Vertex client calls (as httpx separates its transports).

The implementation is `http1.Http1Transport`; tests and benchmarks may pass any other object
with these methods. Failures surface as VertexError, never as a library's own exception.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import NamedTuple, Protocol

from .errors import VertexError


class HttpResponse(NamedTuple):
    """A complete HTTP reply (a named tuple: made on every call, and a frozen dataclass costs
    three times as much to build)."""

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

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout: float | None,
    ) -> HttpResponse:
        """Send any request and read the whole reply."""
        ...

    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float | None
    ) -> HttpResponse:
        """POST and read the whole reply."""
        ...

    def stream(
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout: float | None,
        method: str = "POST",
    ) -> AbstractAsyncContextManager[StreamingResponse]:
        """Send and read the reply incrementally; leaving the context closes the request."""
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
    """The error for a failure to reach Vertex (nothing of a reply arrived)."""
    return VertexError(
        "UNAVAILABLE",
        f"could not reach Vertex AI ({type(exc).__name__})",
        "UPSTREAM_CONNECTION_FAILED",
    )


def connection_lost(exc: BaseException | None) -> VertexError:
    """The error for a connection that broke after part of the reply had arrived."""
    kind = type(exc).__name__ if exc is not None else "closed"
    return VertexError(
        "UNAVAILABLE",
        f"the connection to Vertex AI broke before the reply was complete ({kind})",
        "UPSTREAM_CONNECTION_LOST",
    )
