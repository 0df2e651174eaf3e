"""RFC 3339 parsing agrees with protobuf's own parser on every form, fast path or not."""

import pytest
from google.protobuf import timestamp_pb2
from vertex_gateway.v1 import chat_pb2

from server.translate.timestamps import set_timestamp, timestamp

CASES = [
    "2026-11-21T10:00:00.000000Z",
    "2026-11-21T10:00:00Z",
    "1970-01-01T00:00:00Z",
    "2024-02-29T23:59:59.123456789Z",
    "2024-02-29T23:59:59.1+05:30",
    "2024-03-01T00:00:00-08:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999Z",
    "2023-02-29T00:00:00Z",
    "2024-13-01T00:00:00Z",
    "2024-01-01T24:00:00Z",
    "2024-01-01t00:00:00z",
    "2024-01-01T00:00:00.Z",
    "2024-01-01 00:00:00Z",
    "not a time",
]


@pytest.mark.parametrize("text", CASES)
def test_same_result_as_protobuf(text: str) -> None:
    expected = timestamp_pb2.Timestamp()
    try:
        expected.FromJsonString(text)
    except ValueError:
        assert timestamp(text) is None
    else:
        assert timestamp(text) == expected


@pytest.mark.parametrize("value", [None, "", 17, ["2024-01-01T00:00:00Z"]])
def test_missing_or_wrong_type_is_none(value: object) -> None:
    assert timestamp(value) is None


@pytest.mark.parametrize("text", [*CASES, None, "", 17])
def test_set_in_place_matches_timestamp(text: object) -> None:
    reply = chat_pb2.ChatResponse()
    set_timestamp(reply.create_time, text)
    expected = timestamp(text)
    if expected is None:
        assert not reply.HasField("create_time")
    else:
        assert reply.create_time == expected
