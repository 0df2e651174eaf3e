"""Batch prediction jobs: lifecycle, output files, failures, cancel, delete, auth, records."""

from __future__ import annotations

import asyncio
import math
import time

from emu_batch_helpers import (
    PARENT,
    BatchEmulator,
    gemini_line,
    job_body,
    row_of,
)
from emu_helpers import Emulator

from emulator.batch_jobs import project_number
from emulator.discovery import document
from emulator.storage_process import DEFAULT_BUCKET


def assert_job_schema(job: dict[str, object], version: str = "v1") -> None:
    prefix = "GoogleCloudAiplatformV1" if version == "v1" else "GoogleCloudAiplatformV1beta1"
    result = document(version).validate(prefix + "BatchPredictionJob", job, lenient_names=False)
    assert result.errors == [], result.errors


async def test_a_job_runs_to_success_and_writes_every_line(batch_emu: BatchEmulator) -> None:
    uri = await batch_emu.upload([gemini_line(i) for i in range(40)])
    body = job_body(uri, labels={"vertex-gateway": "batch"})
    status, created = await batch_emu.create(body)
    assert status == 200, created
    assert_job_schema(created)
    assert created["state"] == "JOB_STATE_PENDING"
    number = project_number("test-project")
    assert created["name"].startswith(
        f"projects/{number}/locations/us-central1/batchPredictionJobs/"
    )
    assert created["name"].rsplit("/", 1)[1].isdigit()
    for key in ("displayName", "model", "inputConfig", "outputConfig", "labels"):
        assert created[key] == body[key]
    assert created["createTime"] == created["updateTime"]

    job = await batch_emu.wait(created["name"])
    assert_job_schema(job)
    assert job["state"] == "JOB_STATE_SUCCEEDED"
    assert job["completionStats"] == {"successfulCount": "40"}
    assert job["createTime"] <= job["startTime"] <= job["endTime"] == job["updateTime"]
    prefix = body["outputConfig"]["gcsDestination"]["outputUriPrefix"].rstrip("/")
    directory = job["outputInfo"]["gcsOutputDirectory"]
    assert directory == f"{prefix}/prediction-model-{job['startTime']}"

    files = await batch_emu.output_files(job)
    names = sorted(n.rsplit("/", 1)[1] for n in files)
    assert len(names) >= 2
    assert names == [f"predictions_{i:05d}.jsonl" for i in range(1, len(names) + 1)]
    lines = [line for name in sorted(files) for line in files[name]]
    assert len(lines) == 40
    assert sorted(row_of(line) for line in lines) == list(range(40))
    assert all(line["status"] == "" and "candidates" in line["response"] for line in lines)


async def test_output_order_is_shuffled_and_stable(batch_emu: BatchEmulator) -> None:
    uri = await batch_emu.upload([gemini_line(i) for i in range(30)])
    first = await batch_emu.output_lines(await batch_emu.run(job_body(uri)))
    second = await batch_emu.output_lines(await batch_emu.run(job_body(uri)))
    rows = [row_of(line) for line in first]
    assert rows != sorted(rows)
    assert rows == [row_of(line) for line in second]


async def test_slices_follow_the_lines_per_step_setting(batch_emu: BatchEmulator) -> None:
    batch_emu.state.config.update({"batch_lines_per_step": 7})
    uri = await batch_emu.upload([gemini_line(i) for i in range(30)])
    files = await batch_emu.output_files(await batch_emu.run(job_body(uri)))
    assert sorted(len(lines) for lines in files.values()) == [2, 7, 7, 7, 7]


async def test_several_input_files_and_wildcards(batch_emu: BatchEmulator) -> None:
    first = await batch_emu.upload([gemini_line(i) for i in range(3)])
    second = await batch_emu.upload([gemini_line(i) for i in range(3, 5)])
    job = await batch_emu.run(job_body([first, second]))
    assert job["completionStats"] == {"successfulCount": "5"}
    wildcard = first.rsplit("/", 1)[0] + "/*.jsonl"
    job = await batch_emu.run(job_body(wildcard))
    assert job["completionStats"] == {"successfulCount": "3"}


async def test_fail_lines_make_the_job_partially_succeed(batch_emu: BatchEmulator) -> None:
    lines = [gemini_line(i, "Please [fail] this one" if i % 4 == 0 else None) for i in range(12)]
    uri = await batch_emu.upload(lines, raw=["{not json"])
    job = await batch_emu.run(job_body(uri))
    assert job["state"] == "JOB_STATE_PARTIALLY_SUCCEEDED"
    assert job["completionStats"] == {"successfulCount": "9", "failedCount": "4"}
    assert "error" not in job
    failed = [line for line in await batch_emu.output_lines(job) if line["status"]]
    assert len(failed) == 4
    assert all("response" not in line for line in failed)
    assert sorted(row_of(line) for line in failed if "request" in line) == [0, 4, 8]


