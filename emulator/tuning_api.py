"""The supervised tuning routes of GenAiTuningService (discovery ``projects.locations.tuningJobs``):

* ``POST /{v}/projects/{p}/locations/{l}/tuningJobs`` — create (``tuning_rules.py``); the
  dataset objects must exist (else 400), their lines are checked by the job (``tuning_data.py``)
* ``GET  /{v}/projects/{p}/locations/{l}/tuningJobs`` — list (``pageSize``, ``pageToken``,
  ``filter`` as for batch jobs: ``batch_filter.py``), newest first
* ``GET  /{v}/projects/{p}/locations/{l}/tuningJobs/{id}`` — get
* ``POST /{v}/projects/{p}/locations/{l}/tuningJobs/{id}:cancel`` — cancel

``{p}`` may be the project id or the number the job names carry. There is no delete in the
discovery document (Google's HTML 404). The pipeline in ``vertex.py`` authenticates, records and
injects faults first, as for every Vertex route.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from aiohttp import web

from emulator import errors
from emulator.batch_filter import FilterError, parse_filter
from emulator.batch_jobs import JobState, project_number
from emulator.catalog import is_valid_location
from emulator.config import normalize_storage_url
from emulator.errors import GoogleError
from emulator.gcs import GcsClient, GcsError, GcsNotFound, GcsUri
from emulator.job_store import after_seq, page_size, page_token
from emulator.payload import parse_body
from emulator.state import EmulatorState
from emulator.tuning_jobs import TuningJob
from emulator.tuning_rules import TuningCheck, job_spec
from emulator.tuning_runner import run_tuning_job

_PATH = re.compile(
    r"^/(?P<version>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/"
    r"tuningJobs(?:/(?P<job>[^/:]+)(?::(?P<verb>[A-Za-z]+))?)?$"
)


class Action(StrEnum):
    """Which GenAiTuningService method a request calls."""

    CREATE = "CreateTuningJob"
    LIST = "ListTuningJobs"
    GET = "GetTuningJob"
    CANCEL = "CancelTuningJob"


@dataclass(frozen=True)
class TuningRoute:
    """A tuning request: the method and the resource it names."""

    version: str
    project: str
    location: str
    action: Action
    job_id: str | None = None

    @property
    def rpc(self) -> str:
        """The RPC name, for authentication errors."""
        return f"google.cloud.aiplatform.{self.version}.GenAiTuningService.{self.action.value}"

    @property
    def job_name(self) -> str:
        """The job's resource name as the path spells it."""
        return f"projects/{self.project}/locations/{self.location}/tuningJobs/{self.job_id}"


def parse(method: str, path: str) -> TuningRoute | None:
    """The tuning route a method and path name, or None (then: Google's HTML 404)."""
    match = _PATH.match(path)
    if match is None:
        return None
    job, verb = match["job"], match["verb"]
    if job is None:
        action = {"POST": Action.CREATE, "GET": Action.LIST}.get(method)
    elif verb is None:
        action = Action.GET if method == "GET" else None
    else:
        action = Action.CANCEL if verb == "cancel" and method == "POST" else None
    if action is None:
        return None
    return TuningRoute(match["version"], match["project"], match["location"], action, job)


def _precondition(message: str) -> web.Response:
    return errors.error_response(GoogleError(400, message, "FAILED_PRECONDITION"))


def storage_not_configured() -> GoogleError:
    """The answer when the emulator was started without Cloud Storage."""
    return GoogleError(
        400,
        "Tuning is unavailable: the Vertex emulator has no Cloud Storage configured. "
        "Start it with --storage-url URL (or set STORAGE_EMULATOR_HOST).",
        "FAILED_PRECONDITION",
    )


async def _missing_dataset(storage_url: str, spec: dict[str, Any]) -> str | None:
    """The first dataset URI whose object does not exist, or None."""
    async with GcsClient(storage_url) as gcs:
        for key in ("trainingDatasetUri", "validationDatasetUri"):
            uri = spec.get(key)
            if not uri:
                continue
            try:
                await gcs.object_metadata(GcsUri.parse(str(uri)))
            except GcsNotFound:
                return str(uri)
    return None


