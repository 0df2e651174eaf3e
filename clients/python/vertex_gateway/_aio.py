"""The asyncio client's interceptors: default deadline and metadata on every call, retry of
UNAVAILABLE (unary calls, and streams until their first message), and failures raised as
`vertex_gateway.errors` exceptions.

grpc.aio files an interceptor under one kind of call only, hence one class per kind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any, cast

import grpc
import grpc.aio
from vertex_gateway import _retry
from vertex_gateway._channel import CallDefaults
from vertex_gateway.errors import from_rpc_error

if TYPE_CHECKING:
    _UnaryUnaryBase = grpc.aio.UnaryUnaryClientInterceptor[Any, Any]
    _UnaryStreamBase = grpc.aio.UnaryStreamClientInterceptor[Any, Any]
    _StreamUnaryBase = grpc.aio.StreamUnaryClientInterceptor[Any, Any]
    _UnaryUnaryCall = grpc.aio.UnaryUnaryCall[Any, Any]
    _UnaryStreamCall = grpc.aio.UnaryStreamCall[Any, Any]
    _StreamUnaryCall = grpc.aio.StreamUnaryCall[Any, Any]
else:
    _UnaryUnaryBase = grpc.aio.UnaryUnaryClientInterceptor
    _UnaryStreamBase = grpc.aio.UnaryStreamClientInterceptor
    _StreamUnaryBase = grpc.aio.StreamUnaryClientInterceptor
    _UnaryUnaryCall = grpc.aio.UnaryUnaryCall
    _UnaryStreamCall = grpc.aio.UnaryStreamCall
    _StreamUnaryCall = grpc.aio.StreamUnaryCall

# grpc.aio's continuation is a coroutine function; the type stubs say otherwise.
_Continuation = Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]]


class _Defaults:
    def __init__(self, defaults: CallDefaults) -> None:
        self._defaults = defaults

    def _deadline(self, details: grpc.aio.ClientCallDetails) -> float | None:
        timeout = details.timeout if details.timeout is not None else self._defaults.timeout
        return _retry.deadline_for(timeout)

    def _details(
        self, details: grpc.aio.ClientCallDetails, deadline: float | None
    ) -> grpc.aio.ClientCallDetails:
        return grpc.aio.ClientCallDetails(
            details.method,
            _retry.time_left(deadline),
            grpc.aio.Metadata(*self._defaults.merged_metadata(cast("Any", details.metadata))),
            details.credentials,
            details.wait_for_ready,
        )


class UnaryUnaryInterceptor(_Defaults, _UnaryUnaryBase):
    """Retries UNAVAILABLE unary calls and raises failures as `VertexGatewayError`s."""

    async def intercept_unary_unary(
        self,
        continuation: Any,
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        """Calls until success, a failure that is not retried, or the attempts run out; returns
        the successful call, so its metadata stays readable."""
        proceed = cast("_Continuation", continuation)
        deadline = self._deadline(client_call_details)
        attempt = 1
        while True:
            call = await proceed(self._details(client_call_details, deadline), request)
            try:
                await call
            except grpc.aio.AioRpcError as failure:
                error = from_rpc_error(failure)
                delay = _retry.retry_delay(self._defaults.retry, attempt, error, deadline)
                if delay is None:
                    raise error from failure
                await _retry.async_sleep(delay)
                attempt += 1
                continue
            return call


class UnaryStreamInterceptor(_Defaults, _UnaryStreamBase):
    """Streams that restart on UNAVAILABLE before their first message."""

    async def intercept_unary_stream(
        self,
        continuation: Any,
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        """The call, wrapped so iterating it retries and raises `VertexGatewayError`s."""
        proceed = cast("_Continuation", continuation)
        deadline = self._deadline(client_call_details)

        async def start() -> _UnaryStreamCall:
            return cast(
                "_UnaryStreamCall",
                await proceed(self._details(client_call_details, deadline), request),
            )

        return RetryingStream(start, await start(), self._defaults, deadline)


class StreamUnaryInterceptor(_Defaults, _StreamUnaryBase):
    """Client-streaming calls: defaults and exceptions, one attempt (the requests are consumed)."""

    async def intercept_stream_unary(
        self,
        continuation: Any,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        """The call, wrapped so awaiting it raises `VertexGatewayError`s."""
        proceed = cast("_Continuation", continuation)
        deadline = self._deadline(client_call_details)
        call = await proceed(self._details(client_call_details, deadline), request_iterator)
        return TranslatedStreamUnaryCall(cast("_StreamUnaryCall", call))


class _Forwarding:
    """The `grpc.aio.Call` methods a wrapper answers from the call it wraps (for a retried
    stream: from its current attempt)."""

    _call: grpc.aio.Call

    def cancelled(self) -> bool:
        """Whether the call was cancelled."""
        return self._call.cancelled()

    def done(self) -> bool:
        """Whether the call has ended."""
        return self._call.done()

    def cancel(self) -> bool:
        """Cancels the call."""
        return self._call.cancel()

    def add_done_callback(self, callback: Any) -> None:
        """Registers a callback for when the call ends."""
        self._call.add_done_callback(callback)

    async def initial_metadata(self) -> Any:
        """The call's initial metadata."""
        return await self._call.initial_metadata()

    async def trailing_metadata(self) -> Any:
        """The call's trailing metadata."""
        return await self._call.trailing_metadata()

    async def code(self) -> grpc.StatusCode:
        """The call's status code."""
        return await self._call.code()

    async def details(self) -> str:
        """The call's status message."""
        return await self._call.details()

    async def wait_for_connection(self) -> None:
        """Waits until the call is connected."""
        await self._call.wait_for_connection()