async def test_a_job_whose_every_line_fails_is_failed(batch_emu: BatchEmulator) -> None:
    uri = await batch_emu.upload([gemini_line(i, "[fail]") for i in range(3)])
    job = await batch_emu.run(job_body(uri))
    assert job["state"] == "JOB_STATE_FAILED"
    assert job["completionStats"] == {"failedCount": "3"}
    assert job["error"]["code"] == 3 and "All 3 requests" in job["error"]["message"]
    assert len(await batch_emu.output_lines(job)) == 3


async def test_unreadable_input_fails_the_job(batch_emu: BatchEmulator) -> None:
    missing = f"gs://{DEFAULT_BUCKET}/batch-tests/missing/input.jsonl"
    job = await batch_emu.run(job_body(missing))
    assert job["state"] == "JOB_STATE_FAILED"
    assert job["error"] == {
        "code": 5,
        "message": f"Failed to read input file {missing}: the object does not exist.",
    }
    assert "outputInfo" not in job and "completionStats" not in job and "startTime" not in job
    job = await batch_emu.run(job_body("gs://no-such-bucket-here/input.jsonl"))
    assert job["state"] == "JOB_STATE_FAILED" and job["error"]["code"] == 5


async def test_a_missing_output_bucket_fails_the_job(batch_emu: BatchEmulator) -> None:
    uri = await batch_emu.upload([gemini_line(0), gemini_line(1)])
    job = await batch_emu.run(job_body(uri, prefix="gs://no-such-output-bucket/out"))
    assert job["state"] == "JOB_STATE_FAILED"
    assert job["error"]["code"] == 5
    assert job["error"]["message"].startswith("Failed to write output file gs://no-such-output-")
    assert job["completionStats"] == {"incompleteCount": "2"}


async def test_cancel_mid_run_keeps_written_lines(batch_emu: BatchEmulator) -> None:
    batch_emu.state.config.update({"batch_lines_per_step": 5, "batch_step_seconds": 0.1})
    uri = await batch_emu.upload([gemini_line(i) for i in range(40)])
    status, created = await batch_emu.create(job_body(uri))
    assert status == 200
    name = created["name"]
    deadline = time.monotonic() + 10
    while True:
        job = await batch_emu.job(name)
        if "successfulCount" in job.get("completionStats", {}):
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    assert job["state"] == "JOB_STATE_RUNNING"
    status, reply, _ = await batch_emu.post(batch_emu.base_url + f"/v1/{name}:cancel", {})
    assert (status, reply) == (200, {})
    assert (await batch_emu.job(name))["state"] == "JOB_STATE_CANCELLING"
    status, reply, _ = await batch_emu.post(batch_emu.base_url + f"/v1/{name}:cancel", {})
    assert (status, reply) == (200, {})

    job = await batch_emu.wait(name)
    assert job["state"] == "JOB_STATE_CANCELLED"
    assert job["error"] == {"code": 1, "message": "CANCELED"}
    stats = {k: int(v) for k, v in job["completionStats"].items()}
    assert stats["incompleteCount"] > 0
    assert stats["successfulCount"] + stats["incompleteCount"] == 40
    assert len(await batch_emu.output_lines(job)) == stats["successfulCount"]


async def test_cancel_before_running(batch_emu: BatchEmulator) -> None:
    batch_emu.state.config.update({"batch_step_seconds": 0.2})
    uri = await batch_emu.upload([gemini_line(0)])
    _, created = await batch_emu.create(job_body(uri))
    status, _, _ = await batch_emu.post(batch_emu.base_url + f"/v1/{created['name']}:cancel", {})
    assert status == 200
    job = await batch_emu.wait(created["name"])
    assert job["state"] == "JOB_STATE_CANCELLED"
    assert "completionStats" not in job and "outputInfo" not in job


async def test_cancel_and_delete_after_success(batch_emu: BatchEmulator) -> None:
    uri = await batch_emu.upload([gemini_line(0), gemini_line(1)])
    job = await batch_emu.run(job_body(uri))
    url = f"{batch_emu.base_url}/v1/{job['name']}"
    status, err, _ = await batch_emu.post(url + ":cancel", {})
    assert status == 400
    assert err["error"]["status"] == "FAILED_PRECONDITION"
    assert "JOB_STATE_SUCCEEDED" in err["error"]["message"]

    async with batch_emu.http.delete(url, headers=batch_emu.auth()) as resp:
        assert resp.status == 200
        operation = await resp.json()
    assert operation["done"] is True and "/operations/" in operation["name"]
    status, err = await batch_emu.get(url)
    assert status == 404 and err["error"]["status"] == "NOT_FOUND"


