"""Text embeddings: ``:predict`` (text-embedding-005, text-multilingual-embedding-002,
gemini-embedding-001) and ``:embedContent`` (gemini-embedding-001).

Vectors are deterministic: a SHA-256 counter stream seeded by the canonical JSON of (model, task
type, title, embedded text), cut to ``outputDimensionality`` and L2-normalised. Tokens follow
``counting.count_tokens``. Limits (API limits of "Get text embeddings"): at most
``max_instances`` instances and ``max_request_tokens`` tokens (counted after truncation) per
request, each input at most ``max_input_tokens`` tokens — cut silently unless ``autoTruncate`` is
false, which makes a longer input a 400.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from emulator import errors
from emulator.catalog import EmbeddingSpec, ModelInfo
from emulator.counting import billable_characters, count_tokens, truncate_tokens
from emulator.gemini import canonical_json

TASK_TYPES = (
    "RETRIEVAL_QUERY",
    "RETRIEVAL_DOCUMENT",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
)
INSTANCE_KEYS = ("content", "task_type", "title")
PARAMETER_KEYS = ("autoTruncate", "outputDimensionality")


class EmbeddingError(Exception):
    """A request Vertex answers with 400 INVALID_ARGUMENT; the message is Vertex's text."""


@dataclass(frozen=True)
class Embedded:
    """One embedded input."""

    values: list[float]
    token_count: int
    truncated: bool


def embedding_values(
    model_id: str, task_type: str | None, title: str | None, text: str, dimensions: int
) -> list[float]:
    """``dimensions`` deterministic floats of unit L2 norm for the given input."""
    seed = canonical_json([model_id, task_type or "", title or "", text]).encode("utf-8")
    raw: list[float] = []
    counter = 0
    while len(raw) < dimensions:
        block = hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        raw.extend(v / 2**31 - 1.0 for v in struct.unpack(">8I", block))
        counter += 1
    raw = raw[:dimensions]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [v / norm for v in raw]


def _too_many_tokens(count: int, limit: int) -> EmbeddingError:
    return EmbeddingError(
        f"Unable to submit request because the input token count is {count} but the model "
        f"supports up to {limit}. Reduce the input token count and try again."
    )


def _task_and_title(task_type: Any, title: Any, where: str) -> tuple[str | None, str | None]:
    if task_type is not None and task_type not in TASK_TYPES:
        raise EmbeddingError(
            f"Invalid task_type {canonical_json(task_type)} in {where}. "
            f"Supported task types: {', '.join(TASK_TYPES)}."
        )
    if title is not None:
        if not isinstance(title, str):
            raise EmbeddingError(f"title in {where} must be a string.")
        if task_type != "RETRIEVAL_DOCUMENT":
            raise EmbeddingError(
                f"title in {where} is only supported with task_type RETRIEVAL_DOCUMENT."
            )
    return task_type, title


def _dimensionality(value: Any, spec: EmbeddingSpec) -> int:
    if value is None:
        return spec.dimensions
    if isinstance(value, bool) or not isinstance(value, int):
        raise EmbeddingError(
            f"outputDimensionality must be an integer, got {canonical_json(value)}."
        )
    if not 1 <= value <= spec.dimensions:
        raise EmbeddingError(
            f"outputDimensionality {value} is out of range: the model supports values "
            f"from 1 to {spec.dimensions}."
        )
    return value


def _auto_truncate(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, bool):
        raise EmbeddingError(f"autoTruncate must be a boolean, got {canonical_json(value)}.")
    return value


def _embed(
    model: ModelInfo,
    spec: EmbeddingSpec,
    text: str,
    task_type: str | None,
    title: str | None,
    *,
    dims: int,
    auto_truncate: bool,
) -> Embedded:
    tokens = count_tokens(text)
    if tokens > spec.max_input_tokens:
        if not auto_truncate:
            raise _too_many_tokens(tokens, spec.max_input_tokens)
        text = truncate_tokens(text, spec.max_input_tokens)
        values = embedding_values(model.model_id, task_type, title, text, dims)
        return Embedded(values, spec.max_input_tokens, True)
    return Embedded(embedding_values(model.model_id, task_type, title, text, dims), tokens, False)


