"""SSE decoding: line endings, chunk boundaries, multi-line data, raw JSON blocks, size bound."""

import pytest

from server.vertex.sse import SseDecoder, SseTooLarge


def decode(chunks: list[bytes]) -> list[tuple[str, bool]]:
    decoder = SseDecoder(max_event_bytes=1024)
    events = [e for c in chunks for e in decoder.feed(c)] + decoder.close()
    return [(e.data, e.raw) for e in events]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_line_endings(eol: bytes) -> None:
    body = b'data: {"a":1}' + eol + eol + b'data: {"b":2}' + eol + eol
    assert decode([body]) == [('{"a":1}', False), ('{"b":2}', False)]


def test_every_split_point_gives_the_same_events() -> None:
    body = b'data: {"t":"x\xe2\x80\xa8y"}\r\n\r\n: keepalive\r\nevent: e\r\ndata: 2\r\n\r\n'
    expected = decode([body])
    assert expected == [('{"t":"x\u2028y"}', False), ("2", False)]
    for i in range(1, len(body)):
        assert decode([body[:i], body[i:]]) == expected


def test_multi_line_data_joined_with_newline() -> None:
    assert decode([b"data: a\ndata: b\n\n"]) == [("a\nb", False)]


def test_raw_json_block_without_data_prefix() -> None:
    body = b'data: {"x":1}\n\n{\n  "error": {"code": 429}\n}\n'
    assert decode([body]) == [('{"x":1}', False), ('{\n  "error": {"code": 429}\n}', True)]


def test_final_event_without_blank_line() -> None:
    assert decode([b"data: last"]) == [("last", False)]


def test_oversized_event_is_refused() -> None:
    decoder = SseDecoder(max_event_bytes=100)
    with pytest.raises(SseTooLarge):
        decoder.feed(b"data: " + b"x" * 200)
    decoder = SseDecoder(max_event_bytes=100)
    with pytest.raises(SseTooLarge):
        for _ in range(10):
            decoder.feed(b"data: " + b"y" * 20 + b"\n")
