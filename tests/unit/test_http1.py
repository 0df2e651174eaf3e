"""The HTTP/1.1 transport against a scripted raw-socket server: framing, pooling, failures."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from server.vertex.errors import VertexError
from server.vertex.http1 import Http1Transport, _Connection, _Slots, head_prefix, parse_url

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class Scripted:
    """A server that runs `script(reader, writer, request_number)` for every request it reads;
    it counts connections and notices clients that went away."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests = 0
        self.disconnects = 0
        self.server: asyncio.Server | None = None
        self.bodies: list[bytes] = []
        self.heads: list[bytes] = []

    async def __aenter__(self) -> Scripted:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1/models/m:generateContent"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                length = 0
                for line in head.decode().split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                self.bodies.append(await reader.readexactly(length))
                self.requests += 1
                await self.script(reader, writer, self.requests)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            self.disconnects += 1
        finally:
            writer.close()


def reply(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def post(t: Http1Transport, url: str, timeout: float | None = 5.0) -> tuple[int, bytes]:
    resp = await t.post(url, {"content-type": "application/json"}, b'{"a":1}', timeout)
    return resp.status, resp.body


@pytest.fixture
async def transport() -> AsyncIterator[Http1Transport]:
    t = Http1Transport(connect_timeout=2.0, idle_read_timeout=5.0)
    yield t
    await t.close()


async def test_keep_alive_reuses_one_connection(transport: Http1Transport) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(reply(f'{{"n":{n}}}'.encode(), "Content-Type: application/json"))

    async with Scripted(script) as s:
        assert await post(transport, s.url) == (200, b'{"n":1}')
        assert await post(transport, s.url) == (200, b'{"n":2}')
        assert s.connections == 1
        assert s.bodies == [b'{"a":1}', b'{"a":1}']


async def test_one_connection_parses_replies_of_every_framing_in_turn(
    transport: Http1Transport,
) -> None:
    """Keep-alive replies one after another on one connection (one parser per connection)."""
    replies = [
        reply(b"first", "Content-Type: text/plain"),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nsec\r\n3\r\nond\r\n0\r\n\r\n",
        reply(b"", status="204 No Content"),
        reply(b"gone", status="503 Service Unavailable"),
        reply(b"last"),
    ]

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(replies[n - 1])

    async with Scripted(script) as s:
        got = [await post(transport, s.url) for _ in replies]
        assert got == [
            (200, b"first"),
            (200, b"second"),
            (204, b""),
            (503, b"gone"),
            (200, b"last"),
        ]
        assert s.connections == 1


async def test_request_heads_follow_the_headers_passed(transport: Http1Transport) -> None:
    """A rendered head is reused for the same headers object only: new headers (a refreshed
    token) and another body length always reach the wire."""

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(reply(b"ok"))

    first = {"authorization": "Bearer one"}
    async with Scripted(script) as s:
        await transport.post(s.url, first, b"{}", 5.0)
        await transport.post(s.url, first, b'{"a":1}', 5.0)
        await transport.post(s.url, {"authorization": "Bearer two"}, b"{}", 5.0)
        await transport.request("GET", s.url, first, b"", 5.0)
    assert [h.split(b"\r\n")[0] for h in s.heads] == [
        b"POST /v1/models/m:generateContent HTTP/1.1"
    ] * 3 + [b"GET /v1/models/m:generateContent HTTP/1.1"]
    assert [b"authorization: Bearer one" in h for h in s.heads] == [True, True, False, True]
    assert b"authorization: Bearer two" in s.heads[2]
    assert [h.count(b"content-length: ") for h in s.heads] == [1, 1, 1, 1]
    assert b"content-length: 7\r\n" in s.heads[1] and b"content-length: 2\r\n" in s.heads[0]
    assert s.bodies == [b"{}", b'{"a":1}', b"{}", b""]


async def test_header_that_would_split_the_request_is_refused(transport: Http1Transport) -> None:
    with pytest.raises(VertexError) as caught:
        await transport.post("http://127.0.0.1:9/x", {"authorization": "x\r\nevil: 1"}, b"", 5.0)
    assert caught.value.reason == "INVALID_UPSTREAM_REQUEST"


async def test_concurrent_requests_use_separate_connections(transport: Http1Transport) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        await asyncio.sleep(0.05)
        w.write(reply(b"ok"))

    async with Scripted(script) as s:
        results = await asyncio.gather(*(post(transport, s.url) for _ in range(5)))
        assert results == [(200, b"ok")] * 5
        assert s.connections == 5


async def test_requests_beyond_the_bound_wait_for_a_slot_in_order() -> None:
    in_flight = 0
    most = 0
    order: list[int] = []

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        w.write(reply(b"ok"))

    t = Http1Transport(max_connections=2, connect_timeout=2.0, idle_read_timeout=5.0)
    try:
        async with Scripted(script) as s:

            async def numbered(i: int) -> tuple[int, bytes]:
                result = await post(t, s.url)
                order.append(i)
                return result

            results = await asyncio.gather(*(numbered(i) for i in range(6)))
            assert results == [(200, b"ok")] * 6
            assert most == 2
            assert s.connections == 2  # the waiting requests reused the two connections
            assert sorted(order) == list(range(6))
    finally:
        await t.close()


async def test_slots_queue_in_order_and_survive_cancelled_waiters() -> None:
    slots = _Slots(1)
    assert slots.try_take()
    assert not slots.try_take()
    got: list[str] = []

    async def taker(name: str) -> None:
        await slots.take()
        got.append(name)

    first = asyncio.create_task(taker("first"))
    gone = asyncio.create_task(taker("gone"))
    last = asyncio.create_task(taker("last"))
    await asyncio.sleep(0)
    gone.cancel()  # left the line before its turn: skipped, no slot lost
    await asyncio.sleep(0)
    slots.give()
    await first
    assert got == ["first"]
    slots.give()
    await last
    assert got == ["first", "last"]
    slots.give()
    assert slots.try_take()  # the one slot came back


async def test_slot_handed_to_a_caller_cancelled_meanwhile_passes_on() -> None:
    slots = _Slots(1)
    assert slots.try_take()
    cancelled = asyncio.create_task(slots.take())
    waiting = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    slots.give()  # handed to `cancelled`, which is cancelled before it runs
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await asyncio.wait_for(waiting, 1)  # the slot went on to the next in line
    assert not slots.try_take()
    slots.give()
    assert slots.try_take()


async def test_large_reply_arriving_in_one_read_leaves_the_connection_reading() -> None:
    class Transport:
        paused = False

        def writelines(self, data: object) -> None:
            pass

        def pause_reading(self) -> None:
            self.paused = True

        def resume_reading(self) -> None:
            self.paused = False

    big = b"x" * (3 << 20)  # past the buffering limit that pauses reading
    conn = _Connection(asyncio.get_running_loop())
    transport = Transport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    conn.begin(b"POST / HTTP/1.1\r\n", b"{}")
    conn.data_received(reply(big))  # the whole reply in one read (as a TLS read can bring)
    assert transport.paused
    assert conn.headers_arrived().done()
    assert conn.body() == big
    assert not transport.paused  # back in the pool, it must read its next reply
    assert conn.finished_cleanly()


async def test_chunked_reply_is_decoded(transport: Http1Transport) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        w.write(b"5\r\nhello\r\n")
        await w.drain()
        w.write(b"6\r\n world\r\n0\r\n\r\n")

    async with Scripted(script) as s:
        assert await post(transport, s.url) == (200, b"hello world")
        assert await post(transport, s.url) == (200, b"hello world")
        assert s.connections == 1


async def test_gzip_reply_is_decompressed(transport: Http1Transport) -> None:
    payload = b'{"candidates":[]}' * 100

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(reply(gzip.compress(payload), "Content-Encoding: gzip"))

    async with Scripted(script) as s:
        assert await post(transport, s.url) == (200, payload)


async def test_reply_headers_read_as_a_lowercased_mapping(transport: Http1Transport) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        # A value split across two writes, a repeated name (the last one counts), mixed case.
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Goog-Upload-Url: http://a/b")
        await w.drain()
        await asyncio.sleep(0.05)
        w.write(b"?c=d\r\nretry-after: 1\r\nRetry-After: 7\r\n\r\nok")

    async with Scripted(script) as s:
        resp = await transport.post(s.url, {}, b"{}", 5.0)
        assert resp.body == b"ok"
        assert resp.headers["x-goog-upload-url"] == "http://a/b?c=d"
        assert resp.headers.get("retry-after") == "7"
        assert dict(resp.headers) == {
            "content-length": "2",
            "x-goog-upload-url": "http://a/b?c=d",
            "retry-after": "7",
        }
        assert "Content-Length" not in resp.headers


async def test_gzip_named_in_any_case_is_decompressed(transport: Http1Transport) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(reply(gzip.compress(b"hello"), "CONTENT-ENCODING: GZip"))

    async with Scripted(script) as s:
        assert await post(transport, s.url) == (200, b"hello")


async def test_unknown_content_encoding_is_a_lost_connection(transport: Http1Transport) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(reply(b"xx", "Content-Encoding: br"))

    async with Scripted(script) as s:
        with pytest.raises(VertexError) as err:
            await post(transport, s.url)
        assert err.value.reason == "UPSTREAM_CONNECTION_LOST"


async def test_connection_close_is_honoured(transport: Http1Transport) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(reply(b"ok", "Connection: close"))
        await w.drain()
        w.close()

    async with Scripted(script) as s:
        assert await post(transport, s.url) == (200, b"ok")
        assert await post(transport, s.url) == (200, b"ok")
        assert s.connections == 2


async def test_body_until_close_without_length(transport: Http1Transport) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        await w.drain()
        w.close()

    async with Scripted(script) as s:
        assert await post(transport, s.url) == (200, b"all of it")


async def test_error_status_and_body_are_returned(transport: Http1Transport) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(reply(b'{"error":{"code":429}}', status="429 Too Many Requests"))

    async with Scripted(script) as s:
        assert await post(transport, s.url) == (429, b'{"error":{"code":429}}')


async def test_idle_connection_closed_by_server_is_replaced(transport: Http1Transport) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(reply(b"ok"))
        await w.drain()
        w.close()  # closes without announcing it, as idle keep-alive timeouts do

    async with Scripted(script) as s:
        assert await post(transport, s.url) == (200, b"ok")
        await asyncio.sleep(0.05)
        assert await post(transport, s.url) == (200, b"ok")
        assert s.connections == 2


async def test_reused_connection_dropped_before_reply_is_retried_once(
    transport: Http1Transport,
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        if n == 2:  # the keep-alive race: the server drops the connection as the request lands
            w.transport.abort()
            return
        w.write(reply(b"ok"))

    async with Scripted(script) as s:
        assert await post(transport, s.url) == (200, b"ok")
        assert await post(transport, s.url) == (200, b"ok")
        assert s.requests == 3 and s.connections == 2


async def test_fresh_connection_dropped_before_reply_is_not_retried(
    transport: Http1Transport,
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.transport.abort()

    async with Scripted(script) as s:
        with pytest.raises(VertexError) as err:
            await post(transport, s.url)
        assert err.value.reason == "UPSTREAM_CONNECTION_FAILED"
        assert s.requests == 1


async def test_reply_cut_mid_body_is_connection_lost(transport: Http1Transport) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
        await w.drain()
        w.transport.abort()

    async with Scripted(script) as s:
        with pytest.raises(VertexError) as err:
            await post(transport, s.url)
        assert err.value.code == "UNAVAILABLE"
        assert err.value.reason == "UPSTREAM_CONNECTION_LOST"


async def test_malformed_reply_is_connection_lost(transport: Http1Transport) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(b"NOT HTTP AT ALL\r\n\r\n")

    async with Scripted(script) as s:
        with pytest.raises(VertexError) as err:
            await post(transport, s.url)
        assert err.value.reason == "UPSTREAM_CONNECTION_LOST"


async def test_deadline_covers_the_whole_reply_and_closes_the_connection(
    transport: Http1Transport,
) -> None:
    client_closed = asyncio.Event()

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345")
        await w.drain()
        await r.read()  # returns at EOF: the client gave up and closed
        client_closed.set()

    async with Scripted(script) as s:
        with pytest.raises(VertexError) as err:
            await post(transport, s.url, timeout=0.2)
        assert err.value.code == "DEADLINE_EXCEEDED"
        await asyncio.wait_for(client_closed.wait(), 2)


async def test_spent_deadline_fails_before_sending(transport: Http1Transport) -> None:
    with pytest.raises(VertexError) as err:
        await transport.post("http://127.0.0.1:9/x", {}, b"", 0)
    assert err.value.code == "DEADLINE_EXCEEDED"


async def test_refused_connection_is_connection_failed(transport: Http1Transport) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(VertexError) as err:
        await transport.post(f"http://127.0.0.1:{port}/x", {}, b"", 2)
    assert err.value.code == "UNAVAILABLE"
    assert err.value.reason == "UPSTREAM_CONNECTION_FAILED"


async def test_stream_yields_chunks_as_they_arrive(transport: Http1Transport) -> None:
    release = asyncio.Event()

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await w.drain()
        await release.wait()
        w.write(b"4\r\nlast\r\n0\r\n\r\n")

    async with Scripted(script) as s:
        async with transport.stream(s.url, {}, b"{}", 5) as resp:
            assert resp.status == 200
            chunks = resp.chunks()
            assert await chunks.__anext__() == b"first"  # before the server sends the rest
            release.set()
            assert [c async for c in chunks] == [b"last"]
        async with transport.stream(s.url, {}, b"{}", 5) as resp:
            assert await resp.read() == b"firstlast"
        assert s.connections == 1


async def test_stream_left_early_closes_the_connection(transport: Http1Transport) -> None:
    client_closed = asyncio.Event()

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await w.drain()
        await r.read()  # returns at EOF: the client stopped reading and closed
        client_closed.set()

    async with Scripted(script) as s:
        async with transport.stream(s.url, {}, b"{}", 5) as resp:
            async for _ in resp.chunks():
                break
        await asyncio.wait_for(client_closed.wait(), 2)
        assert s.connections == 1


async def test_stream_without_deadline_has_an_idle_read_limit() -> None:
    t = Http1Transport(idle_read_timeout=0.2)

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):  # gaps shorter than the limit are fine
            w.write(b"1\r\nx\r\n")
            await w.drain()
            await asyncio.sleep(0.1)
        await r.read()  # then silence

    try:
        async with Scripted(script) as s, t.stream(s.url, {}, b"{}", None) as resp:
            got = []
            with pytest.raises(VertexError) as err:
                async for chunk in resp.chunks():
                    got.append(chunk)
            assert got == [b"x", b"x", b"x"]
            assert err.value.code == "DEADLINE_EXCEEDED"
    finally:
        await t.close()


async def test_large_stream_is_delivered_whole_with_flow_control(
    transport: Http1Transport,
) -> None:
    block = bytes(range(256)) * 256  # 64 KiB

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        w.write(f"HTTP/1.1 200 OK\r\nContent-Length: {len(block) * 64}\r\n\r\n".encode())
        for _ in range(64):  # 4 MiB, more than the client buffers before pausing
            w.write(block)
            await w.drain()

    async with Scripted(script) as s, transport.stream(s.url, {}, b"{}", 10) as resp:
        total = 0
        async for chunk in resp.chunks():
            total += len(chunk)
            await asyncio.sleep(0)  # a slow reader
        assert total == len(block) * 64


def test_header_with_line_break_is_refused() -> None:
    origin = parse_url("https://us-central1-aiplatform.googleapis.com/v1/x:predict")
    with pytest.raises(ValueError):
        head_prefix("POST", origin, {"authorization": "Bearer x\r\nx-evil: 1"})


def test_request_head_and_url_parts() -> None:
    origin = parse_url("https://aiplatform.googleapis.com/v1/p/x:streamGenerateContent?alt=sse")
    assert origin.key == ("https", "aiplatform.googleapis.com", 443)
    head = head_prefix("POST", origin, {"content-type": "application/json"})
    assert head == (
        b"POST /v1/p/x:streamGenerateContent?alt=sse HTTP/1.1\r\n"
        b"host: aiplatform.googleapis.com\r\n"
        b"content-type: application/json\r\n"
    )
    assert parse_url("http://127.0.0.1:8080/v1").host_header == "127.0.0.1:8080"
    assert parse_url("http://[::1]:8080/v1").host_header == "[::1]:8080"
    with pytest.raises(ValueError):
        parse_url("ftp://example.com/x")
