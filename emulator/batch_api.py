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

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar

from aiohttp import web

from emulator import errors, job_methods
from emulator.batch_create import CreateCheck, create_job
from emulator.batch_jobs import BatchJob, timestamp
from emulator.catalog import is_valid_location
from emulator.errors import GoogleError
from emulator.job_routes import COLLECTION, JOB, JobRoute, parse_route, verb
from emulator.state import EmulatorState


class Action(StrEnum):
    """Which JobService method a request calls."""

    CREATE = "CreateBatchPredictionJob"
    LIST = "ListBatchPredictionJobs"
    GET = "GetBatchPredictionJob"
    CANCEL = "CancelBatchPredictionJob"
    DELETE = "DeleteBatchPredictionJob"


_ACTIONS = {
    (COLLECTION, "POST"): Action.CREATE,
    (COLLECTION, "GET"): Action.LIST,
    (JOB, "GET"): Action.GET,
    (JOB, "DELETE"): Action.DELETE,
    (verb("cancel"), "POST"): Action.CANCEL,
}


@dataclass(frozen=True)
class BatchRoute(JobRoute[Action]):
    """A batch prediction request: the method and the resource it names."""

    service: ClassVar[str] = "JobService"
    collection: ClassVar[str] = "batchPredictionJobs"


def parse(method: str, path: str) -> BatchRoute | None:
    """The batch route a method and path name, or None (then: Google's HTML 404)."""
    return parse_route(BatchRoute, method, path, _ACTIONS)


def job_not_found(route: BatchRoute) -> GoogleError:
    """404 for a job id that does not exist under the path's parent."""
    return GoogleError(
        404, f'The BatchPredictionJob "{route.job_name}" does not exist.', "NOT_FOUND"
    )


# --- delete ----------------------------------------------------------------------------------


def delete_job(job: BatchJob, state: EmulatorState) -> web.Response:
    """Forget a finished job; the answer is a done delete Operation."""
    if not job.done:
        return job_methods.failed_precondition(
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
        return job_methods.list_jobs(
            state.batch_jobs, route.project, route.location, request.query, "batchPredictionJobs"
        )
    assert route.job_id is not None
    job = state.batch_jobs.get(route.project, route.location, route.job_id)
    if job is None:
        return errors.error_response(job_not_found(route))
    if route.action is Action.CANCEL:
        return job_methods.cancel_job(
            job, "BatchPredictionJob", raw, request.headers.get("Content-Type")
        )
    if route.action is Action.DELETE:
        return delete_job(job, state)
    return errors.json_response(job.to_json())