class RetryingStream(_Forwarding, _UnaryStreamCall):
    """A server-streaming call that restarts on UNAVAILABLE until its first message arrives,
    never after (the caller has seen part of a reply), and raises `VertexGatewayError`s."""

    _call: _UnaryStreamCall

    def __init__(
        self,
        start: Callable[[], Awaitable[_UnaryStreamCall]],
        first: _UnaryStreamCall,
        defaults: CallDefaults,
        deadline: float | None,
    ) -> None:
        self._start = start
        self._call = first
        self._defaults = defaults
        self._deadline = deadline
        self._messages: AsyncIterator[Any] | None = None

    async def _iterate(self) -> AsyncIterator[Any]:
        attempt = 1
        received = False
        while True:
            try:
                async for message in self._call:
                    received = True
                    yield message
                return
            except grpc.aio.AioRpcError as failure:
                error = from_rpc_error(failure)
                delay = None
                if not received:
                    delay = _retry.retry_delay(self._defaults.retry, attempt, error, self._deadline)
                if delay is None:
                    raise error from failure
            await _retry.async_sleep(delay)
            attempt += 1
            self._call = await self._start()

    def __aiter__(self) -> AsyncIterator[Any]:
        if self._messages is None:
            self._messages = self._iterate()
        return self._messages

    async def read(self) -> Any:
        """The next message, or `grpc.aio.EOF` after the last."""
        try:
            return await self.__aiter__().__anext__()
        except StopAsyncIteration:
            return grpc.aio.EOF  # type: ignore[attr-defined]  # missing from the type stubs

    def time_remaining(self) -> float | None:
        """Seconds left before the deadline."""
        return _retry.time_left(self._deadline)


class TranslatedStreamUnaryCall(_Forwarding, _StreamUnaryCall):
    """A client-streaming call whose failure is raised as a `VertexGatewayError`."""

    _call: _StreamUnaryCall

    def __init__(self, call: _StreamUnaryCall) -> None:
        self._call = call

    def __await__(self) -> Generator[Any, None, Any]:
        try:
            return (yield from self._call.__await__())
        except grpc.aio.AioRpcError as failure:
            raise from_rpc_error(failure) from failure

    @property
    def _done_writing_flag(self) -> bool:
        # grpc.aio's intercepted write() reads this private flag from the call an interceptor
        # returns; forwarding it keeps `await call.write(...)` working through this wrapper.
        return bool(getattr(self._call, "_done_writing_flag", False))

    async def write(self, request: Any) -> None:
        """Sends one request message."""
        await self._call.write(request)

    async def done_writing(self) -> None:
        """Half-closes the request stream."""
        await self._call.done_writing()

    def time_remaining(self) -> float | None:
        """Seconds left before the deadline."""
        return self._call.time_remaining()
