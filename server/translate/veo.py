"""Veo video generation (vertex-wire.md §9): GenerateVideoRequest -> `:predictLongRunning` body,
Vertex long-running Operation -> VideoJob, and the opaque names of video jobs. Pure functions,
no I/O.

A video job is its Vertex operation. Its name carries what finding it again needs (location,
publisher, model, operation id) and when it was created, so the gateway keeps no state; since
the caller sends the name back and its parts end up in a URL and a request body, every part is
checked against a strict pattern when it is read, and the name must be exactly the one the
gateway would have written.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import timestamp_pb2
from vertex_gateway.v1 import common_pb2, image_pb2, video_pb2

from server.errors import FieldViolation, invalid_argument, invalid_request, upstream_malformed
from server.routing.registry import VEO_3_1, ModelSpec, VideoLimits

from .json_values import b64
from .labels import label_problems
from .message_checks import message_problems
from .tolerant import tolerant

MAX_VIDEOS = 4
ASPECT_RATIOS = ("16:9", "9:16")
FRAME_TYPES = ("image/png", "image/jpeg")
# A Veo model added by configuration takes what the newest Veo takes; Vertex checks the rest.
DEFAULT_LIMITS = VEO_3_1
_PERSON = {
    image_pb2.PERSON_GENERATION_DONT_ALLOW: "dont_allow",
    image_pb2.PERSON_GENERATION_ALLOW_ADULT: "allow_adult",
    image_pb2.PERSON_GENERATION_ALLOW_ALL: "allow_all",
}
FAILED_REASON = "VIDEO_GENERATION_FAILED"

_PREFIX = "videoJobs/"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,512}$")
_LOCATION = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_PUBLISHER = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_MODEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]|\.(?!\.)){0,127}$")
_OPERATION = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_MILLIS = re.compile(r"^(?:0|[1-9][0-9]{0,15})$")
_OPERATION_NAME = re.compile(
    r"^(?:projects/[^/]+/locations/(?P<location>[^/]+)/)?"
    r"publishers/(?P<publisher>[^/]+)/models/(?P<model>[^/]+)/operations/(?P<id>[^/]+)$"
)
_NAME_HELP = 'must be "videoJobs/{id}" as GenerateVideo returned it'


@dataclass(frozen=True)
class VideoJobName:
    """What a video job's name stands for."""

    location: str
    publisher: str
    model: str
    operation: str
    created_ms: int

    @property
    def model_key(self) -> str:
        """`publisher/model`, as the router takes it."""
        return f"{self.publisher}/{self.model}"

    @property
    def model_resource(self) -> str:
        """`publishers/{publisher}/models/{model}`."""
        return f"publishers/{self.publisher}/models/{self.model}"

    def valid(self) -> bool:
        """True when every part matches its pattern (nothing that could leave its URL segment)."""
        return bool(
            _LOCATION.match(self.location)
            and _PUBLISHER.match(self.publisher)
            and _MODEL.match(self.model)
            and _OPERATION.match(self.operation)
            and 0 <= self.created_ms < 10**16
        )

    def encode(self) -> str:
        """The job's resource name, "videoJobs/{opaque id}"."""
        raw = f"{self.location}/{self.publisher}/{self.model}/{self.operation}/{self.created_ms}"
        return _PREFIX + base64.urlsafe_b64encode(raw.encode("ascii")).decode().rstrip("=")

    def operation_name(self, resource_prefix: str) -> str:
        """The Vertex operation's full name under `projects/{p}/locations/{l}` (empty prefix in
        express mode)."""
        path = f"{self.model_resource}/operations/{self.operation}"
        return f"{resource_prefix}/{path}" if resource_prefix else path


def parse_job_name(name: str, field: str = "name") -> VideoJobName:
    """The parts of a name GenerateVideo issued; INVALID_ARGUMENT naming `field` otherwise."""
    token = name.removeprefix(_PREFIX)
    if not name.startswith(_PREFIX) or not _TOKEN.match(token):
        raise invalid_argument(field, _NAME_HELP)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise invalid_argument(field, _NAME_HELP) from None
    parts = raw.split("/")
    if len(parts) != 5 or not _MILLIS.match(parts[4]):
        raise invalid_argument(field, _NAME_HELP)
    parsed = VideoJobName(parts[0], parts[1], parts[2], parts[3], int(parts[4]))
    # Only the exact spelling the gateway writes: no padding variants, no other alphabet.
    if not parsed.valid() or parsed.encode() != name:
        raise invalid_argument(field, _NAME_HELP)
    return parsed


