"""Multimodal embeddings: ``:predict`` of ``multimodalembedding@001`` (vertex-wire.md §5.3).

Request: ``{"instances": [{"text"?, "image"?: {"bytesBase64Encoded" | "gcsUri", "mimeType"?},
"video"?: {"bytesBase64Encoded" | "gcsUri", "videoSegmentConfig"?: {"startOffsetSec",
"endOffsetSec", "intervalSec"}}}], "parameters"?: {"dimension"}}`` — one instance per request,
at least one of text / image / video in it (combinations are accepted, as the model overview
says). Reply: ``{"predictions": [{"textEmbedding"?, "imageEmbedding"?, "videoEmbeddings"?:
[{"startOffsetSec", "endOffsetSec", "embedding"}]}], "deployedModelId"}``.

Vectors are deterministic: a SHA-256 counter stream seeded by the canonical JSON of (modality,
SHA-256 of the content bytes or the ``gs://`` URI, dimension[, segment offsets]), L2-normalised.
The emulator cannot read videos, so an inline video counts as 30 s long and a ``gs://`` video as
60 s; segments are cut every ``intervalSec`` (default 16) across ``[start, end)``, the last one
possibly shorter. ``startOffsetSec`` defaults to ``max(0, endOffsetSec - 120)`` (0 without an
end), ``endOffsetSec`` to ``min(video length, startOffsetSec + 120)``; an end past the video is
cut to the video length.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import struct
from typing import Any

from emulator.catalog import ModelInfo
from emulator.embeddings import EmbeddingError
from emulator.gemini import canonical_json

DIMENSIONS = (128, 256, 512, 1408)
VIDEO_DIMENSION = 1408
IMAGE_MIME_TYPES = ("image/jpeg", "image/png")
MIN_INTERVAL_SEC = 4
DEFAULT_INTERVAL_SEC = 16
MAX_SPAN_SEC = 120
INLINE_VIDEO_SEC = 30
GCS_VIDEO_SEC = 60
# Vertex names a numeric deployed-model id even for publisher models; any stable value will do.
DEPLOYED_MODEL_ID = "4460718254521188352"

INSTANCE_KEYS = ("text", "image", "video")
IMAGE_KEYS = ("bytesBase64Encoded", "gcsUri", "mimeType")
VIDEO_KEYS = ("bytesBase64Encoded", "gcsUri", "videoSegmentConfig")
SEGMENT_KEYS = ("startOffsetSec", "endOffsetSec", "intervalSec")
PARAMETER_KEYS = ("dimension",)


def unit_vector(seed: list[Any], dimensions: int) -> list[float]:
    """``dimensions`` deterministic floats of unit L2 norm for ``seed`` (JSON-able)."""
    data = canonical_json(seed).encode("utf-8")
    raw: list[float] = []
    counter = 0
    while len(raw) < dimensions:
        block = hashlib.sha256(data + counter.to_bytes(4, "big")).digest()
        raw.extend(v / 2**31 - 1.0 for v in struct.unpack(">8I", block))
        counter += 1
    raw = raw[:dimensions]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [v / norm for v in raw]


def _unknown_keys(value: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in value:
        if key not in allowed:
            raise EmbeddingError(
                f"Unknown field {key!r} in {where}; supported fields: {', '.join(allowed)}."
            )


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EmbeddingError(f"{where} must be a JSON object.")
    return value


def _media_source(media: dict[str, Any], where: str) -> tuple[str, str]:
    """``("bytes", sha256 hex)`` or ``("gcs", uri)`` for an image or video object."""
    data = media.get("bytesBase64Encoded")
    uri = media.get("gcsUri")
    if data is not None and uri is not None:
        raise EmbeddingError(
            f"{where}: only one of bytesBase64Encoded and gcsUri may be set, not both."
        )
    if data is None and uri is None:
        raise EmbeddingError(f"{where}: one of bytesBase64Encoded or gcsUri is required.")
    if data is not None:
        if not isinstance(data, str) or not data:
            raise EmbeddingError(f"{where}.bytesBase64Encoded must be a non-empty string.")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise EmbeddingError(
                f"{where}.bytesBase64Encoded is not valid base64-encoded data."
            ) from None
        if not raw:
            raise EmbeddingError(f"{where}.bytesBase64Encoded must not be empty.")
        return "bytes", hashlib.sha256(raw).hexdigest()
    if not isinstance(uri, str) or not uri.startswith("gs://") or "/" not in uri[5:].strip("/"):
        raise EmbeddingError(
            f"{where}.gcsUri must be a Cloud Storage URI of the form gs://bucket/object, "
            f"got {canonical_json(uri)}."
        )
    return "gcs", uri


def _image(value: Any) -> tuple[str, str]:
    image = _object(value, "instances[0].image")
    _unknown_keys(image, IMAGE_KEYS, "instances[0].image")
    mime = image.get("mimeType")
    if mime is not None and mime not in IMAGE_MIME_TYPES:
        raise EmbeddingError(
            f"Unsupported image mimeType {canonical_json(mime)}. "
            f"Supported MIME types: {', '.join(IMAGE_MIME_TYPES)}."
        )
    return _media_source(image, "instances[0].image")


def _seconds(config: dict[str, Any], name: str) -> int | None:
    value = config.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EmbeddingError(
            f"videoSegmentConfig.{name} must be a non-negative integer, "
            f"got {canonical_json(value)}."
        )
    return value


def video_segments(
    length: int, start: int | None, end: int | None, interval: int | None
) -> list[tuple[int, int]]:
    """The ``(start, end)`` offsets of the segments Vertex embeds for a video of ``length`` s."""
    step = DEFAULT_INTERVAL_SEC if interval is None else interval
    if step < MIN_INTERVAL_SEC:
        raise EmbeddingError(
            f"videoSegmentConfig.intervalSec is {step} but the minimum value is {MIN_INTERVAL_SEC}."
        )
    if start is None:
        start = 0 if end is None else max(0, end - MAX_SPAN_SEC)
    if end is None:
        end = min(length, start + MAX_SPAN_SEC)
    elif end <= start:
        raise EmbeddingError(
            f"videoSegmentConfig.endOffsetSec ({end}) must be greater than "
            f"startOffsetSec ({start})."
        )
    end = min(end, length)
    if start >= end:
        raise EmbeddingError(
            f"videoSegmentConfig.startOffsetSec ({start}) is not before the end of the "
            f"video ({length} s)."
        )
    return [(s, min(s + step, end)) for s in range(start, end, step)]


def _video(value: Any) -> tuple[tuple[str, str], list[tuple[int, int]]]:
    video = _object(value, "instances[0].video")
    _unknown_keys(video, VIDEO_KEYS, "instances[0].video")
    source = _media_source(video, "instances[0].video")
    raw_config = video.get("videoSegmentConfig")
    where = "instances[0].video.videoSegmentConfig"
    config = {} if raw_config is None else _object(raw_config, where)
    _unknown_keys(config, SEGMENT_KEYS, where)
    length = INLINE_VIDEO_SEC if source[0] == "bytes" else GCS_VIDEO_SEC
    segments = video_segments(
        length,
        _seconds(config, "startOffsetSec"),
        _seconds(config, "endOffsetSec"),
        _seconds(config, "intervalSec"),
    )
    return source, segments


def _dimension(parameters: Any) -> int:
    """``parameters.dimension``, 1408 when absent."""
    if parameters is None:
        return VIDEO_DIMENSION
    params = _object(parameters, "parameters")
    for key in params:
        if key not in PARAMETER_KEYS:
            raise EmbeddingError(
                f"Unknown parameter {key!r}; supported parameters: {', '.join(PARAMETER_KEYS)}."
            )
    value = params.get("dimension")
    if value is None:
        return VIDEO_DIMENSION
    if isinstance(value, bool) or value not in DIMENSIONS:
        raise EmbeddingError(
            f"Invalid dimension {canonical_json(value)}. "
            f"Supported dimensions: {', '.join(str(d) for d in DIMENSIONS)}."
        )
    return int(value)


def predict_response(body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
    """The ``:predict`` reply of ``multimodalembedding@001``, or :class:`EmbeddingError`."""
    spec = model.embedding
    assert spec is not None
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances:
        raise EmbeddingError("Unable to submit request because instances must not be empty.")
    if len(instances) > spec.max_instances:
        raise EmbeddingError(
            f"Unable to submit request because it has a batchSize value of {len(instances)} "
            f"but the supported range is from 1 (inclusive) to {spec.max_instances + 1} "
            "(exclusive)."
        )
    dims = _dimension(body.get("parameters"))
    instance = _object(instances[0], "instances[0]")
    _unknown_keys(instance, INSTANCE_KEYS, "instances[0]")
    if all(instance.get(key) is None for key in INSTANCE_KEYS):
        raise EmbeddingError("instances[0] must specify at least one of text, image or video.")
    text = instance.get("text")
    if text is not None and (not isinstance(text, str) or not text.strip()):
        raise EmbeddingError("instances[0].text must be a non-empty string.")
    image = None if instance.get("image") is None else _image(instance["image"])
    video = None if instance.get("video") is None else _video(instance["video"])
    if video is not None and dims != VIDEO_DIMENSION:
        raise EmbeddingError(
            f"Video embeddings only support dimension {VIDEO_DIMENSION}, but dimension "
            f"{dims} was requested."
        )
    prediction: dict[str, Any] = {}
    if text is not None:
        prediction["textEmbedding"] = unit_vector(["text", text, dims], dims)
    if image is not None:
        prediction["imageEmbedding"] = unit_vector(["image", *image, dims], dims)
    if video is not None:
        source, segments = video
        prediction["videoEmbeddings"] = [
            {
                "startOffsetSec": start,
                "endOffsetSec": end,
                "embedding": unit_vector(["video", *source, dims, start, end], dims),
            }
            for start, end in segments
        ]
    return {"predictions": [prediction], "deployedModelId": DEPLOYED_MODEL_ID}
