"""The synchronous client's interceptor: default deadline and metadata on every call, retry of
UNAVAILABLE (unary calls, and streams until their first message), and failures raised as
`vertex_gateway.errors` exceptions.

Working as an interceptor keeps the generated, typed stubs as the API: every RPC of every
service gets the same behaviour without a hand-written wrapper per method.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

import grpc
from vertex_gateway import _retry
from vertex_gateway._channel import CallDefaults
from vertex_gateway.errors import from_rpc_error

if TYPE_CHECKING:
    _UnaryUnary = grpc.UnaryUnaryClientInterceptor[Any, Any]
    _UnaryStream = grpc.UnaryStreamClientInterceptor[Any, Any]
    _StreamUnary = grpc.StreamUnaryClientInterceptor[Any, Any]
    _Outcome = grpc.CallFuture[Any]
    _Stream = grpc.CallIterator[Any]
else:
    _UnaryUnary = grpc.UnaryUnaryClientInterceptor
    _UnaryStream = grpc.UnaryStreamClientInterceptor
    _StreamUnary = grpc.StreamUnaryClientInterceptor


class _CallDetails(
    collections.namedtuple(
        "_CallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    """Call details with this client's deadline and metadata filled in."""


class Interceptor(_UnaryUnary, _UnaryStream, _StreamUnary):
    """Applies `CallDefaults` to every call of a synchronous channel."""

    def __init__(self, defaults: CallDefaults) -> None:
        self._defaults = defaults

    def _deadline(self, details: grpc.ClientCallDetails) -> float | None:
        timeout = details.timeout if details.timeout is not None else self._defaults.timeout
        return _retry.deadline_for(timeout)

    def _details(self, details: grpc.ClientCallDetails, deadline: float | None) -> _CallDetails:
        return _CallDetails(
            details.method,
            _retry.time_left(deadline),
            self._defaults.merged_metadata(details.metadata),
            details.credentials,
            details.wait_for_ready,
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.ClientCallDetails, Any], _Outcome],
        client_call_details: grpc.ClientCallDetails,
        request: Any,
    ) -> _Outcome:
        """Calls until success, a failure that is not retried, or the attempts run out."""
        deadline = self._deadline(client_call_details)
        attempt = 1
        while True:
            outcome = continuation(self._details(client_call_details, deadline), request)
            failure = outcome.exception()
            if failure is None or not isinstance(failure, grpc.Call):
                return outcome
            error = from_rpc_error(failure)
            delay = _retry.retry_delay(self._defaults.retry, attempt, error, deadline)
            if delay is None:
                raise error from failure
            _retry.sleep(delay)
            attempt += 1

    def intercept_unary_stream(
        self,
        continuation: Callable[[grpc.ClientCallDetails, Any], _Stream],
        client_call_details: grpc.ClientCallDetails,
        request: Any,
    ) -> _Stream:
        """A response iterator that restarts the call on UNAVAILABLE before its first message."""
        deadline = self._deadline(client_call_details)

        def start() -> _Stream:
            return continuation(self._details(client_call_details, deadline), request)

        return cast("_Stream", RetryingStream(start, self._defaults, deadline))

    def intercept_stream_unary(
        self,
        continuation: Callable[[grpc.ClientCallDetails, Any], _Outcome],
        client_call_details: grpc.ClientCallDetails,
        request_iterator: Iterator[Any],
    ) -> _Outcome:
        """One attempt only: the request stream has been consumed and cannot be replayed."""
        deadline = self._deadline(client_call_details)
        outcome = continuation(self._details(client_call_details, deadline), request_iterator)
        failure = outcome.exception()
        if failure is not None and isinstance(failure, grpc.Call):
            raise from_rpc_error(failure) from failure
        return outcome


class RetryingStream(grpc.Call, Iterator[Any]):
    """The messages of a server-streaming call, as an iterator that is also the `grpc.Call`.

    Once a message has arrived the call is never retried: the caller has seen part of a reply,
    and a second attempt would produce a different one.
    """

    def __init__(
        self, start: Callable[[], _Stream], defaults: CallDefaults, deadline: float | None
    ) -> None:
        self._start = start
        self._defaults = defaults
        self._deadline = deadline
        self._call = start()
        self._attempt = 1
        self._received = False

    def __iter__(self) -> RetryingStream:
        return self

    def __next__(self) -> Any:
        while True:
            try:
                message = next(cast("Iterator[Any]", self._call))
            except grpc.RpcError as failure:
                if not isinstance(failure, grpc.Call):
                    raise
                error = from_rpc_error(failure)
                delay = None
                if not self._received:
                    delay = _retry.retry_delay(
                        self._defaults.retry, self._attempt, error, self._deadline
                    )
                if delay is None:
                    raise error from failure
                _retry.sleep(delay)
                self._attempt += 1
                self._call = self._start()
                continue
            self._received = True
            return message

    def initial_metadata(self) -> Any:
        """The current attempt's initial metadata."""
        return self._call.initial_metadata()

    def trailing_metadata(self) -> Any:
        """The current attempt's trailing metadata."""
        return self._call.trailing_metadata()

    def code(self) -> grpc.StatusCode:
        """The current attempt's status code."""
        return self._call.code()

    def details(self) -> str:
        """The current attempt's status message."""
        return self._call.details()

    def is_active(self) -> bool:
        """Whether the current attempt is still running."""
        return self._call.is_active()

    # grpc returns None without a deadline; its type stubs say float.
    def time_remaining(self) -> float | None:  # type: ignore[override]
        """Seconds left before the deadline (None without one)."""
        return _retry.time_left(self._deadline)

    def cancel(self) -> bool:
        """Cancels the current attempt (iteration then raises `CallCancelledError`)."""
        return bool(self._call.cancel())  # type: ignore[no-untyped-call]

    def add_callback(self, callback: Callable[[], None]) -> bool:
        """Registers a callback for when the current attempt ends."""
        return self._call.add_callback(callback)
