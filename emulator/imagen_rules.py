"""Checks of Imagen ``:predict`` bodies (vertex-wire.md §6.1 generation, §6.2 editing).

Google's discovery document types ``instances`` and ``parameters`` as free JSON, so the
transcoder lets anything through; the Imagen service then parses them into its own parameter
messages and refuses unknown names, wrong types, values out of range and bad combinations with a
400 ``INVALID_ARGUMENT``. This module is that second step, run by the registry's ``validator``
hook so the problems are recorded and audited like the transcoder's. It stops at the first
problem, as Vertex's semantic checks do. Wording: "Image generation failed with the following
error: Seed is not supported when watermark is enabled." is from a public capture of a real
response; the other messages are modelled on its prefix.

Checks that need the images' pixels (readable bytes, mask size) live in ``imagen.py``: they are
answered by the handler and left out of the audit, as a caller's media can break them.
"""

from __future__ import annotations

import math
from typing import Any

from emulator.catalog import ImagenSpec, ModelInfo, find_model
from emulator.predict_body import image_uri, the_instance
from emulator.predict_body import parameters_of as parameters_of
from emulator.routing import VertexTarget
from emulator.struct_checks import (
    StructProblem,
    boolean,
    check_object,
    choice,
    gcs_uri,
    integer,
    number,
    string,
)

GENERATION_PREFIX = "Image generation failed with the following error: "
EDITING_PREFIX = "Image editing failed with the following error: "

MAX_SAMPLES = 4
# Vertex generates four images when ``sampleCount`` is left out (Imagen API reference).
DEFAULT_SAMPLES = 4
ASPECT_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
PERSON_GENERATION = ("dont_allow", "allow_adult", "allow_all")
SAFETY_SETTINGS = (
    "block_low_and_above",
    "block_medium_and_above",
    "block_only_high",
    "block_none",
)
LANGUAGES = ("auto", "en", "es", "hi", "ja", "ko", "pt", "zh", "zh-CN", "zh-TW")
OUTPUT_MIME_TYPES = ("image/png", "image/jpeg")
INPUT_MIME_TYPES = ("image/png", "image/jpeg")
MAX_SEED = 2**32 - 1

# Parameter names exactly as Google's SDK sends them (genai ``_GenerateImagesConfig_to_vertex``,
# ``_EditImageConfig_to_vertex``), plus ``addWatermark`` on edits, which the REST reference lists.
_SHARED_PARAMETERS = (
    "storageUri",
    "negativePrompt",
    "sampleCount",
    "aspectRatio",
    "guidanceScale",
    "seed",
    "safetySetting",
    "personGeneration",
    "includeSafetyAttributes",
    "includeRaiReason",
    "language",
    "outputOptions",
    "addWatermark",
)
GENERATION_PARAMETERS = (*_SHARED_PARAMETERS, "sampleImageSize", "enhancePrompt")
EDIT_PARAMETERS = (*_SHARED_PARAMETERS, "editMode", "editConfig")

EDIT_MODES = (
    "EDIT_MODE_DEFAULT",
    "EDIT_MODE_INPAINT_INSERTION",
    "EDIT_MODE_INPAINT_REMOVAL",
    "EDIT_MODE_OUTPAINT",
    "EDIT_MODE_CONTROLLED_EDITING",
    "EDIT_MODE_STYLE",
    "EDIT_MODE_BGSWAP",
    "EDIT_MODE_PRODUCT_IMAGE",
)
MASKED_MODES = (
    "EDIT_MODE_INPAINT_INSERTION",
    "EDIT_MODE_INPAINT_REMOVAL",
    "EDIT_MODE_OUTPAINT",
    "EDIT_MODE_BGSWAP",
)
# Removing an object or extending the canvas needs no description (Google recommends none).
PROMPT_OPTIONAL_MODES = ("EDIT_MODE_INPAINT_REMOVAL", "EDIT_MODE_OUTPAINT")

