"""multimodalembedding@001: EmbedRequest -> `:predict` bodies, one modality per call, and the
replies -> Embeddings with text, image and video-segment vectors. Pure functions, no I/O.

Google's sources disagree on whether one instance may combine text, image and video
(vertex-wire.md §5.3), so each modality of each input is its own call, with one instance; the
gateway sends them concurrently and puts the vectors back together per input.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vertex_gateway.v1 import common_pb2, embedding_pb2

from server.errors import FieldViolation, GatewayError, invalid_request, upstream_malformed

from .message_checks import message_problems

DIMENSIONS = (128, 256, 512, 1408)
VIDEO_DIMENSION = 1408
MIN_INTERVAL_SECONDS = 4
_IMAGE_TYPES = ("image/png", "image/jpeg")


@dataclass(frozen=True)
class Call:
    """One Vertex call: which input and modality it embeds, and its body."""

    position: int
    modality: str  # "text" | "image" | "video"
    body: dict[str, Any]


def _media_problems(media: common_pb2.Media, where: str, out: list[FieldViolation]) -> None:
    source = media.WhichOneof("source")
    if source is None:
        out.append(FieldViolation(where, "needs data or a gs:// uri"))
    elif source == "uri" and not media.uri.startswith("gs://"):
        out.append(FieldViolation(f"{where}.uri", "must be a gs:// URI for this model"))


def validate(request: embedding_pb2.EmbedRequest, model: str) -> None:
    """INVALID_ARGUMENT listing every problem, each naming its field."""
    out: list[FieldViolation] = list(message_problems(request))
    if not request.inputs:
        out.append(FieldViolation("inputs", "must contain at least one input"))
    if request.task_type:
        out.append(FieldViolation("task_type", f"{model} takes no task type"))
    if request.HasField("auto_truncate"):
        out.append(FieldViolation("auto_truncate", f"{model} takes no auto_truncate setting"))
    dimension = request.output_dimensionality if request.HasField("output_dimensionality") else None
    if dimension is not None and dimension not in DIMENSIONS:
        allowed = ", ".join(str(d) for d in DIMENSIONS)
        out.append(FieldViolation("output_dimensionality", f"{model} takes {allowed}"))
    for i, item in enumerate(request.inputs):
        where = f"inputs[{i}]"
        if not (item.text or item.HasField("image") or item.HasField("video")):
            out.append(FieldViolation(where, "needs text, an image or a video"))
        if item.title or item.task_type:
            out.append(FieldViolation(where, f"{model} takes no title or task type"))
        if item.HasField("image"):
            _media_problems(item.image, f"{where}.image", out)
            if item.image.mime_type not in _IMAGE_TYPES:
                out.append(
                    FieldViolation(f"{where}.image.mime_type", "must be image/png or image/jpeg")
                )
        if item.HasField("video"):
            _media_problems(item.video, f"{where}.video", out)
            if dimension not in (None, VIDEO_DIMENSION):
                out.append(
                    FieldViolation(
                        "output_dimensionality", f"video embeddings are {VIDEO_DIMENSION} only"
                    )
                )
        elif item.HasField("video_segment"):
            out.append(FieldViolation(f"{where}.video_segment", "is only used with a video"))
        segment = item.video_segment
        if segment.HasField("interval_seconds") and segment.interval_seconds < MIN_INTERVAL_SECONDS:
            out.append(
                FieldViolation(
                    f"{where}.video_segment.interval_seconds",
                    f"must be at least {MIN_INTERVAL_SECONDS}",
                )
            )
        start = segment.start_offset_seconds if segment.HasField("start_offset_seconds") else 0
        if start < 0:
            out.append(
                FieldViolation(
                    f"{where}.video_segment.start_offset_seconds", "must not be negative"
                )
            )
        if segment.HasField("end_offset_seconds") and segment.end_offset_seconds <= start:
            out.append(
                FieldViolation(
                    f"{where}.video_segment.end_offset_seconds", "must be after the start"
                )
            )
    if out:
        raise invalid_request(out)


def _media(media: common_pb2.Media) -> dict[str, Any]:
    if media.WhichOneof("source") == "data":
        return {"bytesBase64Encoded": base64.b64encode(media.data).decode("ascii")}
    return {"gcsUri": media.uri}


def calls(request: embedding_pb2.EmbedRequest) -> list[Call]:
    """One call per modality of each input, in input order."""
    parameters: dict[str, Any] = {}
    if request.HasField("output_dimensionality"):
        parameters["dimension"] = request.output_dimensionality
    out = []
    for i, item in enumerate(request.inputs):
        instances: list[tuple[str, dict[str, Any]]] = []
        if item.text:
            instances.append(("text", {"text": item.text}))
        if item.HasField("image"):
            image = _media(item.image)
            image["mimeType"] = item.image.mime_type
            instances.append(("image", {"image": image}))
        if item.HasField("video"):
            video = _media(item.video)
            segment = item.video_segment
            config: dict[str, Any] = {}
            if segment.HasField("start_offset_seconds"):
                config["startOffsetSec"] = segment.start_offset_seconds
            if segment.HasField("end_offset_seconds"):
                config["endOffsetSec"] = segment.end_offset_seconds
            if segment.HasField("interval_seconds"):
                config["intervalSec"] = segment.interval_seconds
            if config:
                video["videoSegmentConfig"] = config
            instances.append(("video", {"video": video}))
        for modality, instance in instances:
            body: dict[str, Any] = {"instances": [instance]}
            if parameters:
                body["parameters"] = parameters
            out.append(Call(i, modality, body))
    return out


def _malformed(what: str) -> GatewayError:
    return upstream_malformed(f"multimodal embeddings reply: {what}")


def _floats(value: Any, what: str) -> list[float]:
    if not isinstance(value, list) or not all(isinstance(v, int | float) for v in value):
        raise _malformed(f"{what} is not a list of numbers")
    return [float(v) for v in value]


def apply(call: Call, payload: Any, embedding: embedding_pb2.Embedding) -> None:
    """Put one call's vector(s) into the input's Embedding."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("predictions"), list):
        raise _malformed("expected an object with predictions")
    if len(payload["predictions"]) != 1 or not isinstance(payload["predictions"][0], Mapping):
        raise _malformed("expected exactly one prediction")
    prediction = payload["predictions"][0]
    if call.modality == "text":
        embedding.text_values.extend(_floats(prediction.get("textEmbedding"), "textEmbedding"))
    elif call.modality == "image":
        embedding.image_values.extend(_floats(prediction.get("imageEmbedding"), "imageEmbedding"))
    else:
        segments = prediction.get("videoEmbeddings")
        if not isinstance(segments, list):
            raise _malformed("videoEmbeddings is missing")
        for segment in segments:
            if not isinstance(segment, Mapping):
                raise _malformed("a video segment is not an object")
            try:
                start = int(segment.get("startOffsetSec") or 0)
                end = int(segment.get("endOffsetSec") or 0)
            except (TypeError, ValueError):
                raise _malformed("a video segment has non-numeric offsets") from None
            embedding.video_segments.add(
                start_offset_seconds=start,
                end_offset_seconds=end,
                values=_floats(segment.get("embedding"), "a video segment's embedding"),
            )
