"""The batch prediction routes of JobService (vertex-wire.md §1.3, §8):

* ``POST   /{v}/projects/{p}/locations/{l}/batchPredictionJobs`` — create (``batch_create.py``)
* ``GET    /{v}/projects/{p}/locations/{l}/batchPredictionJobs`` — list (``pageSize``,
  ``pageToken``, ``filter``: ``batch_filter.py``), newest first
* ``GET    /{v}/projects/{p}/locations/{l}/batchPredictionJobs/{id}`` — get
* ``POST   /{v}/projects/{p}/locations/{l}/batchPredictionJobs/{id}:cancel`` — cancel
* ``DELETE /{v}/projects/{p}/locations/{l}/batchPredictionJobs/{id}`` — delete (a done Operation)

``{p}`` may be the project id or the number the job names carry. The pipeline in ``vertex.py``
authenticates, records and injects faults first, as for every Vertex route.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from aiohttp import web

from emulator import errors
from emulator.batch_create import CreateCheck, create_job
from emulator.batch_filter import FilterError, parse_filter
from emulator.batch_jobs import BatchJob, JobState, project_number, timestamp
from emulator.catalog import is_valid_location
from emulator.errors import GoogleError
from emulator.job_store import after_seq, page_size, page_token
from emulator.payload import parse_body
from emulator.state import EmulatorState

_PATH = re.compile(
    r"^/(?P<version>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/"
    r"batchPredictionJobs(?:/(?P<job>[^/:]+)(?::(?P<verb>[A-Za-z]+))?)?$"
)


class Action(StrEnum):
    """Which JobService method a request calls."""

    CREATE = "CreateBatchPredictionJob"
    LIST = "ListBatchPredictionJobs"
    GET = "GetBatchPredictionJob"
    CANCEL = "CancelBatchPredictionJob"
    DELETE = "DeleteBatchPredictionJob"


@dataclass(frozen=True)
class BatchRoute:
    """A batch prediction request: the method and the resource it names."""

    version: str
    project: str
    location: str
    action: Action
    job_id: str | None = None

    @property
    def rpc(self) -> str:
        """The RPC name, for authentication errors."""
        return f"google.cloud.aiplatform.{self.version}.JobService.{self.action.value}"

    @property
    def job_name(self) -> str:
        """The job's resource name as the path spells it."""
        return (
            f"projects/{self.project}/locations/{self.location}/batchPredictionJobs/{self.job_id}"
        )


def parse(method: str, path: str) -> BatchRoute | None:
    """The batch route a method and path name, or None (then: Google's HTML 404)."""
    match = _PATH.match(path)
    if match is None:
        return None
    job, verb = match["job"], match["verb"]
    if job is None:
        action = {"POST": Action.CREATE, "GET": Action.LIST}.get(method)
    elif verb is None:
        action = {"GET": Action.GET, "DELETE": Action.DELETE}.get(method)
    else:
        action = Action.CANCEL if verb == "cancel" and method == "POST" else None
    if action is None:
        return None
    return BatchRoute(match["version"], match["project"], match["location"], action, job)


def job_not_found(route: BatchRoute) -> GoogleError:
    """404 for a job id that does not exist under the path's parent."""
    return GoogleError(
        404, f'The BatchPredictionJob "{route.job_name}" does not exist.', "NOT_FOUND"
    )


def _precondition(message: str) -> web.Response:
    return errors.error_response(GoogleError(400, message, "FAILED_PRECONDITION"))


# --- list ------------------------------------------------------------------------------------


def list_jobs(route: BatchRoute, request: web.Request, state: EmulatorState) -> web.Response:
    """One page of the parent's jobs, newest first, filtered."""
    size = page_size(request.query.get("pageSize", ""))
    if isinstance(size, web.Response):
        return size
    filter_text = request.query.get("filter", "")
    try:
        predicate = parse_filter(filter_text)
    except FilterError as exc:
        return errors.error_response(
            errors.invalid_argument(f"Unsupported filter {filter_text!r}: {exc}.")
        )
    parent = f"projects/{project_number(route.project)}/locations/{route.location}"
    token = request.query.get("pageToken", "")
    below = after_seq(token, parent, filter_text) if token else None
    if token and below is None:
        return errors.error_response(errors.invalid_argument("Invalid page token."))
    matching = [
        job
        for job in state.batch_jobs.newest_first(route.project, route.location)
        if (below is None or job.seq < below) and predicate(job)
    ]
    page = matching[:size]
    body: dict[str, Any] = {"batchPredictionJobs": [j.to_json() for j in page]} if page else {}
    if len(matching) > size:
        body["nextPageToken"] = page_token(parent, filter_text, page[-1].seq)
    return errors.json_response(body)


# --- get, cancel, delete ---------------------------------------------------------------------


def cancel_job(job: BatchJob, raw: bytes, content_type: str | None) -> web.Response:
    """Ask a job to stop: ``{}``; the runner makes it CANCELLED at its next step."""
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
        return _precondition(
            f"Cannot cancel BatchPredictionJob {job.name} because it is in state "
            f"{job.state.value}. Only a job that has not finished can be cancelled."
        )
    if job.state is not JobState.CANCELLING:
        job.touch(JobState.CANCELLING)
    return errors.json_response({})


def delete_job(job: BatchJob, state: EmulatorState) -> web.Response:
    """Forget a finished job; the answer is a done delete Operation."""
    if not job.done:
        return _precondition(
            f"Cannot delete BatchPredictionJob {job.name} because it is in state "
            f"{job.state.value}. Cancel it and wait for it to finish first."
        )
    state.batch_jobs.delete(job.job_id)
    now = timestamp(datetime.now(UTC))
    operation_id = str(secrets.randbits(62) | (1 << 62))
    return errors.json_response(
        {
            "name": f"projects/{job.project_number}/locations/{job.location}/operations/{operation_id}",
            "metadata": {
                "@type": f"type.googleapis.com/google.cloud.aiplatform.{job.version}.DeleteOperationMetadata",
                "genericMetadata": {"createTime": now, "updateTime": now},
            },
            "done": True,
            "response": {"@type": "type.googleapis.com/google.protobuf.Empty"},
        }
    )


def respond(
    route: BatchRoute,
    request: web.Request,
    state: EmulatorState,
    raw: bytes,
    check: CreateCheck | None,
) -> web.Response:
    """Answer a batch request that passed authentication and fault injection."""
    if not is_valid_location(route.location):
        return errors.error_response(
            errors.invalid_argument(f"Location `{route.location}` is not supported.")
        )
    if route.action is Action.CREATE:
        assert check is not None
        return create_job(state, route.version, route.project, route.location, check)
    if route.action is Action.LIST:
        return list_jobs(route, request, state)
    assert route.job_id is not None
    job = state.batch_jobs.get(route.project, route.location, route.job_id)
    if job is None:
        return errors.error_response(job_not_found(route))
    if route.action is Action.CANCEL:
        return cancel_job(job, raw, request.headers.get("Content-Type"))
    if route.action is Action.DELETE:
        return delete_job(job, state)
    return errors.json_response(job.to_json())
