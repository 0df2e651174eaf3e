"""Requests protobuf cannot decode get INVALID_ARGUMENT, not grpc's UNKNOWN.

grpcio calls the request deserializer before any servicer code runs, and turns its exception
(for example upb's nesting limit of 100 levels, reachable with a deep Struct) into UNKNOWN. The
servicers are added to a `MethodTable`, which swaps each method's deserializer for one that
returns an `Undecodable` marker instead of raising, and answers the marker with a clear status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import grpc
import grpc.aio
from google.protobuf.message import DecodeError

from server.errors import GatewayError


class Undecodable:
    """A request the deserializer refused."""

    def __init__(self, why: str) -> None:
        self.why = why


def undecodable_error(marker: Undecodable) -> GatewayError:
    """The INVALID_ARGUMENT a request the deserializer refused gets."""
    return GatewayError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "the request is not a valid message of this RPC's type (or nests more than 100 levels"
        f" deep): {marker.why}",
        "REQUEST_NOT_DECODABLE",
    )


def _safe(deserialize: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def run(data: bytes) -> Any:
        try:
            return deserialize(data)
        except (DecodeError, RuntimeError, ValueError) as exc:
            return Undecodable(type(exc).__name__)

    return run


async def _checked(messages: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for message in messages:
        if isinstance(message, Undecodable):
            raise undecodable_error(message)
        yield message


# Set on a handler that answers an `Undecodable` request itself (the RPC boundary does), so the
# table adds no wrapper of its own: one coroutine less on every call.
_REJECTS = "rejects_undecodable"


def rejects_undecodable(fn: Callable[..., Any]) -> None:
    """Mark `fn` as a handler that answers an `Undecodable` request with `undecodable_error`."""
    setattr(fn, _REJECTS, True)


def _wrap(handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
    deserializer = _safe(handler.request_deserializer) if handler.request_deserializer else None
    serializer = handler.response_serializer

    async def abort(context: grpc.aio.ServicerContext[Any, Any], marker: Undecodable) -> None:
        await context.abort_with_status(undecodable_error(marker).to_grpc_status())  # type: ignore[attr-defined]

    if handler.unary_unary:
        inner_uu: Any = handler.unary_unary
        if getattr(inner_uu, _REJECTS, False):
            return grpc.unary_unary_rpc_method_handler(inner_uu, deserializer, serializer)

        async def unary_unary(request: Any, context: Any) -> Any:
            if isinstance(request, Undecodable):
                await abort(context, request)
            return await inner_uu(request, context)

        return grpc.unary_unary_rpc_method_handler(unary_unary, deserializer, serializer)
    if handler.unary_stream:
        inner_us: Any = handler.unary_stream
        if getattr(inner_us, _REJECTS, False):
            return grpc.unary_stream_rpc_method_handler(inner_us, deserializer, serializer)

        async def unary_stream(request: Any, context: Any) -> AsyncIterator[Any]:
            if isinstance(request, Undecodable):
                await abort(context, request)
            async for item in inner_us(request, context):
                yield item

        return grpc.unary_stream_rpc_method_handler(unary_stream, deserializer, serializer)
    if handler.stream_unary:
        inner_su: Any = handler.stream_unary

        async def stream_unary(requests: Any, context: Any) -> Any:
            return await inner_su(_checked(requests), context)

        return grpc.stream_unary_rpc_method_handler(stream_unary, deserializer, serializer)
    inner_ss: Any = handler.stream_stream

    async def stream_stream(requests: Any, context: Any) -> AsyncIterator[Any]:
        async for item in inner_ss(_checked(requests), context):
            yield item

    return grpc.stream_stream_rpc_method_handler(stream_stream, deserializer, serializer)


class _Capture:
    """Stands in for the server while a generated `add_*_to_server` registers its handlers."""

    def __init__(self) -> None:
        self.services: dict[str, Mapping[str, grpc.RpcMethodHandler[Any, Any]]] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        """The same handlers arrive through `add_registered_method_handlers`."""

    def add_registered_method_handlers(
        self, service: str, handlers: Mapping[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        """Keep the service's method handlers."""
        self.services[service] = handlers


class MethodTable(grpc.GenericRpcHandler):  # type: ignore[type-arg]
    """Every method the gateway serves, in one generic handler, each with safe decoding.

    Why one generic handler and no registered methods: grpc's aio server keeps one pending
    request-call future per registered method and passes all of them to `asyncio.wait` for
    every incoming call, which walks each future (about 30 here) on the serving thread. Left
    unregistered, every call arrives on a single future and is looked up here in one dict.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def add(self, add: Callable[[Any, Any], None], servicer: Any) -> None:
        """`add(servicer, ...)`, a generated `add_*_to_server`, into the table."""
        capture = _Capture()
        add(servicer, capture)
        if not capture.services:
            raise RuntimeError(f"{add.__name__} registered no service")
        for service, handlers in capture.services.items():
            for name, handler in handlers.items():
                self._handlers[f"/{service}/{name}"] = _wrap(handler)

    def methods(self) -> list[str]:
        """Every method's full path (`/package.Service/Method`)."""
        return list(self._handlers)

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        """The handler of the called method, or None (grpc answers UNIMPLEMENTED)."""
        return self._handlers.get(handler_call_details.method)
