"""The registry of model families and capabilities the gateway knows how to serve.

Models are looked up by exact id (never by substring), so a model whose name merely contains
"gemini" cannot be misrouted. Configuration can add entries; later work adds families.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any


class Family(enum.Enum):
    """How a model is called: one translator per capability and family."""

    GEMINI = "gemini"
    CLAUDE = "claude"
    OPENAI_COMPATIBLE = "openai_compatible"
    IMAGEN = "imagen"
    TEXT_EMBEDDING = "text_embedding"
    # Newer Gemini embedding models, called one content at a time through `:embedContent`.
    GEMINI_EMBEDDING = "gemini_embedding"
    MULTIMODAL_EMBEDDING = "multimodal_embedding"
    GEMINI_TTS = "gemini_tts"
    VEO = "veo"

    # Members are singletons compared by identity: hash them so too. Enum's own hash is Python
    # code run on every dict and set lookup, and routing does several per request.
    __hash__ = object.__hash__


class Capability(enum.Enum):
    """What a caller may ask a model to do, or give it."""

    __hash__ = object.__hash__  # as Family's

    CHAT = "chat"
    STREAMING = "streaming"
    TOOLS = "tools"
    COUNT_TOKENS = "count_tokens"
    IMAGE_INPUT = "image_input"
    DOCUMENT_INPUT = "document_input"
    AUDIO_INPUT = "audio_input"
    VIDEO_INPUT = "video_input"
    JSON_OUTPUT = "json_output"
    REASONING = "reasoning"
    GROUNDING = "grounding"
    EMBEDDINGS = "embeddings"
    IMAGES = "images"
    IMAGE_EDIT = "image_edit"
    SPEECH = "speech"
    TRANSCRIPTION = "transcription"
    BATCH = "batch"
    VIDEO = "video"
    # Supervised tuning with this model as the base (TuningService).
    TUNING = "tuning"


class Reasoning(enum.Enum):
    """How a model's reasoning is controlled on the wire."""

    GEMINI_BUDGET = "gemini_budget"  # Gemini 2.5: thinkingConfig.thinkingBudget
    GEMINI_LEVEL = "gemini_level"  # Gemini 3+: thinkingConfig.thinkingLevel
    CLAUDE_BUDGET = "claude_budget"  # Claude extended thinking: thinking.budget_tokens
    OPENAI_EFFORT = "openai_effort"  # OpenAI-compatible reasoning_effort


@dataclass(frozen=True)
class VideoLimits:
    """What a Veo model takes, from Google's Veo model pages and API reference."""

    # `durationSeconds` values (the default is 8 for every model).
    durations: tuple[int, ...]
    # `resolution` values; empty: the model takes no resolution (Veo 2 makes 720p only).
    resolutions: tuple[str, ...]
    # Veo 3 makes sound and needs `generateAudio`; Veo 2 makes none.
    audio: bool
    # `lastFrame` (interpolation between a first and a last frame): Veo 2 and 3.1.
    last_frame: bool


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
    reasoning: Reasoning | None = None
    # Accepted explicit reasoning budgets (inclusive), and whether 0 (off) is allowed too.
    thinking_budget: tuple[int, int] | None = None
    thinking_can_disable: bool = False
    # Gemini 3+: the thinkingLevel values the model takes.
    thinking_levels: tuple[str, ...] = ()
    # OpenAI-compatible models: the Vertex endpoint id ("openapi" for Model Garden MaaS, or a
    # self-deployed endpoint's numeric id).
    endpoint: str | None = None
    # Text embedding models: vector size, and Vertex's per-request limits (instances, tokens).
    embedding_dims: int | None = None
    max_instances: int | None = None
    max_request_tokens: int | None = None
    # Image models: the resolution tiers they take ("1K", "2K", "4K"); empty = no choice.
    image_sizes: tuple[str, ...] = ()
    # Further locations tried in order when the first is throttled or failing (`locations:`).
    fallback_locations: tuple[str, ...] = ()
    # Veo models: durations, resolutions, sound and frames they take.
    video: VideoLimits | None = None
    # Tunable base models: the adapter sizes (ranks) supervised tuning takes; empty with the
    # tuning capability means any size (Vertex checks).
    adapter_sizes: tuple[int, ...] = ()

    @functools.cached_property
    def key(self) -> str:
        """`publisher/id`, the registry key."""
        return f"{self.publisher}/{self.id}"