def predict_response(body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
    """The ``:predict`` reply of a text-embedding model, or :class:`EmbeddingError`."""
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
    parameters = body.get("parameters")
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise EmbeddingError("parameters must be a JSON object.")
    for key in parameters:
        if key not in PARAMETER_KEYS:
            raise EmbeddingError(
                f"Unknown parameter {key!r}; supported parameters: {', '.join(PARAMETER_KEYS)}."
            )
    dims = _dimensionality(parameters.get("outputDimensionality"), spec)
    auto_truncate = _auto_truncate(parameters.get("autoTruncate"))
    checked: list[tuple[str, str | None, str | None]] = []
    for index, instance in enumerate(instances):
        where = f"instances[{index}]"
        if not isinstance(instance, dict):
            raise EmbeddingError(f"{where} must be a JSON object.")
        for key in instance:
            if key not in INSTANCE_KEYS:
                raise EmbeddingError(
                    f"Unknown field {key!r} in {where}; supported fields: "
                    f"{', '.join(INSTANCE_KEYS)}."
                )
        content = instance.get("content")
        if not isinstance(content, str) or not content:
            raise EmbeddingError(f"{where}.content is required and must be a non-empty string.")
        task_type, title = _task_and_title(instance.get("task_type"), instance.get("title"), where)
        checked.append((content, task_type, title))
    embedded = [
        _embed(model, spec, content, task, title, dims=dims, auto_truncate=auto_truncate)
        for content, task, title in checked
    ]
    total = sum(e.token_count for e in embedded)
    if total > spec.max_request_tokens:
        raise _too_many_tokens(total, spec.max_request_tokens)
    return {
        "predictions": [
            {
                "embeddings": {
                    "values": e.values,
                    "statistics": {"token_count": e.token_count, "truncated": e.truncated},
                }
            }
            for e in embedded
        ],
        "metadata": {"billableCharacterCount": sum(billable_characters(c) for c, _, _ in checked)},
    }


def _content_text(content: Any) -> str:
    if not isinstance(content, dict):
        raise EmbeddingError("Unable to submit request because content is required.")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise EmbeddingError("Unable to submit request because content.parts must not be empty.")
    texts = []
    for index, part in enumerate(parts):
        text = part.get("text") if isinstance(part, dict) else None
        if not isinstance(text, str) or set(part) - {"text"}:
            raise EmbeddingError(
                f"content.parts[{index}]: only text parts are supported by this model."
            )
        texts.append(text)
    joined = "\n".join(texts)
    if not joined.strip():
        raise EmbeddingError("Unable to submit request because the content text is empty.")
    return joined


def embed_content_response(body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
    """The ``:embedContent`` reply (camelCase body, already schema-checked)."""
    spec = model.embedding
    assert spec is not None
    text = _content_text(body.get("content"))
    config = body.get("embedContentConfig") or {}

    def setting(name: str) -> Any:
        value = config.get(name)
        return body.get(name) if value is None else value

    task = setting("taskType")
    task_type, title = _task_and_title(
        None if task == "UNSPECIFIED" else task, setting("title"), "the request"
    )
    dims = _dimensionality(setting("outputDimensionality"), spec)
    auto_truncate = _auto_truncate(setting("autoTruncate"))
    embedded = _embed(model, spec, text, task_type, title, dims=dims, auto_truncate=auto_truncate)
    return {
        "embedding": {"values": embedded.values},
        "usageMetadata": {"promptTokenCount": embedded.token_count},
        "truncated": embedded.truncated,
    }


def rejection(error: EmbeddingError) -> web.Response:
    """The 400 INVALID_ARGUMENT for ``error``."""
    return errors.error_response(errors.invalid_argument(str(error)))
