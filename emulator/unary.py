"""Sending a unary (non-streamed) JSON reply with the faults that apply to one: every method
handler answers through :func:`send_unary`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from emulator import errors
from emulator.faults import FaultKind

if TYPE_CHECKING:
    from emulator.vertex import VertexCall


async def send_unary(call: VertexCall, payload: Any) -> web.StreamResponse:
    """Answer with ``payload`` as JSON, applying the ``malformed-json`` and disconnect faults."""
    text = errors.render_json(payload)
    kind = call.fault.kind if call.fault else None
    if kind is FaultKind.MALFORMED_JSON:
        return web.Response(
            status=200,
            text=text[: len(text) // 2],
            content_type=errors.JSON_CONTENT_TYPE,
            charset=errors.CHARSET,
        )
    if kind is FaultKind.DISCONNECT:
        data = text.encode("utf-8")
        response = web.StreamResponse(status=200)
        response.headers["Content-Type"] = errors.JSON_TYPE_HEADER
        response.content_length = len(data)
        await response.prepare(call.request)
        call.record.status = 200
        await response.write(data[: len(data) // 2])
        if call.request.transport is not None:
            call.request.transport.abort()
        return response
    return errors.json_response(payload)