RAW = "REFERENCE_TYPE_RAW"
MASK = "REFERENCE_TYPE_MASK"
CONTROL = "REFERENCE_TYPE_CONTROL"
STYLE = "REFERENCE_TYPE_STYLE"
SUBJECT = "REFERENCE_TYPE_SUBJECT"
CONTENT = "REFERENCE_TYPE_CONTENT"
REFERENCE_TYPES = (RAW, MASK, CONTROL, STYLE, SUBJECT, CONTENT)
# The configuration block each reference type carries (none for RAW and CONTENT).
_CONFIG_OF = {
    MASK: "maskImageConfig",
    CONTROL: "controlImageConfig",
    STYLE: "styleImageConfig",
    SUBJECT: "subjectImageConfig",
}
REFERENCE_KEYS = ("referenceType", "referenceId", "referenceImage", *_CONFIG_OF.values())
IMAGE_KEYS = ("bytesBase64Encoded", "gcsUri", "mimeType")

USER_MASK = "MASK_MODE_USER_PROVIDED"
MASK_MODES = (
    "MASK_MODE_DEFAULT",
    USER_MASK,
    "MASK_MODE_BACKGROUND",
    "MASK_MODE_FOREGROUND",
    "MASK_MODE_SEMANTIC",
)
# Vertex's segmentation classes are numbered 0..193 (Imagen "semantic mask" class table).
MAX_MASK_CLASS = 193
CONTROL_TYPES = (
    "CONTROL_TYPE_DEFAULT",
    "CONTROL_TYPE_CANNY",
    "CONTROL_TYPE_SCRIBBLE",
    "CONTROL_TYPE_FACE_MESH",
)
SUBJECT_TYPES = (
    "SUBJECT_TYPE_DEFAULT",
    "SUBJECT_TYPE_PERSON",
    "SUBJECT_TYPE_ANIMAL",
    "SUBJECT_TYPE_PRODUCT",
)
# Google's docs and the aiplatform SDK send ``enableControlImageComputation``; google-genai sends
# ``computeControl``. Both reach Vertex, so both are taken (not together).
_CONFIG_KEYS = {
    "maskImageConfig": ("maskMode", "maskClasses", "dilation"),
    "controlImageConfig": ("controlType", "enableControlImageComputation", "computeControl"),
    "styleImageConfig": ("styleDescription",),
    "subjectImageConfig": ("subjectType", "subjectDescription"),
}


class ImagenProblem(StructProblem):
    """A body Vertex answers with 400 INVALID_ARGUMENT; the message names the problem."""


def _prompt(instance: dict[str, Any], *, required: bool) -> str:
    if "prompt" not in instance:
        if required:
            raise ImagenProblem("instances[0].prompt is required.")
        return ""
    prompt = string(instance["prompt"], "instances[0].prompt")
    if required and not prompt.strip():
        raise ImagenProblem("instances[0].prompt is empty. Describe the image you want.")
    return prompt


def _output_options(value: Any, model_id: str) -> None:
    options = check_object(
        value, "parameters.outputOptions", ("mimeType", "compressionQuality"), model_id
    )
    if "mimeType" in options:
        choice(options["mimeType"], "parameters.outputOptions.mimeType", OUTPUT_MIME_TYPES)
    if "compressionQuality" in options:
        integer(
            options["compressionQuality"], "parameters.outputOptions.compressionQuality", 0, 100
        )


def _shared_parameters(params: dict[str, Any], model_id: str) -> None:
    checks: dict[str, Any] = {
        "sampleCount": lambda v, w: integer(v, w, 1, MAX_SAMPLES),
        "aspectRatio": lambda v, w: choice(v, w, ASPECT_RATIOS),
        "negativePrompt": string,
        "personGeneration": lambda v, w: choice(v, w, PERSON_GENERATION, fold_case=True),
        "safetySetting": lambda v, w: choice(v, w, SAFETY_SETTINGS, fold_case=True),
        "addWatermark": boolean,
        "seed": lambda v, w: integer(v, w, 0, MAX_SEED),
        "includeRaiReason": boolean,
        "includeSafetyAttributes": boolean,
        "language": lambda v, w: choice(v, w, LANGUAGES, fold_case=True),
        "guidanceScale": lambda v, w: number(v, w, 0.0, math.inf),
        "storageUri": gcs_uri,
        "outputOptions": lambda v, w: _output_options(v, model_id),
    }
    for name, check in checks.items():
        if name in params:
            check(params[name], f"parameters.{name}")
    if "seed" in params and params.get("addWatermark", True) is not False:
        raise ImagenProblem("Seed is not supported when watermark is enabled.")


