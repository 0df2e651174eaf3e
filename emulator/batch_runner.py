"""The life of a batch prediction job, one asyncio task per job.

``PENDING`` (at creation) → one step → the input is read (every ``gcsSource.uris`` object,
wildcards expanded; a missing or unreadable object → ``FAILED``) → ``RUNNING`` with ``startTime``,
``outputInfo.gcsOutputDirectory`` and ``completionStats.incompleteCount`` = all lines → one slice
per step, each slice written as one output file → ``SUCCEEDED`` (no line failed),
``PARTIALLY_SUCCEEDED`` (some did) or ``FAILED`` (all did). A cancel makes the job
``CANCELLING``; at the next step it becomes ``CANCELLED`` and files already written stay.

A step lasts ``batch_step_seconds`` (runtime config, read at every step); a slice holds
``batch_lines_per_step`` lines, but at most half the input, so every job of two lines or more
writes at least two files. Lines are processed in a shuffled order (seeded by the job's display
name, model, input URIs and line count, so the same job over the same input shuffles the same
way), in a worker thread, so the event loop keeps answering while a slice is computed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime

from emulator.batch_jobs import BatchJob, JobState, timestamp
from emulator.batch_lines import LineContext, render_lines
from emulator.config import RuntimeConfig
from emulator.gcs import GcsClient, GcsError, GcsNotFound, GcsUri
from emulator.job_store import Pacer

log = logging.getLogger("emulator.batch")

OUTPUT_FILE = "predictions_{:05d}.jsonl"
# google.rpc.Code numbers used in a job's ``error``.
CODE_CANCELLED = 1
CODE_INVALID_ARGUMENT = 3
CODE_NOT_FOUND = 5
CODE_INTERNAL = 13


class InputError(Exception):
    """The input cannot be read; ``code`` is the google.rpc code the job's error carries."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def shuffled_order(job: BatchJob, count: int) -> list[int]:
    """A deterministic permutation of ``range(count)``; never the identity for 2+ lines."""
    inputs = job.spec.get("inputConfig", {}).get("gcsSource", {}).get("uris", [])
    seed_text = json.dumps([job.display_name, job.spec.get("model"), inputs, count])
    seed = int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "big")
    order = list(range(count))
    random.Random(seed).shuffle(order)
    if count > 1 and order == sorted(order):
        order = order[1:] + order[:1]
    return order


def output_directory(job: BatchJob, started: datetime) -> GcsUri:
    """``{outputUriPrefix without a trailing /}/prediction-model-{RFC 3339 start time}``."""
    prefix = str(job.spec["outputConfig"]["gcsDestination"]["outputUriPrefix"]).rstrip("/")
    return GcsUri.parse(f"{prefix}/prediction-model-{timestamp(started)}")


async def read_input(gcs: GcsClient, job: BatchJob) -> list[bytes]:
    """Every non-blank line of every input object, in URI order."""
    lines: list[bytes] = []
    for text in job.spec["inputConfig"]["gcsSource"]["uris"]:
        uri = GcsUri.parse(text)
        try:
            objects = await gcs.expand(uri)
            if not objects:
                raise InputError(CODE_NOT_FOUND, f"No input file matches {uri}.")
            for found in objects:
                data = await gcs.read_object(found)
                lines.extend(line for line in data.split(b"\n") if line.strip())
        except GcsNotFound as exc:
            raise InputError(
                CODE_NOT_FOUND, f"Failed to read input file {uri}: the object does not exist."
            ) from exc
        except GcsError as exc:
            raise InputError(CODE_INTERNAL, f"Failed to read input file {uri}: {exc}") from exc
    return lines


def _finish(job: BatchJob, state: JobState, error: dict[str, object] | None = None) -> None:
    job.error = error
    job.end_time = datetime.now(UTC)
    job.update_time = job.end_time
    job.state = state


def _finish_cancelled(job: BatchJob) -> None:
    _finish(job, JobState.CANCELLED, {"code": CODE_CANCELLED, "message": "CANCELED"})


def _finish_processed(job: BatchJob) -> None:
    if job.total and job.failed == job.total:
        message = (
            f"All {job.total} requests of the batch failed; the status of each is in the "
            f"output files under {job.output_directory}."
        )
        _finish(job, JobState.FAILED, {"code": CODE_INVALID_ARGUMENT, "message": message})
    elif job.failed:
        _finish(job, JobState.PARTIALLY_SUCCEEDED)
    else:
        _finish(job, JobState.SUCCEEDED)


async def _process(
    job: BatchJob, gcs: GcsClient, ctx: LineContext, config: Callable[[], RuntimeConfig]
) -> None:
    pacer = Pacer(lambda: config().batch_step_seconds)
    await pacer.step()
    if job.cancel_requested:
        _finish_cancelled(job)
        return
    try:
        lines = await read_input(gcs, job)
        if not lines:
            raise InputError(CODE_INVALID_ARGUMENT, "The input files hold no instances.")
    except InputError as exc:
        _finish(job, JobState.FAILED, {"code": exc.code, "message": str(exc)})
        return
    if job.cancel_requested:
        _finish_cancelled(job)
        return
    started = datetime.now(UTC)
    directory = output_directory(job, started)
    job.start_time, job.total, job.output_directory = started, len(lines), str(directory)
    job.touch(JobState.RUNNING)
    order = shuffled_order(job, len(lines))
    position, file_number = 0, 0
    while position < len(order):
        await pacer.step()
        if job.cancel_requested:
            _finish_cancelled(job)
            return
        size = min(config().batch_lines_per_step, math.ceil(len(order) / 2))
        chosen = [lines[i] for i in order[position : position + size]]
        data, succeeded, failed = await asyncio.to_thread(render_lines, chosen, ctx)
        file_number += 1
        target = directory.child(OUTPUT_FILE.format(file_number))
        try:
            await gcs.write_object(target, data)
        except GcsError as exc:
            code = CODE_NOT_FOUND if isinstance(exc, GcsNotFound) else CODE_INTERNAL
            reason = "the bucket does not exist" if code == CODE_NOT_FOUND else str(exc)
            message = f"Failed to write output file {target}: {reason}."
            _finish(job, JobState.FAILED, {"code": code, "message": message})
            return
        job.successful += succeeded
        job.failed += failed
        position += len(chosen)
        job.touch()
    if job.cancel_requested:
        # Every line was written before the cancel took effect: Vertex ends such a job normally.
        job.state = JobState.RUNNING
    _finish_processed(job)


async def run_job(
    job: BatchJob, *, storage_url: str, ctx: LineContext, config: Callable[[], RuntimeConfig]
) -> None:
    """Drive ``job`` from PENDING to a terminal state (the task of one job)."""
    try:
        async with GcsClient(storage_url) as gcs:
            await _process(job, gcs, ctx, config)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # storage trouble or a bug: the job fails, as a real one would
        log.exception("batch job %s failed", job.name)
        _finish(job, JobState.FAILED, {"code": CODE_INTERNAL, "message": f"Internal error: {exc}"})