async def test_a_running_job_cannot_be_deleted(batch_emu: BatchEmulator) -> None:
    batch_emu.state.config.update({"batch_step_seconds": 0.5})
    uri = await batch_emu.upload([gemini_line(0)])
    _, created = await batch_emu.create(job_body(uri))
    async with batch_emu.http.delete(
        f"{batch_emu.base_url}/v1/{created['name']}", headers=batch_emu.auth()
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["status"] == "FAILED_PRECONDITION"


async def test_unknown_jobs_are_not_found(batch_emu: BatchEmulator) -> None:
    status, err = await batch_emu.get(batch_emu.jobs_url("/123456789"))
    assert status == 404
    assert err["error"] == {
        "code": 404,
        "message": f'The BatchPredictionJob "{PARENT}/batchPredictionJobs/123456789" does not exist.',
        "status": "NOT_FOUND",
    }
    status, _, _ = await batch_emu.post(batch_emu.jobs_url("/123456789:cancel"), {})
    assert status == 404


async def test_the_project_id_and_number_name_the_same_job(batch_emu: BatchEmulator) -> None:
    uri = await batch_emu.upload([gemini_line(0)])
    _, created = await batch_emu.create(job_body(uri), version="v1beta1")
    assert_job_schema(created, "v1beta1")
    job_id = created["name"].rsplit("/", 1)[1]
    status, by_id = await batch_emu.get(batch_emu.jobs_url(f"/{job_id}"))
    assert status == 200 and by_id["name"] == created["name"]
    status, _ = await batch_emu.get(
        batch_emu.jobs_url(f"/{job_id}", parent="projects/other/locations/us-central1")
    )
    assert status == 404


async def test_batch_routes_need_credentials(batch_emu: BatchEmulator) -> None:
    uri = await batch_emu.upload([gemini_line(0)])
    async with batch_emu.http.post(batch_emu.jobs_url(), json=job_body(uri)) as resp:
        assert resp.status == 401
        body = await resp.json()
    assert body["error"]["details"][0]["metadata"]["method"] == (
        "google.cloud.aiplatform.v1.JobService.CreateBatchPredictionJob"
    )
    async with batch_emu.http.get(
        batch_emu.jobs_url(), headers={"Authorization": "Bearer nope"}
    ) as resp:
        assert resp.status == 401
        assert "ListBatchPredictionJobs" in await resp.text()
    assert batch_emu.state.batch_jobs.newest_first("test-project", "us-central1") == []


async def test_batch_requests_are_recorded_and_audited(batch_emu: BatchEmulator) -> None:
    uri = await batch_emu.upload([gemini_line(0)])
    body = job_body(uri)
    body["outputConfig"]["gcsDestination"]["outputUriPrefx"] = "typo"
    status, _, _ = await batch_emu.post(
        batch_emu.jobs_url(), body, headers=batch_emu.auth(**{"User-Agent": "vertex-gateway/test"})
    )
    assert status == 400
    record = (await batch_emu.records())[-1]
    assert record["method"] == "POST" and record["path"].endswith("/batchPredictionJobs")
    assert record["body"] == body and record["status"] == 400
    assert record["schema_errors"] and "outputUriPrefx" in record["schema_errors"][0]
    audit = await batch_emu.admin(
        "GET", "audit", params={"user_agent_prefix": "vertex-gateway/test"}
    )
    assert audit["violations"][-1]["schema_errors"] == record["schema_errors"]


async def test_faults_apply_to_batch_routes(batch_emu: BatchEmulator) -> None:
    status, err, _ = await batch_emu.post(
        batch_emu.jobs_url(), {}, headers=batch_emu.auth(**{"x-emulator-fault": "503"})
    )
    assert status == 503 and err["error"]["status"] == "UNAVAILABLE"


async def test_reset_stops_and_forgets_jobs(batch_emu: BatchEmulator) -> None:
    batch_emu.state.config.update({"batch_step_seconds": 0.5})
    uri = await batch_emu.upload([gemini_line(0)])
    _, created = await batch_emu.create(job_body(uri))
    task = batch_emu.state.batch_jobs.newest_first("test-project", "us-central1")[0].task
    await batch_emu.admin("POST", "reset")
    assert batch_emu.state.batch_jobs.newest_first("test-project", "us-central1") == []
    assert task is not None and (task.cancelled() or task.cancelling())
    status, _ = await batch_emu.get(f"{batch_emu.base_url}/v1/{created['name']}")
    assert status == 404


async def test_without_storage_creation_is_a_failed_precondition(emu: Emulator) -> None:
    body = job_body(f"gs://{DEFAULT_BUCKET}/in.jsonl")
    status, err, _ = await emu.post(f"{emu.base_url}/v1/{PARENT}/batchPredictionJobs", body)
    assert status == 400
    assert err["error"]["status"] == "FAILED_PRECONDITION"
    assert "no Cloud Storage configured" in err["error"]["message"]


async def test_ten_thousand_lines_at_the_default_pace(batch_emu: BatchEmulator) -> None:
    defaults = batch_emu.state.options.default_config()
    batch_emu.state.config.update(defaults.to_json())
    # The default pace paces 10,000 lines in a few seconds (from the configuration, not a
    # clock: the suite asserts no timings). The wait below only guards against a hang.
    steps = math.ceil(10_000 / defaults.batch_lines_per_step)
    assert steps * defaults.batch_step_seconds <= 5
    uri = await batch_emu.upload([gemini_line(i) for i in range(10_000)])
    _, created = await batch_emu.create(job_body(uri))
    job = await batch_emu.wait(created["name"], timeout=60)
    assert job["state"] == "JOB_STATE_SUCCEEDED"
    assert job["completionStats"] == {"successfulCount": "10000"}
