"""The registry of model families and capabilities the gateway knows how to serve.

Models are looked up by exact id (never by substring), so a model whose name merely contains
"gemini" cannot be misrouted. Configuration can add entries; later work adds families.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Family(enum.Enum):
    """How a model is called: one translator per capability and family."""

    GEMINI = "gemini"
    CLAUDE = "claude"
    OPENAI_COMPATIBLE = "openai_compatible"
    IMAGEN = "imagen"
    TEXT_EMBEDDING = "text_embedding"
    MULTIMODAL_EMBEDDING = "multimodal_embedding"
    GEMINI_TTS = "gemini_tts"
    VEO = "veo"


class Capability(enum.Enum):
    """What a caller may ask a model to do."""

    CHAT = "chat"
    STREAMING = "streaming"
    TOOLS = "tools"
    COUNT_TOKENS = "count_tokens"
    EMBEDDINGS = "embeddings"
    IMAGES = "images"
    IMAGE_EDIT = "image_edit"
    SPEECH = "speech"
    TRANSCRIPTION = "transcription"
    BATCH = "batch"
    VIDEO = "video"


@dataclass(frozen=True)
class ModelSpec:
    """One model the gateway can route to."""

    id: str
    publisher: str
    family: Family
    capabilities: frozenset[Capability]
    display_name: str = ""
    location: str | None = None  # e.g. "global" for models served only there
    input_token_limit: int | None = None
    output_token_limit: int | None = None
    # How reasoning is controlled: "budget" (Gemini 2.5 thinkingBudget), "level" (Gemini 3+
    # thinkingLevel), or None for models that do not reason.
    reasoning: str | None = None

    @property
    def key(self) -> str:
        """`publisher/id`, the registry key."""
        return f"{self.publisher}/{self.id}"


_C = Capability
_GEMINI_CHAT = frozenset(
    {_C.CHAT, _C.STREAMING, _C.TOOLS, _C.COUNT_TOKENS, _C.BATCH, _C.TRANSCRIPTION}
)


def _gemini(
    model_id: str,
    name: str,
    *,
    location: str | None = None,
    out: int = 65536,
    reasoning: str | None = "budget",
) -> ModelSpec:
    return ModelSpec(
        model_id, "google", Family.GEMINI, _GEMINI_CHAT, name, location, 1_048_576, out, reasoning
    )


BUILTIN_MODELS: tuple[ModelSpec, ...] = (
    _gemini("gemini-2.0-flash", "Gemini 2.0 Flash", out=8192, reasoning=None),
    _gemini("gemini-2.0-flash-001", "Gemini 2.0 Flash 001", out=8192, reasoning=None),
    _gemini("gemini-2.0-flash-lite", "Gemini 2.0 Flash-Lite", out=8192, reasoning=None),
    _gemini("gemini-2.5-flash", "Gemini 2.5 Flash"),
    _gemini("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite"),
    _gemini("gemini-2.5-pro", "Gemini 2.5 Pro"),
    _gemini("gemini-3-pro-preview", "Gemini 3 Pro (preview)", location="global", reasoning="level"),
    _gemini("gemini-3-flash-preview", "Gemini 3 Flash (preview)", location="global", reasoning="level"),
    ModelSpec(
        "text-embedding-005", "google", Family.TEXT_EMBEDDING,
        frozenset({_C.EMBEDDINGS, _C.BATCH}), "Text Embedding 005", None, 2048, None,
    ),
    ModelSpec(
        "gemini-embedding-001", "google", Family.TEXT_EMBEDDING,
        frozenset({_C.EMBEDDINGS, _C.BATCH}), "Gemini Embedding 001", None, 2048, None,
    ),
    ModelSpec(
        "imagen-4.0-generate-001", "google", Family.IMAGEN,
        frozenset({_C.IMAGES}), "Imagen 4", None, None, None,
    ),
)  # fmt: skip


class Registry:
    """Models by `publisher/id` and by bare id (bare ids must be unambiguous)."""

    def __init__(self, specs: Iterable[ModelSpec] = BUILTIN_MODELS) -> None:
        self._by_key: dict[str, ModelSpec] = {}
        self._by_id: dict[str, list[ModelSpec]] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: ModelSpec) -> None:
        """Add or replace a model."""
        old = self._by_key.get(spec.key)
        if old is not None:
            self._by_id[old.id].remove(old)
        self._by_key[spec.key] = spec
        self._by_id.setdefault(spec.id, []).append(spec)

    def get(self, publisher: str | None, model_id: str) -> ModelSpec | None:
        """Exact lookup; with no publisher, only if exactly one publisher has that id."""
        if publisher is not None:
            return self._by_key.get(f"{publisher}/{model_id}")
        found = self._by_id.get(model_id, [])
        return found[0] if len(found) == 1 else None

    def all(self) -> list[ModelSpec]:
        """Every model, in registration order."""
        return list(self._by_key.values())
