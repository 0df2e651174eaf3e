"""Python client of vertex-gateway: the generated stubs (`vertex_gateway.v1`) and a small
client, synchronous (`VertexGateway`) and asyncio (`AsyncVertexGateway`), with deadlines,
metadata, retry of UNAVAILABLE and exceptions keyed by gRPC code and `ErrorInfo` reason."""

from vertex_gateway._channel import VERSION as __version__
from vertex_gateway._retry import NO_RETRY, RetryPolicy
from vertex_gateway.client import AsyncVertexGateway, VertexGateway, chat_request, reply_text
from vertex_gateway.errors import (
    AbortedError,
    AlreadyExistsError,
    CallCancelledError,
    DataLossError,
    DeadlineExceededError,
    FailedPreconditionError,
    FieldViolation,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    OutOfRangeError,
    PermissionDeniedError,
    QuotaViolation,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
    UnknownError,
    VertexGatewayError,
)

__all__ = [
    "NO_RETRY",
    "AbortedError",
    "AlreadyExistsError",
    "AsyncVertexGateway",
    "CallCancelledError",
    "DataLossError",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "FieldViolation",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "OutOfRangeError",
    "PermissionDeniedError",
    "QuotaViolation",
    "ResourceExhaustedError",
    "RetryPolicy",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "UnknownError",
    "VertexGateway",
    "VertexGatewayError",
    "__version__",
    "chat_request",
    "reply_text",
]