async def create_job(
    state: EmulatorState,
    route: TuningRoute,
    check: TuningCheck,
    record_problem: list[str],
) -> web.Response:
    """Answer a checked create: 400 for a bad body, missing storage or dataset; else the job
    (``JOB_STATE_PENDING``), whose lifecycle task starts now. ``record_problem`` collects a
    refusal that depends on stored data (recorded on the request, not audited)."""
    problem = check.error()
    if problem is not None:
        return errors.error_response(problem)
    storage_url = normalize_storage_url(state.options.storage_url)
    if storage_url is None:
        return errors.error_response(storage_not_configured())
    assert check.base_model is not None
    spec = job_spec(check.body, route.version)
    try:
        missing = await _missing_dataset(storage_url, spec["supervisedTuningSpec"])
    except GcsError as exc:
        return errors.error_response(GoogleError(500, f"Cloud Storage failed: {exc}", "INTERNAL"))
    if missing is not None:
        message = f"Dataset {missing} does not exist. Upload the JSONL file first."
        record_problem.append(message)
        return errors.error_response(errors.invalid_argument(message))
    store = state.tuning_jobs
    now = datetime.now(UTC)
    job = TuningJob(
        job_id=store.new_id(),
        seq=store.next_seq(),
        project=route.project,
        location=route.location,
        version=route.version,
        base_model=check.base_model,
        spec=spec,
        create_time=now,
        update_time=now,
    )
    store.add(job)
    job.task = asyncio.create_task(
        run_tuning_job(
            job, storage_url=storage_url, resources=state.resources, config=lambda: state.config
        ),
        name=f"tuning-job-{job.job_id}",
    )
    return errors.json_response(job.to_json())


def list_jobs(route: TuningRoute, request: web.Request, state: EmulatorState) -> web.Response:
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
        for job in state.tuning_jobs.newest_first(route.project, route.location)
        if (below is None or job.seq < below) and predicate(job)
    ]
    page = matching[:size]
    body: dict[str, Any] = {"tuningJobs": [j.to_json() for j in page]} if page else {}
    if len(matching) > size:
        body["nextPageToken"] = page_token(parent, filter_text, page[-1].seq)
    return errors.json_response(body)


def cancel_job(job: TuningJob, raw: bytes, content_type: str | None) -> web.Response:
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
            f"Cannot cancel TuningJob {job.name} because it is in state {job.state.value}. "
            "Only a job that has not finished can be cancelled."
        )
    if job.state is not JobState.CANCELLING:
        job.touch(JobState.CANCELLING)
    return errors.json_response({})


def job_not_found(route: TuningRoute) -> GoogleError:
    """404 for a job id that does not exist under the path's parent."""
    return GoogleError(404, f'The TuningJob "{route.job_name}" does not exist.', "NOT_FOUND")


async def respond(
    route: TuningRoute,
    request: web.Request,
    state: EmulatorState,
    raw: bytes,
    check: TuningCheck | None,
    record_problem: list[str],
) -> web.Response:
    """Answer a tuning request that passed authentication and fault injection."""
    if not is_valid_location(route.location):
        return errors.error_response(
            errors.invalid_argument(f"Location `{route.location}` is not supported.")
        )
    if route.action is Action.CREATE:
        assert check is not None
        return await create_job(state, route, check, record_problem)
    if route.action is Action.LIST:
        return list_jobs(route, request, state)
    assert route.job_id is not None
    job = state.tuning_jobs.get(route.project, route.location, route.job_id)
    if job is None:
        return errors.error_response(job_not_found(route))
    if route.action is Action.CANCEL:
        return cancel_job(job, raw, request.headers.get("Content-Type"))
    return errors.json_response(job.to_json())
