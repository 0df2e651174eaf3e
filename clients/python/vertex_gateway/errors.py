"""Exceptions for failed calls: one class per gRPC status code, each carrying the gateway's
`google.rpc.Status` details (the `ErrorInfo` reason and metadata, `BadRequest` field violations,
`RetryInfo` delay, `QuotaFailure` violations) decoded from `grpc-status-details-bin`.

Every exception is also a `grpc.RpcError` with its `code()`, `details()` and
`trailing_metadata()` methods, so code written against the raw stubs keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request (from `BadRequest`): its path and what is wrong with it."""

    field: str
    description: str


@dataclass(frozen=True)
class QuotaViolation:
    """One exhausted quota (from `QuotaFailure`): whose quota and what was exceeded."""

    subject: str
    description: str


class VertexGatewayError(grpc.RpcError):
    """A call that failed: its status code (`code()`) and message (`message`, `details()`),
    plus the rich details the server sent.

    `reason`, `domain` and `metadata` come from `ErrorInfo` (the gateway sends a stable reason
    on every error, such as `MODEL_NOT_FOUND` or `INVALID_REQUEST`); `reason` and `domain` are
    None when the failure did not come from the gateway (a connection that could not be made, a
    proxy's own error). `retry_delay` is the server's `RetryInfo` delay in seconds. `status` is
    the whole `google.rpc.Status`, for details not unpacked here.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str | None = None,
        domain: str | None = None,
        metadata: dict[str, str] | None = None,
        field_violations: Sequence[FieldViolation] = (),
        quota_violations: Sequence[QuotaViolation] = (),
        retry_delay: float | None = None,
        status: status_pb2.Status | None = None,
        trailing_metadata: Sequence[tuple[str, str | bytes]] = (),
    ) -> None:
        super().__init__(message)
        self._code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata = dict(metadata or {})
        self.field_violations = tuple(field_violations)
        self.quota_violations = tuple(quota_violations)
        self.retry_delay = retry_delay
        self.status = status
        self._trailing_metadata = tuple(trailing_metadata)

    def code(self) -> grpc.StatusCode:
        """The gRPC status code."""
        return self._code

    def details(self) -> str:
        """The status message (gRPC's name for it)."""
        return self.message

    def trailing_metadata(self) -> tuple[Any, ...]:
        """The call's trailing metadata as (key, value) pairs."""
        return self._trailing_metadata

    def __str__(self) -> str:
        reason = f" [{self.reason}]" if self.reason else ""
        return f"{self._code.name}: {self.message}{reason}"


class CallCancelledError(VertexGatewayError):
    """CANCELLED: the call was cancelled, usually by the caller."""


class UnknownError(VertexGatewayError):
    """UNKNOWN: an error with no better code."""


class InvalidArgumentError(VertexGatewayError):
    """INVALID_ARGUMENT: the request is wrong; `field_violations` says where."""


class DeadlineExceededError(VertexGatewayError):
    """DEADLINE_EXCEEDED: the call's deadline passed before it finished."""


class NotFoundError(VertexGatewayError):
    """NOT_FOUND: the model, file or batch does not exist."""


class AlreadyExistsError(VertexGatewayError):
    """ALREADY_EXISTS: what the call would create exists already."""


class PermissionDeniedError(VertexGatewayError):
    """PERMISSION_DENIED: the caller may not do this (a model outside its allow-list, say)."""


class ResourceExhaustedError(VertexGatewayError):
    """RESOURCE_EXHAUSTED: a quota or rate limit; `retry_delay` says when to try again."""


class FailedPreconditionError(VertexGatewayError):
    """FAILED_PRECONDITION: the system is not in a state the call needs."""


class AbortedError(VertexGatewayError):
    """ABORTED: the call was aborted, typically by a concurrency conflict."""


class OutOfRangeError(VertexGatewayError):
    """OUT_OF_RANGE: a value past a valid range (a read offset past the end, say)."""


class UnimplementedError(VertexGatewayError):
    """UNIMPLEMENTED: the feature is not offered; `reason` says why."""


class InternalError(VertexGatewayError):
    """INTERNAL: a fault inside the gateway."""


class UnavailableError(VertexGatewayError):
    """UNAVAILABLE: transient; the client retries it itself before raising."""


class DataLossError(VertexGatewayError):
    """DATA_LOSS: unrecoverable data loss or corruption."""


class UnauthenticatedError(VertexGatewayError):
    """UNAUTHENTICATED: no valid caller key was presented."""


ERRORS_BY_CODE: dict[grpc.StatusCode, type[VertexGatewayError]] = {
    grpc.StatusCode.CANCELLED: CallCancelledError,
    grpc.StatusCode.UNKNOWN: UnknownError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.ABORTED: AbortedError,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRangeError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DATA_LOSS: DataLossError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}


class FailedCall(Protocol):
    """What a failed call offers, sync (`grpc.Call`) or asyncio (`grpc.aio.AioRpcError`)."""

    def code(self) -> grpc.StatusCode: ...

    def details(self) -> str | None: ...

    def trailing_metadata(self) -> Any: ...


def from_rpc_error(call: FailedCall) -> VertexGatewayError:
    """The exception for a failed call, with every detail the server packed into its status."""
    code = call.code()
    message = call.details() or ""
    trailers = tuple((str(k), v) for k, v in call.trailing_metadata() or ())
    try:
        status = rpc_status.from_call(cast(grpc.Call, call))
    except ValueError:
        # The status proto disagrees with the call's code (something between rewrote the
        # status); its details then describe another failure and are not used.
        status = None
    fields: dict[str, Any] = {}
    if status is not None:
        fields = _unpack(status)
    cls = ERRORS_BY_CODE.get(code, UnknownError)
    return cls(code, message, status=status, trailing_metadata=trailers, **fields)


def _unpack(status: status_pb2.Status) -> dict[str, Any]:
    fields: dict[str, Any] = {"field_violations": [], "quota_violations": []}
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            fields.update(reason=info.reason, domain=info.domain, metadata=dict(info.metadata))
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields["field_violations"] += [
                FieldViolation(v.field, v.description) for v in bad.field_violations
            ]
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            fields["retry_delay"] = retry.retry_delay.ToNanoseconds() / 1e9
        elif detail.Is(error_details_pb2.QuotaFailure.DESCRIPTOR):
            quota = error_details_pb2.QuotaFailure()
            detail.Unpack(quota)
            fields["quota_violations"] += [
                QuotaViolation(v.subject, v.description) for v in quota.violations
            ]
    return fields
