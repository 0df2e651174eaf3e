"""The publisher models the emulator knows, and which locations it accepts.

One table: adding a model is one line. ``max_output_tokens`` is the largest ``maxOutputTokens``
Vertex accepts for the model (Gemini 2.0: 8192; 2.5 and later: 65536; the image model 32768, the
TTS models 16384). Models that make media say so with a spec: ``ImagenSpec`` (``:predict``),
``MediaOutput`` (Gemini ``:generateContent`` answering with images or speech) or ``VeoSpec``
(videos through ``:predictLongRunning``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


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
class ImagenSpec:
    """An Imagen model: served by ``:predict`` only (vertex-wire.md §6.1, §6.2)."""

    # imagen-3.0-capability-001 edits (reference images, masks); the others generate.
    editing: bool = False
    # ``sampleImageSize`` values the model takes (2K only on Imagen 4 generate / ultra).
    image_sizes: tuple[str, ...] = ("1K",)


@dataclass(frozen=True)
class VeoSpec:
    """A Veo model: served by ``:predictLongRunning`` / ``:fetchPredictOperation`` only
    (vertex-wire.md §9). Limits from Google's Veo model pages and API reference."""

    # ``durationSeconds`` values the model takes (default 8).
    durations: tuple[int, ...]
    # ``resolution`` values; () = the model does not take the parameter (Veo 2: 720p only).
    resolutions: tuple[str, ...]
    # Veo 3 makes sound: ``generateAudio`` is required; Veo 2 refuses ``generateAudio: true``.
    audio: bool
    # ``lastFrame`` (first-and-last-frame interpolation): Veo 2 and Veo 3.1, not Veo 3.0.
    last_frame: bool


class OutputModality(StrEnum):
    """What a media-making Gemini model answers with besides text."""

    IMAGE = "IMAGE"
    AUDIO = "AUDIO"


@dataclass(frozen=True)
class MediaOutput:
    """A Gemini model whose ``generateContent`` replies carry media (image or speech)."""

    modality: OutputModality
    # The responseModalities sets the model accepts (order-free), for its 400 message too.
    combinations: tuple[frozenset[str], ...]


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
    imagen: ImagenSpec | None = None
    media: MediaOutput | None = None
    veo: VeoSpec | None = None

    @property
    def generates_content(self) -> bool:
        """True for the models that serve ``generateContent`` (Gemini; not embedding, Imagen,
        Veo)."""
        return self.embedding is None and self.imagen is None and self.veo is None


def _gemini(model_id: str, version: str | None = None, *, thinking: bool = True) -> ModelInfo:
    limit = 65536 if thinking else 8192
    return ModelInfo("google", model_id, version or model_id, limit, thinking)


def _embedding(model_id: str, spec: EmbeddingSpec) -> ModelInfo:
    return ModelInfo("google", model_id, model_id, 0, False, spec)


def _imagen(model_id: str, spec: ImagenSpec) -> ModelInfo:
    return ModelInfo("google", model_id, model_id, 0, False, imagen=spec)


def _veo(model_id: str, spec: VeoSpec) -> ModelInfo:
    return ModelInfo("google", model_id, model_id, 0, False, veo=spec)


VEO_2 = VeoSpec(durations=(5, 6, 7, 8), resolutions=(), audio=False, last_frame=True)
VEO_3 = VeoSpec(durations=(4, 6, 8), resolutions=("720p", "1080p"), audio=True, last_frame=False)
VEO_3_1 = VeoSpec(
    durations=(4, 6, 8), resolutions=("720p", "1080p", "4k"), audio=True, last_frame=True
)

IMAGE_OUTPUT = MediaOutput(
    OutputModality.IMAGE,
    (frozenset({"TEXT", "IMAGE"}), frozenset({"IMAGE"}), frozenset({"TEXT"})),
)
SPEECH_OUTPUT = MediaOutput(OutputModality.AUDIO, (frozenset({"AUDIO"}),))


def _media(model_id: str, max_output: int, output: MediaOutput) -> ModelInfo:
    return ModelInfo("google", model_id, model_id, max_output, False, media=output)


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
        _imagen("imagen-4.0-generate-001", ImagenSpec(image_sizes=("1K", "2K"))),
        _imagen("imagen-4.0-ultra-generate-001", ImagenSpec(image_sizes=("1K", "2K"))),
        _imagen("imagen-4.0-fast-generate-001", ImagenSpec()),
        _imagen("imagen-3.0-generate-002", ImagenSpec()),
        _imagen("imagen-3.0-capability-001", ImagenSpec(editing=True)),
        _veo("veo-2.0-generate-001", VEO_2),
        _veo("veo-3.0-generate-001", VEO_3),
        _veo("veo-3.0-fast-generate-001", VEO_3),
        _veo("veo-3.1-generate-preview", VEO_3_1),
        _veo("veo-3.1-fast-generate-preview", VEO_3_1),
        _veo("veo-3.1-generate-001", VEO_3_1),
        _veo("veo-3.1-fast-generate-001", VEO_3_1),
        _media("gemini-2.5-flash-image", 32768, IMAGE_OUTPUT),
        _media("gemini-2.5-flash-tts", 16384, SPEECH_OUTPUT),
        _media("gemini-2.5-pro-tts", 16384, SPEECH_OUTPUT),
        _media("gemini-2.5-flash-preview-tts", 16384, SPEECH_OUTPUT),
        _media("gemini-2.5-pro-preview-tts", 16384, SPEECH_OUTPUT),
        _media("gemini-2.5-flash-lite-preview-tts", 16384, SPEECH_OUTPUT),
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
