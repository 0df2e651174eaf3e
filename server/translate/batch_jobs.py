"""Vertex batchPredictionJob resources <-> Batch messages. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vertex_gateway.v1 import batch_pb2, common_pb2

from .job_resources import copy_times, job_state
from .tolerant import tolerant

# Labels the gateway puts on its jobs (keys starting with "vertex-gateway" are reserved).
MARK = "vertex-gateway"
INPUT = "vertex-gateway-input"
TOTAL = "vertex-gateway-total"
MODEL = "vertex-gateway-model"
FILE = "vertex-gateway-file"
REQUEST_ID = "vertex-gateway-request"
RESERVED_PREFIX = "vertex-gateway"
TERMINAL = frozenset(
    {
        "JOB_STATE_SUCCEEDED",
        "JOB_STATE_FAILED",
        "JOB_STATE_CANCELLED",
        "JOB_STATE_EXPIRED",
        "JOB_STATE_PARTIALLY_SUCCEEDED",
    }
)


def encode_model(model: str) -> str | None:
    """The caller's model string as a label value (hex: label values allow no "." or "/"), or
    None when it is too long to fit."""
    encoded = "m" + model.encode().hex()
    return encoded if len(encoded) <= 63 else None


def decode_model(value: Any) -> str | None:
    """The model string `encode_model` stored, or None."""
    text = str(value or "")
    if not text.startswith("m"):
        return None
    try:
        return bytes.fromhex(text[1:]).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def job_id(name: Any) -> str:
    """The numeric id at the end of a job's resource name."""
    return str(name).rsplit("/", 1)[-1]


def _count(stats: Mapping[str, Any], key: str) -> int:
    try:
        return int(stats.get(key) or 0)
    except (TypeError, ValueError):
        return 0


def _error(raw: Any) -> common_pb2.ErrorStatus | None:
    if not isinstance(raw, Mapping) or not (raw.get("code") or raw.get("message")):
        return None
    return common_pb2.ErrorStatus(
        code=int(raw.get("code") or 0),
        message=str(raw.get("message") or ""),
        reason="VERTEX_BATCH_ERROR",
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@tolerant
def to_batch(job: Mapping[str, Any], location: str) -> batch_pb2.Batch:
    """The Batch a Vertex job stands for."""
    labels: Mapping[str, Any] = _mapping(job.get("labels"))
    native = str(job.get("state") or "")
    model = str(job.get("model") or "")
    parts = model.split("/")
    canonical = f"{parts[1]}/{parts[3]}" if len(parts) == 4 and parts[0] == "publishers" else model
    batch = batch_pb2.Batch(
        name=f"batches/{location}-{job_id(job.get('name'))}",
        display_name=str(job.get("displayName") or ""),
        model=decode_model(labels.get(MODEL)) or canonical,
        served_by=common_pb2.ServedBy(location=location, vertex_model=model),
        vertex_job=str(job.get("name") or ""),
        state=job_state(native),
        native_state=native,
        labels={k: str(v) for k, v in labels.items() if not k.startswith(RESERVED_PREFIX)},
    )
    stats = _mapping(job.get("completionStats"))
    batch.succeeded_count = _count(stats, "successfulCount")
    batch.failed_count = _count(stats, "failedCount")
    batch.incomplete_count = _count(stats, "incompleteCount")
    try:
        batch.total_count = int(labels.get(TOTAL) or 0)
    except ValueError:
        batch.total_count = 0
    copy_times(job, batch)
    error = _error(job.get("error"))
    if error is not None:
        batch.error.CopyFrom(error)
    for raw in (job.get("partialFailures") or [])[:20]:
        failure = _error(raw)
        if failure is not None:
            batch.partial_failures.append(failure)
    if labels.get(FILE):
        batch.input_file = f"files/{labels[FILE]}"
    info = _mapping(job.get("outputInfo"))
    batch.output_uri = str(info.get("gcsOutputDirectory") or "")
    return batch
