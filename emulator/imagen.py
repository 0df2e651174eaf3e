"""Imagen ``:predict`` replies: generation (``imagen-4.0-*-generate-001``,
``imagen-3.0-generate-002``) and editing (``imagen-3.0-capability-001``), vertex-wire.md §6.

The body has already passed ``imagen_rules`` (the registry validator). What is left for the
handler are the checks on the pictures themselves (readable bytes, a mask the size of the base
image) and what the emulator cannot do (``gs://`` input, ``storageUri`` output: it has no Cloud
Storage yet); those 400s are recorded with the request but left out of the audit.

Reply: ``{"predictions": [{"bytesBase64Encoded", "mimeType", "prompt"?, "safetyAttributes"?}, …,
{"raiFilteredReason"}?, {"contentType": "Positive Prompt", "safetyAttributes"}?]}`` — real PNG
(or JPEG) images at the model's native size (generation) or the base image's size (editing),
deterministic for (model, prompt, negative prompt, seed, edit mode, image index). When every
image is filtered and nothing else is asked for, the reply is ``{}``, as Vertex's is.

Triggers in the prompt: ``[filter]`` withholds the last image, ``[filter-all]`` every image
(with ``includeRaiReason`` one ``raiFilteredReason`` item counts them, as Google's "Configure
Responsible AI" page shows; without it they are simply missing); ``[block]`` refuses the prompt
with Vertex's 400 for sensitive words.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from PIL import Image

from emulator import images
from emulator.catalog import ModelInfo
from emulator.gemini import canonical_json
from emulator.imagen_rules import (
    DEFAULT_SAMPLES,
    EDITING_PREFIX,
    GENERATION_PREFIX,
    MASK,
    RAW,
    parameters_of,
)

FILTER_TRIGGER = "[filter]"
FILTER_ALL_TRIGGER = "[filter-all]"
BLOCK_TRIGGER = "[block]"
POSITIVE_PROMPT = "Positive Prompt"
# Google's "Configure Responsible AI safety settings" page: the 12 text categories scored for
# the prompt, and the two an output image is scored on in its example.
PROMPT_CATEGORIES = (
    "Death, Harm & Tragedy",
    "Firearms & Weapons",
    "Hate",
    "Health",
    "Illicit Drugs",
    "Politics",
    "Porn",
    "Religion & Belief",
    "Toxic",
    "Violence",
    "Vulgarity",
    "War & Conflict",
)
IMAGE_CATEGORIES = ("Porn", "Violence")
# The support code Google lists for violent output images.
_OUTPUT_SUPPORT_CODE = "56562880"
_BLOCKED_PROMPT = (
    "The prompt could not be submitted. This prompt contains sensitive words that violate "
    "Google's Responsible AI practices. Try rephrasing the prompt. If you think this was an "
    "error, send feedback."
)
_ENHANCEMENT = (
    ", rendered in rich detail with soft natural light, a balanced composition and a shallow "
    "depth of field"
)


class ImagenRejected(ValueError):
    """A 400 INVALID_ARGUMENT found while making the reply; the message is the full text."""


@dataclass(frozen=True)
class Settings:
    """The parameters that shape a reply, defaults filled in."""

    count: int
    aspect_ratio: str
    image_size: str
    mime_type: str
    quality: int | None
    include_rai_reason: bool
    include_safety: bool
    enhance_prompt: bool
    seed_material: tuple[Any, ...]


def _settings(model: ModelInfo, prompt: str, params: dict[str, Any]) -> Settings:
    options = params.get("outputOptions") or {}
    quality = options.get("compressionQuality")
    return Settings(
        count=int(params.get("sampleCount", DEFAULT_SAMPLES)),
        aspect_ratio=str(params.get("aspectRatio", "1:1")),
        image_size=str(params.get("sampleImageSize", "1K")),
        mime_type=str(options.get("mimeType", images.PNG)),
        quality=None if quality is None else int(quality),
        include_rai_reason=params.get("includeRaiReason") is True,
        include_safety=params.get("includeSafetyAttributes") is True,
        enhance_prompt=params.get("enhancePrompt") is True,
        seed_material=(
            model.model_id,
            prompt,
            params.get("negativePrompt", ""),
            params.get("seed"),
            params.get("editMode", ""),
        ),
    )


def filtered_reason(count: int) -> str:
    """Vertex's ``raiFilteredReason`` for ``count`` images its safety filter removed."""
    images_word = "image" if count == 1 else "images"
    return (
        f"Your current safety filter threshold filtered out {count} generated {images_word}. "
        "You will not be charged for blocked images. Try rephrasing the prompt. If you think "
        f"this was an error, send feedback. Support codes: {_OUTPUT_SUPPORT_CODE}"
    )


def withheld_count(prompt: str, count: int) -> int:
    """How many of ``count`` images the prompt's filter trigger removes (from the end)."""
    if FILTER_ALL_TRIGGER in prompt:
        return count
    return 1 if FILTER_TRIGGER in prompt else 0


def _scores(seed: str, categories: tuple[str, ...]) -> dict[str, Any]:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    # Low, one-decimal scores: what a harmless prompt or image gets.
    return {
        "categories": list(categories),
        "scores": [round((digest[i] % 3) / 10, 1) for i in range(len(categories))],
    }


