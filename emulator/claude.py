"""Claude on Vertex (publisher ``anthropic``): ``:rawPredict`` (a Messages API ``Message``),
``:streamRawPredict`` (Anthropic SSE) and ``count-tokens:rawPredict`` (``{"input_tokens": N}``).

Bodies are checked in two steps: the ``anthropic`` package's own request types
(``claude_types``: unknown names, types, literals …) in the registry's ``validator`` hook, so the
problems are recorded and audited like any body the discovery document describes; then, in the
handlers, the rules the types cannot express (``claude_rules``: tool pairing, thinking,
signatures, media, limits), which the request record lists but the audit of gateway bodies
leaves out, as for Gemini's model rules (a caller's history can break them). Problems are
answered as Anthropic answers them on Vertex:
``400 {"type": "error", "error": {"type": "invalid_request_error", "message": …}, "request_id": …}``
quoting the first problem. Replies: ``claude_reply``; the stream: ``claude_sse``.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from emulator import errors
from emulator.catalog import ModelInfo, find_model
from emulator.claude_reply import cache_for, count_input_tokens, plan_reply
from emulator.claude_rules import RuleContext, check
from emulator.claude_sse import ClaudeStreamWriter, stream_events
from emulator.claude_types import BodyKind, type_problems
from emulator.routing import MethodRegistry, VertexTarget
from emulator.unary import send_unary
from emulator.vertex import VertexCall

PUBLISHER = "anthropic"
COUNT_TOKENS_MODEL = "count-tokens"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def request_id() -> str:
    """A Vertex-style Anthropic request id (``req_vrtx_…``)."""
    return "req_vrtx_011C" + "".join(secrets.choice(_BASE58) for _ in range(20))


def anthropic_error(status: int, error_type: str, message: str) -> web.Response:
    """An error in Anthropic's shape, as Claude on Vertex passes it through."""
    payload = {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": request_id(),
    }
    return errors.json_response(payload, status=status)


def reject(problems: list[str]) -> web.StreamResponse:
    """The answer to an invalid body: a 400 quoting the first problem."""
    return anthropic_error(400, "invalid_request_error", problems[0])


def _claude_model(name: Any) -> ModelInfo | None:
    if not isinstance(name, str) or name == COUNT_TOKENS_MODEL:
        return None
    return find_model(PUBLISHER, name)


def validate_raw_predict(target: VertexTarget, body: Any) -> list[str]:
    """Type problems of a ``:rawPredict`` body (a Messages body, or a count-tokens body)."""
    kind = BodyKind.COUNT_TOKENS if target.model == COUNT_TOKENS_MODEL else BodyKind.MESSAGE
    return type_problems(kind, body)


def validate_stream_raw_predict(target: VertexTarget, body: Any) -> list[str]:
    """Type problems of a ``:streamRawPredict`` body."""
    return type_problems(BodyKind.STREAM, body)


def _rule_problems(call: VertexCall, kind: BodyKind, model: ModelInfo | None) -> list[str]:
    """The checks beyond the types. Like Gemini's model rules they are answered by the handler:
    the request record lists them, the audit of gateway bodies does not (callers cause them)."""
    problems = check(call.body, RuleContext(kind, model))
    if problems:
        call.record.schema_errors = [*call.record.schema_errors, *problems]
    return problems


async def _send(call: VertexCall, payload: Any) -> web.StreamResponse:
    return await send_unary(call, payload)


async def raw_predict(call: VertexCall) -> web.StreamResponse:
    """``:rawPredict``: a ``Message``, or ``{"input_tokens": N}`` on the count-tokens model."""
    if call.target.model == COUNT_TOKENS_MODEL:
        name = call.body.get("model")
        model = _claude_model(name)
        if model is None:
            return anthropic_error(404, "not_found_error", f"model: {name}")
        problems = _rule_problems(call, BodyKind.COUNT_TOKENS, model)
        if problems:
            return reject(problems)
        return await _send(call, {"input_tokens": count_input_tokens(call.body)})
    assert call.model is not None
    problems = _rule_problems(call, BodyKind.MESSAGE, call.model)
    if problems:
        return reject(problems)
    plan = plan_reply(call.body, call.model, cache_for(call.state))
    return await _send(call, plan.message())


async def stream_raw_predict(call: VertexCall) -> web.StreamResponse:
    """``:streamRawPredict``: the Message as Anthropic Server-Sent Events."""
    if call.model is None or call.target.model == COUNT_TOKENS_MODEL:
        error = errors.publisher_model_not_found(call.target.resource)
        return errors.error_response(error, wrap_array=call.wrap_errors)
    problems = _rule_problems(call, BodyKind.STREAM, call.model)
    if problems:
        return reject(problems)
    plan = plan_reply(call.body, call.model, cache_for(call.state))
    writer = ClaudeStreamWriter(call.request, call.record, sse=True, fault=call.fault)
    return await writer.run(stream_events(plan))


def register(registry: MethodRegistry) -> None:
    """Register the Claude methods of publisher ``anthropic``."""
    registry.register(
        PUBLISHER,
        "rawPredict",
        raw_predict,
        rpc="PredictionService.RawPredict",
        validator=validate_raw_predict,
        rejecter=reject,
    )
    registry.register(
        PUBLISHER,
        "streamRawPredict",
        stream_raw_predict,
        rpc="PredictionService.StreamRawPredict",
        streaming=True,
        validator=validate_stream_raw_predict,
        rejecter=reject,
    )
