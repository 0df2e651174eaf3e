"""Batch prediction API: create-body validation, listing with paging and filters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from emu_batch_helpers import (
    CLAUDE,
    EMBEDDING,
    GEMINI,
    PARENT,
    BatchEmulator,
    job_body,
)

from emulator.batch_filter import FilterError, parse_filter
from emulator.batch_jobs import BatchJob, JobState, LineKind
from emulator.catalog import find_model
from emulator.discovery import document
from emulator.storage_process import DEFAULT_BUCKET

URI = f"gs://{DEFAULT_BUCKET}/in/requests.jsonl"


async def rejected(emu: BatchEmulator, body: Any) -> dict[str, Any]:
    status, err = await emu.create(body)
    assert status in (400, 404), err
    error: dict[str, Any] = err["error"]
    assert error["code"] == status
    return error


async def test_missing_required_fields_are_listed(batch_emu: BatchEmulator) -> None:
    body = job_body(URI)
    del body["model"], body["displayName"]
    error = await rejected(batch_emu, body)
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"] == (
        "List of found errors:\t"
        "1.Field: batch_prediction_job.display_name; Message: Required field is not set.\t"
        "2.Field: batch_prediction_job.model; Message: Required field is not set.\t"
    )
    fields = [v["field"] for v in error["details"][0]["fieldViolations"]]
    assert fields == ["batch_prediction_job.display_name", "batch_prediction_job.model"]


async def test_unknown_and_mistyped_fields_are_transcoder_errors(batch_emu: BatchEmulator) -> None:
    body = job_body(URI, colour="blue")
    body["inputConfig"]["gcsSource"]["uris"] = "not-a-list"
    error = await rejected(batch_emu, body)
    assert sorted(error["message"].splitlines()) == [
        "Invalid JSON payload received. Unknown name \"colour\" at 'batch_prediction_job': "
        "Cannot find field.",
        "Invalid value at 'batch_prediction_job.input_config.gcs_source.uris' (TYPE_STRING), "
        '"not-a-list"',
    ]
    assert len(error["details"][0]["fieldViolations"]) == 2


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        ({"model": "publishers/google/models/gemini-9-ultra"}, 404, "Publisher Model `projects/"),
        ({"model": "publishers/acme/models/x"}, 404, "was not found"),
        ({"model": "projects/p/locations/l/models/123"}, 400, "publisher models only"),
        ({"model": "publishers/google/models/imagen-4.0-generate-001"}, 400, "does not support"),
        ({"inputConfig": {"instancesFormat": "csv", "gcsSource": {"uris": [URI]}}}, 400, "csv"),
        ({"inputConfig": {"instancesFormat": "jsonl"}}, 400, "at least one gs:// URI"),
        (
            {"inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": ["/tmp/x"]}}},
            400,
            "/tmp/x",
        ),
        ({"outputConfig": {"predictionsFormat": "bigquery"}}, 400, "bigquery"),
        ({"labels": {"Team": "a"}}, 400, "label key `Team` is invalid"),
        ({"labels": {"team": "A B"}}, 400, "label value `A B` is invalid"),
    ],
)
async def test_invalid_bodies(
    batch_emu: BatchEmulator, change: dict[str, Any], status: int, text: str
) -> None:
    body = {**job_body(URI), **change}
    error = await rejected(batch_emu, body)
    assert error["code"] == status and text in error["message"], error


async def test_embedding_model_parameters_are_checked(batch_emu: BatchEmulator) -> None:
    body = job_body(URI, model=EMBEDDING, modelParameters={"outputDimensionality": 5000})
    error = await rejected(batch_emu, body)
    assert "outputDimensionality 5000 is out of range" in error["message"]


async def test_accepted_models_and_model_name_forms(batch_emu: BatchEmulator) -> None:
    for model in (
        GEMINI,
        CLAUDE,
        EMBEDDING,
        "publishers/google/models/text-multilingual-embedding-002",
        "publishers/google/models/gemini-embedding-001",
        f"{PARENT}/publishers/google/models/gemini-2.0-flash",
    ):
        status, job = await batch_emu.create(job_body(URI, model=model))
        assert status == 200, job
        assert job["model"] == model


async def test_bad_locations_are_refused(batch_emu: BatchEmulator) -> None:
    status, err = await batch_emu.create(
        job_body(URI), parent="projects/test-project/locations/mars"
    )
    assert status == 400 and "Location `mars`" in err["error"]["message"]


# --- listing ---------------------------------------------------------------------------------


async def make_jobs(emu: BatchEmulator, count: int, **labels: str) -> list[str]:
    emu.state.config.update({"batch_step_seconds": 5.0})  # keep them PENDING
    names = []
    for i in range(count):
        status, job = await emu.create(job_body(URI, displayName=f"job-{i}", labels=labels))
        assert status == 200, job
        names.append(job["name"])
    return names


async def test_list_pages_newest_first(batch_emu: BatchEmulator) -> None:
    names = await make_jobs(batch_emu, 5)
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        query = {"pageSize": "2", **({"pageToken": token} if token else {})}
        status, page = await batch_emu.get(batch_emu.jobs_url(), **query)
        assert status == 200, page
        result = document("v1").validate(
            "GoogleCloudAiplatformV1ListBatchPredictionJobsResponse", page, lenient_names=False
        )
        assert result.errors == []
        seen += [job["name"] for job in page["batchPredictionJobs"]]
        pages += 1
        token = page.get("nextPageToken", "")
        if not token:
            break
    assert pages == 3
    assert seen == names[::-1]


async def test_list_paging_errors_and_empty_lists(batch_emu: BatchEmulator) -> None:
    status, page = await batch_emu.get(batch_emu.jobs_url())
    assert (status, page) == (200, {})
    for query in ({"pageSize": "-1"}, {"pageSize": "x"}, {"pageToken": "garbage"}):
        status, err = await batch_emu.get(batch_emu.jobs_url(), **query)
        assert status == 400 and err["error"]["status"] == "INVALID_ARGUMENT"
    await make_jobs(batch_emu, 3)
    _, page = await batch_emu.get(batch_emu.jobs_url(), pageSize="1")
    other_filter = {"pageToken": page["nextPageToken"], "filter": 'state="JOB_STATE_PENDING"'}
    status, _ = await batch_emu.get(batch_emu.jobs_url(), **other_filter)
    assert status == 400


async def test_list_filters(batch_emu: BatchEmulator) -> None:
    gateway = await make_jobs(batch_emu, 2, **{"vertex-gateway": "batch"})
    other = await make_jobs(batch_emu, 1, team="x")
    done = batch_emu.state.batch_jobs.get(
        "test-project", "us-central1", gateway[0].rsplit("/", 1)[1]
    )
    assert done is not None
    assert done.task is not None
    done.task.cancel()
    done.state = JobState.SUCCEEDED

    async def names(filter_text: str) -> list[str]:
        status, page = await batch_emu.get(batch_emu.jobs_url(), filter=filter_text)
        assert status == 200, page
        return [job["name"] for job in page.get("batchPredictionJobs", [])]

    assert await names("labels.vertex-gateway:*") == gateway[::-1]
    either = '(state="JOB_STATE_RUNNING" OR state="JOB_STATE_SUCCEEDED")'
    assert await names(f"labels.vertex-gateway:* AND {either}") == [gateway[0]]
    assert await names('labels.team="x"') == other
    assert await names('state="JOB_STATE_PENDING" AND NOT labels.team:*') == [gateway[1]]
    assert await names("state=JOB_STATE_SUCCEEDED OR labels.team=x") == [other[0], gateway[0]]
    assert await names('display_name="job-0"') == [other[0], gateway[0]]
    for bad in (
        'create_time>"2026-01-01T00:00:00Z"',
        'state="JOB_STATE_NOPE"',
        "state=",
        "(state=JOB_STATE_FAILED",
    ):
        status, err = await batch_emu.get(batch_emu.jobs_url(), filter=bad)
        assert status == 400 and err["error"]["status"] == "INVALID_ARGUMENT", bad


def test_filter_precedence_follows_aip_160() -> None:
    model = find_model("google", "gemini-2.5-flash")
    assert model is not None

    def job(state: JobState, **labels: str) -> BatchJob:
        spec = {"displayName": "d", "labels": labels}
        return BatchJob(
            "1", 1, "p", "l", "v1", LineKind.GEMINI, model, spec, datetime.now(UTC), state
        )

    # OR binds tighter than AND: a AND b OR c == a AND (b OR c).
    predicate = parse_filter("labels.a:* AND state=JOB_STATE_FAILED OR state=JOB_STATE_RUNNING")
    assert predicate(job(JobState.RUNNING, a="1"))
    assert not predicate(job(JobState.RUNNING))
    assert parse_filter("")(job(JobState.PENDING))
    with pytest.raises(FilterError):
        parse_filter("labels.a:* AND")
    with pytest.raises(FilterError):
        parse_filter("state:JOB_STATE_FAILED")
