"""Supervised tuning: typed examples -> Vertex's tuning JSONL lines, a CreateTuningJobRequest ->
a `tuningJobs` body, and Vertex TuningJob resources -> TuningJob messages. Pure functions, no I/O.

A line of Vertex's tuning data is `{"contents": [...], "systemInstruction"?, "tools"?}` (Google's
"Prepare supervised fine-tuning data for Gemini models"): the same members as a generateContent
body, so each example is checked as a chat request and built by the Gemini chat translator.
On top of that, a tuning example must be a conversation to learn from: it starts on the user
side, alternates, and ends with the model's answer; its parts are text, media by gs:// URI
(Google's format has `fileData`, no inline data), tool calls and tool results.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format
from vertex_gateway.v1 import chat_pb2, common_pb2, tuning_pb2

from server.errors import FieldViolation, GatewayError, invalid_request, upstream_malformed
from server.routing.registry import ModelSpec

from . import gemini_chat
from .chat_capabilities import required_capabilities
from .chat_validation import validate_chat_request
from .job_resources import copy_times, job_state
from .labels import label_problems
from .message_checks import message_problems
from .tolerant import tolerant

MAX_EPOCHS = 100
MAX_LEARNING_RATE_MULTIPLIER = 100.0
MAX_DISPLAY_NAME = 128
# Google's limit for Gemini 2.5 models ("About supervised fine-tuning for Gemini models").
MAX_VALIDATION_EXAMPLES = 5000
# Labels the gateway puts on its jobs (keys starting with "vertex-gateway" are reserved).
MARK = "vertex-gateway"
MARK_VALUE = "tuning"
STAGING = "vertex-gateway-input"
RESERVED_PREFIX = "vertex-gateway"
ERROR_REASON = "VERTEX_TUNING_ERROR"
TERMINAL = frozenset(
    {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
)
_ADAPTERS: dict[int, tuple[str, int]] = {
    tuning_pb2.ADAPTER_SIZE_ONE: ("ADAPTER_SIZE_ONE", 1),
    tuning_pb2.ADAPTER_SIZE_TWO: ("ADAPTER_SIZE_TWO", 2),
    tuning_pb2.ADAPTER_SIZE_FOUR: ("ADAPTER_SIZE_FOUR", 4),
    tuning_pb2.ADAPTER_SIZE_EIGHT: ("ADAPTER_SIZE_EIGHT", 8),
    tuning_pb2.ADAPTER_SIZE_SIXTEEN: ("ADAPTER_SIZE_SIXTEEN", 16),
}
_ADAPTER_BY_NAME = {name: value for value, (name, _) in _ADAPTERS.items()}
_USER_SIDE = (chat_pb2.ROLE_USER, chat_pb2.ROLE_TOOL)


# ---------------------------------------------------------------------------------------------
# Examples


def _part_problems(message: chat_pb2.Message, where: str) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    for j, part in enumerate(message.parts):
        at = f"{where}.parts[{j}]"
        kind = part.WhichOneof("kind")
        if kind == "thought":
            out.append(FieldViolation(f"{at}.thought", "thoughts are not tuning data"))
        elif kind == "media" and part.media.WhichOneof("source") == "data":
            out.append(
                FieldViolation(
                    f"{at}.media.data",
                    "tuning data takes media by gs:// URI only: upload it (FileService, purpose"
                    " MEDIA) and give its uri",
                )
            )
        elif kind == "media" and not part.media.uri.startswith("gs://"):
            out.append(FieldViolation(f"{at}.media.uri", "tuning data reads gs:// URIs only"))
        if part.thought_signature:
            out.append(FieldViolation(f"{at}.thought_signature", "is not tuning data"))
        if part.cache_breakpoint:
            out.append(FieldViolation(f"{at}.cache_breakpoint", "applies to Claude only"))
    return out


def _turn_problems(messages: Iterable[chat_pb2.Message]) -> list[FieldViolation]:
    """The conversation's shape: user side first, alternating sides (tool results join the user
    turn they follow, as the Gemini translator merges them), the model's answer last."""
    out: list[FieldViolation] = []
    previous: int | None = None
    roles = [m.role for m in messages]
    for i, role in enumerate(roles):
        where = f"messages[{i}].role"
        if i == 0 and role != chat_pb2.ROLE_USER:
            out.append(FieldViolation(where, "the first message must be ROLE_USER"))
        elif role == chat_pb2.ROLE_USER and previous in _USER_SIDE:
            out.append(FieldViolation(where, "follows another user-side message; turns alternate"))
        elif role == chat_pb2.ROLE_ASSISTANT and previous == chat_pb2.ROLE_ASSISTANT:
            out.append(FieldViolation(where, "follows another ROLE_ASSISTANT message"))
        previous = role
    if roles and roles[-1] != chat_pb2.ROLE_ASSISTANT:
        out.append(
            FieldViolation(
                f"messages[{len(roles) - 1}].role",
                "the last message must be ROLE_ASSISTANT (the answer to learn)",
            )
        )
    return out


