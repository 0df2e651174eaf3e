"""CreateBatchPredictionJob: checking the body and starting the job.

Checks, in the order their errors are answered:

1. the transcoder: the body against the discovery schema ``BatchPredictionJob`` (``V1beta1``
   names on v1beta1), paths under ``batch_prediction_job`` — every problem, BadRequest details;
2. required fields (``displayName``, ``model``, ``inputConfig.instancesFormat``,
   ``outputConfig.predictionsFormat``) — Vertex's ``List of found errors:`` form, every one;
3. the model: ``publishers/{publisher}/models/{model}`` (optionally under
   ``projects/{p}/locations/{l}/``) naming a Gemini, Claude or text-embedding model of
   ``catalog.py`` — unknown → the publisher-model 404;
4. the rest, first problem only: ``jsonl`` in and out, ``gs://`` URIs, labels, embedding
   ``modelParameters``;
5. Cloud Storage configured (``--storage-url``), else 400 ``FAILED_PRECONDITION``.

Problems of 1, 2 and 4 are recorded on the request and count in the audit of gateway bodies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from aiohttp import web

from emulator import errors, rules
from emulator.batch_jobs import BatchJob, LineKind
from emulator.batch_lines import LineContext, check_parameters
from emulator.batch_runner import run_job
from emulator.catalog import ModelInfo, find_model
from emulator.config import normalize_storage_url
from emulator.create_checks import JobBodyCheck, RequiredFields, dig, output_only
from emulator.errors import GoogleError
from emulator.gcs import GcsUri
from emulator.state import EmulatorState

ROOT = "batch_prediction_job"
_MODEL_NAME = re.compile(
    r"^(?:projects/[^/]+/locations/[^/]+/)?publishers/(?P<publisher>[^/]+)/models/(?P<model>[^/]+)$"
)
_REQUIRED = (
    (("displayName",), "display_name"),
    (("model",), "model"),
    (("inputConfig",), "input_config"),
    (("inputConfig", "instancesFormat"), "input_config.instances_format"),
    (("outputConfig",), "output_config"),
    (("outputConfig", "predictionsFormat"), "output_config.predictions_format"),
)
FORMAT = "jsonl"


@dataclass
class CreateCheck(JobBodyCheck):
    """What checking a create body found, and the model's line format when it has one."""

    root: ClassVar[str] = ROOT
    schema: ClassVar[str] = "BatchPredictionJob"
    required_fields: ClassVar[RequiredFields] = _REQUIRED

    kind: LineKind | None = None
    model: ModelInfo | None = None


def line_kind(model: ModelInfo) -> LineKind | None:
    """The batch line format of a model, or None when it has no batch prediction here."""
    if model.publisher == "anthropic":
        return LineKind.CLAUDE if model.model_id != "count-tokens" else None
    if model.embedding is not None:
        return None if model.embedding.multimodal else LineKind.EMBEDDING
    if model.generates_content and model.media is None:
        return LineKind.GEMINI
    return None


def _resolve_model(check: CreateCheck, name: str, project: str, location: str) -> None:
    match = _MODEL_NAME.match(name)
    if match is None:
        check.semantic.append(
            f"Invalid model name `{name}`: the Vertex emulator runs batch prediction for publisher "
            "models only (publishers/{publisher}/models/{model})."
        )
        return
    publisher, model_id = match["publisher"], match["model"]
    model = find_model(publisher, model_id)
    resource = f"projects/{project}/locations/{location}/publishers/{publisher}/models/{model_id}"
    if model is None or model.model_id == "count-tokens":
        check.model_error = errors.publisher_model_not_found(resource)
        return
    kind = line_kind(model)
    if kind is None:
        check.semantic.append(f"Model {resource} does not support batch prediction.")
        return
    check.kind, check.model = kind, model


