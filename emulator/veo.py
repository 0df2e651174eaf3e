"""Veo video generation: ``:predictLongRunning`` and ``:fetchPredictOperation`` (vertex-wire.md §9).

``POST …/publishers/google/models/{veo}:predictLongRunning`` with ``{"instances": [{"prompt",
"image"?, "lastFrame"?}], "parameters"?, "labels"?}`` (checked by ``veo_rules`` first) answers
``{"name": "…/publishers/google/models/{veo}/operations/{uuid}"}``. ``POST
…/models/{veo}:fetchPredictOperation`` with ``{"operationName": that name}`` answers the
Operation: ``{"name"}`` for the first ``veo_pending_fetches`` polls, then ``{"name", "done":
true, "response": {"@type": "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse",
"raiMediaFilteredCount", "raiMediaFilteredReasons"?, "videos"?: [...]}}`` or ``{"name", "done":
true, "error": {"code", "message"}}`` (see ``veo_ops``).

Videos are real MP4 files (``veo_frames``): inline as ``{"bytesBase64Encoded", "mimeType":
"video/mp4"}``, or — with ``parameters.storageUri`` — written to Cloud Storage as
``{storageUri without a trailing /}/{operation uuid}/sample_{i}.mp4`` and answered as
``{"gcsUri", "mimeType"}``. Input images may be inline or ``gs://`` objects (read when the
operation starts).

Triggers in the prompt: ``[filter]`` withholds the last video of the sample, ``[filter-all]``
every video (``raiMediaFilteredCount`` counts them, ``raiMediaFilteredReasons`` says why);
``[fail]`` ends the operation with ``error: {"code": 3, …}``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

from aiohttp import web
from PIL import Image

from emulator import errors, images
from emulator.config import normalize_storage_url
from emulator.errors import GoogleError
from emulator.gcs import GcsClient, GcsError, GcsNotFound, GcsUri
from emulator.gemini import canonical_json
from emulator.unary import send_unary
from emulator.veo_frames import VideoPlan, render_mp4
from emulator.veo_ops import OperationName, VideoOperation
from emulator.veo_rules import (
    DEFAULT_ASPECT_RATIO,
    DEFAULT_DURATION,
    DEFAULT_SAMPLES,
    UNEMULATED_KEYS,
    parameters_of,
)
from emulator.vertex import VertexCall
from emulator.video_file import MIME_TYPE

RESPONSE_TYPE = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
FILTER_TRIGGER = "[filter]"
FILTER_ALL_TRIGGER = "[filter-all]"
FAIL_TRIGGER = "[fail]"
CODE_INVALID_ARGUMENT = 3
CODE_NOT_FOUND = 5
CODE_INTERNAL = 13
FILTERED_REASON = (
    "The generated video was filtered out because it violates Vertex AI's usage guidelines. "
    "You will not be charged for blocked videos. Try rephrasing the prompt. If you think this "
    "was an error, send feedback. Support codes: 56562880"
)


class VeoRejected(ValueError):
    """A 400 found while starting the operation (unreadable input, unemulated member)."""


def _refuse(call: VertexCall, error: GoogleError) -> web.Response:
    """A 400 about the caller's media or the emulator's limits: recorded, not audited."""
    call.record.schema_errors = [*call.record.schema_errors, error.message]
    return errors.error_response(error)


def _not_served(call: VertexCall) -> web.Response | None:
    if call.model is None or call.model.veo is None:
        error = errors.invalid_argument(
            f"Model {call.target.resource} does not support {call.target.method}."
        )
        return errors.error_response(error)
    return None


def storage_not_configured() -> GoogleError:
    """The answer when a request needs Cloud Storage and the emulator has none."""
    return GoogleError(
        400,
        "Cloud Storage input and output are unavailable: the Vertex emulator has no Cloud "
        "Storage configured. Start it with --storage-url URL (or set STORAGE_EMULATOR_HOST).",
        "FAILED_PRECONDITION",
    )


async def _read_image(media: dict[str, Any], where: str, storage_url: str | None) -> Image.Image:
    if "bytesBase64Encoded" in media:
        data = base64.b64decode(media["bytesBase64Encoded"])
    else:
        assert storage_url is not None
        uri = GcsUri.parse(media["gcsUri"])
        try:
            async with GcsClient(storage_url) as gcs:
                data = await gcs.read_object(uri)
        except GcsNotFound:
            raise VeoRejected(f"{where}.gcsUri {uri} does not exist.") from None
    try:
        return await asyncio.to_thread(images.decode, data)
    except images.UnreadableImage:
        raise VeoRejected(f"{where} is not a PNG or JPEG image that can be decoded.") from None


def _needs_storage(instance: dict[str, Any], params: dict[str, Any]) -> bool:
    media = [instance.get(k) for k in ("image", "lastFrame")]
    return "storageUri" in params or any(isinstance(m, dict) and "gcsUri" in m for m in media)


async def predict_long_running(call: VertexCall) -> web.StreamResponse:
    """Start a video operation; answer its name."""
    if (refused := _not_served(call)) is not None:
        return refused
    assert call.model is not None
    instance = call.body["instances"][0]
    params = parameters_of(call.body)
    unemulated = [k for k in UNEMULATED_KEYS if k in instance]
    if unemulated:
        return _refuse(
            call,
            errors.invalid_argument(
                f"instances[0].{unemulated[0]}: the Vertex emulator makes videos from a prompt "
                "and first / last frame images only (no extension, reference images or masks)."
            ),
        )
    storage_url = normalize_storage_url(call.state.options.storage_url)
    if _needs_storage(instance, params) and storage_url is None:
        return errors.error_response(storage_not_configured())
    operation = VideoOperation(
        call.state.video_operations.new_name(call.target.resource), call.model, call.body
    )
    try:
        if "image" in instance:
            operation.first = await _read_image(
                instance["image"], "instances[0].image", storage_url
            )
        if "lastFrame" in instance:
            operation.last = await _read_image(
                instance["lastFrame"], "instances[0].lastFrame", storage_url
            )
    except VeoRejected as exc:
        return _refuse(call, errors.invalid_argument(str(exc)))
    except GcsError as exc:
        return errors.error_response(GoogleError(500, f"Cloud Storage failed: {exc}", "INTERNAL"))
    call.state.video_operations.add(operation)
    return await send_unary(call, {"name": operation.name})


def _seed(operation: VideoOperation, index: int) -> bytes:
    instance = operation.body["instances"][0]
    params = parameters_of(operation.body)
    shaping = {
        k: params.get(k)
        for k in ("negativePrompt", "seed", "aspectRatio", "durationSeconds", "resizeMode")
    }
    inputs = {k: instance.get(k) for k in ("prompt", "image", "lastFrame")}
    text = canonical_json([operation.model.model_id, inputs, shaping, index])
    return hashlib.sha256(text.encode()).digest()


def _plans(operation: VideoOperation) -> list[VideoPlan]:
    params = parameters_of(operation.body)
    count = int(params.get("sampleCount", DEFAULT_SAMPLES))
    return [
        VideoPlan(
            seed=_seed(operation, index),
            aspect_ratio=str(params.get("aspectRatio", DEFAULT_ASPECT_RATIO)),
            duration_seconds=int(params.get("durationSeconds", DEFAULT_DURATION)),
            first=operation.first,
            last=operation.last,
            resize_mode=str(params.get("resizeMode", "pad")),
        )
        for index in range(count)
    ]


def withheld(prompt: str, count: int) -> int:
    """How many of ``count`` videos the prompt's filter trigger withholds."""
    if FILTER_ALL_TRIGGER in prompt:
        return count
    return 1 if FILTER_TRIGGER in prompt else 0


