"""Checks of Veo ``:predictLongRunning`` bodies (vertex-wire.md §9).

The discovery document's ``PredictLongRunningRequest`` types ``instances`` and ``parameters`` as
free JSON; Veo parses them into its own messages and refuses unknown names, wrong types and values
the model does not take with a 400 ``INVALID_ARGUMENT``. This module is that second step, the
registry ``validator`` of ``predictLongRunning``, so its problems are recorded and audited like
the transcoder's; it stops at the first problem. Limits per model live on ``catalog.VeoSpec``.

Wording: "The number value for `durationSeconds` is out of bound. Please provide a value between
4 and 8, inclusive." is quoted from a public capture of a real answer (Gemini API, Veo 3.1); the
other messages are modelled (the ``struct_checks`` forms shared with Imagen).

``video`` (extension), ``referenceImages`` and ``mask`` are documented instance members the
emulator does not make videos from: the validator leaves them alone and the handler refuses them
(recorded, not audited), as it does an image that does not decode.
"""

from __future__ import annotations

import re
from typing import Any

from emulator.catalog import ModelInfo, VeoSpec, find_model
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
    shown,
    string,
)

INSTANCE_KEYS = ("prompt", "image", "lastFrame", "video", "referenceImages", "mask")
# What the emulator cannot make a video from (refused by the handler).
UNEMULATED_KEYS = ("video", "referenceImages", "mask")
MEDIA_KEYS = ("bytesBase64Encoded", "gcsUri", "mimeType")
IMAGE_MIME_TYPES = ("image/jpeg", "image/png")
# Parameter names as google-genai sends them (``_GenerateVideosConfig_to_vertex``).
PARAMETERS = (
    "aspectRatio",
    "durationSeconds",
    "sampleCount",
    "storageUri",
    "seed",
    "negativePrompt",
    "personGeneration",
    "generateAudio",
    "resolution",
    "enhancePrompt",
    "compressionQuality",
    "resizeMode",
    "fps",
    "pubsubTopic",
)
ASPECT_RATIOS = ("16:9", "9:16")
PERSON_GENERATION = ("dont_allow", "allow_adult", "allow_all")
COMPRESSION = ("optimized", "lossless")
RESIZE_MODES = ("pad", "crop")
# Veo renders 24 frames per second (model pages: "Supported framerates: 24 FPS").
FRAME_RATES = (24,)
MAX_SAMPLES = 4
MAX_SEED = 2**32 - 1
DEFAULT_DURATION = 8
DEFAULT_ASPECT_RATIO = "16:9"
DEFAULT_SAMPLES = 1
_PUBSUB_TOPIC = re.compile(r"^projects/[^/]+/topics/[^/]+$")


def _media(value: Any, where: str, model_id: str) -> None:
    media = check_object(value, where, MEDIA_KEYS, model_id)
    uri = image_uri(media, where)
    if uri is not None and not uri.removeprefix("gs://").partition("/")[2]:
        raise StructProblem(f"{where}.gcsUri must name an object (gs://bucket/object).")
    if "mimeType" not in media:
        raise StructProblem(f"{where}.mimeType is required.")
    choice(media["mimeType"], f"{where}.mimeType", IMAGE_MIME_TYPES)


def _instance(instance: dict[str, Any], model: ModelInfo, spec: VeoSpec) -> None:
    prompt = string(instance.get("prompt", ""), "instances[0].prompt")
    if "image" in instance:
        _media(instance["image"], "instances[0].image", model.model_id)
    elif not prompt.strip():
        raise StructProblem(
            "instances[0].prompt is required when no image is given. Describe the video you want."
        )
    if "lastFrame" in instance:
        if not spec.last_frame:
            raise StructProblem(f"instances[0].lastFrame is not supported by {model.model_id}.")
        if "image" not in instance:
            raise StructProblem(
                "instances[0].lastFrame needs instances[0].image (the first frame)."
            )
        _media(instance["lastFrame"], "instances[0].lastFrame", model.model_id)


