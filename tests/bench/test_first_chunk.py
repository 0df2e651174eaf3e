"""The benchmark's HTTP/2 first-chunk probe, against grpc's own HTTP/2 server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest

from bench.perf.first_chunk import (
    H2Probe,
    _integer,
    alternate,
    grpc_message_complete,
    header_block,
    post_head,
    sse_event_complete,
)
from bench.perf.load import grpc_frame


def test_hpack_integers_follow_rfc_7541_c1() -> None:
    assert _integer(10, 5) == b"\x0a"
    assert _integer(1337, 5) == b"\x1f\x9a\x0a"
    assert _integer(42, 8) == b"\x2a"
    assert _integer(127, 7) == b"\x7f\x00"


def test_headers_are_literals_without_indexing() -> None:
    assert header_block([("custom-key", "custom-header")]) == (
        b"\x00\x0acustom-key\x0dcustom-header"
    )
    long_value = "x" * 200
    assert header_block([("a", long_value)]) == b"\x00\x01a\x7f\x49" + long_value.encode()


def test_chunk_checks_need_a_whole_first_message() -> None:
    grpc_check = grpc_message_complete(b"chunk 000")
    message = grpc_frame(b"..chunk 000..")
    assert not grpc_check(message[:4])
    assert not grpc_check(message[:-1])
    assert grpc_check(message + b"\x00\x00")
    assert not grpc_check(grpc_frame(b"chunk 001"))
    sse_check = sse_event_complete(b"chunk 000")
    assert not sse_check(b'data: {"text": "chunk 000"}\n')
    assert sse_check(b'data: {"text": "chunk 000"}\n\ndata: more')
    assert not sse_check(b'data: {"text": "chunk 001"}\n\n')


async def _chunks(request: bytes, context: Any) -> AsyncIterator[bytes]:
    for i in range(100):
        yield f"chunk {i:03d} ".encode() + request
        await asyncio.sleep(0)


def _handler() -> grpc.GenericRpcHandler:  # type: ignore[type-arg]
    return grpc.method_handlers_generic_handler(
        "probe.Test", {"Stream": grpc.unary_stream_rpc_method_handler(_chunks)}
    )


async def test_probe_times_first_chunks_and_fails_on_an_error() -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_handler(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        a = await H2Probe.connect("127.0.0.1", port)
        b = await H2Probe.connect("127.0.0.1", port)
        head = post_head("/probe.Test/Stream", port, "application/grpc")
        through, straight = await alternate(
            (a, head, grpc_frame(b"hi"), grpc_message_complete(b"chunk 000 hi")),
            (b, head, grpc_frame(b"ho"), grpc_message_complete(b"chunk 000 ho")),
            20,
        )
        assert len(through) == len(straight) == 20
        assert all(ms > 0 for ms in through + straight)
        # An unknown method ends in trailers only: no chunk, and the probe says so.
        with pytest.raises(RuntimeError, match="without a complete first chunk"):
            await a.first_chunk(
                post_head("/probe.Test/Nothing", port, "application/grpc"),
                grpc_frame(b""),
                grpc_message_complete(b"x"),
            )
        # The connection stays usable after cancelled and failed streams.
        assert await a.first_chunk(head, grpc_frame(b""), grpc_message_complete(b"chunk 000")) > 0
        await a.close()
        await b.close()
    finally:
        await server.stop(None)