async def _write_videos(
    operation: VideoOperation, storage_uri: str, storage_url: str, videos: list[bytes]
) -> list[dict[str, str]]:
    prefix = GcsUri.parse(storage_uri, require_object=False)
    out = []
    async with GcsClient(storage_url) as gcs:
        for index, data in enumerate(videos):
            target = prefix.child(f"{operation.operation_id}/sample_{index}.mp4")
            await gcs.write_object(target, data, MIME_TYPE)
            out.append({"gcsUri": str(target), "mimeType": MIME_TYPE})
    return out


async def _outcome(operation: VideoOperation, storage_url: str | None) -> dict[str, Any]:
    """Make the videos and the done Operation."""
    done: dict[str, Any] = {"name": operation.name, "done": True}
    prompt = str(operation.body["instances"][0].get("prompt", ""))
    if FAIL_TRIGGER in prompt:
        message = (
            "Video generation failed: the Vertex emulator was asked to fail this operation "
            f"(the prompt contains {FAIL_TRIGGER})."
        )
        return {**done, "error": {"code": CODE_INVALID_ARGUMENT, "message": message}}
    plans = _plans(operation)
    kept = plans[: len(plans) - withheld(prompt, len(plans))]
    videos = [await asyncio.to_thread(render_mp4, plan) for plan in kept]
    storage_uri = parameters_of(operation.body).get("storageUri")
    if storage_uri and videos:
        assert storage_url is not None
        try:
            listed = await _write_videos(operation, str(storage_uri), storage_url, videos)
        except GcsError as exc:
            code = CODE_NOT_FOUND if isinstance(exc, GcsNotFound) else CODE_INTERNAL
            reason = "the bucket does not exist" if code == CODE_NOT_FOUND else str(exc)
            message = f"Failed to write the generated videos to {storage_uri}: {reason}."
            return {**done, "error": {"code": code, "message": message}}
    else:
        listed = [
            {"bytesBase64Encoded": base64.b64encode(data).decode("ascii"), "mimeType": MIME_TYPE}
            for data in videos
        ]
    response: dict[str, Any] = {
        "@type": RESPONSE_TYPE,
        "raiMediaFilteredCount": len(plans) - len(kept),
    }
    if len(kept) < len(plans):
        response["raiMediaFilteredReasons"] = [FILTERED_REASON]
    if listed:
        response["videos"] = listed
    return {**done, "response": response}