def check_generation(body: dict[str, Any], model: ModelInfo, spec: ImagenSpec) -> None:
    """Raise :class:`StructProblem` for the first problem of a generation body."""
    instance = the_instance(body, model.model_id, ("prompt",), "images")
    _prompt(instance, required=True)
    if "parameters" not in body or body["parameters"] is None:
        return
    params = check_object(body["parameters"], "parameters", GENERATION_PARAMETERS, model.model_id)
    _shared_parameters(params, model.model_id)
    if "enhancePrompt" in params:
        boolean(params["enhancePrompt"], "parameters.enhancePrompt")
    if "sampleImageSize" in params:
        size = choice(params["sampleImageSize"], "parameters.sampleImageSize", ("1K", "2K"))
        if size not in spec.image_sizes:
            raise ImagenProblem(
                f'parameters.sampleImageSize "{size}" is not supported by {model.model_id}. '
                f"Supported values: {', '.join(spec.image_sizes)}."
            )


def _reference_image(value: Any, where: str, model_id: str) -> None:
    image = check_object(value, where, IMAGE_KEYS, model_id)
    image_uri(image, where)
    if "mimeType" in image:
        choice(image["mimeType"], f"{where}.mimeType", INPUT_MIME_TYPES)


def _mask_config(value: Any, where: str, has_image: bool, model_id: str) -> None:
    config = check_object(value, where, _CONFIG_KEYS["maskImageConfig"], model_id)
    if "maskMode" not in config:
        raise ImagenProblem(f"{where}.maskMode is required.")
    mode = choice(config["maskMode"], f"{where}.maskMode", MASK_MODES)
    # A drawn mask (user-provided, or the default mode given an image) travels in referenceImage;
    # the automatic modes compute theirs.
    drawn = mode in (USER_MASK, "MASK_MODE_DEFAULT")
    if drawn and not has_image:
        raise ImagenProblem(f"{where}.maskMode {mode} needs the mask in referenceImage.")
    if not drawn and has_image:
        raise ImagenProblem(f"{where}.maskMode {mode} computes the mask: leave referenceImage out.")
    classes = config.get("maskClasses")
    if mode == "MASK_MODE_SEMANTIC":
        if not isinstance(classes, list) or not classes:
            raise ImagenProblem(f"{where}.maskClasses is required with MASK_MODE_SEMANTIC.")
        for i, class_id in enumerate(classes):
            integer(class_id, f"{where}.maskClasses[{i}]", 0, MAX_MASK_CLASS)
    elif classes is not None:
        raise ImagenProblem(f"{where}.maskClasses is only used with MASK_MODE_SEMANTIC.")
    if "dilation" in config:
        number(config["dilation"], f"{where}.dilation", 0.0, 1.0)


def _other_config(name: str, value: Any, where: str, model_id: str) -> None:
    config = check_object(value, where, _CONFIG_KEYS[name], model_id)
    if name == "controlImageConfig":
        if "controlType" not in config:
            raise ImagenProblem(f"{where}.controlType is required.")
        choice(config["controlType"], f"{where}.controlType", CONTROL_TYPES)
        flags = [k for k in ("enableControlImageComputation", "computeControl") if k in config]
        if len(flags) > 1:
            raise ImagenProblem(
                f"{where}: set enableControlImageComputation or computeControl, not both."
            )
        for flag in flags:
            boolean(config[flag], f"{where}.{flag}")
    elif name == "styleImageConfig":
        if "styleDescription" in config:
            string(config["styleDescription"], f"{where}.styleDescription")
    else:
        if "subjectType" in config:
            choice(config["subjectType"], f"{where}.subjectType", SUBJECT_TYPES)
        if "subjectDescription" in config:
            string(config["subjectDescription"], f"{where}.subjectDescription")


