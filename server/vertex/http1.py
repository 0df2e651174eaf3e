"""A lean pooled HTTP/1.1 client for the Vertex hot path: asyncio protocols and httptools.

Why not aiohttp: measured inside a grpc.aio server (bench/README.md, "HTTP client"), one
aiohttp POST costs about 0.31 ms of CPU per gRPC call, more than the whole gRPC unary call
(0.22 ms). Its request and response objects, header multidicts, timers, tracing hooks and
connector bookkeeping are generic machinery this service never uses. This client does only what
the gateway needs, on the same C parser family aiohttp uses (llhttp, via httptools):

* keep-alive connections pooled per origin (last used first), a bound on requests in flight,
  idle connections dropped after `idle_seconds`;
* host names looked up once per `dns_ttl_seconds` for new connections, each address tried in
  turn (`dns.py`);
* Content-Length and chunked replies, gzip/deflate bodies decoded;
* one deadline per request covering connect, send and the whole reply; without a deadline an
  idle-read limit between body chunks instead;
* a stream the caller leaves early (cancelled, deadline, error) closes its connection, which is
  how Vertex learns nobody is reading;
* a request on a reused connection that the server had already closed is retried once on a new
  connection, but only when not one byte of a reply arrived (the keep-alive race every HTTP/1.1
  client handles).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

from .dns import DEFAULT_TTL_SECONDS, Resolver
from .errors import VertexError
from .http import (
    HttpResponse,
    StreamingResponse,
    connection_error,
    connection_lost,
    timeout_error,
)

# Stop reading the socket while this much of a stream's body waits for the caller.
_HIGH_WATER = 1 << 20


@dataclass(frozen=True)
class Origin:
    """Where a URL's request goes, and the pieces of its request line."""

    scheme: str
    host: str
    port: int
    host_header: str
    target: str

    @property
    def key(self) -> tuple[str, str, int]:
        """The pool key."""
        return (self.scheme, self.host, self.port)


