"""Vertex error bodies (Google's error model, also array-wrapped) parsed into plain data.

The canonical code is taken from `error.status` when present, else from the HTTP status per
google/rpc/code.proto. Nothing here depends on gRPC: the server turns a VertexError into a gRPC
status at its own boundary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# HTTP status -> canonical code name (google/rpc/code.proto's HTTP mapping, reversed).
_HTTP_TO_CODE = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    412: "FAILED_PRECONDITION",
    416: "OUT_OF_RANGE",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
    529: "UNAVAILABLE",  # Anthropic "overloaded" passed through by Vertex
}
CANONICAL_CODES = frozenset(
    {
        "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED",
    }
)  # fmt: skip
_MAX_MESSAGE = 2000
# Anthropic error types (passed through by Vertex for Claude) and OpenAI-style error types (the
# OpenAI-compatible endpoint), used when neither a Google status nor an HTTP status is known,
# e.g. for an error event inside a stream.
_ERROR_TYPE_TO_CODE = {
    "invalid_request_error": "INVALID_ARGUMENT",
    "request_too_large": "INVALID_ARGUMENT",
    "authentication_error": "UNAUTHENTICATED",
    "permission_error": "PERMISSION_DENIED",
    "not_found_error": "NOT_FOUND",
    "rate_limit_error": "RESOURCE_EXHAUSTED",
    "api_error": "INTERNAL",
    "server_error": "INTERNAL",
    "overloaded_error": "UNAVAILABLE",
    "timeout_error": "DEADLINE_EXCEEDED",
    "billing_error": "FAILED_PRECONDITION",
}


@dataclass(eq=False)  # not frozen: exceptions get __traceback__ assigned
class VertexError(Exception):
    """An error answered by Vertex (or a failure to reach it), as plain data."""

    code: str  # canonical code name, never "UNKNOWN" or "OK"
    message: str
    reason: str  # gateway reason, e.g. UPSTREAM_RATE_LIMITED
    http_status: int | None = None
    upstream_reason: str | None = None
    upstream_domain: str | None = None
    retry_delay_seconds: float | None = None
    field_violations: tuple[tuple[str, str], ...] = field(default=())
    # How many times the gateway called Vertex for this (retries included).
    attempts: int = 1

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def code_for_http(status: int) -> str:
    """Canonical code for an HTTP status without a usable body."""
    if status in _HTTP_TO_CODE:
        return _HTTP_TO_CODE[status]
    if 400 <= status < 500:
        return "FAILED_PRECONDITION"
    return "INTERNAL" if status < 600 else "UNAVAILABLE"


def reason_for_code(code: str) -> str:
    """The gateway's stable ErrorInfo reason for an upstream error of this code."""
    return {
        "RESOURCE_EXHAUSTED": "UPSTREAM_RATE_LIMITED",
        "UNAVAILABLE": "UPSTREAM_UNAVAILABLE",
        "DEADLINE_EXCEEDED": "UPSTREAM_DEADLINE_EXCEEDED",
        "UNAUTHENTICATED": "UPSTREAM_UNAUTHENTICATED",
        "PERMISSION_DENIED": "UPSTREAM_PERMISSION_DENIED",
        "NOT_FOUND": "UPSTREAM_NOT_FOUND",
        "INVALID_ARGUMENT": "UPSTREAM_INVALID_ARGUMENT",
        "FAILED_PRECONDITION": "UPSTREAM_FAILED_PRECONDITION",
        "INTERNAL": "UPSTREAM_INTERNAL",
    }.get(code, f"UPSTREAM_{code}")


def parse_duration(text: Any) -> float | None:
    """Seconds in a protobuf JSON duration such as "2s" or "0.5s"; None if unparsable."""
    if isinstance(text, str) and text.endswith("s"):
        try:
            return max(0.0, float(text[:-1]))
        except ValueError:
            return None
    return None


def from_error_object(payload: Any, http_status: int | None) -> VertexError | None:
    """Parse `{"error": {...}}` or `[{"error": {...}}]` (already decoded JSON); None if not one."""
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]
    if not isinstance(payload, dict) or not isinstance(payload.get("error"), dict | str):
        return None
    err = payload["error"]
    if isinstance(err, str):  # OAuth-style {"error": "invalid_grant", "error_description": ...}
        err = {"message": f"{err}: {payload.get('error_description', '')}".rstrip(": ")}
    status_name = err.get("status")
    if isinstance(status_name, str) and status_name in CANONICAL_CODES and status_name != "UNKNOWN":
        code = status_name
    elif http_status is not None:
        code = code_for_http(http_status)
    elif err.get("type") in _ERROR_TYPE_TO_CODE:
        code = _ERROR_TYPE_TO_CODE[err["type"]]
    elif isinstance(err.get("code"), int):
        code = code_for_http(err["code"])
    else:
        code = "INTERNAL"
    # Anthropic bodies passed through by Vertex: {"type": "error", "error": {"type": ..., ...}}
    upstream_reason = err.get("type") if isinstance(err.get("type"), str) else None
    upstream_domain = None
    retry: float | None = None
    violations: list[tuple[str, str]] = []
    for detail in err.get("details") or []:
        if not isinstance(detail, dict):
            continue
        kind = str(detail.get("@type", ""))
        if kind.endswith("google.rpc.ErrorInfo"):
            upstream_reason = str(detail.get("reason") or "") or upstream_reason
            upstream_domain = str(detail.get("domain") or "") or None
        elif kind.endswith("google.rpc.RetryInfo"):
            retry = parse_duration(detail.get("retryDelay"))
        elif kind.endswith("google.rpc.BadRequest"):
            for v in detail.get("fieldViolations") or []:
                if isinstance(v, dict):
                    violations.append((str(v.get("field", "")), str(v.get("description", ""))))
    message = str(err.get("message") or f"Vertex AI returned HTTP {http_status}")
    return VertexError(
        code=code,
        message=message[:_MAX_MESSAGE],
        reason=reason_for_code(code),
        http_status=http_status,
        upstream_reason=upstream_reason,
        upstream_domain=upstream_domain,
        retry_delay_seconds=retry,
        field_violations=tuple(violations),
    )


def from_http_error(http_status: int, body: bytes) -> VertexError:
    """The error for a non-2xx Vertex reply, whatever its body holds."""
    try:
        parsed = from_error_object(json.loads(body), http_status)
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if parsed is not None:
        return parsed
    code = code_for_http(http_status)
    snippet = body[:200].decode("utf-8", "replace").strip()
    message = f"Vertex AI returned HTTP {http_status}" + (f": {snippet}" if snippet else "")
    return VertexError(code, message, reason_for_code(code), http_status=http_status)


def malformed(what: str) -> VertexError:
    """An upstream reply the gateway could not parse."""
    return VertexError(
        "UNAVAILABLE", f"Vertex AI sent a malformed response: {what}", "UPSTREAM_MALFORMED_RESPONSE"
    )
