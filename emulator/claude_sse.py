"""Claude's ``:streamRawPredict`` stream: Anthropic Server-Sent Events, with Vertex's extra
``vertex_event``, and the stream faults.

Every event is ``event: <type>`` + ``data: <compact JSON with the same "type">`` + a blank line.
Order: ``message_start`` (usage with ``output_tokens`` 1), ``vertex_event`` (usage, as Vertex adds
it), then per content block ``content_block_start`` / ``content_block_delta``… /
``content_block_stop`` (a ``ping`` after the first start), ``message_delta`` (stop reason and the
cumulative usage) and ``message_stop``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from emulator.claude_reply import ClaudePlan, text_deltas
from emulator.faults import FaultKind
from emulator.sse import ChunkWriter, ClientGone, pause

Event = dict[str, Any]
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
_BROKEN = 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_vrtx_01'
_JSON_FRAGMENTS = 4


def _json_fragments(text: str) -> list[str]:
    """``text`` cut into a few pieces (anywhere, as the service does); the first one is empty."""
    size = max(1, math.ceil(len(text) / _JSON_FRAGMENTS))
    return ["", *(text[i : i + size] for i in range(0, len(text), size))]


def _block_events(index: int, block: dict[str, Any], raw_json: str | None) -> list[Event]:
    kind = block["type"]
    deltas: list[dict[str, Any]] = []
    if kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": d} for d in text_deltas(block["text"])]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": d} for d in text_deltas(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "tool_use":
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        text = raw_json if raw_json is not None else json.dumps(block["input"], ensure_ascii=False)
        deltas = [{"type": "input_json_delta", "partial_json": f} for f in _json_fragments(text)]
    else:  # redacted_thinking arrives whole in its start event
        start = dict(block)
    events: list[Event] = [{"type": "content_block_start", "index": index, "content_block": start}]
    events.extend({"type": "content_block_delta", "index": index, "delta": d} for d in deltas)
    events.append({"type": "content_block_stop", "index": index})
    return events


def stream_events(plan: ClaudePlan) -> list[Event]:
    """Every event of the stream, in order."""
    start_message = {**plan.message(), "content": [], "stop_reason": None, "stop_sequence": None}
    start_message["usage"] = plan.usage(output_tokens=1)
    vertex_usage = {**plan.usage(output_tokens=1), "web_search_requests": None}
    events: list[Event] = [
        {"type": "message_start", "message": start_message},
        {
            "type": "vertex_event",
            "usage": {**vertex_usage, "tiers": {"0-to-200000": dict(vertex_usage)}},
        },
    ]
    for index, block in enumerate(plan.blocks):
        block_events = _block_events(index, block, plan.raw_json.get(index))
        if index == 0:
            block_events.insert(1, {"type": "ping"})
        events.extend(block_events)
    if not plan.blocks:
        events.append({"type": "ping"})
    delta_usage = plan.usage()
    del delta_usage["cache_creation"]
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": plan.stop_reason, "stop_sequence": plan.stop_sequence},
            "usage": delta_usage,
        }
    )
    events.append({"type": "message_stop"})
    return events


def _frame(event: Event) -> str:
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event['type']}\ndata: {data}\n\n"


class ClaudeStreamWriter(ChunkWriter):
    """Writes Anthropic events; the stream faults become Anthropic-style stream failures."""

    async def chunk(self, payload: dict[str, Any]) -> None:
        """Send one event."""
        await self._write(_frame(payload))

    async def run(self, chunks: list[dict[str, Any]]) -> web.StreamResponse:
        """Send ``chunks`` (events) honouring the fault; return the prepared response."""
        kind = self.fault.kind if self.fault else None
        # Faults strike once some content went out: after the first content delta.
        first_delta = next(
            (i for i, e in enumerate(chunks) if e["type"] == "content_block_delta"), 0
        )
        try:
            await self.start()
            if kind is FaultKind.MALFORMED_JSON:
                await self._write(_BROKEN + "\n\n")
                await self.finish()
                return self.response
            if kind in (FaultKind.STREAM_ERROR, FaultKind.STREAM_ERROR_RAW):
                for event in chunks[: first_delta + 1]:
                    await self.chunk(event)
                if kind is FaultKind.STREAM_ERROR:
                    await self.chunk(OVERLOADED)
                else:
                    await self._write(json.dumps(OVERLOADED, indent=2) + "\n")
                await self.finish()
                return self.response
            delay = (
                self.fault.delay_ms / 1000 if self.fault and kind is FaultKind.SLOW_STREAM else 0.0
            )
            for i, event in enumerate(chunks):
                if i and delay:
                    await pause(self.request, delay)
                await self.chunk(event)
                if kind is FaultKind.DISCONNECT and i >= first_delta:
                    self._abort()
                    return self.response
            await self.finish()
        except ClientGone:
            self.record.client_disconnected = True
        return self.response
