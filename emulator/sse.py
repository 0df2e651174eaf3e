"""Writing streamed replies: Server-Sent Events (``alt=sse``) or Google's incrementally
delivered JSON array, with the stream faults applied on the way.

Each chunk is written (and so sent) as soon as it is ready. A client that goes away is noticed
both when a write fails and while the writer waits between chunks.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from emulator import errors
from emulator.errors import render_json
from emulator.faults import Fault, FaultKind
from emulator.records import RequestRecord

SSE_CONTENT_TYPE = "text/event-stream"
POLL_SECONDS = 0.05
_BROKEN_JSON = '{"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel'


class ClientGone(Exception):
    """The client closed the connection before the response was finished."""


async def pause(request: web.Request, seconds: float) -> None:
    """Sleep ``seconds``, raising :class:`ClientGone` as soon as the client disconnects."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        transport = request.transport
        if transport is None or transport.is_closing():
            raise ClientGone
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        await asyncio.sleep(min(POLL_SECONDS, remaining))


def _compact(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


class ChunkWriter:
    """Streams GenerateContentResponse chunks for one request."""

    def __init__(
        self,
        request: web.Request,
        record: RequestRecord,
        *,
        sse: bool,
        fault: Fault | None,
        interval: float = 0.0,
    ) -> None:
        self.request = request
        self.record = record
        self.sse = sse
        self.fault = fault
        # Seconds between chunks, as a model that produces its output over time does (speech);
        # a ``slow-stream`` fault replaces it.
        self.interval = interval
        self.response = web.StreamResponse(status=200)
        self._count = 0

    async def _write(self, text: str) -> None:
        try:
            await self.response.write(text.encode("utf-8"))
        except ConnectionError as exc:
            raise ClientGone from exc

    async def start(self) -> None:
        """Send the headers."""
        if self.sse:
            self.response.content_type = SSE_CONTENT_TYPE
            self.response.headers["Content-Disposition"] = "attachment"
        else:
            # aiohttp's charset setter lower-cases; Google sends "UTF-8".
            self.response.headers["Content-Type"] = errors.JSON_TYPE_HEADER
        await self.response.prepare(self.request)
        self.record.status = 200

    async def chunk(self, payload: dict[str, Any]) -> None:
        """Send one chunk."""
        if self.sse:
            text = f"data: {_compact(payload)}\r\n\r\n"
        else:
            text = ("[" if self._count == 0 else "\n,\r\n") + json.dumps(
                payload, indent=2, ensure_ascii=False
            )
        self._count += 1
        await self._write(text)

    async def error_event(self, error: errors.GoogleError, *, raw: bool) -> None:
        """Send an error inside the 200 stream, ``data:``-prefixed or as a raw JSON block."""
        body = error.to_json()
        if not self.sse:
            await self.chunk(body)
        elif raw:
            await self._write(render_json(body) + "\r\n")
        else:
            await self._write(f"data: {_compact(body)}\r\n\r\n")

    async def finish(self) -> None:
        """End the stream properly."""
        if not self.sse:
            await self._write("[]" if self._count == 0 else "\n]")
        try:
            await self.response.write_eof()
        except ConnectionError as exc:
            raise ClientGone from exc
        self.record.completed = True

    async def run(self, chunks: list[dict[str, Any]]) -> web.StreamResponse:
        """Send ``chunks`` honouring the fault, and return the (prepared) response."""
        kind = self.fault.kind if self.fault else None
        try:
            await self.start()
            if kind is FaultKind.MALFORMED_JSON:
                await self._write(
                    f"data: {_BROKEN_JSON}\r\n\r\n" if self.sse else "[" + _BROKEN_JSON
                )
                await self.finish()
                return self.response
            if kind in (FaultKind.STREAM_ERROR, FaultKind.STREAM_ERROR_RAW):
                for payload in chunks[: max(1, min(2, len(chunks) - 1))]:
                    await self.chunk(payload)
                await self.error_event(
                    errors.resource_exhausted(), raw=kind is FaultKind.STREAM_ERROR_RAW
                )
                await self.finish()
                return self.response
            if kind is FaultKind.TRUNCATED_SSE and self.sse:
                await self.chunk(chunks[0])
                cut = f"data: {_compact(chunks[-1])}"
                await self._write(cut[: len(cut) // 2])
                await self.finish()
                return self.response
            if kind is FaultKind.HUGE_EVENT and self.sse and self.fault is not None:
                await self._huge_event(self.fault.size_mb)
            delay = (
                self.fault.delay_ms / 1000
                if self.fault and kind is FaultKind.SLOW_STREAM
                else self.interval
            )
            for i, payload in enumerate(chunks):
                if i and delay:
                    await pause(self.request, delay)
                await self.chunk(payload)
                if kind is FaultKind.DISCONNECT:
                    self._abort()
                    return self.response
            await self.finish()
        except ClientGone:
            self.record.client_disconnected = True
        return self.response

    async def _huge_event(self, size_mb: int) -> None:
        """One text chunk whose `data:` line is `size_mb` MB, written a megabyte at a time."""
        head = 'data: {"candidates": [{"content": {"role": "model", "parts": [{"text": "'
        await self._write(head)
        block = "x" * (1024 * 1024)
        for _ in range(size_mb):
            await self._write(block)
        await self._write('"}]}}]}\r\n\r\n')
        self._count += 1

    def _abort(self) -> None:
        # Drop the TCP connection mid-body: the chunked encoding is never terminated.
        transport = self.request.transport
        if transport is not None:
            transport.abort()