def _decoded(reference: dict[str, Any], where: str, prefix: str) -> bytes:
    image = reference.get("referenceImage") or {}
    if "gcsUri" in image:
        raise ImagenRejected(
            f"{prefix}{where}.referenceImage.gcsUri: the Vertex emulator has no Cloud Storage "
            "yet, so it cannot read gs:// images. Send the image as bytesBase64Encoded."
        )
    return base64.b64decode(str(image.get("bytesBase64Encoded", "")))


def _picture(data: bytes, where: str, prefix: str) -> Image.Image:
    try:
        return images.decode(data)
    except images.UnreadableImage:
        raise ImagenRejected(
            f"{prefix}{where}.referenceImage is not a PNG or JPEG image that can be decoded."
        ) from None


def _mask_of(reference: dict[str, Any], where: str, size: images.Size) -> Image.Image:
    config = reference.get("maskImageConfig") or {}
    mode = config.get("maskMode")
    if mode == "MASK_MODE_BACKGROUND":
        return images.ellipse_mask(size, inside=False)
    if mode == "MASK_MODE_FOREGROUND":
        return images.ellipse_mask(size, inside=True)
    if mode == "MASK_MODE_SEMANTIC":
        return images.semantic_mask(size, [int(c) for c in config.get("maskClasses") or []])
    try:
        mask = images.decode_mask(_decoded(reference, where, EDITING_PREFIX))
    except images.UnreadableImage:
        raise ImagenRejected(
            f"{EDITING_PREFIX}{where}.referenceImage (the mask) is not a PNG or JPEG image that "
            "can be decoded."
        ) from None
    if mask.size != size:
        raise ImagenRejected(
            f"{EDITING_PREFIX}The mask image is {mask.size[0]}x{mask.size[1]} but the base image "
            f"is {size[0]}x{size[1]}; the mask must have the same dimensions as the base image."
        )
    return mask


@dataclass(frozen=True)
class EditInputs:
    """The decoded pictures of an editing request: the base image and the area to change."""

    base: Image.Image | None
    mask: Image.Image | None


def edit_inputs(instance: dict[str, Any]) -> EditInputs:
    """Decode every reference image (so unreadable ones are refused) and build the mask."""
    references = instance.get("referenceImages") or []
    base: Image.Image | None = None
    for i, reference in enumerate(references):
        where = f"instances[0].referenceImages[{i}]"
        if reference.get("referenceType") == MASK:
            continue
        picture = _picture(_decoded(reference, where, EDITING_PREFIX), where, EDITING_PREFIX)
        if reference.get("referenceType") == RAW:
            base = picture
    mask = None
    for i, reference in enumerate(references):
        if reference.get("referenceType") == MASK and base is not None:
            mask = _mask_of(reference, f"instances[0].referenceImages[{i}]", base.size)
    return EditInputs(base, mask)


def _image_seed(settings: Settings, index: int) -> str:
    return canonical_json([*settings.seed_material, index])


def _render(settings: Settings, index: int, inputs: EditInputs | None) -> images.Encoded:
    seed = _image_seed(settings, index)
    if inputs is not None and inputs.base is not None:
        mask = inputs.mask if inputs.mask is not None else images.full_mask(inputs.base.size)
        picture = images.edit(inputs.base, mask, seed)
    else:
        size = images.imagen_size(settings.aspect_ratio, settings.image_size)
        picture = images.render(seed, size)
    return images.encode(picture, settings.mime_type, settings.quality)


def predict_response(body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
    """The ``:predict`` reply of an Imagen model, or :class:`ImagenRejected` (CPU-bound: the
    handler runs it in a worker thread)."""
    spec = model.imagen
    assert spec is not None
    prefix = EDITING_PREFIX if spec.editing else GENERATION_PREFIX
    instance = body["instances"][0]
    prompt = str(instance.get("prompt", ""))
    params = parameters_of(body)
    if BLOCK_TRIGGER in prompt:
        raise ImagenRejected(f"{prefix}{_BLOCKED_PROMPT}")
    if "storageUri" in params:
        raise ImagenRejected(
            f"{prefix}parameters.storageUri: the Vertex emulator has no Cloud Storage yet, so it "
            "cannot write images to gs://. Leave storageUri out to get bytesBase64Encoded."
        )
    settings = _settings(model, prompt, params)
    inputs = edit_inputs(instance) if spec.editing else None
    withheld = withheld_count(prompt, settings.count)
    predictions: list[dict[str, Any]] = []
    for index in range(settings.count - withheld):
        encoded = _render(settings, index, inputs)
        item: dict[str, Any] = {
            "bytesBase64Encoded": base64.b64encode(encoded.data).decode("ascii"),
            "mimeType": encoded.mime_type,
        }
        if settings.enhance_prompt and not spec.editing:
            item["prompt"] = prompt.strip() + _ENHANCEMENT
        if settings.include_safety:
            item["safetyAttributes"] = _scores(_image_seed(settings, index), IMAGE_CATEGORIES)
        predictions.append(item)
    if withheld and settings.include_rai_reason:
        predictions.append({"raiFilteredReason": filtered_reason(withheld)})
    if settings.include_safety:
        predictions.append(
            {
                "contentType": POSITIVE_PROMPT,
                "safetyAttributes": _scores(canonical_json(prompt), PROMPT_CATEGORIES),
            }
        )
    return {"predictions": predictions} if predictions else {}