def _io_problems(body: dict[str, Any], model_name: str) -> list[str]:
    problems: list[str] = []
    source = body["inputConfig"]
    if source["instancesFormat"] != FORMAT:
        problems.append(
            f"Unsupported instances format `{source['instancesFormat']}` for model {model_name}. "
            "The Vertex emulator reads `jsonl` from Cloud Storage only."
        )
    uris = dig(source, ("gcsSource", "uris"))
    if not uris:
        problems.append("input_config.gcs_source.uris must hold at least one gs:// URI.")
    for uri in uris or []:
        try:
            GcsUri.parse(uri)
        except ValueError:
            problems.append(f"Invalid input URI `{uri}`: expected gs://bucket/object.")
    sink = body["outputConfig"]
    if sink["predictionsFormat"] != FORMAT:
        problems.append(
            f"Unsupported predictions format `{sink['predictionsFormat']}` for model "
            f"{model_name}. The Vertex emulator writes `jsonl` to Cloud Storage only."
        )
    prefix = dig(sink, ("gcsDestination", "outputUriPrefix"))
    if not prefix:
        problems.append("output_config.gcs_destination.output_uri_prefix is required.")
    else:
        try:
            GcsUri.parse(prefix, require_object=False)
        except ValueError:
            problems.append(f"Invalid output URI prefix `{prefix}`: expected gs://bucket[/path].")
    return problems


def check_create(
    state: EmulatorState,
    version: str,
    project: str,
    location: str,
    request: web.Request,
    raw: bytes,
) -> tuple[Any, CreateCheck]:
    """Parse and check a create body; returns the parsed body (for the record) and the result."""
    parsed, check = CreateCheck.of_shape(
        version,
        request.headers.get("Content-Type"),
        raw,
        lenient_names=state.config.lenient_field_names,
    )
    if not check.shaped:
        return parsed, check
    body = check.body
    _resolve_model(check, str(body["model"]), project, location)
    check.semantic += _io_problems(body, str(body["model"]))
    context = rules.RuleContext(version=version, method="createBatchPredictionJob")
    check.semantic += [v.description for v in rules.labels_are_valid(body, context)]
    if check.kind is not None and check.model is not None:
        problem = check_parameters(_line_context(state, version, project, location, check, body))
        if problem:
            check.semantic.append(problem)
    return parsed, check


def _line_context(
    state: EmulatorState,
    version: str,
    project: str,
    location: str,
    check: CreateCheck,
    body: dict[str, Any],
) -> LineContext:
    assert check.kind is not None and check.model is not None
    parameters = body.get("modelParameters")
    return LineContext(
        kind=check.kind,
        model=check.model,
        version=version,
        project=project,
        location=location,
        reject_function_call_id=state.config.reject_function_call_id,
        parameters=parameters if isinstance(parameters, dict) else None,
    )


def storage_not_configured() -> GoogleError:
    """The answer when the emulator was started without Cloud Storage."""
    return GoogleError(
        400,
        "Batch prediction is unavailable: the Vertex emulator has no Cloud Storage configured. "
        "Start it with --storage-url URL (or set STORAGE_EMULATOR_HOST).",
        "FAILED_PRECONDITION",
    )


def create_job(
    state: EmulatorState, version: str, project: str, location: str, check: CreateCheck
) -> web.Response:
    """Answer a checked create: 400 for a bad body or missing storage, else the new job."""
    problem = check.error()
    if problem is not None:
        return errors.error_response(problem)
    storage_url = normalize_storage_url(state.options.storage_url)
    if storage_url is None:
        return errors.error_response(storage_not_configured())
    assert check.kind is not None and check.model is not None
    store = state.batch_jobs
    spec = {
        k: v for k, v in check.body.items() if k not in output_only(version, CreateCheck.schema)
    }
    now = datetime.now(UTC)
    job = BatchJob(
        job_id=store.new_id(),
        seq=store.next_seq(),
        project=project,
        location=location,
        version=version,
        kind=check.kind,
        model=check.model,
        spec=spec,
        create_time=now,
        update_time=now,
    )
    ctx = _line_context(state, version, project, location, check, check.body)
    store.start(
        job,
        run_job(job, storage_url=storage_url, ctx=ctx, config=lambda: state.config),
        f"batch-job-{job.job_id}",
    )
    return errors.json_response(job.to_json())
