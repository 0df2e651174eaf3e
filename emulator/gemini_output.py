"""``generationConfig.responseModalities`` for the Gemini models that answer with media.

Each such model accepts a few modality sets (``catalog.MediaOutput.combinations``). Anything else
is Vertex's 400 (wording from public captures, e.g. for a TTS model asked for TEXT):
``The requested combination of response modalities (TEXT) is not supported by the model.
models/gemini-2.5-flash-preview-tts accepts the following combination of response modalities:
* AUDIO`` — without the parenthesis when the request names no modality.
"""

from __future__ import annotations

from typing import Any

from emulator.catalog import ModelInfo, OutputModality

Problem = tuple[str | None, str]
FIELD = "generation_config.response_modalities"
# proto3: MODALITY_UNSPECIFIED "will be processed as text" (discovery enum description).
_UNSPECIFIED = "MODALITY_UNSPECIFIED"


def _config(body: dict[str, Any]) -> dict[str, Any]:
    config = body.get("generationConfig")
    return config if isinstance(config, dict) else {}


def requested(body: dict[str, Any]) -> list[str]:
    """The modalities the request names, MODALITY_UNSPECIFIED read as TEXT ([] when none)."""
    names = _config(body).get("responseModalities")
    if not isinstance(names, list):
        return []
    return ["TEXT" if n == _UNSPECIFIED else str(n) for n in names]


def effective(body: dict[str, Any], model: ModelInfo) -> frozenset[str]:
    """What the reply holds. The image model draws (and may talk) when no modality is named, as
    Google's samples rely on; other models answer with text."""
    names = requested(body)
    if names:
        return frozenset(names)
    if model.media is not None and model.media.modality is OutputModality.IMAGE:
        return frozenset({"TEXT", "IMAGE"})
    return frozenset({"TEXT"})


def _listed(combination: frozenset[str]) -> str:
    # TEXT first, as Google lists "TEXT, IMAGE".
    return ", ".join(sorted(combination, key=lambda m: (m != "TEXT", m)))


def modality_problem(body: dict[str, Any], model: ModelInfo) -> Problem | None:
    """Vertex's 400 when the requested modalities are not a set the model accepts."""
    media = model.media
    if media is None:
        return None
    names = requested(body)
    chosen = effective(body, model)
    if chosen in media.combinations:
        return None
    shown = f" ({', '.join(names)})" if names else ""
    accepted = "".join(f"* {_listed(c)}\n" for c in media.combinations)
    message = (
        f"The requested combination of response modalities{shown} is not supported by the "
        f"model. models/{model.model_id} accepts the following combination of response "
        f"modalities:\n{accepted}"
    )
    return FIELD, message