@functools.lru_cache(maxsize=1024)
def parse_url(url: str) -> Origin:
    """Split an http(s) URL once; the gateway calls a small set of URLs over and over."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    default = 443 if parts.scheme == "https" else 80
    port = parts.port or default
    host_header = parts.hostname if port == default else f"{parts.hostname}:{port}"
    if ":" in parts.hostname:  # IPv6 literal
        host_header = f"[{parts.hostname}]" if port == default else f"[{parts.hostname}]:{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Origin(parts.scheme, parts.hostname, port, host_header, target)


def head_prefix(method: str, origin: Origin, headers: Mapping[str, str]) -> bytes:
    """The request line and headers up to Content-Length; refuses a header that would split
    the request."""
    lines = [f"{method} {origin.target} HTTP/1.1", f"host: {origin.host_header}"]
    for name, value in headers.items():
        line = f"{name}: {value}"
        if "\r" in line or "\n" in line:
            raise ValueError(f"header {name!r} contains a line break")
        lines.append(line)
    lines.append("")
    return "\r\n".join(lines).encode("latin-1")


class _Broken(Exception):
    """The connection failed; `replied` says whether any byte of a reply had arrived."""

    def __init__(self, replied: bool, cause: BaseException | None) -> None:
        super().__init__()
        self.replied = replied
        self.cause = cause


class _Headers(Mapping[str, str]):
    """A reply's headers, decoded (names lowercased, the last of repeated names kept) on first
    use: a unary JSON reply's caller reads none of them, so none is decoded on its path."""

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._raw = raw
        self._decoded: dict[str, str] | None = None

    def _dict(self) -> dict[str, str]:
        if self._decoded is None:
            self._decoded = {
                name.decode("latin-1").lower(): value.decode("latin-1") for name, value in self._raw
            }
        return self._decoded

    def __getitem__(self, key: str) -> str:
        return self._dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        return f"_Headers({self._dict()!r})"


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection carrying one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.reused = False
        self._parser: Any = None
        # A request is outstanding (bytes arriving otherwise are a protocol violation).
        self.active = False
        self._timer: asyncio.TimerHandle | None = None
        self._reset()

    # -- exchange state -------------------------------------------------------------------
    def _reset(self) -> None:
        self.status = 0
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self.headers = _Headers(self._raw_headers)
        self._got_bytes = False
        self._headers_done: asyncio.Future[None] | None = None
        self._complete = False
        self._keep_alive = False
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._reading_paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._decoder: Any = None

    # -- the exchange's one timer (its deadline, or the idle-read limit) ---------------------
    def arm(self, seconds: float) -> None:
        """(Re)start the timer; when it fires the exchange fails with TimeoutError."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_later(seconds, self.fail_timeout)

    def disarm(self) -> None:
        """Stop the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def begin(self, head: bytes, body: bytes) -> None:
        """Send a request; the reply is read by `headers_arrived`, then `body` or `next_chunk`."""
        self._reset()
        if self._parser is None:
            # One parser per connection: llhttp reads keep-alive replies one after another.
            self._parser = httptools.HttpResponseParser(self)
        self.active = True
        self._headers_done = self._loop.create_future()
        assert self.transport is not None
        self.transport.writelines((head, body)) if body else self.transport.write(head)

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self.active:
            # Bytes nobody asked for (a server must not send them between replies).
            self.abort()
            return
        self._got_bytes = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(_Broken(True, ValueError("unexpected protocol upgrade")))
        except httptools.HttpParserError as exc:
            self._fail(_Broken(True, exc))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.active and not self._complete:
            if self._ends_at_eof():
                self.on_message_complete()
            else:
                self._fail(_Broken(self._got_bytes, exc))

    def pause_writing(self) -> None:  # request bodies are written whole; nothing to pause
        pass

    def resume_writing(self) -> None:
        pass

    # -- httptools callbacks -----------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        raw = self._raw_headers
        if name:
            raw.append((name, value))
        else:  # a header value split across reads
            last_name, last_value = raw[-1]
            raw[-1] = (last_name, last_value + value)

    def _header(self, name: bytes) -> str:
        """One header's value ("" when absent), read without decoding the others."""
        found = b""
        for key, value in self._raw_headers:
            if key.lower() == name:
                found = value
        return found.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        encoding = self._header(b"content-encoding").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._decoder = zlib.decompressobj()
        elif encoding not in ("", "identity"):
            self._fail(_Broken(True, ValueError(f"unsupported content-encoding {encoding!r}")))
            return
        if self._headers_done is not None and not self._headers_done.done():
            self._headers_done.set_result(None)

    def on_body(self, body: bytes) -> None:
        if self._decoder is not None:
            try:
                body = self._decoder.decompress(body)
            except zlib.error as exc:
                self._fail(_Broken(True, exc))
                return
            if not body:
                return
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._reading_paused and self.transport:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._decoder is not None:
            tail = self._decoder.flush()
            if tail:
                self._chunks.append(tail)
        # llhttp forgets this once the callback returns.
        self._keep_alive = bool(self._parser.should_keep_alive())
        self._complete = True
        self._wake()

    # -- reading the reply -------------------------------------------------------------------
    def _ends_at_eof(self) -> bool:
        """A reply with neither Content-Length nor chunked framing ends when the server closes."""
        return (
            self._headers_done is not None
            and self._headers_done.done()
            and not any(key.lower() == b"content-length" for key, _ in self._raw_headers)
            and "chunked" not in self._header(b"transfer-encoding").lower()
        )

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        if self._headers_done is not None and not self._headers_done.done():
            self._headers_done.set_exception(exc)
            self._headers_done.exception()  # retrieved: a caller may have gone already
        self._wake()
        self.abort()

    def fail_timeout(self) -> None:
        """The request's deadline or idle limit passed."""
        self._fail(TimeoutError())

    def headers_arrived(self) -> asyncio.Future[None]:
        """Done once the status line and headers have arrived (awaited as it is: no coroutine
        of its own on every call's path)."""
        assert self._headers_done is not None
        return self._headers_done

    def body(self) -> bytes | None:
        """The whole body when all of it has arrived and nothing is waiting to be read
        otherwise (None: read it with `next_chunk`). A unary reply usually arrives with its
        headers, so its reader needs no further wait."""
        if not self._complete or self._error is not None:
            return None
        chunks = self._chunks
        if not chunks:
            return b""
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered = 0
        if self._reading_paused and self.transport:
            # A large reply paused reading before it completed; the connection goes back to
            # the pool and must read its next reply.
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    async def next_chunk(self) -> bytes | None:
        """The next piece of the body, or None at its end."""
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._reading_paused and self._buffered <= _HIGH_WATER // 4 and self.transport:
                    self._reading_paused = False
                    self.transport.resume_reading()
                return chunk
            if self._error is not None:
                raise self._error
            if self._complete:
                return None
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def finished_cleanly(self) -> bool:
        """The whole reply was read and the connection may carry another request."""
        return self._complete and self._keep_alive and self._error is None and not self.closed

    def abort(self) -> None:
        """Drop the connection without waiting."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class _Stream:
    """The StreamingResponse over one exchange."""

    def __init__(self, conn: _Connection, idle_read: float | None) -> None:
        self._conn = conn
        self._idle_read = idle_read

    @property
    def status(self) -> int:
        return self._conn.status

    async def read(self) -> bytes:
        parts = []
        async for chunk in self.chunks():
            parts.append(chunk)
        return b"".join(parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            if self._idle_read is not None:
                conn.arm(self._idle_read)
            try:
                chunk = await conn.next_chunk()
            except (_Broken, TimeoutError) as exc:
                raise _mapped(exc) from None
            if chunk is None:
                return
            yield chunk


def _mapped(exc: BaseException) -> VertexError:
    if isinstance(exc, TimeoutError):
        return timeout_error()
    if isinstance(exc, _Broken):
        if exc.replied:
            return connection_lost(exc.cause)
        return connection_error(exc.cause or ConnectionResetError())
    return connection_error(exc)


class _Slots:
    """The bound on requests in flight. A free slot is taken without a coroutine (the common
    case, on every call's path); otherwise callers queue in order, and a released slot goes
    straight to the first caller still waiting. Free slots exist only while nobody waits."""

    def __init__(self, limit: int) -> None:
        self._free = limit
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_take(self) -> bool:
        """Take a free slot if there is one."""
        if self._free > 0:
            self._free -= 1
            return True
        return False

    async def take(self) -> None:
        """Take a slot, waiting in line for one."""
        if self.try_take():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.give()  # handed a slot as the caller went away: pass it on
            raise

    def give(self) -> None:
        """Release a slot: to the first live waiter, else back to the free count."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


class Http1Transport:
    """The gateway's HTTP transport: pooled HTTP/1.1 keep-alive connections per origin.

    The request head rendered for a URL is reused while the same headers mapping object is
    passed again, so a mapping must not be changed once passed (pass a new one instead).
    """

    def __init__(
        self,
        *,
        max_connections: int = 512,
        connect_timeout: float = 10.0,
        idle_read_timeout: float = 600.0,
        idle_seconds: float = 50.0,
        ssl_context: ssl.SSLContext | None = None,
        dns_ttl_seconds: float = DEFAULT_TTL_SECONDS,
    ) -> None:
        self._connect_timeout = connect_timeout
        self._idle_read_timeout = idle_read_timeout
        self._idle_seconds = idle_seconds
        self._ssl = ssl_context
        self._resolver = Resolver(dns_ttl_seconds)
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._in_flight = _Slots(max_connections)
        self._all: set[_Connection] = set()
        self._closing = False
        # (method, url) -> (the headers mapping it was rendered from, the rendered prefix):
        # the gateway sends the same headers object until its token changes.
        self._heads: dict[tuple[str, str], tuple[Mapping[str, str], bytes]] = {}

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _take_idle(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin.key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self._idle_seconds:
                conn.reused = True
                return conn
            conn.abort()
            self._all.discard(conn)
        return None

    async def _connect(self, origin: Origin, loop: asyncio.AbstractEventLoop) -> _Connection:
        tls = self._ssl_context() if origin.scheme == "https" else None
        try:
            async with asyncio.timeout(self._connect_timeout):
                conn = await self._connect_any(origin, tls, loop)
        except TimeoutError:
            raise VertexError(
                "UNAVAILABLE",
                "could not reach Vertex AI (connect timeout)",
                "UPSTREAM_CONNECTION_FAILED",
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise connection_error(exc) from None
        self._all.add(conn)
        return conn

    async def _connect_any(
        self, origin: Origin, tls: ssl.SSLContext | None, loop: asyncio.AbstractEventLoop
    ) -> _Connection:
        """A connection to the first of the origin's addresses that accepts one (TLS names the
        host, not the address)."""
        addresses = await self._resolver.addresses(origin.host, origin.port, loop)
        for i, address in enumerate(addresses):
            try:
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop),
                    address,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls else None,
                )
            except OSError:
                if i + 1 < len(addresses):
                    continue
                self._resolver.forget(origin.host, origin.port)  # look again next time
                raise
            return conn
        raise AssertionError("a lookup answers at least one address")

    def _release(self, origin: Origin, conn: _Connection) -> None:
        if conn.finished_cleanly() and not self._closing:
            conn.active = False
            conn.idle_since = time.monotonic()
            self._idle.setdefault(origin.key, []).append(conn)
        else:
            conn.abort()
            self._all.discard(conn)

    def _head(self, method: str, url: str, origin: Origin, headers: Mapping[str, str]) -> bytes:
        key = (method, url)
        cached = self._heads.get(key)
        if cached is not None and cached[0] is headers:
            return cached[1]
        try:
            prefix = head_prefix(method, origin, headers)
        except ValueError as exc:
            raise VertexError("INTERNAL", str(exc), "INVALID_UPSTREAM_REQUEST") from None
        if len(self._heads) >= 1024:
            self._heads.clear()
        self._heads[key] = (headers, prefix)
        return prefix

    async def _open(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout: float | None,
    ) -> tuple[Origin, _Connection]:
        """Send the request and wait for the reply's headers, on a pooled or new connection
        (its timer armed: the caller disarms it once done with the reply)."""
        if timeout is not None and timeout <= 0:
            raise timeout_error()
        origin = parse_url(url)
        head = self._head(method, url, origin, headers) + b"content-length: %d\r\n\r\n" % len(body)
        # Monotonic time, not the loop's: on CPython 3.11 asking for the running loop is a
        # getpid() system call, and a pooled connection already knows its loop.
        deadline = None if timeout is None else time.monotonic() + timeout
        for _ in range(2):
            conn = self._take_idle(origin)
            if conn is None:
                loop = asyncio.get_running_loop()
                if deadline is None:
                    conn = await self._connect(origin, loop)
                else:
                    try:
                        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                            conn = await self._connect(origin, loop)
                    except TimeoutError:
                        raise timeout_error() from None
            conn.arm(
                self._idle_read_timeout
                if deadline is None
                else max(0.0, deadline - time.monotonic())
            )
            ok = False
            try:
                conn.begin(head, body)
                await conn.headers_arrived()
                ok = True
                return origin, conn
            except _Broken as exc:
                if conn.reused and not exc.replied:
                    continue  # the server had closed this idle connection; try a fresh one
                raise _mapped(exc) from None
            except TimeoutError:
                raise timeout_error() from None
            finally:
                if not ok:
                    conn.disarm()
                    conn.abort()
                    self._all.discard(conn)
        raise AssertionError("unreachable")

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout: float | None,
    ) -> HttpResponse:
        """Send a request and read the whole reply."""
        slots = self._in_flight
        if not slots.try_take():
            await slots.take()
        try:
            origin, conn = await self._open(method, url, headers, body, timeout)
            try:
                data = conn.body()
                if data is None:
                    parts = []
                    while (chunk := await conn.next_chunk()) is not None:
                        parts.append(chunk)
                    data = b"".join(parts)
            except (_Broken, TimeoutError) as exc:
                raise _mapped(exc) from None
            finally:
                conn.disarm()
                self._release(origin, conn)
            return HttpResponse(conn.status, conn.headers, data)
        finally:
            slots.give()

    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float | None
    ) -> HttpResponse:
        """POST and read the whole reply."""
        return await self.request("POST", url, headers, body, timeout)

    @asynccontextmanager
    async def stream(
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout: float | None,
        method: str = "POST",
    ) -> AsyncIterator[StreamingResponse]:
        """Send and expose the reply incrementally; leaving early closes the connection."""
        await self._in_flight.take()
        try:
            origin, conn = await self._open(method, url, headers, body, timeout)
            try:
                if timeout is not None:
                    yield _Stream(conn, None)
                else:
                    conn.disarm()
                    yield _Stream(conn, self._idle_read_timeout)
            finally:
                conn.disarm()
                self._release(origin, conn)
        finally:
            self._in_flight.give()

    async def close(self) -> None:
        """Close every connection."""
        self._closing = True
        for conn in list(self._all):
            conn.abort()
        self._all.clear()
        self._idle.clear()
        await asyncio.sleep(0)
        self._closing = False
