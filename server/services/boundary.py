"""The error boundary of every RPC: any failure becomes a rich status, never UNKNOWN.

Also writes the access log when enabled, so servicers stay free of cross-cutting code.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc
import grpc.aio

from server.callers import current_caller
from server.decoding import Undecodable, rejects_undecodable, undecodable_error
from server.errors import FieldViolation, GatewayError, status_code_by_name
from server.observability import labels, metrics, request_ids, tracing
from server.observability.usage import (
    DEFAULT_PRICES,
    Price,
    account,
    reply_usage,
    trailing_metadata,
)
from server.vertex.errors import VertexError
from server.vertex.urls import UrlError

log = logging.getLogger("vertex_gateway.rpc")
access_log = logging.getLogger("vertex_gateway.access")
ACCESS_LOG = {"enabled": False}
# The price table usage is costed with (set from the config when the gateway is built).
PRICES: dict[str, Price] = dict(DEFAULT_PRICES)
STREAM_RETRY_SECONDS = 1.0


class StreamGate:
    """A gateway's bound on streams in flight (server.max_concurrent_streams): past it a new
    stream is refused at once with RESOURCE_EXHAUSTED and RetryInfo, not queued without bound.
    Shared by the servicers of one gateway (as their `stream_gate` attribute)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    def enter(self) -> None:
        """Count a stream in, or raise the refusal."""
        if self.limit and self.open >= self.limit:
            raise GatewayError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the gateway is serving its limit of {self.limit} streams; retry shortly",
                "GATEWAY_OVERLOADED",
                retry_delay_seconds=STREAM_RETRY_SECONDS,
            )
        self.open += 1
        metrics.streams_changed(1)

    def leave(self) -> None:
        """Count a stream out."""
        self.open -= 1
        metrics.streams_changed(-1)


Req = TypeVar("Req")
Resp = TypeVar("Resp")


def from_vertex(err: VertexError) -> GatewayError:
    """A VertexError as the caller sees it, with the upstream reason in ErrorInfo metadata."""
    code = status_code_by_name(err.code) or grpc.StatusCode.INTERNAL
    metadata: dict[str, str] = {}
    if err.http_status is not None:
        metadata["http_status"] = str(err.http_status)
    if err.upstream_reason:
        metadata["upstream_reason"] = err.upstream_reason
    if err.upstream_domain:
        metadata["upstream_domain"] = err.upstream_domain
    metadata["attempts"] = str(err.attempts)
    prefix = (
        ""
        if err.reason
        in ("DEADLINE_EXCEEDED", "REQUEST_TOO_LARGE", "GATEWAY_MODEL_BUSY", "UPSTREAM_CIRCUIT_OPEN")
        else "Vertex AI: "
    )
    return GatewayError(
        code,
        prefix + err.message,
        err.reason,
        metadata=metadata,
        field_violations=[FieldViolation(f, d) for f, d in err.field_violations],
        retry_delay_seconds=err.retry_delay_seconds,
        quota_subject="vertex-ai" if err.code == "RESOURCE_EXHAUSTED" else None,
    )


def to_gateway_error(exc: BaseException, rpc: str) -> GatewayError:
    """Whatever went wrong, as a GatewayError (unexpected failures become INTERNAL)."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, VertexError):
        return from_vertex(exc)
    if isinstance(exc, UrlError):
        return GatewayError(grpc.StatusCode.INVALID_ARGUMENT, str(exc), "INVALID_ARGUMENT")
    log.exception("unexpected failure in %s", rpc)
    return GatewayError(
        grpc.StatusCode.INTERNAL,
        "the gateway failed unexpectedly; the error has been logged",
        "INTERNAL_ERROR",
    )


async def abort(context: grpc.aio.ServicerContext[Any, Any], err: GatewayError) -> NoReturn:
    """End the RPC with the error's rich status (and the request id, when there is one)."""
    if err.code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE):
        log.warning("%s: %s (%s)", err.code.name, err.message, err.reason)
    status = err.to_grpc_status()
    rid = request_ids.REQUEST_ID.get()
    if rid:
        status = status._replace(  # type: ignore[attr-defined]
            trailing_metadata=(*status.trailing_metadata, (request_ids.HEADER, rid))
        )
    await context.abort_with_status(status)  # type: ignore[attr-defined]
    raise AssertionError("abort_with_status returned")  # pragma: no cover


def _log_access(rpc: str, request: Any, start: float, code: str) -> None:
    access_log.info(
        "rpc",
        extra={
            "rpc": rpc,
            "model": getattr(request, "model", ""),
            "code": code,
            "ms": round((time.perf_counter() - start) * 1000, 2),
        },
    )


