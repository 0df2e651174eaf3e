"""A GatewayError's trailers stay inside gRPC's 8 KiB, whatever text or how many problems it
carries (non-ASCII is percent-encoded in grpc-message: three bytes a byte)."""

from __future__ import annotations

import base64
from urllib.parse import quote

import grpc

from server.errors import FieldViolation, GatewayError, invalid_request


def _trailer_bytes(err: GatewayError) -> int:
    status = err.to_grpc_status()
    total = len(quote(status.details, safe=" !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~"))
    for key, value in status.trailing_metadata:
        total += len(key) + (
            len(base64.b64encode(value)) if isinstance(value, bytes) else len(value)
        )
    return total


def test_huge_non_ascii_messages_violations_and_metadata_fit() -> None:
    emoji = "\U0001f600" * 5000
    errors = [
        invalid_request([FieldViolation(f"examples[{i}].{emoji[:250]}", emoji) for i in range(300)]),
        GatewayError(grpc.StatusCode.NOT_FOUND, "中" * 5000, "MODEL_NOT_FOUND",
                     metadata={"model": "x" * 20000, "other": emoji}),
    ]  # fmt: skip
    for err in errors:
        assert _trailer_bytes(err) < 7000
        status = err.to_status_proto()
        status.SerializeToString()  # valid UTF-8 throughout, or protobuf would refuse
        assert status.message.endswith("…")


def test_a_short_error_is_left_whole() -> None:
    err = invalid_request([FieldViolation("messages", "must contain at least one message")])
    status = err.to_status_proto()
    assert status.message == "messages: must contain at least one message"