def _operation_error(call: VertexCall) -> tuple[OperationName | None, web.Response | None]:
    raw = call.body.get("operationName")
    if not raw:
        return None, errors.error_response(errors.invalid_argument("operation_name is required."))
    name = OperationName.parse(str(raw))
    if name is None:
        return None, errors.error_response(
            errors.invalid_argument(
                f"Invalid operation name `{raw}`: expected "
                "projects/{project}/locations/{location}/publishers/{publisher}/models/{model}"
                "/operations/{operation}."
            )
        )
    here = OperationName.parse(f"{call.target.resource}/operations/-")
    assert here is not None
    if not name.same_model(here):
        return None, errors.error_response(
            errors.invalid_argument(
                f"Operation `{raw}` does not belong to the model `{call.target.resource}` of "
                "this request."
            )
        )
    return name, None


async def fetch_predict_operation(call: VertexCall) -> web.StreamResponse:
    """Poll a video operation; the poll that completes it makes (and stores) the videos."""
    if (refused := _not_served(call)) is not None:
        return refused
    assert call.model is not None
    name, problem = _operation_error(call)
    if problem is not None:
        return problem
    assert name is not None
    operation = call.state.video_operations.get(name)
    if operation is None:
        error = GoogleError(
            404, f"Operation `{call.body['operationName']}` not found.", "NOT_FOUND"
        )
        return errors.error_response(error)
    async with operation.lock:
        operation.fetches += 1
        if operation.outcome is None:
            if operation.fetches <= call.state.config.veo_pending_fetches:
                return await send_unary(call, {"name": operation.name})
            storage_url = normalize_storage_url(call.state.options.storage_url)
            operation.outcome = await _outcome(operation, storage_url)
        return await send_unary(call, operation.outcome)