_C = Capability
_GEMINI_CHAT = frozenset(
    {
        _C.CHAT, _C.STREAMING, _C.TOOLS, _C.COUNT_TOKENS, _C.BATCH, _C.TRANSCRIPTION,
        _C.IMAGE_INPUT, _C.DOCUMENT_INPUT, _C.AUDIO_INPUT, _C.VIDEO_INPUT, _C.JSON_OUTPUT,
        _C.GROUNDING,
    }
)  # fmt: skip
_CLAUDE_CHAT = frozenset(
    {_C.CHAT, _C.STREAMING, _C.TOOLS, _C.COUNT_TOKENS, _C.BATCH, _C.IMAGE_INPUT,
     _C.DOCUMENT_INPUT, _C.JSON_OUTPUT}
)  # fmt: skip
_OPENAI_CHAT = frozenset({_C.CHAT, _C.STREAMING, _C.TOOLS, _C.JSON_OUTPUT})


def _gemini(
    model_id: str,
    name: str,
    *,
    location: str | None = None,
    out: int = 65536,
    budget: tuple[int, int] | None = (1, 24576),
    can_disable: bool = True,
    levels: tuple[str, ...] = (),
) -> ModelSpec:
    reasoning = Reasoning.GEMINI_LEVEL if levels else Reasoning.GEMINI_BUDGET if budget else None
    caps = _GEMINI_CHAT | ({_C.REASONING} if reasoning else set())
    return ModelSpec(
        model_id, "google", Family.GEMINI, frozenset(caps), name, location, 1_048_576, out,
        reasoning, budget, can_disable, levels,
    )  # fmt: skip


def _claude(model_id: str, name: str, *, out: int, thinking: bool = True) -> ModelSpec:
    caps = _CLAUDE_CHAT | ({_C.REASONING} if thinking else set())
    return ModelSpec(
        model_id, "anthropic", Family.CLAUDE, frozenset(caps), name, "us-east5", 200_000, out,
        Reasoning.CLAUDE_BUDGET if thinking else None, (1024, out - 1) if thinking else None,
        thinking,
    )  # fmt: skip


def _maas(
    publisher: str,
    model_id: str,
    name: str,
    *,
    context: int,
    out: int,
    vision: bool = False,
    documents: bool = False,
    reasoning: bool = False,
) -> ModelSpec:
    caps = set(_OPENAI_CHAT)
    if vision:
        caps.add(_C.IMAGE_INPUT)
    if documents:  # PDFs as OpenAI `file` parts
        caps.add(_C.DOCUMENT_INPUT)
    if reasoning:
        caps.add(_C.REASONING)
    return ModelSpec(
        model_id, publisher, Family.OPENAI_COMPATIBLE, frozenset(caps), name, None, context, out,
        Reasoning.OPENAI_EFFORT if reasoning else None, endpoint="openapi",
    )  # fmt: skip


def _imagen(model_id: str, name: str, *, sizes: tuple[str, ...] = ()) -> ModelSpec:
    return ModelSpec(
        model_id, "google", Family.IMAGEN, frozenset({_C.IMAGES}), name, None, 480, None,
        image_sizes=sizes,
    )  # fmt: skip


def _tts(model_id: str, name: str) -> ModelSpec:
    return ModelSpec(
        model_id, "google", Family.GEMINI_TTS, frozenset({_C.SPEECH, _C.STREAMING}), name, None,
        8192, 16384,
    )  # fmt: skip


def _text_embedding(
    model_id: str,
    name: str,
    *,
    dims: int,
    instances: int,
    family: Family = Family.TEXT_EMBEDDING,
    input_limit: int | None = 2048,
) -> ModelSpec:
    return ModelSpec(
        model_id, "google", family, frozenset({_C.EMBEDDINGS, _C.BATCH}), name,
        None, input_limit, None, embedding_dims=dims, max_instances=instances,
        max_request_tokens=20_000,
    )  # fmt: skip


