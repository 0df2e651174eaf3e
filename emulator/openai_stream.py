"""Writing ``chat.completion.chunk`` streams as OpenAI-style Server-Sent Events.

Each event is ``data: <compact JSON>`` and a blank line; a complete stream ends with
``data: [DONE]``. The emulator's stream faults apply: ``slow-stream`` waits between chunks,
``disconnect-mid-stream`` aborts the connection after the first chunk, ``stream-error`` /
``stream-error-raw`` send one or two chunks and then Google's 429 error (as a ``data:`` event or
as a raw JSON block) and end without ``[DONE]``, ``malformed-json`` sends a chunk cut in half.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from emulator import errors
from emulator.faults import Fault, FaultKind
from emulator.records import RequestRecord
from emulator.sse import SSE_CONTENT_TYPE, ClientGone, pause

DONE = "data: [DONE]\n\n"


def _compact(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


class ChatChunkWriter:
    """Streams the chunks of one chat-completions request."""

    def __init__(self, request: web.Request, record: RequestRecord, fault: Fault | None) -> None:
        self.request = request
        self.record = record
        self.fault = fault
        self.response = web.StreamResponse(status=200)

    async def _write(self, text: str) -> None:
        try:
            await self.response.write(text.encode("utf-8"))
        except ConnectionError as exc:
            raise ClientGone from exc

    async def _start(self) -> None:
        self.response.content_type = SSE_CONTENT_TYPE
        self.response.headers["Cache-Control"] = "no-cache"
        await self.response.prepare(self.request)
        self.record.status = 200

    async def _event(self, payload: Any) -> None:
        await self._write(f"data: {_compact(payload)}\n\n")

    async def _finish(self) -> None:
        try:
            await self.response.write_eof()
        except ConnectionError as exc:
            raise ClientGone from exc
        self.record.completed = True

    async def run(self, chunks: list[dict[str, Any]]) -> web.StreamResponse:
        """Send ``chunks`` honouring the fault, and return the (prepared) response."""
        kind = self.fault.kind if self.fault else None
        try:
            await self._start()
            if kind is FaultKind.MALFORMED_JSON:
                text = _compact(chunks[0])
                await self._write(f"data: {text[: len(text) // 2]}\n\n")
                await self._finish()
                return self.response
            if kind in (FaultKind.STREAM_ERROR, FaultKind.STREAM_ERROR_RAW):
                for payload in chunks[: max(1, min(2, len(chunks) - 1))]:
                    await self._event(payload)
                error = errors.resource_exhausted().to_json()
                if kind is FaultKind.STREAM_ERROR_RAW:
                    await self._write(errors.render_json(error))
                else:
                    await self._event(error)
                await self._finish()
                return self.response
            delay = (
                self.fault.delay_ms / 1000 if self.fault and kind is FaultKind.SLOW_STREAM else 0.0
            )
            for i, payload in enumerate(chunks):
                if i and delay:
                    await pause(self.request, delay)
                await self._event(payload)
                if kind is FaultKind.DISCONNECT:
                    transport = self.request.transport
                    if transport is not None:
                        transport.abort()
                    return self.response
            await self._write(DONE)
            await self._finish()
        except ClientGone:
            self.record.client_disconnected = True
        return self.response
