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

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from aiohttp import web

from emulator import errors, job_methods
from emulator.catalog import is_valid_location
from emulator.config import normalize_storage_url
from emulator.errors import GoogleError
from emulator.gcs import GcsClient, GcsError, GcsNotFound, GcsUri
from emulator.job_routes import COLLECTION, JOB, JobRoute, parse_route, verb
from emulator.state import EmulatorState
from emulator.tuning_jobs import TuningJob
from emulator.tuning_rules import TuningCheck, job_spec
from emulator.tuning_runner import run_tuning_job


class Action(StrEnum):
    """Which GenAiTuningService method a request calls."""

    CREATE = "CreateTuningJob"
    LIST = "ListTuningJobs"
    GET = "GetTuningJob"
    CANCEL = "CancelTuningJob"


_ACTIONS = {
    (COLLECTION, "POST"): Action.CREATE,
    (COLLECTION, "GET"): Action.LIST,
    (JOB, "GET"): Action.GET,
    (verb("cancel"), "POST"): Action.CANCEL,
}


@dataclass(frozen=True)
class TuningRoute(JobRoute[Action]):
    """A tuning request: the method and the resource it names."""

    service: ClassVar[str] = "GenAiTuningService"
    collection: ClassVar[str] = "tuningJobs"


def parse(method: str, path: str) -> TuningRoute | None:
    """The tuning route a method and path name, or None (then: Google's HTML 404)."""
    return parse_route(TuningRoute, method, path, _ACTIONS)


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
    store.start(
        job,
        run_tuning_job(
            job, storage_url=storage_url, resources=state.resources, config=lambda: state.config
        ),
        f"tuning-job-{job.job_id}",
    )
    return errors.json_response(job.to_json())


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
        return job_methods.list_jobs(
            state.tuning_jobs, route.project, route.location, request.query, "tuningJobs"
        )
    assert route.job_id is not None
    job = state.tuning_jobs.get(route.project, route.location, route.job_id)
    if job is None:
        return errors.error_response(job_not_found(route))
    if route.action is Action.CANCEL:
        return job_methods.cancel_job(job, "TuningJob", raw, request.headers.get("Content-Type"))
    return errors.json_response(job.to_json())
