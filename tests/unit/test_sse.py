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


def test_the_first_event_comes_before_the_rest_is_read() -> None:
    decoder = SseDecoder(max_event_bytes=100)
    events = decoder.events(b"data: first\n\ndata: " + b"x" * 200 + b"\n\n")
    assert next(events).data == "first"  # found before the oversized event after it
    with pytest.raises(SseTooLarge):
        next(events)


def test_an_iterator_left_unfinished_loses_nothing() -> None:
    body = b"".join(b"data: %d\r\n\r\n: ping\ndata: x\ndata: %d\n\n" % (i, i) for i in range(20))
    expected = decode([body])
    for split in range(0, len(body), 7):
        for taken in range(3):  # a consumer that takes `taken` events, then leaves the iterator
            decoder = SseDecoder(max_event_bytes=1024)
            first = decoder.events(body[:split])
            got = [event for _, event in zip(range(taken), first, strict=False)]
            got += decoder.feed(body[split:]) + decoder.close()
            assert [(e.data, e.raw) for e in got] == expected, (split, taken)
