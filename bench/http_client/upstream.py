"""Fake Vertex upstream: a minimal asyncio HTTP/1.1 keep-alive server with canned replies.

Any request whose target contains ``stream`` gets the SSE body (``text/event-stream``, one
HTTP chunk per event, as Vertex sends it over HTTP/1.1); any other gets the unary JSON reply.
Request bodies are read (by Content-Length) and discarded. ``GET /_stats`` answers with the
connections accepted so far and the server's CPU seconds. It prints ``PORT <n>`` when ready.

By default every reply is written at once. ``--delay-ms`` holds each unary reply that long
(model latency) and ``--event-gap-ms`` writes the SSE events that far apart (token pacing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import ssl
import time

from payloads import stream_events, unary_reply

_UNARY = unary_reply()
UNARY_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=UTF-8\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(_UNARY), _UNARY)
)
STREAM_PARTS = [  # status line and headers, one HTTP chunk per event, the last chunk
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    b"Content-Disposition: attachment\r\nTransfer-Encoding: chunked\r\n\r\n",
    *(b"%x\r\n%s\r\n" % (len(e), e) for e in stream_events()),
    b"0\r\n\r\n",
]
STREAM_RESPONSE = b"".join(STREAM_PARTS)


class _Conn(asyncio.Protocol):
    opened = 0  # connections accepted so far: shows whether clients reuse them
    delay_s = 0.0
    event_gap_s = 0.0

    def __init__(self) -> None:
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        _Conn.opened += 1

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end_head := self.buf.find(b"\r\n\r\n")) >= 0:
            head = bytes(self.buf[:end_head]).lower()
            length = 0
            if (at := head.find(b"\ncontent-length:")) >= 0:
                eol = head.find(b"\r", at + 1)
                length = int(head[at + 16 : eol if eol >= 0 else None])
            if len(self.buf) < end_head + 4 + length:
                return
            del self.buf[: end_head + 4 + length]
            self._reply(head[: head.find(b"\r")])

    def _reply(self, target: bytes) -> None:
        loop = asyncio.get_running_loop()
        if target.startswith(b"get /_stats"):
            counters = {"connections": _Conn.opened, "cpu_s": time.process_time()}
            stats = json.dumps(counters).encode()
            self._send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(stats), stats))
        elif b"stream" not in target:
            if self.delay_s:
                loop.call_later(self.delay_s, self._send, UNARY_RESPONSE)
            else:
                self._send(UNARY_RESPONSE)
        elif self.event_gap_s:
            for i, part in enumerate(STREAM_PARTS):
                loop.call_later(i * self.event_gap_s, self._send, part)
        else:
            self._send(STREAM_RESPONSE)

    def _send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


async def _serve(port: int, certfile: str | None, keyfile: str | None) -> None:
    ctx = None
    if certfile:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(certfile, keyfile)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Conn, "127.0.0.1", port, ssl=ctx, backlog=1024)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--event-gap-ms", type=float, default=0.0)
    args = parser.parse_args()
    _Conn.delay_s, _Conn.event_gap_s = args.delay_ms / 1000, args.event_gap_ms / 1000
    asyncio.run(_serve(args.port, args.cert, args.key))


if __name__ == "__main__":
    main()
