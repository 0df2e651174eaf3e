"""Lines of a JSONL object read from Cloud Storage in pieces: each line once, in order, with
its number, and never more than a bounded line held in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator


class LineTooLong(Exception):
    """A line longer than the limit (a file that is not JSONL, or one oversized record)."""

    def __init__(self, number: int, limit: int) -> None:
        super().__init__(f"line {number} is longer than {limit} bytes")
        self.number = number


async def numbered_lines(
    chunks: AsyncIterator[bytes], max_line: int
) -> AsyncIterator[tuple[int, bytes]]:
    """(1-based number, line) of every non-blank line. The pending line is a buffer searched
    only where new bytes arrived, so a long line costs linear time; past `max_line` bytes
    without a newline, LineTooLong."""
    pending = bytearray()
    number = 0
    async for chunk in chunks:
        searched = len(pending)
        pending += chunk
        start = 0
        while True:
            end = pending.find(b"\n", max(start, searched))
            if end < 0:
                break
            number += 1
            line = bytes(pending[start:end])
            start = end + 1
            if line.strip():
                yield number, line
        del pending[:start]
        if len(pending) > max_line:
            raise LineTooLong(number + 1, max_line)
    if pending.strip():
        yield number + 1, bytes(pending)
