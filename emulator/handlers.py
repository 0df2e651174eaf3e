"""Method handlers and their registration: publisher ``google`` (Gemini text, image and speech
replies, countTokens, ``:predict`` of Imagen and embedding models, ``:embedContent``, Veo's
``:predictLongRunning`` / ``:fetchPredictOperation``), Claude, the OpenAI-compatible endpoint
and the project endpoints (tuned Gemini models, ``tuned_endpoints.py``)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from aiohttp import web

from emulator import (
    claude,
    embeddings,
    errors,
    gemini_image,
    imagen,
    imagen_rules,
    multimodal_embeddings,
    openai_compat,
    tts,
    tuned_endpoints,
    veo,
    veo_rules,
)
from emulator.catalog import ModelInfo, OutputModality
from emulator.gemini import count_tokens_response, plan_reply, stream_chunks, unary_response
from emulator.routing import ENDPOINT, MethodRegistry
from emulator.sse import ChunkWriter
from emulator.unary import send_unary
from emulator.vertex import VertexCall

_GEMINI_METHODS = ("generateContent", "streamGenerateContent", "countTokens")


def _not_generative(call: VertexCall) -> web.StreamResponse | None:
    """Embedding and Imagen models do not generate content: Vertex refuses the method for them."""
    if call.model is not None and not call.model.generates_content:
        error = errors.invalid_argument(
            f"Model {call.target.resource} does not support {call.target.method}."
        )
        return errors.error_response(error, wrap_array=call.wrap_errors)
    return None


def _refuse_media(call: VertexCall, message: str) -> web.StreamResponse:
    """A 400 about the caller's media: on the request record, not in the audit (the caller's
    bytes break it, not how the body was built)."""
    call.record.schema_errors = [*call.record.schema_errors, message]
    return errors.error_response(errors.invalid_argument(message), wrap_array=call.wrap_errors)


def _speaks(model: ModelInfo) -> bool:
    return model.media is not None and model.media.modality is OutputModality.AUDIO


async def generate_content(call: VertexCall) -> web.StreamResponse:
    """``:generateContent`` (speech and image models answer with their media)."""
    model = call.model
    assert model is not None
    if (refused := _not_generative(call)) is not None:
        return refused
    if _speaks(model):
        return await send_unary(call, tts.unary_response(call.body, model))
    if gemini_image.wants_image(call.body, model):
        try:
            # Drawing and encoding are CPU work: keep the event loop free for other requests.
            payload = await asyncio.to_thread(gemini_image.unary_response, call.body, model)
        except gemini_image.InputImageRejected as exc:
            return _refuse_media(call, str(exc))
        return await send_unary(call, payload)
    return await send_unary(call, unary_response(plan_reply(call.body, model)))


async def stream_generate_content(call: VertexCall) -> web.StreamResponse:
    """``:streamGenerateContent`` as SSE (``alt=sse``) or as an incrementally written JSON array."""
    model = call.model
    assert model is not None
    if (refused := _not_generative(call)) is not None:
        return refused
    interval = 0.0
    if _speaks(model):
        chunks = tts.stream_chunks(call.body, model)
        interval = tts.STREAM_INTERVAL
    elif gemini_image.wants_image(call.body, model):
        try:
            chunks = await asyncio.to_thread(gemini_image.stream_chunks, call.body, model)
        except gemini_image.InputImageRejected as exc:
            return _refuse_media(call, str(exc))
    else:
        chunks = stream_chunks(plan_reply(call.body, model))
    writer = ChunkWriter(
        call.request, call.record, sse=call.sse, fault=call.fault, interval=interval
    )
    return await writer.run(chunks)


async def count_tokens(call: VertexCall) -> web.StreamResponse:
    """``:countTokens``."""
    if (refused := _not_generative(call)) is not None:
        return refused
    return await send_unary(call, count_tokens_response(call.body))


async def predict(call: VertexCall) -> web.StreamResponse:
    """``:predict`` of an Imagen or embedding model. Gemini image and speech models get Vertex's
    refusal; the Gemini chat models answer as before ``:predict`` existed (HTML 404)."""
    model = call.model
    if model is None:
        return errors.html_not_found(call.request.path)
    if model.imagen is not None:
        try:
            payload = await asyncio.to_thread(imagen.predict_response, call.body, model)
        except imagen.ImagenRejected as exc:
            return _refuse_media(call, str(exc))
        return await send_unary(call, payload)
    if model.media is not None:
        return errors.error_response(errors.gemini_not_on_predict())
    if model.embedding is None:
        return errors.html_not_found(call.request.path)
    try:
        if model.embedding.multimodal:
            payload = multimodal_embeddings.predict_response(call.body, model)
        else:
            payload = embeddings.predict_response(call.body, model)
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


async def endpoint_predict(call: VertexCall) -> web.StreamResponse:
    """``:predict`` / ``:rawPredict`` / ``:streamRawPredict`` of a project endpoint: Vertex's
    refusal for a tuned Gemini, the endpoint 404 otherwise (custom models are not emulated)."""
    error = tuned_endpoints.predict_error(call.state.resources, call.target)
    return errors.error_response(error, wrap_array=call.wrap_errors)


_GEMINI_HANDLERS = {
    "generateContent": generate_content,
    "streamGenerateContent": stream_generate_content,
    "countTokens": count_tokens,
}


async def endpoint_gemini(call: VertexCall) -> web.StreamResponse:
    """A Gemini method of an endpoint serving a tuned Gemini: answered as its base model (the
    pipeline already refused endpoints that serve none)."""
    model = tuned_endpoints.serving_model(call.state.resources, call.target)
    assert model is not None
    return await _GEMINI_HANDLERS[call.target.method](replace(call, model=model))


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
        "google",
        "predict",
        predict,
        rpc="PredictionService.Predict",
        request_method="predict",
        # Imagen's instances and parameters are free JSON to the transcoder: checked here.
        validator=imagen_rules.problems,
    )
    registry.register(
        "google",
        "embedContent",
        embed_content,
        rpc="PredictionService.EmbedContent",
        request_method="embedContent",
    )
    registry.register(
        "google",
        "predictLongRunning",
        veo.predict_long_running,
        rpc="PredictionService.PredictLongRunning",
        request_method="predictLongRunning",
        # Veo's instances and parameters are free JSON to the transcoder: checked here.
        validator=veo_rules.problems,
    )
    registry.register(
        "google",
        "fetchPredictOperation",
        veo.fetch_predict_operation,
        rpc="PredictionService.FetchPredictOperation",
        request_method="fetchPredictOperation",
    )
    claude.register(registry)
    openai_compat.register(registry)
    for method in (*_GEMINI_METHODS, *tuned_endpoints.PREDICT_METHODS):
        registry.register(
            ENDPOINT,
            method,
            endpoint_gemini if method in _GEMINI_METHODS else endpoint_predict,
            rpc=f"PredictionService.{method[:1].upper()}{method[1:]}",
            request_method=method if method in _GEMINI_METHODS else None,
            streaming=method.startswith("stream"),
        )
