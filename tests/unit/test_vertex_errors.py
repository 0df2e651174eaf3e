"""Vertex error bodies -> canonical codes and details."""

import json

import pytest

from server.vertex.errors import from_http_error

RATE_LIMIT = {
    "error": {
        "code": 429,
        "status": "RESOURCE_EXHAUSTED",
        "message": "Resource exhausted. Please try again later.",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "aiplatform.googleapis.com"},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"},
        ],
    }
}  # fmt: skip


def test_status_field_wins_and_details_are_read() -> None:
    err = from_http_error(429, json.dumps(RATE_LIMIT).encode())
    assert err.code == "RESOURCE_EXHAUSTED"
    assert err.reason == "UPSTREAM_RATE_LIMITED"
    assert err.upstream_reason == "RATE_LIMIT_EXCEEDED"
    assert err.retry_delay_seconds == 2.5
    assert "Resource exhausted" in err.message


def test_array_wrapped_error() -> None:
    err = from_http_error(429, json.dumps([RATE_LIMIT]).encode())
    assert err.code == "RESOURCE_EXHAUSTED"
    assert err.retry_delay_seconds == 2.5


def test_status_beats_http_code() -> None:
    body = {"error": {"code": 400, "status": "FAILED_PRECONDITION", "message": "not allowed"}}
    assert from_http_error(400, json.dumps(body).encode()).code == "FAILED_PRECONDITION"


def test_bad_request_field_violations() -> None:
    body = {
        "error": {
            "code": 400,
            "status": "INVALID_ARGUMENT",
            "message": "Invalid JSON payload",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": "contents", "description": "bad"}]}
            ],
        }
    }  # fmt: skip
    err = from_http_error(400, json.dumps(body).encode())
    assert err.field_violations == (("contents", "bad"),)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "INVALID_ARGUMENT"), (401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED"),
        (404, "NOT_FOUND"), (408, "DEADLINE_EXCEEDED"), (409, "ABORTED"), (418, "FAILED_PRECONDITION"),
        (429, "RESOURCE_EXHAUSTED"), (500, "INTERNAL"), (502, "UNAVAILABLE"), (503, "UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"), (529, "UNAVAILABLE"), (599, "INTERNAL"),
    ],
)  # fmt: skip
def test_http_status_without_body(status: int, code: str) -> None:
    err = from_http_error(status, b"<html>oops</html>")
    assert err.code == code
    assert "UNKNOWN" not in err.code
    assert err.message.startswith(f"Vertex AI returned HTTP {status}")


def test_anthropic_style_body() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    err = from_http_error(529, json.dumps(body).encode())
    assert err.code == "UNAVAILABLE"
    assert err.upstream_reason == "overloaded_error"
