"""The life of a tuning job, one asyncio task per job.

``PENDING`` (at creation) → one step → the datasets are read and every line checked
(``tuning_data``; a bad line, a missing object or an empty file → ``FAILED``, code 3 or 5) →
``RUNNING`` with ``startTime`` and ``tuningDataStats`` → two steps → ``SUCCEEDED``: the tuned
model and an endpoint serving it are added to the project's resources (so ListModels and
ListEndpoints show them and ``endpoints/{id}:generateContent`` answers as the base model does),
and ``tunedModel`` names them. ``[fail]`` in ``tunedModelDisplayName`` ends the job ``FAILED``
(code 13) instead of succeeding. A cancel makes the job ``CANCELLING``; at its next step it
becomes ``CANCELLED`` with ``error: {"code": 1, "message": "CANCELED"}``.

A step lasts ``tuning_step_seconds`` (runtime config, read at every step).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from emulator.batch_jobs import JobState
from emulator.config import RuntimeConfig
from emulator.gcs import GcsClient, GcsError, GcsNotFound, GcsUri
from emulator.job_store import Pacer
from emulator.project_resources import ProjectResources
from emulator.tuning_data import DEFAULT_EPOCHS, DatasetProblem, DatasetStats, check_dataset
from emulator.tuning_jobs import TuningJob

log = logging.getLogger("emulator.tuning")

FAIL_TRIGGER = "[fail]"
RUNNING_STEPS = 2
CODE_CANCELLED = 1
CODE_INVALID_ARGUMENT = 3
CODE_NOT_FOUND = 5
CODE_INTERNAL = 13


class _JobFailed(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _cancelled(job: TuningJob) -> None:
    job.finish(JobState.CANCELLED, {"code": CODE_CANCELLED, "message": "CANCELED"})


async def _read(gcs: GcsClient, uri: str) -> bytes:
    try:
        return await gcs.read_object(GcsUri.parse(uri))
    except GcsNotFound:
        raise _JobFailed(
            CODE_NOT_FOUND, f"Failed to read dataset {uri}: the object does not exist."
        ) from None
    except GcsError as exc:
        raise _JobFailed(CODE_INTERNAL, f"Failed to read dataset {uri}: {exc}") from None


async def read_datasets(gcs: GcsClient, job: TuningJob) -> DatasetStats:
    """Read and check the training (and validation) dataset; the training data's statistics."""
    spec = job.supervised
    stats: DatasetStats | None = None
    for key, validation in (("trainingDatasetUri", False), ("validationDatasetUri", True)):
        uri = spec.get(key)
        if not uri:
            continue
        data = await _read(gcs, str(uri))
        try:
            found = await asyncio.to_thread(
                check_dataset, str(uri), data, job.version, validation=validation
            )
        except DatasetProblem as problem:
            raise _JobFailed(CODE_INVALID_ARGUMENT, str(problem)) from None
        stats = stats or found
    assert stats is not None
    return stats


def _epochs(job: TuningJob) -> int:
    hyper = job.supervised.get("hyperParameters") or {}
    return int(hyper.get("epochCount", DEFAULT_EPOCHS))


def _succeed(job: TuningJob, resources: ProjectResources) -> None:
    ids = (
        str(secrets.randbits(62) | (1 << 62)),
        str(secrets.randbits(62) | (1 << 62)),
        str(secrets.randbits(62) | (1 << 62)),
    )
    display = job.display_name or f"{job.base_model.model_id}-tuned-{job.job_id[-6:]}"
    model_name, endpoint_name = resources.add_tuned(
        job.project,
        job.location,
        ids=ids,
        display_name=display,
        base_model=f"publishers/google/models/{job.base_model.model_id}",
        labels=job.labels,
    )
    job.tuned_model = {"model": f"{model_name}@1", "endpoint": endpoint_name}
    job.finish(JobState.SUCCEEDED)


async def _process(
    job: TuningJob,
    gcs: GcsClient,
    resources: ProjectResources,
    config: Callable[[], RuntimeConfig],
) -> None:
    pacer = Pacer(lambda: config().tuning_step_seconds)
    await pacer.step()
    if job.cancel_requested:
        _cancelled(job)
        return
    try:
        stats = await read_datasets(gcs, job)
    except _JobFailed as failure:
        job.finish(JobState.FAILED, {"code": failure.code, "message": str(failure)})
        return
    if job.cancel_requested:
        _cancelled(job)
        return
    job.start_time = datetime.now(UTC)
    job.data_stats = stats.to_json(_epochs(job))
    job.touch(JobState.RUNNING)
    for _ in range(RUNNING_STEPS):
        await pacer.step()
        if job.cancel_requested:
            _cancelled(job)
            return
    if FAIL_TRIGGER in job.display_name:
        message = (
            "Tuning failed: the Vertex emulator was asked to fail this job (the tuned model "
            f"display name contains {FAIL_TRIGGER})."
        )
        job.finish(JobState.FAILED, {"code": CODE_INTERNAL, "message": message})
        return
    _succeed(job, resources)


async def run_tuning_job(
    job: TuningJob,
    *,
    storage_url: str,
    resources: ProjectResources,
    config: Callable[[], RuntimeConfig],
) -> None:
    """Drive ``job`` from PENDING to a terminal state (the task of one job)."""
    try:
        async with GcsClient(storage_url) as gcs:
            await _process(job, gcs, resources, config)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # storage trouble or a bug: the job fails, as a real one would
        log.exception("tuning job %s failed", job.name)
        job.finish(JobState.FAILED, {"code": CODE_INTERNAL, "message": f"Internal error: {exc}"})