def job_name_from(operation: Any, spec: ModelSpec, location: str, created_ms: int) -> VideoJobName:
    """The job name for the operation `:predictLongRunning` answered; UNAVAILABLE when Vertex
    named an operation of another model or one the gateway could not address again."""
    raw = operation.get("name") if isinstance(operation, Mapping) else None
    match = _OPERATION_NAME.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise upstream_malformed("video operation: no operation name")
    found_location = match["location"] or location
    name = VideoJobName(found_location, match["publisher"], match["model"], match["id"], created_ms)
    if not name.valid() or (name.publisher, name.model, name.location) != (
        spec.publisher,
        spec.id,
        location,
    ):
        raise upstream_malformed("video operation: its name is not of the model called")
    return name


# ---------------------------------------------------------------------------------------------
# Request


def _frame(media: common_pb2.Media, field: str, out: list[FieldViolation]) -> dict[str, Any]:
    source = media.WhichOneof("source")
    if source is None:
        out.append(FieldViolation(field, "needs image bytes (data) or a gs:// URI"))
        return {}
    if media.mime_type not in FRAME_TYPES:
        out.append(FieldViolation(f"{field}.mime_type", f"must be one of {', '.join(FRAME_TYPES)}"))
    if media.HasField("video_metadata") or media.resolution:
        out.append(FieldViolation(field, "video_metadata and resolution do not apply to a frame"))
    if source == "data":
        if not media.data:
            out.append(FieldViolation(f"{field}.data", "is empty"))
        return {"bytesBase64Encoded": b64(media.data), "mimeType": media.mime_type}
    bucket, _, obj = media.uri.removeprefix("gs://").partition("/")
    if not media.uri.startswith("gs://") or not bucket or not obj:
        out.append(FieldViolation(f"{field}.uri", "Veo reads images from gs://bucket/object URIs"))
    return {"gcsUri": media.uri, "mimeType": media.mime_type}


def _instance(
    request: video_pb2.GenerateVideoRequest, limits: VideoLimits, out: list[FieldViolation]
) -> dict[str, Any]:
    instance: dict[str, Any] = {}
    if request.prompt.strip():
        instance["prompt"] = request.prompt
    elif not request.HasField("first_frame"):
        out.append(FieldViolation("prompt", "is required (or give first_frame)"))
    if request.HasField("first_frame"):
        instance["image"] = _frame(request.first_frame, "first_frame", out)
    if request.HasField("last_frame"):
        if not limits.last_frame:
            out.append(FieldViolation("last_frame", f"{request.model} takes no last frame"))
        elif not request.HasField("first_frame"):
            out.append(FieldViolation("last_frame", "needs first_frame"))
        instance["lastFrame"] = _frame(request.last_frame, "last_frame", out)
    return instance


def _parameters(
    request: video_pb2.GenerateVideoRequest, limits: VideoLimits, out: list[FieldViolation]
) -> dict[str, Any]:
    count = request.number_of_videos if request.HasField("number_of_videos") else 1
    if not 1 <= count <= MAX_VIDEOS:
        out.append(FieldViolation("number_of_videos", f"must be 1 to {MAX_VIDEOS}"))
    params: dict[str, Any] = {"sampleCount": count}
    if request.aspect_ratio:
        if request.aspect_ratio not in ASPECT_RATIOS:
            out.append(FieldViolation("aspect_ratio", f"must be {' or '.join(ASPECT_RATIOS)}"))
        params["aspectRatio"] = request.aspect_ratio
    if request.HasField("duration_seconds"):
        if request.duration_seconds not in limits.durations:
            listed = ", ".join(str(d) for d in limits.durations)
            out.append(
                FieldViolation("duration_seconds", f"{request.model} makes videos of {listed} s")
            )
        params["durationSeconds"] = request.duration_seconds
    if request.resolution:
        if request.resolution not in limits.resolutions:
            takes = ", ".join(limits.resolutions) if limits.resolutions else "no resolution"
            out.append(FieldViolation("resolution", f"{request.model} takes {takes}"))
        params["resolution"] = request.resolution
    if limits.audio:
        # Veo 3 needs the choice made explicitly; the contract's default is sound.
        audio = request.generate_audio if request.HasField("generate_audio") else True
        params["generateAudio"] = audio
    elif request.HasField("generate_audio") and request.generate_audio:
        out.append(FieldViolation("generate_audio", f"{request.model} makes no sound"))
    if request.negative_prompt:
        params["negativePrompt"] = request.negative_prompt
    if request.HasField("seed"):
        params["seed"] = request.seed
    if request.person_generation in _PERSON:
        params["personGeneration"] = _PERSON[request.person_generation]
    if request.HasField("enhance_prompt"):
        params["enhancePrompt"] = request.enhance_prompt
    if request.output_gcs_uri:
        params["storageUri"] = request.output_gcs_uri
    return params


