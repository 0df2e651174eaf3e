"""Time to first chunk with one client for both sides: a minimal HTTP/2 (h2c) client.

The gateway's time to first chunk is compared with the upstream's, and the difference is what
the gateway adds. Measured with different clients (grpc.aio for the gateway, aiohttp for the
upstream), the difference would also hold the clients' own costs: grpc.aio's client hands each
call between its event-engine threads, its poller thread and the event loop, about three thread
wake-ups that aiohttp does not make, and on a host that takes CPU from its guests each wake-up
may wait. So both sides are probed by this client, on one event loop and one thread, over one
keep-alive HTTP/2 connection each, one stream at a time, alternating between the two, so that
a slow spell of the machine falls on both alike. Only the server differs.

A probe sends HEADERS and DATA, reads frames until the stream's data holds a complete first
chunk (checked by the caller: a gRPC message frame, an SSE event), then cancels the stream
(RST_STREAM), as a caller that stops reading would. Responses are never HPACK-decoded: a
failure (a gRPC status in trailers only, an HTTP error page) ends the stream without a chunk
that passes the check, and the probe raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import Callable

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
CANCEL = 0x8
MAX_WINDOW = 2**31 - 1
INITIAL_WINDOW = 65_535
SETTINGS_INITIAL_WINDOW_SIZE = 0x4


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    """One HTTP/2 frame: 9-byte header, then the payload."""
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes((kind, flags))
        + struct.pack(">I", stream)
        + payload
    )


def _integer(value: int, prefix_bits: int) -> bytes:
    """An HPACK integer with a `prefix_bits`-bit prefix (RFC 7541 5.1), first byte's flags 0."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((value,))
    out = bytearray((limit,))
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def header_block(headers: list[tuple[str, str]]) -> bytes:
    """HPACK: each header a literal without indexing, new name, no Huffman (RFC 7541 6.2.2)."""
    out = bytearray()
    for name, value in headers:
        raw_name, raw_value = name.encode(), value.encode()
        out += b"\x00" + _integer(len(raw_name), 7) + raw_name
        out += _integer(len(raw_value), 7) + raw_value
    return bytes(out)


def post_head(path: str, port: int, content_type: str) -> list[tuple[str, str]]:
    """The headers of a POST to `path` on 127.0.0.1:`port` (with `te: trailers` for gRPC)."""
    head = [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", f"127.0.0.1:{port}"),
        ("content-type", content_type),
    ]
    if content_type == "application/grpc":
        head.append(("te", "trailers"))
    return head


class H2Probe:
    """One h2c connection (prior knowledge) that times streams to their first chunk."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._next_stream = 1

    @classmethod
    async def connect(cls, host: str, port: int) -> H2Probe:
        """Open the connection, with windows large enough that no probe waits for one."""
        reader, writer = await asyncio.open_connection(host, port)
        settings = struct.pack(">HI", SETTINGS_INITIAL_WINDOW_SIZE, MAX_WINDOW)
        writer.write(
            PREFACE
            + frame(SETTINGS, 0, 0, settings)
            + frame(0x8, 0, 0, struct.pack(">I", MAX_WINDOW - INITIAL_WINDOW))  # WINDOW_UPDATE
        )
        await writer.drain()
        return cls(reader, writer)

    async def close(self) -> None:
        """Say goodbye and close."""
        self._writer.write(frame(GOAWAY, 0, 0, struct.pack(">II", self._next_stream, 0)))
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()

    async def _frame(self) -> tuple[int, int, int, bytes]:
        head = await self._reader.readexactly(9)
        length = int.from_bytes(head[:3], "big")
        stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        return head[3], head[4], stream, await self._reader.readexactly(length)

    async def first_chunk(
        self,
        headers: list[tuple[str, str]],
        body: bytes,
        complete: Callable[[bytes], bool],
    ) -> float:
        """Milliseconds from sending a request to holding data that `complete` accepts."""
        stream = self._next_stream
        self._next_stream += 2
        block = header_block(headers)
        started = time.perf_counter()
        self._writer.write(
            frame(HEADERS, END_HEADERS, stream, block) + frame(DATA, END_STREAM, stream, body)
        )
        received = b""
        while True:
            kind, flags, on, payload = await self._frame()
            if kind == SETTINGS and not flags & ACK:
                self._writer.write(frame(SETTINGS, ACK, 0))
            elif kind == PING and not flags & ACK:
                self._writer.write(frame(PING, ACK, 0, payload))
            elif kind == GOAWAY:
                raise RuntimeError("the server closed the connection (GOAWAY)")
            elif on != stream:
                continue  # a cancelled stream's late frames, or connection-level frames
            elif kind == DATA:
                padded = flags & 0x8
                received += payload[1 : len(payload) - payload[0]] if padded else payload
                if complete(received):
                    elapsed = (time.perf_counter() - started) * 1000
                    self._writer.write(frame(RST_STREAM, 0, stream, struct.pack(">I", CANCEL)))
                    return elapsed
            if on == stream and (flags & END_STREAM or kind == RST_STREAM):
                raise RuntimeError(
                    f"stream {stream} ended without a complete first chunk: {received[:200]!r}"
                )


def grpc_message_complete(marker: bytes) -> Callable[[bytes], bool]:
    """A check for a complete first gRPC message frame that contains `marker`."""

    def check(data: bytes) -> bool:
        if len(data) < 5:
            return False
        end = 5 + int.from_bytes(data[1:5], "big")
        return len(data) >= end and marker in data[5:end]

    return check


def sse_event_complete(marker: bytes) -> Callable[[bytes], bool]:
    """A check for a complete first SSE event that contains `marker`."""

    def check(data: bytes) -> bool:
        end = data.find(b"\n\n")
        return end >= 0 and marker in data[:end]

    return check


async def alternate(
    gateway: tuple[H2Probe, list[tuple[str, str]], bytes, Callable[[bytes], bool]],
    direct: tuple[H2Probe, list[tuple[str, str]], bytes, Callable[[bytes], bool]],
    samples: int,
) -> tuple[list[float], list[float]]:
    """`samples` first chunks from each side, one stream at a time, the sides alternating."""
    through, straight = [], []
    for _ in range(samples):
        through.append(await gateway[0].first_chunk(*gateway[1:]))
        straight.append(await direct[0].first_chunk(*direct[1:]))
    return through, straight
