"""The publisher models the emulator knows, and which locations it accepts.

One table: adding a model is one line. ``max_output_tokens`` is the largest ``maxOutputTokens``
Vertex accepts for the model (Gemini 2.0: 8192; 2.5 and later: 65536).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class EmbeddingSpec:
    """Limits of a text-embedding model (Vertex "get text embeddings" API limits)."""

    dimensions: int
    max_instances: int
    max_request_tokens: int = 20000
    max_input_tokens: int = 2048
    embed_content: bool = False
    # multimodalembedding@001: ``:predict`` takes text / image / video (multimodal_embeddings.py).
    multimodal: bool = False


@dataclass(frozen=True)
class ModelInfo:
    """One publisher model."""

    publisher: str
    model_id: str
    model_version: str
    max_output_tokens: int
    thinking: bool
    # Set for text-embedding models (``:predict``, and ``:embedContent`` when it allows it).
    embedding: EmbeddingSpec | None = None


def _gemini(model_id: str, version: str | None = None, *, thinking: bool = True) -> ModelInfo:
    limit = 65536 if thinking else 8192
    return ModelInfo("google", model_id, version or model_id, limit, thinking)


def _embedding(model_id: str, spec: EmbeddingSpec) -> ModelInfo:
    return ModelInfo("google", model_id, model_id, 0, False, spec)


def _claude(model_id: str, max_output: int, *, thinking: bool = True) -> ModelInfo:
    # Vertex ids use "@" before the date; the Messages API reports the model with "-".
    return ModelInfo("anthropic", model_id, model_id.replace("@", "-"), max_output, thinking)


MODELS: dict[tuple[str, str], ModelInfo] = {
    (m.publisher, m.model_id): m
    for m in (
        _gemini("gemini-2.0-flash-001", thinking=False),
        _gemini("gemini-2.0-flash", "gemini-2.0-flash-001", thinking=False),
        _gemini("gemini-2.0-flash-lite-001", thinking=False),
        _gemini("gemini-2.0-flash-lite", "gemini-2.0-flash-lite-001", thinking=False),
        _gemini("gemini-2.5-flash"),
        _gemini("gemini-2.5-flash-lite"),
        _gemini("gemini-2.5-pro"),
        _gemini("gemini-3-pro-preview"),
        _gemini("gemini-3-flash-preview"),
        _gemini("gemini-3.1-pro-preview"),
        _gemini("gemini-3.1-flash-lite-preview"),
        _embedding("text-embedding-005", EmbeddingSpec(768, 250)),
        _embedding("text-multilingual-embedding-002", EmbeddingSpec(768, 250)),
        _embedding("gemini-embedding-001", EmbeddingSpec(3072, 1, embed_content=True)),
        _embedding("gemini-embedding-2", EmbeddingSpec(3072, 1, embed_content=True)),
        _embedding("multimodalembedding@001", EmbeddingSpec(1408, 1, multimodal=True)),
        _claude("claude-sonnet-4-5@20250929", 64000),
        _claude("claude-opus-4-1@20250805", 32000),
        _claude("claude-haiku-4-5@20251001", 64000),
        _claude("claude-sonnet-4@20250514", 64000),
        _claude("claude-3-5-haiku@20241022", 8192, thinking=False),
        # The count-tokens pseudo-model serves :rawPredict for every Claude model (model in body).
        ModelInfo("anthropic", "count-tokens", "count-tokens", 0, False),
    )
}

# Vertex's location ids: global, the two multi-regions, and regions such as us-central1.
_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")


def find_model(publisher: str, model_id: str) -> ModelInfo | None:
    """Return the model, or ``None`` when Vertex would answer 404 for it."""
    return MODELS.get((publisher, model_id))


def is_valid_location(location: str) -> bool:
    """True for ``global``, ``us``, ``eu`` and region ids like ``europe-west4``."""
    return location in ("global", "us", "eu") or bool(_REGION.match(location))
