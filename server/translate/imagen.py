"""Imagen over Vertex `:predict`: GenerateImages and EditImage requests -> `instances` and
`parameters`, and predictions -> GeneratedImage slots. Pure functions, no I/O.

Parameter names are the ones Google's SDK sends (`_GenerateImagesConfig_to_vertex`,
`_EditImageConfig_to_vertex`). `includeRaiReason` is always on, so an image the safety filter
removed comes back as a slot with its reason instead of silently missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
from vertex_gateway.v1 import common_pb2, image_pb2

from server.errors import FieldViolation, GatewayError, invalid_request, upstream_malformed
from server.routing.registry import ModelSpec

from . import image_shapes
from .json_values import b64
from .labels import label_problems
from .message_checks import message_problems
from .tolerant import tolerant

_PERSON = {
    image_pb2.PERSON_GENERATION_DONT_ALLOW: "dont_allow",
    image_pb2.PERSON_GENERATION_ALLOW_ADULT: "allow_adult",
    image_pb2.PERSON_GENERATION_ALLOW_ALL: "allow_all",
}
_SAFETY = {
    image_pb2.SAFETY_FILTER_LEVEL_BLOCK_LOW_AND_ABOVE: "block_low_and_above",
    image_pb2.SAFETY_FILTER_LEVEL_BLOCK_MEDIUM_AND_ABOVE: "block_medium_and_above",
    image_pb2.SAFETY_FILTER_LEVEL_BLOCK_ONLY_HIGH: "block_only_high",
    image_pb2.SAFETY_FILTER_LEVEL_BLOCK_NONE: "block_none",
}
_EDIT_MODE = {
    image_pb2.EDIT_MODE_UNSPECIFIED: "EDIT_MODE_DEFAULT",
    image_pb2.EDIT_MODE_INPAINT_INSERTION: "EDIT_MODE_INPAINT_INSERTION",
    image_pb2.EDIT_MODE_INPAINT_REMOVAL: "EDIT_MODE_INPAINT_REMOVAL",
    image_pb2.EDIT_MODE_OUTPAINT: "EDIT_MODE_OUTPAINT",
    image_pb2.EDIT_MODE_BACKGROUND_SWAP: "EDIT_MODE_BGSWAP",
}
_MASK_MODE = {
    image_pb2.MASK_MODE_BACKGROUND: "MASK_MODE_BACKGROUND",
    image_pb2.MASK_MODE_FOREGROUND: "MASK_MODE_FOREGROUND",
    image_pb2.MASK_MODE_SEMANTIC: "MASK_MODE_SEMANTIC",
}
_NEEDS_MASK = (
    image_pb2.EDIT_MODE_INPAINT_INSERTION,
    image_pb2.EDIT_MODE_INPAINT_REMOVAL,
    image_pb2.EDIT_MODE_OUTPAINT,
    image_pb2.EDIT_MODE_BACKGROUND_SWAP,
)
# Prompt languages Imagen accepts (imagen-api reference, `language`).
PROMPT_LANGUAGES = ("auto", "en", "es", "hi", "ja", "ko", "pt", "zh", "zh-CN", "zh-TW")
NO_IMAGES = "Vertex AI returned no image: every image was removed by its safety filter"


def variation_unimplemented() -> GatewayError:
    """EDIT_MODE_VARIATION: no Vertex model offers it."""
    return GatewayError(
        grpc.StatusCode.UNIMPLEMENTED,
        "edit_mode: EDIT_MODE_VARIATION is not offered by any Vertex AI model; use"
        " EDIT_MODE_UNSPECIFIED with a prompt describing the variation",
        "NOT_OFFERED_BY_VERTEX",
        metadata={"field": "edit_mode"},
    )


def _common_parameters(
    request: image_pb2.GenerateImagesRequest | image_pb2.EditImageRequest,
    out: list[FieldViolation],
) -> dict[str, Any]:
    # Vertex's own default is 4 images; the contract's is 1, so the count is always sent.
    params: dict[str, Any] = {
        "sampleCount": request.number_of_images or 1,
        "includeRaiReason": True,
    }
    if request.negative_prompt:
        params["negativePrompt"] = request.negative_prompt
    if request.HasField("guidance_scale"):
        params["guidanceScale"] = request.guidance_scale
    if request.HasField("seed"):
        if not request.HasField("add_watermark") or request.add_watermark:
            out.append(
                FieldViolation(
                    "seed",
                    "Imagen uses a seed only without a watermark: set add_watermark to false",
                )
            )
        params["seed"] = request.seed
    if request.HasField("add_watermark"):
        params["addWatermark"] = request.add_watermark
    if request.safety_filter_level in _SAFETY:
        params["safetySetting"] = _SAFETY[request.safety_filter_level]
    if request.person_generation in _PERSON:
        params["personGeneration"] = _PERSON[request.person_generation]
    if request.include_safety_attributes:
        params["includeSafetyAttributes"] = True
    if request.language:
        if request.language not in PROMPT_LANGUAGES:
            out.append(FieldViolation("language", f"Imagen takes {', '.join(PROMPT_LANGUAGES)}"))
        params["language"] = request.language
    if request.output_mime_type:
        options: dict[str, Any] = {"mimeType": request.output_mime_type}
        if request.HasField("output_compression_quality"):
            options["compressionQuality"] = request.output_compression_quality
        params["outputOptions"] = options
    if request.output_gcs_uri:
        params["storageUri"] = request.output_gcs_uri
    image_shapes.output_problems(request, out)
    out.extend(label_problems(request.labels))
    return params


def to_generate_predict(
    request: image_pb2.GenerateImagesRequest, spec: ModelSpec
) -> dict[str, Any]:
    """The `:predict` body of a GenerateImages request; INVALID_ARGUMENT listing every problem."""
    out: list[FieldViolation] = list(message_problems(request))
    if not request.prompt.strip():
        out.append(FieldViolation("prompt", "is required"))
    shape = image_shapes.shape(request, image_shapes.IMAGEN_RATIOS, spec.image_sizes, out)
    params = _common_parameters(request, out)
    if shape.aspect_ratio:
        params["aspectRatio"] = shape.aspect_ratio
    if shape.image_size:
        params["sampleImageSize"] = shape.image_size
    if request.HasField("enhance_prompt"):
        params["enhancePrompt"] = request.enhance_prompt
    if out:
        raise invalid_request(out)
    body: dict[str, Any] = {"instances": [{"prompt": request.prompt}], "parameters": params}
    if request.labels:
        body["labels"] = dict(request.labels)
    return body


def _image_ref(media: common_pb2.Media) -> dict[str, Any]:
    if media.WhichOneof("source") == "data":
        ref: dict[str, Any] = {"bytesBase64Encoded": b64(media.data)}
    else:
        ref = {"gcsUri": media.uri}
    if media.mime_type:
        ref["mimeType"] = media.mime_type
    return ref


def _mask_reference(
    request: image_pb2.EditImageRequest, out: list[FieldViolation]
) -> dict[str, Any] | None:
    mask = request.mask
    source = mask.WhichOneof("source")
    if source is None:
        if request.edit_mode in _NEEDS_MASK:
            out.append(
                FieldViolation(
                    "mask", f"is required with {image_pb2.EditMode.Name(request.edit_mode)}"
                )
            )
        return None
    config: dict[str, Any] = {}
    ref: dict[str, Any] = {"referenceType": "REFERENCE_TYPE_MASK", "referenceId": 2}
    if source == "image":
        image_shapes.media_problems(mask.image, "mask.image", out)
        config["maskMode"] = "MASK_MODE_USER_PROVIDED"
        ref["referenceImage"] = _image_ref(mask.image)
        if (
            request.image.WhichOneof("source") == "data"
            and mask.image.WhichOneof("source") == "data"
        ):
            base, drawn = (
                image_shapes.pixel_size(request.image.data),
                image_shapes.pixel_size(mask.image.data),
            )
            if base is None:
                out.append(FieldViolation("image.data", "is not a readable PNG or JPEG image"))
            if drawn is None:
                out.append(FieldViolation("mask.image.data", "is not a readable PNG or JPEG image"))
            elif base is not None and base != drawn:
                out.append(
                    FieldViolation(
                        "mask.image",
                        f"is {drawn[0]}x{drawn[1]}; it must be the size of the image,"
                        f" {base[0]}x{base[1]}",
                    )
                )
    elif mask.automatic not in _MASK_MODE:
        out.append(
            FieldViolation(
                "mask.automatic", "choose MASK_MODE_BACKGROUND, _FOREGROUND or _SEMANTIC"
            )
        )
    else:
        config["maskMode"] = _MASK_MODE[mask.automatic]
    semantic = source == "automatic" and mask.automatic == image_pb2.MASK_MODE_SEMANTIC
    if semantic and not mask.semantic_classes:
        out.append(FieldViolation("mask.semantic_classes", "is required with MASK_MODE_SEMANTIC"))
    if mask.semantic_classes and not semantic:
        out.append(FieldViolation("mask.semantic_classes", "is only used with MASK_MODE_SEMANTIC"))
    if mask.semantic_classes:
        config["maskClasses"] = list(mask.semantic_classes)
    if mask.HasField("dilation"):
        if not 0 <= mask.dilation <= 1:
            out.append(FieldViolation("mask.dilation", "must be 0 to 1"))
        config["dilation"] = mask.dilation
    ref["maskImageConfig"] = config
    return ref


def to_edit_predict(request: image_pb2.EditImageRequest, spec: ModelSpec) -> dict[str, Any]:
    """The `:predict` body of an EditImage request for an Imagen capability model."""
    if request.edit_mode == image_pb2.EDIT_MODE_VARIATION:
        raise variation_unimplemented()
    out: list[FieldViolation] = list(message_problems(request))
    if not request.prompt.strip() and request.edit_mode != image_pb2.EDIT_MODE_INPAINT_REMOVAL:
        out.append(FieldViolation("prompt", "is required (except for EDIT_MODE_INPAINT_REMOVAL)"))
    image_shapes.media_problems(request.image, "image", out)
    for name in ("aspect_ratio", "image_size"):
        if getattr(request, name):
            out.append(
                FieldViolation(
                    name, f"is for Gemini image models; {spec.id} keeps the image's size"
                )
            )
    if request.reference_images:
        out.append(FieldViolation("reference_images", f"is for Gemini image models, not {spec.id}"))
    references: list[dict[str, Any]] = [
        {
            "referenceType": "REFERENCE_TYPE_RAW",
            "referenceId": 1,
            "referenceImage": _image_ref(request.image),
        }
    ]
    mask = _mask_reference(request, out)
    if mask is not None:
        references.append(mask)
    params = _common_parameters(request, out)
    params["editMode"] = _EDIT_MODE[request.edit_mode]
    if request.HasField("edit_steps"):
        if request.edit_steps <= 0:
            out.append(FieldViolation("edit_steps", "must be positive"))
        params["editConfig"] = {"baseSteps": request.edit_steps}
    if out:
        raise invalid_request(out)
    instance: dict[str, Any] = {"prompt": request.prompt, "referenceImages": references}
    body: dict[str, Any] = {"instances": [instance], "parameters": params}
    if request.labels:
        body["labels"] = dict(request.labels)
    return body


def _safety(raw: Any) -> image_pb2.ImageSafetyAttributes:
    if not isinstance(raw, Mapping):
        return image_pb2.ImageSafetyAttributes()
    categories = raw.get("categories") or []
    scores = raw.get("scores") or []
    return image_pb2.ImageSafetyAttributes(
        categories=[str(c) for c in categories], scores=[float(s) for s in scores]
    )


@tolerant
def from_predict(
    payload: Any, requested: int
) -> tuple[list[image_pb2.GeneratedImage], image_pb2.ImageSafetyAttributes | None]:
    """The image slots of a reply (one per image made or filtered) and the prompt's safety
    scores. A reply with no slot at all means every image was filtered."""
    if not isinstance(payload, Mapping):
        raise upstream_malformed("images reply: expected a JSON object")
    predictions = payload.get("predictions") or []
    if not isinstance(predictions, list):
        raise upstream_malformed("images reply: predictions is not a list")
    images: list[image_pb2.GeneratedImage] = []
    prompt_safety = None
    try:
        for item in predictions:
            if not isinstance(item, Mapping):
                raise upstream_malformed("images reply: a prediction is not an object")
            if item.get("contentType") == "Positive Prompt":
                prompt_safety = _safety(item.get("safetyAttributes"))
                continue
            slot = image_pb2.GeneratedImage(enhanced_prompt=str(item.get("prompt") or ""))
            if "safetyAttributes" in item:
                slot.safety_attributes.CopyFrom(_safety(item["safetyAttributes"]))
            mime = str(item.get("mimeType") or "image/png")
            if item.get("bytesBase64Encoded"):
                slot.image.CopyFrom(
                    common_pb2.Media(mime_type=mime, data=_decode(item["bytesBase64Encoded"]))
                )
            elif item.get("gcsUri"):
                slot.image.CopyFrom(common_pb2.Media(mime_type=mime, uri=str(item["gcsUri"])))
            else:
                slot.filtered_reason = str(item.get("raiFilteredReason") or NO_IMAGES)
            images.append(slot)
    except (TypeError, ValueError):
        raise upstream_malformed("images reply: a prediction has the wrong types") from None
    if not any(s.WhichOneof("result") for s in images):
        images = images or [
            image_pb2.GeneratedImage(filtered_reason=NO_IMAGES) for _ in range(max(1, requested))
        ]
    return images, prompt_safety


def _decode(text: Any) -> bytes:
    import base64
    import binascii

    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise upstream_malformed("images reply: bytesBase64Encoded is not base64") from None
