"""``gemini-2.5-flash-image`` over ``:generateContent`` / ``:streamGenerateContent`` when the
reply holds an image (vertex-wire.md §6.3).

Request checks (``config_problems``, run with the other Vertex rules so they are audited):
``responseModalities`` one of ``[TEXT, IMAGE]``, ``[IMAGE]``, ``[TEXT]`` (none named = text and
image, as Google's samples rely on); ``imageConfig.aspectRatio`` one of the ten ratios the
discovery document lists; ``imageSize`` 1K, 2K or 4K; ``imageOutputOptions`` PNG or JPEG with a
quality of 0 to 100. ``imageConfig`` is in the packaged discovery document (marked deprecated in
favour of ``responseFormat``), so the transcoder walker checks its names and types first.
``[TEXT]`` alone gets the ordinary Gemini text reply (``gemini.py``).

Reply: a short text part (with TEXT) and ``{"inlineData": {"mimeType": "image/png", "data"}}``,
a real image at the ratio's native size (``images.GEMINI_SIZES``; the model renders about a
megapixel whatever ``imageSize`` says). With an input image (``inlineData`` ``image/*`` in the
last user turn, else the latest one in the conversation) the reply is an edit of it: same size,
the centre redrawn. Usage: prompt as usual, 1290 output tokens per image
(``candidatesTokensDetails`` IMAGE) plus the text's. ``[filter]`` in the last user text ends the
candidate with ``IMAGE_SAFETY``, a ``finishMessage`` and no content.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime
from typing import Any

from PIL import Image

from emulator import images
from emulator.catalog import ModelInfo
from emulator.counting import count_prompt, count_tokens
from emulator.gemini import TRAFFIC_TYPE, canonical_json, last_user_text, topic_of
from emulator.gemini_output import effective, modality_problem

# Gemini's output cost of one generated image (Vertex pricing: 1290 tokens per 1024px image).
IMAGE_TOKENS = 1290
FILTER_TRIGGER = "[filter]"
IMAGE_SIZES = ("1K", "2K", "4K")
DEFAULT_ASPECT_RATIO = "1:1"
# Vertex's answer to an input image it cannot decode (wording from public reports).
UNREADABLE_INPUT = (
    "Unable to process input image. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting"
)
FILTERED_MESSAGE = (
    "Unable to show the generated image. The image was filtered out because it violated "
    "Google's Generative AI Prohibited Use policy. You will not be charged for blocked images. "
    "Try rephrasing the prompt. If you think this was an error, send feedback."
)

Problem = tuple[str | None, str]
_CONFIG = "generation_config.image_config"


class InputImageRejected(ValueError):
    """An input image that cannot be decoded (a 400 the handler answers)."""


def _image_config(body: dict[str, Any]) -> dict[str, Any]:
    config = body.get("generationConfig")
    image_config = config.get("imageConfig") if isinstance(config, dict) else None
    return image_config if isinstance(image_config, dict) else {}


def _invalid(field: str, name: str, value: Any, allowed: tuple[str, ...]) -> Problem:
    return (
        f"{_CONFIG}.{field}",
        f"Unable to submit request because it has an invalid {name} `{value}`. Supported "
        f"values: {', '.join(allowed)}.",
    )


def config_problems(body: dict[str, Any], model: ModelInfo) -> list[Problem]:
    """The first problem of an image-model request (an empty list when all is well)."""
    problem = modality_problem(body, model)
    if problem is not None:
        return [problem]
    config = _image_config(body)
    ratio = config.get("aspectRatio")
    if ratio is not None and ratio not in images.GEMINI_SIZES:
        return [_invalid("aspect_ratio", "aspect_ratio", ratio, tuple(images.GEMINI_SIZES))]
    size = config.get("imageSize")
    if size is not None and size not in IMAGE_SIZES:
        return [_invalid("image_size", "image_size", size, IMAGE_SIZES)]
    options = config.get("imageOutputOptions")
    if isinstance(options, dict):
        mime = options.get("mimeType")
        if mime is not None and mime not in images.OUTPUT_MIME_TYPES:
            return [
                _invalid(
                    "image_output_options.mime_type", "mime_type", mime, images.OUTPUT_MIME_TYPES
                )
            ]
        quality = options.get("compressionQuality")
        if quality is not None and not 0 <= int(quality) <= 100:
            return [
                (
                    f"{_CONFIG}.image_output_options.compression_quality",
                    "Unable to submit request because it has a compression_quality value of "
                    f"{quality} but the supported range is from 0 (inclusive) to 101 (exclusive). "
                    "Update the value and try again.",
                )
            ]
    return []


def wants_image(body: dict[str, Any], model: ModelInfo) -> bool:
    """True when the reply is to hold an image (IMAGE requested, or no modality named)."""
    return model.media is not None and "IMAGE" in effective(body, model)


def _inline_images(content: Any) -> list[bytes]:
    found = []
    parts = (content.get("parts") or []) if isinstance(content, dict) else []
    for part in parts:
        blob = part.get("inlineData") if isinstance(part, dict) else None
        if isinstance(blob, dict) and str(blob.get("mimeType", "")).lower().startswith("image/"):
            found.append(_bytes(str(blob.get("data", ""))))
    return found


def _bytes(text: str) -> bytes:
    # proto3 JSON ``bytes``: standard or URL-safe base64, padding optional.
    try:
        return base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "==")
    except (binascii.Error, ValueError):
        raise InputImageRejected(UNREADABLE_INPUT) from None


def input_image(body: dict[str, Any]) -> bytes | None:
    """The image an edit starts from: the first of the last user turn, else the latest one."""
    contents = [c for c in body.get("contents") or [] if isinstance(c, dict)]
    users = [c for c in contents if c.get("role", "user") == "user"]
    if users and (first := _inline_images(users[-1])):
        return first[0]
    for content in reversed(contents):
        if found := _inline_images(content):
            return found[-1]
    return None


def _picture(body: dict[str, Any], seed: str, base: Image.Image | None) -> images.Encoded:
    config = _image_config(body)
    options = config.get("imageOutputOptions") or {}
    mime = str(options.get("mimeType", images.PNG))
    quality = options.get("compressionQuality")
    if base is not None:
        picture = images.edit(base, images.ellipse_mask(base.size, inside=True), seed)
    else:
        ratio = str(config.get("aspectRatio") or DEFAULT_ASPECT_RATIO)
        picture = images.render(seed, images.GEMINI_SIZES[ratio])
    return images.encode(picture, mime, None if quality is None else int(quality))


def _metadata(body: dict[str, Any], model: ModelInfo, now: datetime | None) -> dict[str, Any]:
    digest = hashlib.sha256(f"{model.model_id}\n{canonical_json(body)}".encode()).digest()
    return {
        "modelVersion": model.model_version,
        "createTime": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "responseId": base64.urlsafe_b64encode(digest[:17]).decode("ascii").rstrip("="),
    }


def _usage(body: dict[str, Any], text_tokens: int, image_count: int) -> dict[str, Any]:
    prompt = count_prompt(body)
    output = text_tokens + IMAGE_TOKENS * image_count
    usage: dict[str, Any] = {"promptTokenCount": prompt.total}
    if output:
        usage["candidatesTokenCount"] = output
    usage["totalTokenCount"] = prompt.total + output
    usage["trafficType"] = TRAFFIC_TYPE
    usage["promptTokensDetails"] = prompt.details()
    details = []
    if text_tokens:
        details.append({"modality": "TEXT", "tokenCount": text_tokens})
    if image_count:
        details.append({"modality": "IMAGE", "tokenCount": IMAGE_TOKENS * image_count})
    if details:
        usage["candidatesTokensDetails"] = details
    return usage


def _candidates(body: dict[str, Any], model: ModelInfo) -> list[tuple[str | None, dict[str, Any]]]:
    """Per candidate: its text (None without TEXT) and its image part."""
    config = body.get("generationConfig") or {}
    count = int(config.get("candidateCount") or 1)
    data = input_image(body)
    base = None
    if data is not None:
        try:
            base = images.decode(data)
        except images.UnreadableImage:
            raise InputImageRejected(UNREADABLE_INPUT) from None
    topic = topic_of(last_user_text(body))
    talks = "TEXT" in effective(body, model)
    out = []
    for index in range(count):
        seed = canonical_json([model.model_id, canonical_json(body.get("contents")), index])
        encoded = _picture(body, seed, base)
        part = {
            "inlineData": {
                "mimeType": encoded.mime_type,
                "data": base64.b64encode(encoded.data).decode("ascii"),
            }
        }
        text = None
        if talks:
            what = "the edited image" if base is not None else "an image"
            text = f'Here is {what} for "{topic}", drawn by the Vertex emulator.'
        out.append((text, part))
    return out


def _filtered(body: dict[str, Any]) -> bool:
    return FILTER_TRIGGER in last_user_text(body)


def _finish(index: int, parts: list[dict[str, Any]] | None, reason: str) -> dict[str, Any]:
    candidate: dict[str, Any] = {}
    if parts is not None:
        candidate["content"] = {"role": "model", "parts": parts}
    if index:
        candidate["index"] = index
    candidate["finishReason"] = reason
    if reason == "IMAGE_SAFETY":
        candidate["finishMessage"] = FILTERED_MESSAGE
    return candidate


def _blocked_response(
    body: dict[str, Any], model: ModelInfo, now: datetime | None
) -> dict[str, Any]:
    config = body.get("generationConfig") or {}
    count = int(config.get("candidateCount") or 1)
    return {
        "candidates": [_finish(i, None, "IMAGE_SAFETY") for i in range(count)],
        "usageMetadata": _usage(body, 0, 0),
        **_metadata(body, model, now),
    }


def unary_response(
    body: dict[str, Any], model: ModelInfo, now: datetime | None = None
) -> dict[str, Any]:
    """The GenerateContentResponse of ``:generateContent`` (or :class:`InputImageRejected`)."""
    if _filtered(body):
        return _blocked_response(body, model, now)
    planned = _candidates(body, model)
    candidates = []
    for index, (text, image) in enumerate(planned):
        parts = ([{"text": text}] if text is not None else []) + [image]
        candidates.append(_finish(index, parts, "STOP"))
    text_tokens = sum(count_tokens(t) for t, _ in planned if t is not None)
    return {
        "candidates": candidates,
        "usageMetadata": _usage(body, text_tokens, len(planned)),
        **_metadata(body, model, now),
    }


def stream_chunks(
    body: dict[str, Any], model: ModelInfo, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The chunks of ``:streamGenerateContent``: the text first, then the image (whole, as
    Vertex sends it) with the finish reason and the usage."""
    if _filtered(body):
        return [_blocked_response(body, model, now)]
    planned = _candidates(body, model)
    metadata = _metadata(body, model, now)
    chunks = []
    if any(text is not None for text, _ in planned):
        opening = []
        for index, (text, _) in enumerate(planned):
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
            if index:
                candidate["index"] = index
            opening.append(candidate)
        chunks.append(
            {"candidates": opening, "usageMetadata": {"trafficType": TRAFFIC_TYPE}, **metadata}
        )
    text_tokens = sum(count_tokens(t) for t, _ in planned if t is not None)
    closing = [_finish(index, [image], "STOP") for index, (_, image) in enumerate(planned)]
    chunks.append(
        {
            "candidates": closing,
            "usageMetadata": _usage(body, text_tokens, len(planned)),
            **metadata,
        }
    )
    return chunks
