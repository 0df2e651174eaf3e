"""CreateTuningJob: checking the body (supervised tuning of a Gemini base model).

Checks, in the order their errors are answered:

1. the transcoder: the body against the discovery schema ``TuningJob`` (``V1beta1`` names on
   v1beta1), paths under ``tuning_job`` — every problem, BadRequest details;
2. required fields (``baseModel``, ``supervisedTuningSpec``,
   ``supervisedTuningSpec.trainingDatasetUri``) — Vertex's ``List of found errors:`` form;
3. the rest, first problem only: the base model is tunable, dataset URIs are ``gs://`` objects,
   hyper-parameters in range for the model, the display name's length, labels; preference
   tuning and continuous tuning (``preTunedModel``) are not emulated;
4. Cloud Storage configured (``--storage-url``), else 400 ``FAILED_PRECONDITION``;
5. the dataset objects exist (read by the handler; not audited: it depends on stored data).

Problems of 1 to 3 are recorded on the request and count in the audit of gateway bodies. Tunable
models and adapter sizes follow Google's supervised-tuning pages; the messages are modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from emulator import rules
from emulator.catalog import ModelInfo, find_model
from emulator.create_checks import JobBodyCheck, RequiredFields, output_only
from emulator.create_checks import schema_id as schema_id
from emulator.gcs import GcsUri

ROOT = "tuning_job"
_ONE_TO_SIXTEEN = (
    "ADAPTER_SIZE_ONE",
    "ADAPTER_SIZE_TWO",
    "ADAPTER_SIZE_FOUR",
    "ADAPTER_SIZE_EIGHT",
    "ADAPTER_SIZE_SIXTEEN",
)
# Base models of supervised tuning and the adapter sizes each takes (UNSPECIFIED: the default).
TUNABLE: dict[str, tuple[str, ...]] = {
    "gemini-2.5-pro": _ONE_TO_SIXTEEN[:4],
    "gemini-2.5-flash": _ONE_TO_SIXTEEN,
    "gemini-2.5-flash-lite": _ONE_TO_SIXTEEN,
    "gemini-2.0-flash-001": _ONE_TO_SIXTEEN,
    "gemini-2.0-flash-lite-001": _ONE_TO_SIXTEEN,
}
MAX_EPOCHS = 100
MAX_LEARNING_RATE_MULTIPLIER = 100.0
MAX_DISPLAY_NAME = 128
_PUBLISHER_PREFIX = "publishers/google/models/"
_REQUIRED = (
    (("baseModel",), "base_model"),
    (("supervisedTuningSpec",), "supervised_tuning_spec"),
    (("supervisedTuningSpec", "trainingDatasetUri"), "supervised_tuning_spec.training_dataset_uri"),
)


@dataclass
class TuningCheck(JobBodyCheck):
    """What checking a create body found, and the base model when it is tunable."""

    root: ClassVar[str] = ROOT
    schema: ClassVar[str] = "TuningJob"
    required_fields: ClassVar[RequiredFields] = _REQUIRED

    base_model: ModelInfo | None = None


def base_model_id(name: str) -> str:
    """``gemini-2.5-flash`` for ``gemini-2.5-flash`` or ``publishers/google/models/gemini-2.5-flash``."""
    return name.removeprefix(_PUBLISHER_PREFIX)


def _base_model(check: TuningCheck, name: str) -> None:
    model_id = base_model_id(name)
    model = find_model("google", model_id)
    if model is None or model_id not in TUNABLE:
        check.semantic.append(
            f"Base model `{name}` is not supported for supervised tuning. Supported base "
            f"models: {', '.join(TUNABLE)}."
        )
        return
    check.base_model = model


def _dataset_uri(value: Any, field_path: str) -> str | None:
    try:
        GcsUri.parse(str(value))
    except ValueError:
        return (
            f"Invalid {field_path} `{value}`: the Vertex emulator reads tuning datasets from "
            "Cloud Storage JSONL files (gs://bucket/object)."
        )
    return None


def _hyper_parameters(params: dict[str, Any], base_model: str | None) -> list[str]:
    problems: list[str] = []
    if "epochCount" in params:
        epochs = int(params["epochCount"])
        if not 1 <= epochs <= MAX_EPOCHS:
            problems.append(
                f"supervised_tuning_spec.hyper_parameters.epoch_count is {epochs}, but the "
                f"supported range is from 1 to {MAX_EPOCHS} (inclusive)."
            )
    if "learningRateMultiplier" in params:
        rate = float(params["learningRateMultiplier"])
        if not (math.isfinite(rate) and 0 < rate <= MAX_LEARNING_RATE_MULTIPLIER):
            problems.append(
                "supervised_tuning_spec.hyper_parameters.learning_rate_multiplier must be "
                f"greater than 0 and at most {MAX_LEARNING_RATE_MULTIPLIER:g}, got {rate:g}."
            )
    size = params.get("adapterSize")
    sizes = TUNABLE.get(base_model or "", ())
    unspecified = size in (None, "ADAPTER_SIZE_UNSPECIFIED")
    if not unspecified and base_model in TUNABLE and size not in sizes:
        problems.append(
            f"Adapter size {size} is not supported for {base_model}. Supported adapter "
            f"sizes: {', '.join(sizes)}."
        )
    return problems


def _semantic(check: TuningCheck, body: dict[str, Any], version: str) -> None:
    if "preferenceOptimizationSpec" in body or "preTunedModel" in body:
        check.semantic.append(
            "The Vertex emulator runs supervised tuning of a base model only "
            "(no preference_optimization_spec, no pre_tuned_model)."
        )
    _base_model(check, str(body["baseModel"]))
    spec = body["supervisedTuningSpec"]
    for key, path in (
        ("trainingDatasetUri", "training_dataset_uri"),
        ("validationDatasetUri", "validation_dataset_uri"),
    ):
        if spec.get(key):
            problem = _dataset_uri(spec[key], f"supervised_tuning_spec.{path}")
            if problem:
                check.semantic.append(problem)
    hyper = spec.get("hyperParameters")
    if isinstance(hyper, dict):
        base = check.base_model.model_id if check.base_model else None
        check.semantic += _hyper_parameters(hyper, base)
    display = body.get("tunedModelDisplayName")
    if isinstance(display, str) and len(display) > MAX_DISPLAY_NAME:
        check.semantic.append(
            f"tuned_model_display_name is {len(display)} characters long; the limit is "
            f"{MAX_DISPLAY_NAME}."
        )
    context = rules.RuleContext(version=version, method="createTuningJob")
    check.semantic += [v.description for v in rules.labels_are_valid(body, context)]


def check_create(
    version: str, content_type: str | None, raw: bytes, *, lenient_names: bool
) -> tuple[Any, TuningCheck]:
    """Parse and check a create body; returns the parsed body (for the record) and the result."""
    parsed, check = TuningCheck.of_shape(version, content_type, raw, lenient_names=lenient_names)
    if check.shaped:
        _semantic(check, check.body, version)
    return parsed, check


def job_spec(body: dict[str, Any], version: str) -> dict[str, Any]:
    """What the job resource echoes of the create body: output-only fields dropped,
    ``epochCount`` (int64) as a string, as proto3 JSON writes it."""
    spec = {k: v for k, v in body.items() if k not in output_only(version, TuningCheck.schema)}
    supervised = dict(spec["supervisedTuningSpec"])
    hyper = supervised.get("hyperParameters")
    if isinstance(hyper, dict) and "epochCount" in hyper:
        supervised["hyperParameters"] = {**hyper, "epochCount": str(int(hyper["epochCount"]))}
    spec["supervisedTuningSpec"] = supervised
    return spec