def to_predict_long_running(
    request: video_pb2.GenerateVideoRequest, spec: ModelSpec
) -> dict[str, Any]:
    """The `:predictLongRunning` body; INVALID_ARGUMENT listing every problem of the request."""
    limits = spec.video or DEFAULT_LIMITS
    out: list[FieldViolation] = list(message_problems(request))
    if out:  # enums first: the checks below read them
        raise invalid_request(out)
    instance = _instance(request, limits, out)
    params = _parameters(request, limits, out)
    out.extend(label_problems(request.labels))
    if out:
        raise invalid_request(out)
    body: dict[str, Any] = {"instances": [instance], "parameters": params}
    if request.labels:
        body["labels"] = dict(request.labels)
    return body


def fetch_body(name: VideoJobName, resource_prefix: str) -> dict[str, Any]:
    """The `:fetchPredictOperation` body for a job."""
    return {"operationName": name.operation_name(resource_prefix)}


# ---------------------------------------------------------------------------------------------
# Response


def _created(name: VideoJobName) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromMilliseconds(name.created_ms)
    return ts


def _b64_size(text: str) -> int:
    """Bytes a standard base64 string decodes to, without decoding it."""
    padding = len(text) - len(text.rstrip("="))
    return len(text) * 3 // 4 - padding


def _video(index: int, raw: Any) -> video_pb2.GeneratedVideo:
    if not isinstance(raw, Mapping):
        raise upstream_malformed("video operation: a video is not an object")
    video = video_pb2.GeneratedVideo(index=index, mime_type=str(raw.get("mimeType") or "video/mp4"))
    if isinstance(raw.get("gcsUri"), str) and raw["gcsUri"]:
        video.storage = video_pb2.VIDEO_STORAGE_CLOUD_STORAGE
        video.uri = raw["gcsUri"]
    elif isinstance(raw.get("bytesBase64Encoded"), str):
        video.storage = video_pb2.VIDEO_STORAGE_INLINE
        video.size_bytes = _b64_size(raw["bytesBase64Encoded"])
    else:
        raise upstream_malformed("video operation: a video has neither gcsUri nor bytes")
    return video


def running_job(name: VideoJobName) -> video_pb2.VideoJob:
    """A job just started (what GenerateVideo answers)."""
    return video_pb2.VideoJob(
        name=name.encode(),
        model=name.model_key,
        state=common_pb2.JOB_STATE_RUNNING,
        create_time=_created(name),
        served_by=common_pb2.ServedBy(location=name.location, vertex_model=name.model_resource),
    )


@tolerant
def to_video_job(operation: Any, name: VideoJobName) -> video_pb2.VideoJob:
    """The job a `:fetchPredictOperation` reply describes."""
    if not isinstance(operation, Mapping):
        raise upstream_malformed("video operation: expected a JSON object")
    job = running_job(name)
    job.vertex_operation = str(operation.get("name") or "")
    if operation.get("done") is not True:
        return job
    error = operation.get("error")
    if isinstance(error, Mapping):
        job.state = common_pb2.JOB_STATE_FAILED
        job.error.CopyFrom(
            common_pb2.ErrorStatus(
                code=int(error.get("code") or 0),
                message=str(error.get("message") or ""),
                reason=FAILED_REASON,
            )
        )
        return job
    response = operation.get("response")
    if not isinstance(response, Mapping):
        raise upstream_malformed("video operation: done with neither response nor error")
    job.state = common_pb2.JOB_STATE_SUCCEEDED
    videos = response.get("videos") or []
    if not isinstance(videos, list):
        raise upstream_malformed("video operation: videos is not a list")
    job.videos.extend(_video(i, raw) for i, raw in enumerate(videos))
    job.filtered_count = int(response.get("raiMediaFilteredCount") or 0)
    reasons = response.get("raiMediaFilteredReasons") or []
    job.filtered_reasons.extend(str(r) for r in reasons)
    return job


@tolerant
def inline_video(operation: Any, index: int) -> bytes:
    """The bytes of an inline video of a done operation (`to_video_job` checked the shape)."""
    text = operation["response"]["videos"][index]["bytesBase64Encoded"]
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise upstream_malformed("video operation: bytesBase64Encoded is not base64") from None
