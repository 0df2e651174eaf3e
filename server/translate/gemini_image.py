"""Gemini image models over `:generateContent` with the IMAGE modality: GenerateImages and
EditImage -> GenerateContentRequest bodies, replies -> image slots, text, finish reason and
usage. Pure functions, no I/O; the Gemini chat translator supplies parts and usage.

Gemini returns one image per call, so N images are N calls (the backend sends them
concurrently). Imagen-only settings are INVALID_ARGUMENT naming the field, never ignored.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from vertex_gateway.v1 import common_pb2, image_pb2

from server.errors import FieldViolation, invalid_request, upstream_malformed
from server.routing.registry import ModelSpec

from . import image_shapes
from .gemini_chat import finish_reason, media_part, usage_from
from .labels import label_problems
from .message_checks import message_problems
from .tolerant import tolerant

_PERSON = {
    image_pb2.PERSON_GENERATION_DONT_ALLOW: "ALLOW_NONE",
    image_pb2.PERSON_GENERATION_ALLOW_ADULT: "ALLOW_ADULT",
    image_pb2.PERSON_GENERATION_ALLOW_ALL: "ALLOW_ALL",
}
_IMAGEN_ONLY = (
    "negative_prompt",
    "safety_filter_level",
    "language",
    "output_gcs_uri",
    "include_safety_attributes",
)
_IMAGEN_ONLY_OPTIONAL = ("enhance_prompt", "guidance_scale")


def _imagen_only(
    request: image_pb2.GenerateImagesRequest | image_pb2.EditImageRequest,
    spec: ModelSpec,
    out: list[FieldViolation],
) -> None:
    for name in _IMAGEN_ONLY:
        if getattr(request, name, None):
            out.append(FieldViolation(name, f"is an Imagen setting; {spec.id} does not take it"))
    message: Any = request  # the optional fields differ between the two request types
    for name in _IMAGEN_ONLY_OPTIONAL:
        if name in request.DESCRIPTOR.fields_by_name and message.HasField(name):
            out.append(FieldViolation(name, f"is an Imagen setting; {spec.id} does not take it"))
    if request.HasField("add_watermark") and not request.add_watermark:
        out.append(FieldViolation("add_watermark", f"{spec.id} always adds a SynthID watermark"))
    image_shapes.output_problems(request, out)
    if request.output_mime_type == "image/jpeg":
        out.append(FieldViolation("output_mime_type", f"{spec.id} returns PNG images"))
    out.extend(label_problems(request.labels))


def _config(
    request: image_pb2.GenerateImagesRequest | image_pb2.EditImageRequest,
    aspect_ratio: str | None,
    image_size: str | None,
) -> dict[str, Any]:
    image_config: dict[str, Any] = {}
    if aspect_ratio:
        image_config["aspectRatio"] = aspect_ratio
    if image_size:
        image_config["imageSize"] = image_size
    if request.person_generation in _PERSON:
        image_config["personGeneration"] = _PERSON[request.person_generation]
    config: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"]}
    if image_config:
        config["imageConfig"] = image_config
    if request.HasField("seed"):
        config["seed"] = request.seed
    return config


def _body(
    request: image_pb2.GenerateImagesRequest | image_pb2.EditImageRequest,
    parts: list[dict[str, Any]],
    config: dict[str, Any],
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contents": [{"role": "user", "parts": parts}],
        "generationConfig": config,
    }
    if request.labels:
        body["labels"] = dict(request.labels)
    return body


def to_generate(request: image_pb2.GenerateImagesRequest, spec: ModelSpec) -> dict[str, Any]:
    """The body of one call of a GenerateImages request (each call makes one image)."""
    out: list[FieldViolation] = list(message_problems(request))
    if not request.prompt.strip():
        out.append(FieldViolation("prompt", "is required"))
    shape = image_shapes.shape(request, image_shapes.GEMINI_RATIOS, spec.image_sizes, out)
    _imagen_only(request, spec, out)
    if out:
        raise invalid_request(out)
    config = _config(request, shape.aspect_ratio, shape.image_size)
    return _body(request, [{"text": request.prompt}], config)


def to_edit(request: image_pb2.EditImageRequest, spec: ModelSpec) -> dict[str, Any]:
    """The body of one call of an EditImage request: the image, the references, the instruction."""
    from .imagen import variation_unimplemented

    if request.edit_mode == image_pb2.EDIT_MODE_VARIATION:
        raise variation_unimplemented()
    out: list[FieldViolation] = list(message_problems(request))
    if not request.prompt.strip():
        out.append(FieldViolation("prompt", "is required: the edit instruction"))
    if request.edit_mode != image_pb2.EDIT_MODE_UNSPECIFIED:
        out.append(
            FieldViolation(
                "edit_mode",
                f"{spec.id} edits from the prompt; masked modes need imagen-3.0-capability-001",
            )
        )
    if request.HasField("mask"):
        out.append(
            FieldViolation("mask", f"{spec.id} takes no mask; describe the area in the prompt")
        )
    if request.HasField("edit_steps"):
        out.append(
            FieldViolation("edit_steps", f"is an Imagen setting; {spec.id} does not take it")
        )
    image_shapes.media_problems(request.image, "image", out)
    for i, ref in enumerate(request.reference_images):
        image_shapes.media_problems(ref, f"reference_images[{i}]", out)
    if request.aspect_ratio and request.aspect_ratio not in image_shapes.GEMINI_RATIOS:
        allowed = ", ".join(image_shapes.GEMINI_RATIOS)
        out.append(
            FieldViolation(
                "aspect_ratio", f"{request.aspect_ratio!r} is not supported; use {allowed}"
            )
        )
    if request.image_size and request.image_size not in spec.image_sizes:
        takes = (
            f"takes {', '.join(spec.image_sizes)}"
            if spec.image_sizes
            else "has no resolution choice"
        )
        out.append(FieldViolation("image_size", f"{spec.id} {takes}"))
    _imagen_only(request, spec, out)
    if out:
        raise invalid_request(out)
    parts = [media_part(request.image), *(media_part(r) for r in request.reference_images)]
    parts.append({"text": request.prompt})
    config = _config(request, request.aspect_ratio or None, request.image_size or None)
    return _body(request, parts, config)


def _decode(text: Any) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise upstream_malformed("image reply: inlineData.data is not base64") from None


@tolerant
def from_generate(payload: Any) -> image_pb2.GenerateImagesResponse:
    """Images, text, finish reason and usage of one reply (model and served_by left unset).

    A reply without an image becomes one slot whose filtered_reason says why (the finish reason
    and Vertex's message), so a caller never gets an empty success."""
    if not isinstance(payload, Mapping):
        raise upstream_malformed("image reply: expected a JSON object")
    reply = image_pb2.GenerateImagesResponse(model_version=str(payload.get("modelVersion") or ""))
    candidates = payload.get("candidates") or []
    candidate = candidates[0] if isinstance(candidates, list) and candidates else {}
    if not isinstance(candidate, Mapping):
        raise upstream_malformed("image reply: a candidate is not an object")
    content = candidate.get("content") or {}
    parts = content.get("parts") if isinstance(content, Mapping) else None
    texts: list[str] = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, Mapping) or part.get("thought"):
            continue
        blob = part.get("inlineData")
        if isinstance(blob, Mapping) and str(blob.get("mimeType", "")).startswith("image/"):
            media = common_pb2.Media(
                mime_type=str(blob["mimeType"]), data=_decode(blob.get("data"))
            )
            reply.images.add().image.CopyFrom(media)
        elif isinstance(part.get("text"), str):
            texts.append(part["text"])
    reply.text = "".join(texts)
    native = candidate.get("finishReason") or ""
    feedback = payload.get("promptFeedback")
    blocked = feedback.get("blockReason") if isinstance(feedback, Mapping) else None
    if blocked:
        native = str(blocked)
        reply.finish_reason = common_pb2.FINISH_REASON_CONTENT_FILTER
    elif native:
        reply.finish_reason = finish_reason(str(native))
    reply.native_finish_reason = str(native)
    if not reply.images:
        message = candidate.get("finishMessage") or (
            feedback.get("blockReasonMessage") if isinstance(feedback, Mapping) else None
        )
        reason = str(native or "NO_IMAGE") + (f": {message}" if message else "")
        reply.images.add().filtered_reason = f"no image was returned ({reason})"
    meta = payload.get("usageMetadata")
    if isinstance(meta, Mapping):
        reply.usage.CopyFrom(usage_from(meta))
    return reply
