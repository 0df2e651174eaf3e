"""Method handlers and their registration (Gemini publisher methods, tuned endpoints)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator import claude, embeddings, errors, multimodal_embeddings, openai_compat
from emulator.faults import FaultKind
from emulator.gemini import count_tokens_response, plan_reply, stream_chunks, unary_response
from emulator.routing import ENDPOINT, MethodRegistry
from emulator.sse import ChunkWriter
from emulator.vertex import VertexCall

_GEMINI_METHODS = ("generateContent", "streamGenerateContent", "countTokens")


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


def _not_generative(call: VertexCall) -> web.StreamResponse | None:
    """Embedding models do not generate content: Vertex refuses the method for them."""
    if call.model is not None and call.model.embedding is not None:
        error = errors.invalid_argument(
            f"Model {call.target.resource} does not support {call.target.method}."
        )
        return errors.error_response(error, wrap_array=call.wrap_errors)
    return None


async def generate_content(call: VertexCall) -> web.StreamResponse:
    """``:generateContent``."""
    assert call.model is not None
    if (refused := _not_generative(call)) is not None:
        return refused
    return await send_unary(call, unary_response(plan_reply(call.body, call.model)))


async def stream_generate_content(call: VertexCall) -> web.StreamResponse:
    """``:streamGenerateContent`` as SSE (``alt=sse``) or as an incrementally written JSON array."""
    assert call.model is not None
    if (refused := _not_generative(call)) is not None:
        return refused
    chunks = stream_chunks(plan_reply(call.body, call.model))
    writer = ChunkWriter(call.request, call.record, sse=call.sse, fault=call.fault)
    return await writer.run(chunks)


async def count_tokens(call: VertexCall) -> web.StreamResponse:
    """``:countTokens``."""
    if (refused := _not_generative(call)) is not None:
        return refused
    return await send_unary(call, count_tokens_response(call.body))


async def predict(call: VertexCall) -> web.StreamResponse:
    """``:predict`` of an embedding model; other models answer as before it existed."""
    if call.model is None or call.model.embedding is None:
        return errors.html_not_found(call.request.path)
    try:
        if call.model.embedding.multimodal:
            payload = multimodal_embeddings.predict_response(call.body, call.model)
        else:
            payload = embeddings.predict_response(call.body, call.model)
    except embeddings.EmbeddingError as exc:
        return embeddings.rejection(exc)
    return await send_unary(call, payload)


async def embed_content(call: VertexCall) -> web.StreamResponse:
    """``:embedContent`` (gemini-embedding-001 only)."""
    model = call.model
    if model is None or model.embedding is None or not model.embedding.embed_content:
        return errors.html_not_found(call.request.path)
    try:
        payload = embeddings.embed_content_response(call.body, model)
    except embeddings.EmbeddingError as exc:
        return embeddings.rejection(exc)
    return await send_unary(call, payload)


async def endpoint_not_found(call: VertexCall) -> web.StreamResponse:
    """No endpoints are deployed yet: every endpoint is a 404."""
    error = errors.endpoint_not_found(call.target.resource)
    return errors.error_response(error, wrap_array=call.wrap_errors)


def register_defaults(registry: MethodRegistry) -> None:
    """Register the Gemini methods of publisher ``google`` and the endpoint routes."""
    registry.register(
        "google",
        "generateContent",
        generate_content,
        rpc="PredictionService.GenerateContent",
        request_method="generateContent",
    )
    registry.register(
        "google",
        "streamGenerateContent",
        stream_generate_content,
        rpc="PredictionService.StreamGenerateContent",
        request_method="streamGenerateContent",
        streaming=True,
    )
    registry.register(
        "google",
        "countTokens",
        count_tokens,
        rpc="PredictionService.CountTokens",
        request_method="countTokens",
    )
    registry.register(
        "google", "predict", predict, rpc="PredictionService.Predict", request_method="predict"
    )
    registry.register(
        "google",
        "embedContent",
        embed_content,
        rpc="PredictionService.EmbedContent",
        request_method="embedContent",
    )
    claude.register(registry)
    openai_compat.register(registry)
    for method in (*_GEMINI_METHODS, "predict", "rawPredict", "streamRawPredict"):
        registry.register(
            ENDPOINT,
            method,
            endpoint_not_found,
            rpc=f"PredictionService.{method[:1].upper()}{method[1:]}",
            request_method=method if method in _GEMINI_METHODS else None,
            streaming=method.startswith("stream"),
        )
