"""The gateway's error type and its rendering as a rich gRPC status.

Every error a caller sees is a `google.rpc.Status` with an `ErrorInfo` carrying a stable reason,
plus `BadRequest`, `RetryInfo` or `QuotaFailure` where they apply. Messages never contain stack
traces, credentials or tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "vertex-gateway"


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request: its path and what is wrong with it."""

    field: str
    description: str


class GatewayError(Exception):
    """An error to return to the caller as a gRPC status."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: str,
        *,
        metadata: Mapping[str, str] | None = None,
        field_violations: Sequence[FieldViolation] = (),
        retry_delay_seconds: float | None = None,
        quota_subject: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.field_violations = tuple(field_violations)
        self.retry_delay_seconds = retry_delay_seconds
        self.quota_subject = quota_subject

    def to_status_proto(self) -> status_pb2.Status:
        """The google.rpc.Status with every applicable detail packed.

        The status travels in trailers (its message twice: `grpc-message` and inside
        `grpc-status-details-bin`), and gRPC refuses trailers past 8 KiB with an error of its
        own; so the message and the field violations are kept within a budget, the rest
        summed up in one last violation."""
        message = _clip_header(self.message, _MESSAGE_BUDGET)
        details: list[any_pb2.Any] = []
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=DOMAIN)
        for key, value in self.metadata.items():
            info.metadata[_clip(key, 64)] = _clip(value, _METADATA_VALUE_BUDGET)
        details.append(_pack(info))
        if self.field_violations:
            bad = error_details_pb2.BadRequest()
            spent = 0
            for i, v in enumerate(self.field_violations):
                field, description = _clip(v.field, 200), _clip(v.description, 300)
                spent += len(field.encode()) + len(description.encode()) + 8
                if spent > _VIOLATIONS_BUDGET:
                    left = len(self.field_violations) - i
                    bad.field_violations.add(
                        field="…", description=f"{left} more problems not listed"
                    )
                    break
                bad.field_violations.add(field=field, description=description)
            details.append(_pack(bad))
        if self.retry_delay_seconds is not None:
            delay = duration_pb2.Duration()
            delay.FromNanoseconds(int(self.retry_delay_seconds * 1e9))
            details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
        if self.quota_subject:
            quota = error_details_pb2.QuotaFailure(
                violations=[
                    error_details_pb2.QuotaFailure.Violation(
                        subject=self.quota_subject, description=self.message
                    )
                ]
            )
            details.append(_pack(quota))
        return status_pb2.Status(code=_CODE_NUMBER[self.code], message=message, details=details)

    def to_grpc_status(self) -> grpc.Status:
        """The status as grpcio expects it for `abort_with_status`."""
        return rpc_status.to_status(self.to_status_proto())


# Bytes of the status message (as `grpc-message` sends it, percent-encoded), of the field
# violations and of each ErrorInfo metadata value: together, with the base64 of the status,
# well inside the 8 KiB gRPC allows for trailers.
_MESSAGE_BUDGET = 1000
_VIOLATIONS_BUDGET = 2000
_METADATA_VALUE_BUDGET = 256


def _clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes (whole characters), marked when cut."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


def _clip_header(text: str, limit: int) -> str:
    """`text` cut to what takes at most `limit` bytes in `grpc-message`, where every byte
    outside printable ASCII (and '%') is sent as three."""
    if len(text) * 9 <= limit:  # even all 3-byte characters, encoded, fit
        return text
    cost = 0
    for i, ch in enumerate(text):
        code = ord(ch)
        cost += 1 if 0x20 <= code < 0x7F and ch != "%" else 3 * len(ch.encode())
        if cost > limit - 9:  # room for the ellipsis, encoded
            return text[:i] + "…"
    return text


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


_CODE_NUMBER: dict[grpc.StatusCode, int] = {
    code: code.value[0]  # grpc.StatusCode values are (number, name)
    for code in grpc.StatusCode
}
assert _CODE_NUMBER[grpc.StatusCode.RESOURCE_EXHAUSTED] == code_pb2.RESOURCE_EXHAUSTED


def invalid_argument(
    field: str, description: str, reason: str = "INVALID_ARGUMENT"
) -> GatewayError:
    """An INVALID_ARGUMENT naming the offending field."""
    return GatewayError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"{field}: {description}",
        reason,
        field_violations=[FieldViolation(field, description)],
    )


def invalid_request(violations: Sequence[FieldViolation]) -> GatewayError:
    """INVALID_ARGUMENT listing every problem of a request, each naming its field."""
    shown = "; ".join(f"{v.field}: {v.description}" for v in violations[:10])
    more = f" (and {len(violations) - 10} more)" if len(violations) > 10 else ""
    return GatewayError(
        grpc.StatusCode.INVALID_ARGUMENT,
        shown + more,
        "INVALID_REQUEST",
        field_violations=violations,
    )


def upstream_malformed(what: str) -> GatewayError:
    """UNAVAILABLE for an upstream reply the gateway cannot read ("a malformed {what}")."""
    return GatewayError(
        grpc.StatusCode.UNAVAILABLE,
        f"Vertex AI sent a malformed {what}",
        "UPSTREAM_MALFORMED_RESPONSE",
    )


def unimplemented(what: str, why: str) -> GatewayError:
    """An UNIMPLEMENTED with the reason the feature is not offered."""
    return GatewayError(
        grpc.StatusCode.UNIMPLEMENTED, f"{what} is not supported: {why}", "NOT_SUPPORTED"
    )


def status_code_by_name(name: str) -> grpc.StatusCode | None:
    """The gRPC code for a canonical code name ("RESOURCE_EXHAUSTED"), or None."""
    for code in grpc.StatusCode:
        if code.name == name:
            return code
    return None