def _veo(model_id: str, name: str, limits: VideoLimits) -> ModelSpec:
    return ModelSpec(
        model_id, "google", Family.VEO, frozenset({_C.VIDEO}), name, None, None, None,
        video=limits,
    )  # fmt: skip


def _tunable(spec: ModelSpec, sizes: tuple[int, ...]) -> ModelSpec:
    return replace(spec, capabilities=spec.capabilities | {_C.TUNING}, adapter_sizes=sizes)


VEO_2 = VideoLimits(durations=(5, 6, 7, 8), resolutions=(), audio=False, last_frame=True)
VEO_3 = VideoLimits(
    durations=(4, 6, 8), resolutions=("720p", "1080p"), audio=True, last_frame=False
)
VEO_3_1 = VideoLimits(
    durations=(4, 6, 8), resolutions=("720p", "1080p", "4k"), audio=True, last_frame=True
)
# Supervised tuning adapter sizes (Google's "About supervised fine-tuning for Gemini models").
_ADAPTERS = (1, 2, 4, 8, 16)
_ADAPTERS_PRO = (1, 2, 4, 8)

_LEVELS_PRO = ("LOW", "HIGH")
_LEVELS_FLASH = ("MINIMAL", "LOW", "MEDIUM", "HIGH")

BUILTIN_MODELS: tuple[ModelSpec, ...] = (
    _gemini("gemini-2.0-flash", "Gemini 2.0 Flash", out=8192, budget=None),
    _tunable(_gemini("gemini-2.0-flash-001", "Gemini 2.0 Flash 001", out=8192, budget=None),
             _ADAPTERS),
    _gemini("gemini-2.0-flash-lite", "Gemini 2.0 Flash-Lite", out=8192, budget=None),
    _tunable(_gemini("gemini-2.5-flash", "Gemini 2.5 Flash", budget=(1, 24576)), _ADAPTERS),
    _tunable(_gemini("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", budget=(512, 24576)),
             _ADAPTERS),
    _tunable(_gemini("gemini-2.5-pro", "Gemini 2.5 Pro", budget=(128, 32768),
                     can_disable=False), _ADAPTERS_PRO),
    _gemini("gemini-3-pro-preview", "Gemini 3 Pro (preview)", location="global",
            budget=(128, 32768), can_disable=False, levels=_LEVELS_PRO),
    _gemini("gemini-3-flash-preview", "Gemini 3 Flash (preview)", location="global",
            budget=(1, 24576), can_disable=False, levels=_LEVELS_FLASH),
    _claude("claude-sonnet-4-5@20250929", "Claude Sonnet 4.5", out=64000),
    _claude("claude-opus-4-1@20250805", "Claude Opus 4.1", out=32000),
    _claude("claude-haiku-4-5@20251001", "Claude Haiku 4.5", out=64000),
    _claude("claude-sonnet-4@20250514", "Claude Sonnet 4", out=64000),
    _claude("claude-3-5-haiku@20241022", "Claude 3.5 Haiku", out=8192, thinking=False),
    _maas("meta", "llama-3.3-70b-instruct-maas", "Llama 3.3 70B Instruct", context=128_000,
          out=8192),
    _maas("meta", "llama-4-maverick-17b-128e-instruct-maas", "Llama 4 Maverick",
          context=524_288, out=8192, vision=True),
    # R1 always reasons (its reasoning comes back as thoughts) but takes no effort setting.
    _maas("deepseek-ai", "deepseek-r1-0528-maas", "DeepSeek R1 0528", context=163_840,
          out=32768, documents=True),
    _maas("qwen", "qwen3-235b-a22b-instruct-2507-maas", "Qwen3 235B Instruct",
          context=262_144, out=16384),
    _maas("openai", "gpt-oss-120b-maas", "gpt-oss 120B", context=131_072, out=32768,
          reasoning=True),
    _text_embedding("text-embedding-005", "Text Embedding 005", dims=768, instances=250),
    _text_embedding("text-multilingual-embedding-002", "Text Multilingual Embedding 002",
                    dims=768, instances=250),
    _text_embedding("gemini-embedding-001", "Gemini Embedding 001", dims=3072, instances=1),
    _text_embedding("gemini-embedding-2", "Gemini Embedding 2", dims=3072, instances=1,
                    family=Family.GEMINI_EMBEDDING, input_limit=None),
    ModelSpec(
        "multimodalembedding@001", "google", Family.MULTIMODAL_EMBEDDING,
        frozenset({_C.EMBEDDINGS}), "Multimodal Embedding 001", None, None, None,
        embedding_dims=1408,
    ),
    _imagen("imagen-4.0-generate-001", "Imagen 4", sizes=("1K", "2K")),
    _imagen("imagen-4.0-ultra-generate-001", "Imagen 4 Ultra", sizes=("1K", "2K")),
    _imagen("imagen-4.0-fast-generate-001", "Imagen 4 Fast"),
    _imagen("imagen-3.0-generate-002", "Imagen 3"),
    ModelSpec(
        "imagen-3.0-capability-001", "google", Family.IMAGEN,
        frozenset({_C.IMAGE_EDIT}), "Imagen 3 editing", None, None, None,
    ),
    ModelSpec(
        "gemini-2.5-flash-image", "google", Family.GEMINI,
        frozenset({_C.CHAT, _C.STREAMING, _C.COUNT_TOKENS, _C.IMAGE_INPUT, _C.IMAGES,
                   _C.IMAGE_EDIT}),
        "Gemini 2.5 Flash Image", None, 32_768, 32_768, image_sizes=("1K",),
    ),
    _tts("gemini-2.5-flash-tts", "Gemini 2.5 Flash TTS"),
    _tts("gemini-2.5-pro-tts", "Gemini 2.5 Pro TTS"),
    _tts("gemini-2.5-flash-preview-tts", "Gemini 2.5 Flash TTS (preview)"),
    _tts("gemini-2.5-pro-preview-tts", "Gemini 2.5 Pro TTS (preview)"),
    _tts("gemini-2.5-flash-lite-preview-tts", "Gemini 2.5 Flash Lite TTS (preview)"),
    _veo("veo-2.0-generate-001", "Veo 2", VEO_2),
    _veo("veo-3.0-generate-001", "Veo 3", VEO_3),
    _veo("veo-3.0-fast-generate-001", "Veo 3 Fast", VEO_3),
    _veo("veo-3.1-generate-preview", "Veo 3.1 (preview)", VEO_3_1),
    _veo("veo-3.1-fast-generate-preview", "Veo 3.1 Fast (preview)", VEO_3_1),
    _veo("veo-3.1-generate-001", "Veo 3.1", VEO_3_1),
    _veo("veo-3.1-fast-generate-001", "Veo 3.1 Fast", VEO_3_1),
)  # fmt: skip

