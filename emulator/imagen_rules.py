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

import base64
import binascii
import math
import re
from typing import Any

from emulator.catalog import ImagenSpec, ModelInfo, find_model
from emulator.routing import VertexTarget

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
_GCS_URI = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](/.*)?$")


class ImagenProblem(ValueError):
    """A body Vertex answers with 400 INVALID_ARGUMENT; the message names the problem."""


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _object(value: Any, where: str, allowed: tuple[str, ...], model_id: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ImagenProblem(f"{where} must be a JSON object, got {_shown(value)}.")
    for key in value:
        if key not in allowed:
            raise ImagenProblem(
                f'Unknown field "{key}" in {where}: {model_id} does not take it. '
                f"Supported fields: {', '.join(allowed)}."
            )
    return value


def _integer(value: Any, where: str, low: int, high: int) -> int:
    # Struct numbers are doubles: 2 and 2.0 are the same value to Vertex, 2.5 is not an integer.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ImagenProblem(f"{where} must be an integer, got {_shown(value)}.")
    if isinstance(value, float) and not value.is_integer():
        raise ImagenProblem(f"{where} must be an integer, got {_shown(value)}.")
    number = int(value)
    if not low <= number <= high:
        raise ImagenProblem(
            f"{where} is {number}, but the supported range is from {low} to {high} (inclusive)."
        )
    return number


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ImagenProblem(f"{where} must be a number, got {_shown(value)}.")
    if not low <= value <= high:
        raise ImagenProblem(
            f"{where} is {value:g}, but the supported range is from {low:g} to {high:g} "
            "(inclusive)."
        )
    return float(value)


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ImagenProblem(f"{where} must be a boolean, got {_shown(value)}.")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ImagenProblem(f"{where} must be a string, got {_shown(value)}.")
    return value


def _choice(value: Any, where: str, choices: tuple[str, ...], *, fold_case: bool = False) -> str:
    text = _string(value, where)
    pool = {c.lower(): c for c in choices} if fold_case else {c: c for c in choices}
    found = pool.get(text.lower() if fold_case else text)
    if found is None:
        raise ImagenProblem(
            f"{where} {_shown(value)} is not supported. Supported values: {', '.join(choices)}."
        )
    return found


def _base64(value: Any, where: str) -> bytes:
    text = _string(value, where)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ImagenProblem(f"{where} is not valid base64.") from None


def _gcs_uri(value: Any, where: str) -> str:
    uri = _string(value, where)
    if not _GCS_URI.match(uri):
        raise ImagenProblem(f"{where} {_shown(uri)} is not a Cloud Storage URI (gs://bucket/...).")
    return uri


def _prompt(instance: dict[str, Any], *, required: bool) -> str:
    if "prompt" not in instance:
        if required:
            raise ImagenProblem("instances[0].prompt is required.")
        return ""
    prompt = _string(instance["prompt"], "instances[0].prompt")
    if required and not prompt.strip():
        raise ImagenProblem("instances[0].prompt is empty. Describe the image you want.")
    return prompt


def the_instance(body: dict[str, Any], model_id: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """The single instance of an Imagen request (Imagen takes exactly one per request)."""
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances:
        raise ImagenProblem("instances must hold exactly one instance, got none.")
    if len(instances) > 1:
        raise ImagenProblem(
            f"instances must hold exactly one instance, got {len(instances)}. "
            "Use parameters.sampleCount for more images."
        )
    return _object(instances[0], "instances[0]", keys, model_id)


def parameters_of(body: dict[str, Any]) -> dict[str, Any]:
    """``parameters`` (an empty dict when left out)."""
    parameters = body.get("parameters")
    return {} if parameters is None else parameters if isinstance(parameters, dict) else {}


def _output_options(value: Any, model_id: str) -> None:
    options = _object(
        value, "parameters.outputOptions", ("mimeType", "compressionQuality"), model_id
    )
    if "mimeType" in options:
        _choice(options["mimeType"], "parameters.outputOptions.mimeType", OUTPUT_MIME_TYPES)
    if "compressionQuality" in options:
        _integer(
            options["compressionQuality"], "parameters.outputOptions.compressionQuality", 0, 100
        )


def _shared_parameters(params: dict[str, Any], model_id: str) -> None:
    checks: dict[str, Any] = {
        "sampleCount": lambda v, w: _integer(v, w, 1, MAX_SAMPLES),
        "aspectRatio": lambda v, w: _choice(v, w, ASPECT_RATIOS),
        "negativePrompt": _string,
        "personGeneration": lambda v, w: _choice(v, w, PERSON_GENERATION, fold_case=True),
        "safetySetting": lambda v, w: _choice(v, w, SAFETY_SETTINGS, fold_case=True),
        "addWatermark": _boolean,
        "seed": lambda v, w: _integer(v, w, 0, MAX_SEED),
        "includeRaiReason": _boolean,
        "includeSafetyAttributes": _boolean,
        "language": lambda v, w: _choice(v, w, LANGUAGES, fold_case=True),
        "guidanceScale": lambda v, w: _number(v, w, 0.0, math.inf),
        "storageUri": _gcs_uri,
        "outputOptions": lambda v, w: _output_options(v, model_id),
    }
    for name, check in checks.items():
        if name in params:
            check(params[name], f"parameters.{name}")
    if "seed" in params and params.get("addWatermark", True) is not False:
        raise ImagenProblem("Seed is not supported when watermark is enabled.")


def check_generation(body: dict[str, Any], model: ModelInfo, spec: ImagenSpec) -> None:
    """Raise :class:`ImagenProblem` for the first problem of a generation body."""
    instance = the_instance(body, model.model_id, ("prompt",))
    _prompt(instance, required=True)
    if "parameters" not in body or body["parameters"] is None:
        return
    params = _object(body["parameters"], "parameters", GENERATION_PARAMETERS, model.model_id)
    _shared_parameters(params, model.model_id)
    if "enhancePrompt" in params:
        _boolean(params["enhancePrompt"], "parameters.enhancePrompt")
    if "sampleImageSize" in params:
        size = _choice(params["sampleImageSize"], "parameters.sampleImageSize", ("1K", "2K"))
        if size not in spec.image_sizes:
            raise ImagenProblem(
                f'parameters.sampleImageSize "{size}" is not supported by {model.model_id}. '
                f"Supported values: {', '.join(spec.image_sizes)}."
            )


def _reference_image(value: Any, where: str, model_id: str) -> None:
    image = _object(value, where, IMAGE_KEYS, model_id)
    sources = [k for k in ("bytesBase64Encoded", "gcsUri") if k in image]
    if len(sources) != 1:
        raise ImagenProblem(f"{where} must set exactly one of bytesBase64Encoded and gcsUri.")
    if "bytesBase64Encoded" in image:
        if not _base64(image["bytesBase64Encoded"], f"{where}.bytesBase64Encoded"):
            raise ImagenProblem(f"{where}.bytesBase64Encoded is empty.")
    else:
        _gcs_uri(image["gcsUri"], f"{where}.gcsUri")
    if "mimeType" in image:
        _choice(image["mimeType"], f"{where}.mimeType", INPUT_MIME_TYPES)


def _mask_config(value: Any, where: str, has_image: bool, model_id: str) -> None:
    config = _object(value, where, _CONFIG_KEYS["maskImageConfig"], model_id)
    if "maskMode" not in config:
        raise ImagenProblem(f"{where}.maskMode is required.")
    mode = _choice(config["maskMode"], f"{where}.maskMode", MASK_MODES)
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
            _integer(class_id, f"{where}.maskClasses[{i}]", 0, MAX_MASK_CLASS)
    elif classes is not None:
        raise ImagenProblem(f"{where}.maskClasses is only used with MASK_MODE_SEMANTIC.")
    if "dilation" in config:
        _number(config["dilation"], f"{where}.dilation", 0.0, 1.0)


def _other_config(name: str, value: Any, where: str, model_id: str) -> None:
    config = _object(value, where, _CONFIG_KEYS[name], model_id)
    if name == "controlImageConfig":
        if "controlType" not in config:
            raise ImagenProblem(f"{where}.controlType is required.")
        _choice(config["controlType"], f"{where}.controlType", CONTROL_TYPES)
        flags = [k for k in ("enableControlImageComputation", "computeControl") if k in config]
        if len(flags) > 1:
            raise ImagenProblem(
                f"{where}: set enableControlImageComputation or computeControl, not both."
            )
        for flag in flags:
            _boolean(config[flag], f"{where}.{flag}")
    elif name == "styleImageConfig":
        if "styleDescription" in config:
            _string(config["styleDescription"], f"{where}.styleDescription")
    else:
        if "subjectType" in config:
            _choice(config["subjectType"], f"{where}.subjectType", SUBJECT_TYPES)
        if "subjectDescription" in config:
            _string(config["subjectDescription"], f"{where}.subjectDescription")


def _reference(value: Any, index: int, model_id: str) -> str:
    where = f"instances[0].referenceImages[{index}]"
    reference = _object(value, where, REFERENCE_KEYS, model_id)
    if "referenceType" not in reference:
        raise ImagenProblem(f"{where}.referenceType is required.")
    kind = _choice(reference["referenceType"], f"{where}.referenceType", REFERENCE_TYPES)
    if "referenceId" in reference:
        _integer(reference["referenceId"], f"{where}.referenceId", 0, 2**31 - 1)
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
    """Raise :class:`ImagenProblem` for the first problem of an editing body."""
    instance = the_instance(body, model.model_id, ("prompt", "referenceImages"))
    params: dict[str, Any] = {}
    if body.get("parameters") is not None:
        params = _object(body["parameters"], "parameters", EDIT_PARAMETERS, model.model_id)
    mode = "EDIT_MODE_DEFAULT"
    if "editMode" in params:
        mode = _choice(params["editMode"], "parameters.editMode", EDIT_MODES)
    _prompt(instance, required=mode not in PROMPT_OPTIONAL_MODES)
    kinds = _references(instance, model.model_id)
    _shared_parameters(params, model.model_id)
    if "editConfig" in params:
        config = _object(
            params["editConfig"], "parameters.editConfig", ("baseSteps",), model.model_id
        )
        if "baseSteps" in config:
            _integer(config["baseSteps"], "parameters.editConfig.baseSteps", 1, 2**31 - 1)
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
    except ImagenProblem as problem:
        prefix = EDITING_PREFIX if spec.editing else GENERATION_PREFIX
        return [f"{prefix}{problem}"]
    return []
