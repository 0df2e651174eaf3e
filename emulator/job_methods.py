"""The list and cancel methods batch prediction jobs (JobService) and tuning jobs
(GenAiTuningService) answer alike; the messages name the resource type (``BatchPredictionJob``,
``TuningJob``) as Google's do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from aiohttp import web

from emulator import errors
from emulator.batch_filter import FilterError, parse_filter
from emulator.batch_jobs import BatchJob, JobState, project_number
from emulator.errors import GoogleError
from emulator.job_store import JobStore, after_seq, page_size, page_token
from emulator.payload import parse_body
from emulator.tuning_jobs import TuningJob

# The jobs these methods serve; each is a ``JobLifecycle`` with a ``name`` and ``to_json``.
J = TypeVar("J", BatchJob, TuningJob)


def failed_precondition(message: str) -> web.Response:
    """400 ``FAILED_PRECONDITION``: the job is in a state the method cannot act on."""
    return errors.error_response(GoogleError(400, message, "FAILED_PRECONDITION"))


def list_jobs(
    store: JobStore[J], project: str, location: str, query: Mapping[str, str], collection: str
) -> web.Response:
    """One page of the parent's jobs, newest first, filtered; ``collection`` is the member of
    the reply that holds them (``batchPredictionJobs``, ``tuningJobs``)."""
    size = page_size(query.get("pageSize", ""))
    if isinstance(size, web.Response):
        return size
    filter_text = query.get("filter", "")
    try:
        predicate = parse_filter(filter_text)
    except FilterError as exc:
        return errors.error_response(
            errors.invalid_argument(f"Unsupported filter {filter_text!r}: {exc}.")
        )
    parent = f"projects/{project_number(project)}/locations/{location}"
    token = query.get("pageToken", "")
    below = after_seq(token, parent, filter_text) if token else None
    if token and below is None:
        return errors.error_response(errors.invalid_argument("Invalid page token."))
    matching = [
        job
        for job in store.newest_first(project, location)
        if (below is None or job.seq < below) and predicate(job)
    ]
    page = matching[:size]
    body: dict[str, Any] = {collection: [j.to_json() for j in page]} if page else {}
    if len(matching) > size:
        body["nextPageToken"] = page_token(parent, filter_text, page[-1].seq)
    return errors.json_response(body)


def cancel_job(
    job: BatchJob | TuningJob, resource_type: str, raw: bytes, content_type: str | None
) -> web.Response:
    """Ask a job to stop: ``{}``; its runner makes it CANCELLED at its next step."""
    body, error = parse_body(content_type, raw)
    if error is not None:
        return errors.error_response(
            errors.bad_request([errors.FieldViolation(None, error.description)])
        )
    unknown = [key for key in body if key != "name"] if isinstance(body, dict) else []
    if unknown:
        message = f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
        return errors.error_response(errors.bad_request([errors.FieldViolation(None, message)]))
    if job.done:
        return failed_precondition(
            f"Cannot cancel {resource_type} {job.name} because it is in state "
            f"{job.state.value}. Only a job that has not finished can be cancelled."
        )
    if job.state is not JobState.CANCELLING:
        job.touch(JobState.CANCELLING)
    return errors.json_response({})