def feature(instance: dict[str, Any]) -> str:
    """The Veo feature a request uses, as Veo names it in its duration message."""
    return "image_to_video" if "image" in instance else "text_to_video"


def _duration(value: Any, spec: VeoSpec, instance: dict[str, Any]) -> None:
    where = "parameters.durationSeconds"
    low, high = min(spec.durations), max(spec.durations)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StructProblem(f"{where} must be an integer, got {shown(value)}.")
    if not low <= value <= high:
        raise StructProblem(
            "The number value for `durationSeconds` is out of bound. Please provide a value "
            f"between {low} and {high}, inclusive."
        )
    if (isinstance(value, float) and not value.is_integer()) or int(value) not in spec.durations:
        listed = ",".join(str(d) for d in spec.durations)
        raise StructProblem(
            f"Unsupported output video duration {value:g} seconds, supported durations are "
            f"[{listed}] for feature {feature(instance)}."
        )


def _parameters(
    params: dict[str, Any], model: ModelInfo, spec: VeoSpec, instance: dict[str, Any]
) -> None:
    checks: dict[str, Any] = {
        "aspectRatio": lambda v, w: choice(v, w, ASPECT_RATIOS),
        "sampleCount": lambda v, w: integer(v, w, 1, MAX_SAMPLES),
        "storageUri": gcs_uri,
        "seed": lambda v, w: integer(v, w, 0, MAX_SEED),
        "negativePrompt": string,
        "personGeneration": lambda v, w: choice(v, w, PERSON_GENERATION),
        "generateAudio": boolean,
        "enhancePrompt": boolean,
        "compressionQuality": lambda v, w: choice(v, w, COMPRESSION),
        "fps": lambda v, w: integer(v, w, FRAME_RATES[0], FRAME_RATES[-1]),
    }
    for name, check in checks.items():
        if name in params:
            check(params[name], f"parameters.{name}")
    if "durationSeconds" in params:
        _duration(params["durationSeconds"], spec, instance)
    if "resolution" in params:
        if not spec.resolutions:
            raise StructProblem(f"parameters.resolution is not supported by {model.model_id}.")
        choice(params["resolution"], "parameters.resolution", spec.resolutions)
    if "resizeMode" in params:
        if not spec.audio:
            raise StructProblem(f"parameters.resizeMode is not supported by {model.model_id}.")
        choice(params["resizeMode"], "parameters.resizeMode", RESIZE_MODES)
    if "pubsubTopic" in params:
        topic = string(params["pubsubTopic"], "parameters.pubsubTopic")
        if not _PUBSUB_TOPIC.match(topic):
            raise StructProblem(
                f'parameters.pubsubTopic "{topic}" is not a topic name '
                "(projects/{project}/topics/{topic})."
            )
    audio = params.get("generateAudio")
    if spec.audio and audio is None:
        raise StructProblem(f"parameters.generateAudio is required for {model.model_id}.")
    if not spec.audio and audio is True:
        raise StructProblem(f"Audio generation is not supported by {model.model_id}.")


def check_body(body: dict[str, Any], model: ModelInfo) -> None:
    """Raise :class:`StructProblem` for the first problem of a Veo body."""
    assert model.veo is not None
    instance = the_instance(body, model.model_id, INSTANCE_KEYS, "videos")
    _instance(instance, model, model.veo)
    params = body.get("parameters")
    if params is None:
        params = {}
    check_object(params, "parameters", PARAMETERS, model.model_id)
    _parameters(params, model, model.veo, instance)


def problems(target: VertexTarget, body: Any) -> list[str]:
    """The registry validator of ``:predictLongRunning``: the first problem of a Veo body;
    [] for a valid body and for every other model (whose handler refuses the method)."""
    model = find_model(str(target.publisher), str(target.model)) if target.model else None
    if model is None or model.veo is None or not isinstance(body, dict):
        return []
    try:
        check_body(body, model)
    except StructProblem as problem:
        return [str(problem)]
    return []
