"""Server-sent events decoding for Vertex streams.

Lines end at CR, LF or CRLF only (never at U+2028/U+2029 inside JSON); multi-line `data:` fields
are joined with "\\n"; a raw JSON block without a `data:` prefix (how some Vertex errors arrive
mid-stream) is delivered as an event of its own. Event size is bounded so a runaway upstream
cannot exhaust memory.
"""

from __future__ import annotations

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

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Consume a chunk of the body; return the events it completed."""
        events: list[SseEvent] = []
        buf = self._buf
        buf += chunk
        start = 0
        n = len(buf)
        while start < n:
            if self._skip_lf:
                self._skip_lf = False
                if buf[start] == 0x0A:
                    start += 1
                    continue
            cr = buf.find(b"\r", start)
            lf = buf.find(b"\n", start)
            if cr == -1 and lf == -1:
                break
            end = lf if cr == -1 else cr if lf == -1 else min(cr, lf)
            line = bytes(buf[start:end])
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
                events.append(event)
        del buf[:start]
        if len(buf) + self._size > self._max:
            raise SseTooLarge(f"stream event exceeds {self._max} bytes")
        return events

    def close(self) -> list[SseEvent]:
        """Flush at end of body: a final event without a trailing blank line still counts."""
        events: list[SseEvent] = []
        if self._buf:
            line = bytes(self._buf)
            self._buf.clear()
            event = self._line(line)
            if event is not None:
                events.append(event)
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _line(self, raw_line: bytes) -> SseEvent | None:
        if not raw_line:
            return self._dispatch()
        self._size += len(raw_line)
        if self._size > self._max:
            raise SseTooLarge(f"stream event exceeds {self._max} bytes")
        line = raw_line.decode("utf-8", "replace")
        if line.startswith(":"):
            return None  # comment / keep-alive
        name, sep, value = line.partition(":")
        if sep and name in ("data", "event", "id", "retry"):
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
            return None
        # Not an SSE field: part of a raw JSON block (e.g. an error object without `data:`).
        self._raw.append(line)
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
