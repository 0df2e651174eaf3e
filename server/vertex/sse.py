"""Server-sent events decoding for Vertex streams.

Lines end at CR, LF or CRLF only (never at U+2028/U+2029 inside JSON); multi-line `data:` fields
are joined with "\\n"; a raw JSON block without a `data:` prefix (how some Vertex errors arrive
mid-stream) is delivered as an event of its own. Event size is bounded so a runaway upstream
cannot exhaust memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


class SseTooLarge(Exception):
    """An event (or an unterminated line) exceeded the configured size."""


@dataclass(frozen=True)
class SseEvent:
    """One dispatched event."""

    data: str
    event: str = ""
    raw: bool = False  # the payload came as un-prefixed lines, not `data:` fields


class SseDecoder:
    """Incremental SSE decoder: feed bytes, get complete events."""

    def __init__(self, max_event_bytes: int = 64 * 1024 * 1024) -> None:
        self._max = max_event_bytes
        self._buf = bytearray()
        self._skip_lf = False
        self._data: list[str] = []
        self._raw: list[str] = []
        self._event = ""
        self._size = 0
        # Bytes at the head of _buf already searched for a line end: a long line arriving in
        # many chunks is scanned once, not once per chunk.
        self._scanned = 0
        # Bytes at the head of _buf whose lines were consumed (dropped on the next call).
        self._consumed = 0

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Consume a chunk of the body; return the events it completed."""
        return list(self.events(chunk))

    def events(self, chunk: bytes) -> Iterator[SseEvent]:
        """Consume a chunk of the body; yield each event it completes as soon as it is found.

        Lazily, because a read may hold many events (a burst, or a whole short stream): the
        first goes on before the rest are parsed. An iterator left unfinished (or never
        started) loses nothing: the next call carries on from the first line it did not reach.
        It must not be resumed after that call."""
        buf = self._compact()
        buf += chunk  # now, not when the iteration starts
        return self._parse(buf)

    def _parse(self, buf: bytearray) -> Iterator[SseEvent]:
        n = len(buf)
        start = 0
        scan_from = self._scanned
        self._scanned = 0
        # The next CR at or after the scan position; -1 when there is none to the end, so a
        # body without CRs (Vertex sends LF) is searched for one once per chunk, not per line.
        cr = -2
        while start < n:
            if self._skip_lf:
                self._skip_lf = False
                if buf[start] == 0x0A:
                    start += 1
                    continue
            at = max(start, scan_from)
            if -1 != cr < at:
                cr = buf.find(b"\r", at)
            lf = buf.find(b"\n", at)
            if cr == -1 and lf == -1:
                self._scanned = n - start
                break
            end = lf if cr == -1 else cr if lf == -1 else min(cr, lf)
            line = buf[start:end]
            if buf[end] == 0x0D:
                if end + 1 < n:
                    start = end + 2 if buf[end + 1] == 0x0A else end + 1
                else:
                    self._skip_lf = True
                    start = end + 1
            else:
                start = end + 1
            event = self._line(line)
            if event is not None:
                self._consumed = start
                yield event
        self._consumed = start
        if n - start + self._size > self._max:
            raise SseTooLarge(f"stream event exceeds {self._max} bytes")

    def _compact(self) -> bytearray:
        """The buffer without the lines already consumed."""
        if self._consumed:
            del self._buf[: self._consumed]
            self._consumed = 0
        return self._buf

    def close(self) -> list[SseEvent]:
        """Flush at end of body: a final event without a trailing blank line still counts."""
        events: list[SseEvent] = []
        buf = self._compact()
        if buf:
            line = bytes(buf)
            buf.clear()
            event = self._line(line)
            if event is not None:
                events.append(event)
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _line(self, raw_line: bytes | bytearray) -> SseEvent | None:
        if not raw_line:
            return self._dispatch()
        self._size += len(raw_line)
        if self._size > self._max:
            raise SseTooLarge(f"stream event exceeds {self._max} bytes")
        if raw_line.startswith(b"data:"):  # nearly every line of a Vertex stream
            at = 6 if raw_line[5:6] == b" " else 5
            self._data.append(str(memoryview(raw_line)[at:], "utf-8", "replace"))
            return None
        colon = raw_line.find(b":")
        if colon == 0:
            return None  # comment / keep-alive
        name = bytes(raw_line[:colon]) if colon > 0 else b""
        if name in (b"data", b"event", b"id", b"retry"):
            at = colon + 2 if raw_line[colon + 1 : colon + 2] == b" " else colon + 1
            # Decoded straight from the buffer: a large event is copied once, not three times.
            value = str(memoryview(raw_line)[at:], "utf-8", "replace")
            if name == b"data":
                self._data.append(value)
            elif name == b"event":
                self._event = value
            return None
        # Not an SSE field: part of a raw JSON block (e.g. an error object without `data:`).
        self._raw.append(raw_line.decode("utf-8", "replace"))
        return None

    def _dispatch(self) -> SseEvent | None:
        self._size = 0
        if self._data:
            event = SseEvent("\n".join(self._data), self._event)
        elif self._raw:
            event = SseEvent("\n".join(self._raw), self._event, raw=True)
        else:
            self._event = ""
            return None
        self._data, self._raw, self._event = [], [], ""
        return event