def example_line(example: tuning_pb2.TuningExample, spec: ModelSpec) -> dict[str, Any]:
    """One line of Vertex's tuning JSONL; INVALID_ARGUMENT with violations whose fields are
    relative to the example (`messages[1].parts[0]...`)."""
    chat = chat_pb2.ChatRequest(
        messages=example.messages,
        system_instruction=example.system_instruction,
        tools=example.tools,
    )
    validate_chat_request(chat)  # also pairs tool results with their calls, in place
    out: list[FieldViolation] = []
    for k, tool in enumerate(chat.tools):
        if tool.WhichOneof("kind") != "function":
            out.append(FieldViolation(f"tools[{k}]", "tuning examples declare functions only"))
    for i, message in enumerate(chat.messages):
        out.extend(_part_problems(message, f"messages[{i}]"))
    out.extend(_turn_problems(chat.messages))
    for capability, field in required_capabilities(chat):
        if capability not in spec.capabilities:
            out.append(FieldViolation(field, f"{spec.id} does not take {capability.value}"))
    if out:
        raise invalid_request(out)
    body = gemini_chat.to_generate_content(chat, spec)
    return {k: body[k] for k in ("contents", "systemInstruction", "tools") if k in body}


def stage(
    examples: Iterable[tuning_pb2.TuningExample], spec: ModelSpec, where: str
) -> tuple[list[dict[str, Any]], list[FieldViolation]]:
    """Every example as a line, or every problem, each naming `where[index]` and the field."""
    lines: list[dict[str, Any]] = []
    problems: list[FieldViolation] = []
    for i, example in enumerate(examples):
        try:
            lines.append(example_line(example, spec))
        except GatewayError as err:
            problems.extend(prefixed(err, f"{where}[{i}]"))
    return lines, problems


def prefixed(err: GatewayError, where: str, note: str = "") -> list[FieldViolation]:
    """An example's violations with the example's place in front of each field."""
    if not err.field_violations:
        return [FieldViolation(where, note + err.message)]
    return [
        FieldViolation(f"{where}.{v.field}", note + v.description) for v in err.field_violations
    ]


def parse_example(raw: bytes) -> tuning_pb2.TuningExample:
    """A TuningExample from one JSONL line (proto3 JSON); ValueError naming what is wrong."""
    example = tuning_pb2.TuningExample()
    try:
        json_format.Parse(raw, example)
    except (json_format.ParseError, UnicodeDecodeError) as exc:
        raise ValueError(f"is not a TuningExample in proto3 JSON: {exc}") from None
    return example


# ---------------------------------------------------------------------------------------------
# Job


def setting_problems(
    request: tuning_pb2.CreateTuningJobRequest, spec: ModelSpec
) -> list[FieldViolation]:
    """Every problem of the job's settings (everything but the examples)."""
    out = [
        v
        for v in message_problems(request)
        if not v.field.startswith(("training_examples", "validation_examples"))
    ]
    if request.HasField("epoch_count") and not 1 <= request.epoch_count <= MAX_EPOCHS:
        out.append(FieldViolation("epoch_count", f"must be 1 to {MAX_EPOCHS}"))
    if request.HasField("learning_rate_multiplier") and not (
        0 < request.learning_rate_multiplier <= MAX_LEARNING_RATE_MULTIPLIER
    ):
        out.append(
            FieldViolation(
                "learning_rate_multiplier",
                f"must be greater than 0 and at most {MAX_LEARNING_RATE_MULTIPLIER:g}",
            )
        )
    size = _ADAPTERS.get(request.adapter_size)
    if size is not None and spec.adapter_sizes and size[1] not in spec.adapter_sizes:
        allowed = ", ".join(str(s) for s in spec.adapter_sizes)
        out.append(FieldViolation("adapter_size", f"{spec.id} takes adapter sizes {allowed}"))
    if len(request.tuned_model_display_name) > MAX_DISPLAY_NAME:
        out.append(
            FieldViolation(
                "tuned_model_display_name", f"is longer than {MAX_DISPLAY_NAME} characters"
            )
        )
    out.extend(label_problems(request.labels))
    for key in request.labels:
        if key.startswith(RESERVED_PREFIX):
            out.append(
                FieldViolation(f"labels[{key!r}]", "keys starting with vertex-gateway are reserved")
            )
    for inline, file, name in (
        (request.training_examples, request.training_file, "training"),
        (request.validation_examples, request.validation_file, "validation"),
    ):
        if inline and file:
            out.append(
                FieldViolation(
                    f"{name}_examples", f"give {name} examples inline or as {name}_file, not both"
                )
            )
    if not request.training_examples and not request.training_file:
        out.append(
            FieldViolation("training_examples", "is required (or training_file): no training data")
        )
    if len(request.validation_examples) > MAX_VALIDATION_EXAMPLES:
        out.append(
            FieldViolation(
                "validation_examples", f"holds more than {MAX_VALIDATION_EXAMPLES} examples"
            )
        )
    return out