def _account(reply: Any) -> tuple[tuple[str, str], ...]:
    """Count a reply's usage in the metrics and return it as trailing metadata."""
    usage = reply_usage(reply)
    if usage is None:
        return ()
    model = labels.MODEL.get() or str(getattr(reply, "model", ""))
    caller = current_caller()
    who = caller.caller if caller is not None else "anonymous"
    used = account(usage, PRICES.get(model))
    metrics.usage(
        model, who, (used.input, used.output, used.reasoning, used.cached_input), used.cost_usd
    )
    return trailing_metadata(used)


def _method(fn: Callable[..., Any]) -> str:
    """`Service/Method` of a servicer method, e.g. `ChatService/Chat`."""
    return fn.__qualname__.replace(".", "/")


def unary(
    fn: Callable[[Any, Req, grpc.aio.ServicerContext[Req, Resp]], Awaitable[Resp]],
) -> Callable[[Any, Req, grpc.aio.ServicerContext[Req, Resp]], Awaitable[Resp]]:
    """Wrap a unary handler in the error boundary, with its request id, metrics, trace span
    and usage accounting."""
    rpc = fn.__name__
    method = _method(fn)

    @functools.wraps(fn)
    async def wrapper(
        self: Any, request: Req, context: grpc.aio.ServicerContext[Req, Resp]
    ) -> Resp:
        start = time.perf_counter()
        code = "OK"
        metadata = context.invocation_metadata()
        rid = request_ids.begin(metadata)
        with tracing.rpc_span(method, metadata) as span:
            try:
                if isinstance(request, Undecodable):
                    raise undecodable_error(request)
                reply = await fn(self, request, context)
                context.set_trailing_metadata(((request_ids.HEADER, rid), *_account(reply)))
                return reply
            except (asyncio.CancelledError, grpc.aio.AbortError):
                code = "CANCELLED"
                raise
            except Exception as exc:
                err = to_gateway_error(exc, rpc)
                code = err.code.name
                await abort(context, err)
            finally:
                metrics.rpc_done(method, code, time.perf_counter() - start)
                if span is not None:
                    tracing.rpc_status(span, code)
                if ACCESS_LOG["enabled"]:
                    _log_access(rpc, request, start, code)

    rejects_undecodable(wrapper)
    return wrapper


def server_stream(
    fn: Callable[[Any, Req, grpc.aio.ServicerContext[Req, Resp]], AsyncIterator[Resp]],
) -> Callable[[Any, Req, grpc.aio.ServicerContext[Req, Resp]], AsyncIterator[Resp]]:
    """Wrap a server-streaming handler in the error boundary, with its request id, metrics,
    trace span and usage accounting (from the last message that carries usage)."""
    rpc = fn.__name__
    method = _method(fn)

    @functools.wraps(fn)
    async def wrapper(
        self: Any, request: Req, context: grpc.aio.ServicerContext[Req, Resp]
    ) -> AsyncIterator[Resp]:
        start = time.perf_counter()
        code = "OK"
        metadata = context.invocation_metadata()
        rid = request_ids.begin(metadata)
        refused = undecodable_error(request) if isinstance(request, Undecodable) else None
        gate: StreamGate | None = getattr(self, "stream_gate", None)
        if refused is None and gate is not None:
            try:
                gate.enter()
            except GatewayError as full:
                refused = full
        if refused is not None:
            metrics.rpc_done(method, refused.code.name, time.perf_counter() - start)
            if ACCESS_LOG["enabled"]:
                _log_access(rpc, request, start, refused.code.name)
            await abort(context, refused)
        with tracing.rpc_span(method, metadata) as span:
            try:
                last_usage: Any = None
                async for item in fn(self, request, context):
                    if reply_usage(item) is not None:
                        last_usage = item
                    yield item
                context.set_trailing_metadata(((request_ids.HEADER, rid), *_account(last_usage)))
            except (asyncio.CancelledError, grpc.aio.AbortError):
                code = "CANCELLED"
                raise
            except Exception as exc:
                err = to_gateway_error(exc, rpc)
                code = err.code.name
                await abort(context, err)
            finally:
                if gate is not None:
                    gate.leave()
                metrics.rpc_done(method, code, time.perf_counter() - start)
                tracing.rpc_status(span, code)
                if ACCESS_LOG["enabled"]:
                    _log_access(rpc, request, start, code)

    rejects_undecodable(wrapper)
    return wrapper