# What a project endpoint serving a tuned Gemini model can do through the gateway when called
# by name ("endpoints/{id}"): chat like its base model. Not batch prediction or transcription,
# which address publisher models; reasoning as for a Gemini model added by configuration (Vertex
# checks the exact budget of the base model).
TUNED_ENDPOINT_CAPABILITIES = (_GEMINI_CHAT - {_C.BATCH, _C.TRANSCRIPTION}) | {_C.REASONING}
# The publisher segment of endpoint model names ("endpoints/{id}").
ENDPOINT_PUBLISHER = "endpoints"


def tuned_endpoint_spec(endpoint_id: str) -> ModelSpec:
    """The model a project endpoint stands for when called by name: a (tuned) Gemini model
    served at `endpoints/{endpoint_id}:generateContent`. The id must already be checked."""
    return ModelSpec(
        endpoint_id, ENDPOINT_PUBLISHER, Family.GEMINI, TUNED_ENDPOINT_CAPABILITIES,
        f"Vertex endpoint {endpoint_id}", reasoning=Reasoning.GEMINI_BUDGET,
        thinking_budget=(1, 32768), thinking_can_disable=True, endpoint=endpoint_id,
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


_DEFAULT_CAPABILITIES = {
    Family.GEMINI: _GEMINI_CHAT,
    Family.CLAUDE: _CLAUDE_CHAT,
    Family.OPENAI_COMPATIBLE: _OPENAI_CHAT,
    Family.IMAGEN: frozenset({_C.IMAGES}),
    Family.TEXT_EMBEDDING: frozenset({_C.EMBEDDINGS, _C.BATCH}),
    Family.MULTIMODAL_EMBEDDING: frozenset({_C.EMBEDDINGS}),
    Family.GEMINI_TTS: frozenset({_C.SPEECH}),
    Family.VEO: frozenset({_C.VIDEO}),
}
_ENTRY_KEYS = frozenset(
    {"model", "family", "capabilities", "location", "locations", "display_name",
     "input_token_limit", "output_token_limit", "endpoint"}
)  # fmt: skip


def canonical_model_name(name: str) -> str:
    """`publisher/id` for a bare id that exactly one built-in publisher has; else `name`."""
    if "/" in name:
        return name
    same = [s for s in BUILTIN_MODELS if s.id == name]
    return same[0].key if len(same) == 1 else name


def spec_from_entry(entry: Mapping[str, Any], where: str) -> ModelSpec:
    """A ModelSpec from one `models:` config entry; ValueError naming `where` when invalid.

    An entry naming a built-in model (`publisher/id`) overrides the fields it sets; any other
    entry adds a model and must name its family. Capabilities default to the family's.
    """
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    name = canonical_model_name(str(entry.get("model") or ""))
    publisher, _, model_id = name.rpartition("/")
    if not publisher or not model_id:
        raise ValueError(f"{where}.model must be publisher/model, got {name!r}")
    base = next((s for s in BUILTIN_MODELS if s.key == name), None)
    try:
        family = Family(entry["family"]) if "family" in entry else None
        listed = entry.get("capabilities")
        if listed is not None and not isinstance(listed, list | tuple):
            raise ValueError("capabilities must be a list")
        caps = frozenset(Capability(c) for c in listed) if listed is not None else None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if base is None and family is None:
        raise ValueError(
            f"{where}.family is required for a model the gateway does not know"
            f" ({', '.join(f.value for f in Family)})"
        )
    family = family or (base.family if base else Family.GEMINI)
    if caps is None:
        caps = (
            base.capabilities if base and base.family is family else _DEFAULT_CAPABILITIES[family]
        )
    fields: dict[str, Any] = {"family": family, "capabilities": caps}
    for key in ("location", "display_name", "endpoint"):
        if key in entry:
            fields[key] = str(entry[key])
    if "locations" in entry:
        locations = entry["locations"]
        if (
            not isinstance(locations, list | tuple)
            or not locations
            or len(set(map(str, locations))) != len(locations)
            or ("location" in entry and str(locations[0]) != fields["location"])
        ):
            raise ValueError(
                f"{where}.locations must be a non-empty list of distinct locations, tried in"
                " order (its first is the model's location)"
            )
        fields["location"] = str(locations[0])
        fields["fallback_locations"] = tuple(str(x) for x in locations[1:])
    for key in ("input_token_limit", "output_token_limit"):
        if key in entry:
            value = entry[key]
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{where}.{key} must be a positive integer")
            fields[key] = value
    if family is Family.OPENAI_COMPATIBLE and not fields.get("endpoint", base and base.endpoint):
        fields["endpoint"] = "openapi"
    if base is None and _C.REASONING in caps:
        # A model added by configuration reasons the way its family does, with wide limits
        # (Vertex itself then checks the exact budget).
        out = fields.get("output_token_limit", 65536)
        per_family: dict[Family, dict[str, Any]] = {
            Family.GEMINI: {
                "reasoning": Reasoning.GEMINI_BUDGET,
                "thinking_budget": (1, 32768),
            },
            Family.CLAUDE: {
                "reasoning": Reasoning.CLAUDE_BUDGET,
                "thinking_budget": (1024, out - 1),
                "thinking_can_disable": True,
            },
            Family.OPENAI_COMPATIBLE: {"reasoning": Reasoning.OPENAI_EFFORT},
        }
        fields.update(per_family.get(family, {}))
    if base is not None:
        return replace(base, **fields)
    return ModelSpec(model_id, publisher, **fields)