def to_tuning_job_body(
    request: tuning_pb2.CreateTuningJobRequest,
    spec: ModelSpec,
    training_uri: str,
    validation_uri: str,
    staging: str,
) -> dict[str, Any]:
    """The `tuningJobs` create body (a Vertex TuningJob) for a validated request."""
    supervised: dict[str, Any] = {"trainingDatasetUri": training_uri}
    if validation_uri:
        supervised["validationDatasetUri"] = validation_uri
    hyper: dict[str, Any] = {}
    if request.HasField("epoch_count"):
        hyper["epochCount"] = str(request.epoch_count)  # int64: a string in proto3 JSON
    if request.HasField("learning_rate_multiplier"):
        hyper["learningRateMultiplier"] = request.learning_rate_multiplier
    if request.adapter_size in _ADAPTERS:
        hyper["adapterSize"] = _ADAPTERS[request.adapter_size][0]
    if hyper:
        supervised["hyperParameters"] = hyper
    body: dict[str, Any] = {"baseModel": spec.id, "supervisedTuningSpec": supervised}
    if request.tuned_model_display_name:
        body["tunedModelDisplayName"] = request.tuned_model_display_name
    if request.description:
        body["description"] = request.description
    body["labels"] = {**request.labels, MARK: MARK_VALUE, STAGING: staging}
    return body


def _tail(name: Any, collection: str) -> str:
    """The id after `{collection}/` at the end of a resource name, or ""."""
    text = str(name or "")
    head, sep, tail = text.rpartition(f"{collection}/")
    return tail if sep and tail and "/" not in tail and (not head or head.endswith("/")) else ""


def _base_model(raw: Any) -> str:
    text = str(raw or "")
    parts = text.split("/")
    if len(parts) == 4 and parts[0] == "publishers" and parts[2] == "models":
        return f"{parts[1]}/{parts[3]}"
    return f"google/{text}" if text and "/" not in text else text


def _resource(base: str) -> str:
    """`publishers/{p}/models/{m}` of a `p/m` model."""
    publisher, sep, model = base.partition("/")
    return f"publishers/{publisher}/models/{model}" if sep else base


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@tolerant
def to_tuning_job(job: Any, location: str) -> tuning_pb2.TuningJob:
    """The TuningJob a Vertex TuningJob resource stands for."""
    if not isinstance(job, Mapping):
        raise upstream_malformed("tuning job: expected a JSON object")
    native = str(job.get("state") or "")
    base = _base_model(job.get("baseModel"))
    labels = _mapping(job.get("labels"))
    supervised = _mapping(job.get("supervisedTuningSpec"))
    hyper = _mapping(supervised.get("hyperParameters"))
    out = tuning_pb2.TuningJob(
        name=f"tuningJobs/{location}-{_tail(job.get('name'), 'tuningJobs')}",
        base_model=base,
        state=job_state(native),
        native_state=native,
        vertex_job=str(job.get("name") or ""),
        tuned_model_display_name=str(job.get("tunedModelDisplayName") or ""),
        description=str(job.get("description") or ""),
        labels={
            str(k): str(v) for k, v in labels.items() if not str(k).startswith(RESERVED_PREFIX)
        },
        training_data_uri=str(supervised.get("trainingDatasetUri") or ""),
        validation_data_uri=str(supervised.get("validationDatasetUri") or ""),
        served_by=common_pb2.ServedBy(location=location, vertex_model=_resource(base)),
    )
    copy_times(job, out)
    error = _mapping(job.get("error"))
    if error.get("code") or error.get("message"):
        out.error.CopyFrom(
            common_pb2.ErrorStatus(
                code=int(error.get("code") or 0),
                message=str(error.get("message") or ""),
                reason=ERROR_REASON,
            )
        )
    tuned = _mapping(job.get("tunedModel"))
    out.vertex_tuned_model = str(tuned.get("model") or "")
    out.vertex_endpoint = str(tuned.get("endpoint") or "")
    endpoint_id = _tail(out.vertex_endpoint, "endpoints")
    if endpoint_id:
        out.tuned_model = f"endpoints/{endpoint_id}"
    if "epochCount" in hyper:
        out.epoch_count = int(hyper["epochCount"])
    if "learningRateMultiplier" in hyper:
        out.learning_rate_multiplier = float(hyper["learningRateMultiplier"])
    out.adapter_size = _ADAPTER_BY_NAME.get(  # type: ignore[assignment]
        str(hyper.get("adapterSize") or ""), tuning_pb2.ADAPTER_SIZE_UNSPECIFIED
    )
    stats = _mapping(_mapping(job.get("tuningDataStats")).get("supervisedTuningDataStats"))
    out.training_example_count = int(stats.get("tuningDatasetExampleCount") or 0)
    return out
