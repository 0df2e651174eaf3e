"""Text embeddings: EmbedRequest -> Vertex `:predict` bodies (split to the model's limits) or
`:embedContent` bodies (one input each), and their replies -> Embeddings. Pure functions.

Vertex takes at most `max_instances` texts and `max_request_tokens` tokens per call (250 and
20,000 for text-embedding-005; one text for gemini-embedding-001). The gateway cannot count
tokens as Vertex does, so it budgets each text at its UTF-8 length in bytes (a token covers
at least one byte), capped at the model's per-input limit when truncation is on: a split that
may use more calls than strictly needed, never one Vertex refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vertex_gateway.v1 import common_pb2, embedding_pb2

from server.errors import FieldViolation, GatewayError, invalid_request, upstream_malformed
from server.routing.registry import ModelSpec

from .message_checks import message_problems
from .tolerant import tolerant

_TASK = embedding_pb2.EmbeddingTaskType
_RETRIEVAL_DOCUMENT = _TASK.EMBEDDING_TASK_TYPE_RETRIEVAL_DOCUMENT
_PREFIX = "EMBEDDING_TASK_TYPE_"
PER_INPUT_TOKENS = 2048


def _task(
    request: embedding_pb2.EmbedRequest, item: embedding_pb2.EmbedInput
) -> embedding_pb2.EmbeddingTaskType.ValueType:
    return item.task_type or request.task_type


def validate(request: embedding_pb2.EmbedRequest, spec: ModelSpec) -> None:
    """INVALID_ARGUMENT listing every problem, each naming its field."""
    out: list[FieldViolation] = list(message_problems(request))
    if not request.inputs:
        out.append(FieldViolation("inputs", "must contain at least one input"))
    dims = spec.embedding_dims or 0
    if request.HasField("output_dimensionality") and not 1 <= request.output_dimensionality <= dims:
        out.append(
            FieldViolation(
                "output_dimensionality", f"{spec.id} returns 1 to {dims} values per vector"
            )
        )
    for i, item in enumerate(request.inputs):
        where = f"inputs[{i}]"
        if item.HasField("image") or item.HasField("video") or item.HasField("video_segment"):
            out.append(
                FieldViolation(
                    where,
                    f"{spec.id} embeds text only; images and video need multimodalembedding@001",
                )
            )
        if not item.text.strip():
            out.append(FieldViolation(f"{where}.text", "is required"))
        if item.title and _task(request, item) != _RETRIEVAL_DOCUMENT:
            out.append(
                FieldViolation(
                    f"{where}.title", "is only allowed with EMBEDDING_TASK_TYPE_RETRIEVAL_DOCUMENT"
                )
            )
    if out:
        raise invalid_request(out)


def _budget(text: str, truncate: bool) -> int:
    size = len(text.encode("utf-8"))
    return min(size, PER_INPUT_TOKENS) if truncate else size


def batches(request: embedding_pb2.EmbedRequest, spec: ModelSpec) -> list[list[int]]:
    """Input positions grouped into calls that respect the model's per-request limits."""
    limit = spec.max_instances or 1
    tokens = spec.max_request_tokens or 20_000
    truncate = request.auto_truncate if request.HasField("auto_truncate") else True
    out: list[list[int]] = []
    current: list[int] = []
    used = 0
    for i, item in enumerate(request.inputs):
        cost = _budget(item.text, truncate)
        if current and (len(current) >= limit or used + cost > tokens):
            out.append(current)
            current, used = [], 0
        current.append(i)
        used += cost
    if current:
        out.append(current)
    return out


def to_predict(request: embedding_pb2.EmbedRequest, positions: Sequence[int]) -> dict[str, Any]:
    """The `:predict` body for the inputs at `positions`."""
    instances = []
    for i in positions:
        item = request.inputs[i]
        instance: dict[str, Any] = {"content": item.text}
        task = _task(request, item)
        if task:
            instance["task_type"] = _TASK.Name(task)[len(_PREFIX) :]
        if item.title:
            instance["title"] = item.title
        instances.append(instance)
    body: dict[str, Any] = {"instances": instances}
    parameters: dict[str, Any] = {}
    if request.HasField("auto_truncate"):
        parameters["autoTruncate"] = request.auto_truncate
    if request.HasField("output_dimensionality"):
        parameters["outputDimensionality"] = request.output_dimensionality
    if parameters:
        body["parameters"] = parameters
    return body


def to_embed_content(request: embedding_pb2.EmbedRequest, position: int) -> dict[str, Any]:
    """The `:embedContent` body for the input at `position` (one content per call)."""
    item = request.inputs[position]
    config: dict[str, Any] = {}
    task = _task(request, item)
    if task:
        config["taskType"] = _TASK.Name(task)[len(_PREFIX) :]
    if item.title:
        config["title"] = item.title
    if request.HasField("auto_truncate"):
        config["autoTruncate"] = request.auto_truncate
    if request.HasField("output_dimensionality"):
        config["outputDimensionality"] = request.output_dimensionality
    body: dict[str, Any] = {"content": {"parts": [{"text": item.text}]}}
    if config:
        body["embedContentConfig"] = config
    return body


@tolerant
def from_embed_content(payload: Any) -> embedding_pb2.Embedding:
    """The embedding of one `:embedContent` reply."""
    embedding = payload.get("embedding") if isinstance(payload, Mapping) else None
    values = embedding.get("values") if isinstance(embedding, Mapping) else None
    if not isinstance(values, list):
        raise _malformed("the reply has no embedding.values")
    meta = payload.get("usageMetadata") or {}
    try:
        return embedding_pb2.Embedding(
            values=values,
            token_count=int(meta.get("promptTokenCount") or 0) if isinstance(meta, Mapping) else 0,
            truncated=bool(payload.get("truncated", False)),
        )
    except (TypeError, ValueError):
        raise _malformed("a vector holds something other than numbers") from None


def _malformed(what: str) -> GatewayError:
    return upstream_malformed(f"embeddings reply: {what}")


@tolerant
def from_predict(payload: Any, count: int) -> tuple[list[embedding_pb2.Embedding], int]:
    """The embeddings of one call (exactly `count`, in order) and its billable characters."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("predictions"), list):
        raise _malformed("expected an object with predictions")
    predictions = payload["predictions"]
    if len(predictions) != count:
        raise _malformed(f"{len(predictions)} predictions for {count} inputs")
    out = []
    for prediction in predictions:
        embeddings = prediction.get("embeddings") if isinstance(prediction, Mapping) else None
        if not isinstance(embeddings, Mapping) or not isinstance(embeddings.get("values"), list):
            raise _malformed("a prediction has no embeddings.values")
        stats = embeddings.get("statistics") or {}
        try:
            out.append(
                embedding_pb2.Embedding(
                    values=embeddings["values"],
                    token_count=int(stats.get("token_count") or 0),
                    truncated=bool(stats.get("truncated", False)),
                )
            )
        except (TypeError, ValueError):
            raise _malformed("a vector holds something other than numbers") from None
    meta = payload.get("metadata") or {}
    billable = meta.get("billableCharacterCount") if isinstance(meta, Mapping) else 0
    return out, int(billable or 0)


def usage(embeddings: Sequence[embedding_pb2.Embedding]) -> common_pb2.Usage:
    """Input tokens summed over every input."""
    total = sum(e.token_count for e in embeddings)
    return common_pb2.Usage(
        input_tokens=total,
        total_tokens=total,
        input_details=[
            common_pb2.ModalityTokenCount(modality=common_pb2.MODALITY_TEXT, token_count=total)
        ],
    )
