"""Vertex's OpenAI-compatible chat endpoint: ``.../endpoints/openapi/chat/completions``.

The body is an OpenAI ``chat.completions`` request whose ``model`` is ``publisher/model``
(Model Garden MaaS models and Gemini, see ``openai_models.py``). It is validated with the
``openai`` package's own types (unknown keys refused, ``openai_schema.py``) and then with the
endpoint's semantic rules (``openai_rules.py``); replies are deterministic
(``openai_reply.py``), unary or streamed as ``chat.completion.chunk`` events
(``openai_stream.py``).

Errors are Google's, not OpenAI's: ``ChatCompletions`` is a server-streaming RPC whose request
and response are ``google.api.HttpBody``, so Vertex answers with a one-element JSON array
``[{"error": {"code", "message", "status"}}]`` (captured from real calls: an unknown field, an
out-of-range ``n``, a partner model asked in the wrong region). Any endpoint id other than
``openapi`` is a 404 (no self-deployed endpoints exist in the emulator).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator import errors
from emulator.openai_models import find_open_model
from emulator.openai_reply import plan_reply, stream_chunks, unary_response
from emulator.openai_rules import semantic_problems
from emulator.openai_schema import structural_problems
from emulator.openai_stream import ChatChunkWriter
from emulator.routing import CHAT_COMPLETIONS, ENDPOINT, MethodRegistry, VertexTarget
from emulator.unary import send_unary
from emulator.vertex import VertexCall

OPENAPI_ENDPOINT = "openapi"
RPC = "PredictionService.ChatCompletions"
MALFORMED_MODEL = "Malformed publisher model name: expected format '<publisher>/<model>'"


def _model_name_ok(name: str) -> bool:
    publisher, slash, model_id = name.partition("/")
    return bool(slash and publisher and model_id and "/" not in model_id)


def validate_body(target: VertexTarget, body: Any) -> list[str]:
    """Every problem Vertex reports for this body (transcoder ones together, else the first).

    An unknown model is not a body problem: the handler answers it with a 404, after the
    transcoder checks and before the semantic ones, as Vertex does.
    """
    if target.endpoint != OPENAPI_ENDPOINT or not isinstance(body, dict):
        return []
    problems = structural_problems(body)
    if problems:
        return [p.message for p in problems]
    name = str(body.get("model"))
    if not _model_name_ok(name):
        return [MALFORMED_MODEL]
    model = find_open_model(name)
    if model is None:
        return []
    return semantic_problems(body, model)


def reject(problems: list[str]) -> web.StreamResponse:
    """HTTP 400 ``INVALID_ARGUMENT`` in Google's envelope, wrapped in a one-element array."""
    error = errors.invalid_argument("\n".join(problems))
    return errors.error_response(error, wrap_array=True)


def _model_resource(target: VertexTarget, name: str) -> str:
    publisher, _, model_id = name.partition("/")
    return f"projects/{target.project}/locations/{target.location}/publishers/{publisher}/models/{model_id}"


async def chat_completions(call: VertexCall) -> web.StreamResponse:
    """``POST .../endpoints/{id}/chat/completions``."""
    target = call.target
    if target.endpoint != OPENAPI_ENDPOINT:
        error = errors.endpoint_not_found(target.resource)
        return errors.error_response(error, wrap_array=True)
    name = str(call.body.get("model", ""))
    model = find_open_model(name)
    if model is None:
        error = errors.publisher_model_not_found(_model_resource(target, name))
        return errors.error_response(error, wrap_array=True)
    plan = plan_reply(call.body, model)
    if call.body.get("stream") is True:
        options = call.body.get("stream_options") or {}
        chunks = stream_chunks(plan, include_usage=options.get("include_usage") is True)
        return await ChatChunkWriter(call.request, call.record, call.fault).run(chunks)
    return await send_unary(call, unary_response(plan))


def register(registry: MethodRegistry) -> None:
    """Register ``chat/completions`` for endpoints (only ``openapi`` exists)."""
    registry.register(
        ENDPOINT,
        CHAT_COMPLETIONS,
        chat_completions,
        rpc=RPC,
        streaming=True,
        validator=validate_body,
        rejecter=reject,
    )