def _reference(value: Any, index: int, model_id: str) -> str:
    where = f"instances[0].referenceImages[{index}]"
    reference = check_object(value, where, REFERENCE_KEYS, model_id)
    if "referenceType" not in reference:
        raise ImagenProblem(f"{where}.referenceType is required.")
    kind = choice(reference["referenceType"], f"{where}.referenceType", REFERENCE_TYPES)
    if "referenceId" in reference:
        integer(reference["referenceId"], f"{where}.referenceId", 0, 2**31 - 1)
    own = _CONFIG_OF.get(kind)
    for name in _CONFIG_OF.values():
        if name in reference and name != own:
            raise ImagenProblem(f"{where}.{name} does not go with {kind}.")
    has_image = "referenceImage" in reference
    if has_image:
        _reference_image(reference["referenceImage"], f"{where}.referenceImage", model_id)
    if kind == MASK:
        if "maskImageConfig" not in reference:
            raise ImagenProblem(f"{where}.maskImageConfig is required with {MASK}.")
        _mask_config(reference["maskImageConfig"], f"{where}.maskImageConfig", has_image, model_id)
    elif not has_image:
        raise ImagenProblem(f"{where}.referenceImage is required with {kind}.")
    elif own is not None and own in reference:
        _other_config(own, reference[own], f"{where}.{own}", model_id)
    elif kind == CONTROL:
        raise ImagenProblem(f"{where}.controlImageConfig is required with {CONTROL}.")
    return kind


def _references(instance: dict[str, Any], model_id: str) -> list[str]:
    raw = instance.get("referenceImages")
    if not isinstance(raw, list) or not raw:
        raise ImagenProblem("instances[0].referenceImages must hold at least one reference image.")
    kinds = [_reference(item, i, model_id) for i, item in enumerate(raw)]
    ids = [item["referenceId"] for item in raw if "referenceId" in item]
    if len(ids) != len({int(i) for i in ids}):
        raise ImagenProblem("instances[0].referenceImages: every referenceId must be different.")
    for single in (RAW, MASK):
        if kinds.count(single) > 1:
            raise ImagenProblem(f"instances[0].referenceImages holds more than one {single}.")
    if MASK in kinds and RAW not in kinds:
        raise ImagenProblem(f"A {MASK} needs the image it masks: add a {RAW}.")
    return kinds


def check_editing(body: dict[str, Any], model: ModelInfo) -> None:
    """Raise :class:`StructProblem` for the first problem of an editing body."""
    instance = the_instance(body, model.model_id, ("prompt", "referenceImages"), "images")
    params: dict[str, Any] = {}
    if body.get("parameters") is not None:
        params = check_object(body["parameters"], "parameters", EDIT_PARAMETERS, model.model_id)
    mode = "EDIT_MODE_DEFAULT"
    if "editMode" in params:
        mode = choice(params["editMode"], "parameters.editMode", EDIT_MODES)
    _prompt(instance, required=mode not in PROMPT_OPTIONAL_MODES)
    kinds = _references(instance, model.model_id)
    _shared_parameters(params, model.model_id)
    if "editConfig" in params:
        config = check_object(
            params["editConfig"], "parameters.editConfig", ("baseSteps",), model.model_id
        )
        if "baseSteps" in config:
            integer(config["baseSteps"], "parameters.editConfig.baseSteps", 1, 2**31 - 1)
    needs = {
        "EDIT_MODE_CONTROLLED_EDITING": CONTROL,
        "EDIT_MODE_STYLE": STYLE,
        "EDIT_MODE_PRODUCT_IMAGE": RAW,
    }
    if mode in MASKED_MODES:
        if RAW not in kinds or MASK not in kinds:
            raise ImagenProblem(f"{mode} needs a {RAW} and a {MASK} reference image.")
    elif mode in needs and needs[mode] not in kinds:
        raise ImagenProblem(f"{mode} needs a {needs[mode]} reference image.")


def problems(target: VertexTarget, body: Any) -> list[str]:
    """The registry validator of ``:predict``: the first problem of an Imagen body, worded as
    Vertex words it; [] for a valid body and for every other model (whose handlers check)."""
    model = find_model(str(target.publisher), str(target.model)) if target.model else None
    if model is None or model.imagen is None or not isinstance(body, dict):
        return []
    spec = model.imagen
    try:
        if spec.editing:
            check_editing(body, model)
        else:
            check_generation(body, model, spec)
    except StructProblem as problem:
        prefix = EDITING_PREFIX if spec.editing else GENERATION_PREFIX
        return [f"{prefix}{problem}"]
    return []
