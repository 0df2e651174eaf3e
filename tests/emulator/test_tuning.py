"""Supervised tuning jobs: create checks, the lifecycle, dataset lines, cancel, list, and the
tuned model's endpoint answering Gemini calls."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
from emu_batch_helpers import BatchEmulator
from emu_helpers import Emulator, user_body

from emulator.batch_jobs import project_number
from emulator.discovery import document
from emulator.gcs import GcsUri
from emulator.storage_process import DEFAULT_BUCKET

PARENT = "projects/test-project/locations/us-central1"
NUMBER = project_number("test-project")
STEP_SECONDS = 0.02
TERMINAL = ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED")


def example(question: str, answer: str, system: str | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {
        "contents": [
            {"role": "user", "parts": [{"text": question}]},
            {"role": "model", "parts": [{"text": answer}]},
        ]
    }
    if system is not None:
        line["systemInstruction"] = {"parts": [{"text": system}]}
    return line


TRAINING = [
    example("What is the refund window?", "Thirty days from delivery.", "Answer briefly."),
    example("Do you ship abroad?", "Yes, to 40 countries."),
    example("Can I change my order?", "Within one hour of ordering."),
]


async def upload(emu: BatchEmulator, lines: list[Any], raw: list[str] | None = None) -> str:
    text = [json.dumps(line) for line in lines] + (raw or [])
    uri = GcsUri(DEFAULT_BUCKET, f"tuning-tests/{uuid.uuid4().hex}/data.jsonl")
    async with emu.gcs() as gcs:
        await gcs.write_object(uri, ("\n".join(text) + "\n").encode())
    return str(uri)


def job_body(training: str, **extra: Any) -> dict[str, Any]:
    return {
        "baseModel": "gemini-2.5-flash",
        "supervisedTuningSpec": {
            "trainingDatasetUri": training,
            "hyperParameters": {
                "epochCount": 2,
                "learningRateMultiplier": 1.0,
                "adapterSize": "ADAPTER_SIZE_FOUR",
            },
        },
        "tunedModelDisplayName": "support-bot",
        **extra,
    }


def jobs_url(emu: Emulator, suffix: str = "", parent: str = PARENT) -> str:
    return f"{emu.base_url}/v1/{parent}/tuningJobs{suffix}"


async def get(emu: Emulator, url: str, **query: str) -> tuple[int, Any]:
    async with emu.http.get(url, params=query, headers=emu.auth()) as resp:
        text = await resp.text()
    try:
        return resp.status, json.loads(text)
    except ValueError:
        return resp.status, text


async def create(emu: Emulator, body: dict[str, Any]) -> tuple[int, Any]:
    status, reply, _ = await emu.post(jobs_url(emu), body)
    return status, reply


async def wait(emu: Emulator, name: str, *states: str, timeout: float = 10.0) -> dict[str, Any]:
    wanted = states or TERMINAL
    deadline = time.monotonic() + timeout
    while True:
        status, job = await get(emu, f"{emu.base_url}/v1/{name}")
        assert status == 200, job
        if job["state"] in wanted:
            result: dict[str, Any] = job
            return result
        assert time.monotonic() < deadline, f"still {job['state']}: {job}"
        await asyncio.sleep(0.005)


def assert_schema(job: dict[str, Any]) -> None:
    result = document("v1").validate("GoogleCloudAiplatformV1TuningJob", job, lenient_names=False)
    assert result.errors == [], result.errors


@pytest.fixture
def tuning_emu(batch_emu: BatchEmulator) -> BatchEmulator:
    batch_emu.state.config.update({"tuning_step_seconds": STEP_SECONDS})
    return batch_emu


# --- success and the tuned endpoint -------------------------------------------------------------


async def test_a_job_runs_to_success_and_its_endpoint_answers(tuning_emu: BatchEmulator) -> None:
    emu = tuning_emu
    training = await upload(emu, TRAINING)
    validation = await upload(emu, TRAINING[:1])
    body = job_body(training, labels={"team": "support"})
    body["supervisedTuningSpec"]["validationDatasetUri"] = validation
    status, created = await create(emu, body)
    assert status == 200, created
    assert_schema(created)
    assert created["state"] == "JOB_STATE_PENDING"
    assert created["name"].startswith(f"projects/{NUMBER}/locations/us-central1/tuningJobs/")
    assert created["name"].rsplit("/", 1)[1].isdigit()
    assert created["baseModel"] == "gemini-2.5-flash"
    assert created["supervisedTuningSpec"]["hyperParameters"]["epochCount"] == "2"
    assert created["labels"] == {"team": "support"}
    assert created["createTime"] == created["updateTime"]

    job = await wait(emu, created["name"])
    assert_schema(job)
    assert job["state"] == "JOB_STATE_SUCCEEDED", job
    assert job["createTime"] <= job["startTime"] <= job["endTime"] == job["updateTime"]
    stats = job["tuningDataStats"]["supervisedTuningDataStats"]
    assert stats["tuningDatasetExampleCount"] == "3"
    assert stats["tuningStepCount"] == "2"
    assert len(stats["userDatasetExamples"]) == 3
    tuned = job["tunedModel"]
    model_name, version = tuned["model"].rsplit("@", 1)
    assert version == "1"
    assert model_name.startswith(f"projects/{NUMBER}/locations/us-central1/models/")
    assert tuned["endpoint"].startswith(f"projects/{NUMBER}/locations/us-central1/endpoints/")

    status, endpoints = await get(emu, f"{emu.base_url}/v1/{PARENT}/endpoints")
    [endpoint] = [e for e in endpoints["endpoints"] if e["name"] == tuned["endpoint"]]
    assert endpoint["displayName"] == "support-bot" and endpoint["labels"] == {"team": "support"}
    assert endpoint["deployedModels"][0]["model"] == model_name
    status, models = await get(emu, f"{emu.base_url}/v1/{PARENT}/models")
    [model] = [m for m in models["models"] if m["name"] == model_name]
    assert model["baseModelSource"] == {
        "modelGardenSource": {"publicModelName": "publishers/google/models/gemini-2.5-flash"}
    }

    question = user_body("Summarize the refund policy")
    status, reply, _ = await emu.post(
        f"{emu.base_url}/v1/{tuned['endpoint']}:generateContent", question
    )
    assert status == 200, reply
    status, base, _ = await emu.post(emu.url("generateContent", "gemini-2.5-flash"), question)
    assert reply["candidates"] == base["candidates"]
    assert reply["modelVersion"] == "gemini-2.5-flash"
    # The same endpoint through the project id, and streamed, and counted.
    endpoint_id = tuned["endpoint"].rsplit("/", 1)[1]
    by_id = f"{emu.base_url}/v1/{PARENT}/endpoints/{endpoint_id}"
    async with emu.http.post(
        f"{by_id}:streamGenerateContent?alt=sse", json=question, headers=emu.auth()
    ) as resp:
        assert resp.status == 200
        events = [line for line in (await resp.text()).split("\r\n\r\n") if line.strip()]
    chunks = [json.loads(event.removeprefix("data: ")) for event in events]
    text = "".join(
        part.get("text", "")
        for c in chunks
        for part in c["candidates"][0].get("content", {}).get("parts", [])
    )
    assert text == "".join(p["text"] for p in reply["candidates"][0]["content"]["parts"])
    status, counted, _ = await emu.post(f"{by_id}:countTokens", question)
    assert status == 200 and counted["totalTokens"] > 0


async def test_the_tuned_endpoint_validates_like_its_base_model(
    tuning_emu: BatchEmulator,
) -> None:
    emu = tuning_emu
    status, created = await create(emu, job_body(await upload(emu, TRAINING)))
    job = await wait(emu, created["name"])
    url = f"{emu.base_url}/v1/{job['tunedModel']['endpoint']}:generateContent"
    body = user_body(generationConfig={"thinkingConfig": {"thinkingBudget": 99999}})
    status, reply, _ = await emu.post(url, body)
    assert status == 400 and "thinking_budget is out of range" in reply["error"]["message"]
    status, reply, _ = await emu.post(url, {"contents": []})
    assert status == 400 and "at least one contents field" in reply["error"]["message"]


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
async def test_the_seeded_tuned_endpoint_serves_chat(emu: Emulator, version: str) -> None:
    url = f"{emu.base_url}/{version}/{PARENT}/endpoints/4001:generateContent"
    status, reply, _ = await emu.post(url, user_body())
    assert status == 200 and reply["candidates"][0]["content"]["role"] == "model"


async def test_endpoints_that_serve_no_gemini(emu: Emulator) -> None:
    base = f"{emu.base_url}/v1/{PARENT}/endpoints"
    status, reply, _ = await emu.post(f"{base}/4003:generateContent", user_body())
    assert status == 400 and reply["error"]["status"] == "FAILED_PRECONDITION"
    assert "does not have a deployed model" in reply["error"]["message"]
    status, reply, _ = await emu.post(f"{base}/4002:generateContent", user_body())
    assert status == 400 and reply["error"]["message"] == (
        f"Model {PARENT}/models/2002 does not support generateContent."
    )
    # Unknown endpoints are refused before the body is looked at; streams without alt=sse
    # get the array form.
    status, reply, _ = await emu.post(f"{base}/999:streamGenerateContent", {"bad": 1})
    assert status == 404
    assert reply == [
        {
            "error": {
                "code": 404,
                "message": f"Endpoint `{PARENT}/endpoints/999` not found.",
                "status": "NOT_FOUND",
            }
        }
    ]
    status, reply, _ = await emu.post(f"{base}/4001:predict", {"instances": [{}]})
    assert status == 400 and "Gemini cannot be accessed" in reply["error"]["message"]
    status, reply, _ = await emu.post(f"{base}/4002:rawPredict", {"instances": [{}]})
    assert status == 404


# --- failures ----------------------------------------------------------------------------------


async def test_a_bad_training_line_fails_the_job_naming_it(tuning_emu: BatchEmulator) -> None:
    emu = tuning_emu
    bad = {"contents": [{"role": "user", "parts": [{"text": "Question only"}]}]}
    training = await upload(emu, [TRAINING[0], TRAINING[1], bad])
    status, created = await create(emu, job_body(training))
    assert status == 200, created
    job = await wait(emu, created["name"])
    assert job["state"] == "JOB_STATE_FAILED"
    assert job["error"] == {
        "code": 3,
        "message": f"Dataset validation failed for {training}: line 3: the last turn must have "
        'the role "model" (the answer to learn).',
    }
    assert "tunedModel" not in job and "startTime" not in job
    assert_schema(job)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("{not json", "line 3: not valid JSON."),
        ("[1, 2]", "line 3: an example must be a JSON object."),
        (json.dumps({"messages": []}), 'line 3: unknown field "messages"'),
        (json.dumps({"contents": []}), "line 3: contents must hold at least one"),
        (
            json.dumps({"contents": [{"role": "user", "parts": [{"txt": "a"}]}]}),
            'line 3: Invalid JSON payload received. Unknown name "txt"',
        ),
        (
            json.dumps({"contents": [{"role": "system", "parts": [{"text": "a"}]}]}),
            "line 3: Unable to submit request because Please use a valid role: user, model..",
        ),
        (
            json.dumps(
                {
                    "contents": [
                        {"role": "user", "parts": [{"text": "a"}]},
                        {"role": "user", "parts": [{"text": "b"}]},
                        {"role": "model", "parts": [{"text": "c"}]},
                    ]
                }
            ),
            'line 3: contents[1] repeats the role "user"',
        ),
        (
            json.dumps({"contents": [{"role": "model", "parts": [{"text": "a"}]}]}),
            'line 3: the first turn must have the role "user".',
        ),
        (
            json.dumps({"contents": [{"parts": [{"text": "a"}]}]}),
            "line 3: contents[0] has no role",
        ),
    ],
)
async def test_dataset_line_problems(tuning_emu: BatchEmulator, line: str, fragment: str) -> None:
    emu = tuning_emu
    # Line 2 is blank (skipped, still counted): the bad line is line 3.
    training = await upload(emu, TRAINING[:1], raw=["", line])
    _, created = await create(emu, job_body(training))
    job = await wait(emu, created["name"])
    assert job["state"] == "JOB_STATE_FAILED"
    assert job["error"]["code"] == 3
    assert fragment in job["error"]["message"], job["error"]["message"]


async def test_empty_and_oversized_datasets(tuning_emu: BatchEmulator) -> None:
    emu = tuning_emu
    empty = await upload(emu, [], raw=["", "  "])
    job = await wait(emu, (await create(emu, job_body(empty)))[1]["name"])
    assert "holds no examples" in job["error"]["message"]
    body = job_body(await upload(emu, TRAINING))
    body["supervisedTuningSpec"]["validationDatasetUri"] = await upload(emu, TRAINING[:1] * 257)
    job = await wait(emu, (await create(emu, body))[1]["name"])
    assert job["state"] == "JOB_STATE_FAILED"
    assert "at most 256 examples, this one holds 257" in job["error"]["message"]


async def test_fail_trigger_in_the_display_name(tuning_emu: BatchEmulator) -> None:
    emu = tuning_emu
    body = job_body(await upload(emu, TRAINING), tunedModelDisplayName="bot [fail]")
    job = await wait(emu, (await create(emu, body))[1]["name"])
    assert job["state"] == "JOB_STATE_FAILED"
    assert job["error"]["code"] == 13 and "[fail]" in job["error"]["message"]
    assert "startTime" in job and "tunedModel" not in job


async def test_a_missing_dataset_is_refused_at_create(tuning_emu: BatchEmulator) -> None:
    emu = tuning_emu
    missing = f"gs://{DEFAULT_BUCKET}/tuning-tests/{uuid.uuid4().hex}/nothing.jsonl"
    status, reply = await create(emu, job_body(missing))
    assert status == 400 and reply["error"]["status"] == "INVALID_ARGUMENT"
    assert reply["error"]["message"] == (
        f"Dataset {missing} does not exist. Upload the JSONL file first."
    )
    body = job_body(await upload(emu, TRAINING))
    body["supervisedTuningSpec"]["validationDatasetUri"] = missing
    assert (await create(emu, body))[0] == 400


async def test_storage_is_needed(emu: Emulator) -> None:
    status, reply, _ = await emu.post(jobs_url(emu), job_body("gs://bucket/train.jsonl"))
    assert status == 400 and reply["error"]["status"] == "FAILED_PRECONDITION"


# --- create checks ------------------------------------------------------------------------------


def _with(**changes: Any) -> dict[str, Any]:
    body = job_body("gs://bucket/train.jsonl")
    for key, value in changes.items():
        if key.startswith("hp_"):
            body["supervisedTuningSpec"]["hyperParameters"][key[3:]] = value
        elif value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            _with(baseModel=None),
            "List of found errors:\t1.Field: tuning_job.base_model; Message: Required field is "
            "not set.\t",
        ),
        (
            {"baseModel": "gemini-2.5-flash", "supervisedTuningSpec": {}},
            "tuning_job.supervised_tuning_spec; Message: Required field is not set.",
        ),
        (
            _with(baseModel="gemini-3-pro-preview"),
            "Base model `gemini-3-pro-preview` is not supported",
        ),
        (_with(baseModel="text-embedding-005"), "is not supported for supervised tuning"),
        (
            _with(baseModel="gemini-2.5-pro", hp_adapterSize="ADAPTER_SIZE_SIXTEEN"),
            "Adapter size ADAPTER_SIZE_SIXTEEN is not supported for gemini-2.5-pro",
        ),
        (_with(hp_epochCount=0), "epoch_count is 0"),
        (_with(hp_learningRateMultiplier=-1), "learning_rate_multiplier must be greater than 0"),
        (_with(hp_adapterSize="ADAPTER_SIZE_NINE"), 'AdapterSize), "ADAPTER_SIZE_NINE"'),
        (_with(tunedModelDisplayName="x" * 129), "tuned_model_display_name is 129 characters"),
        (_with(labels={"Team": "x"}), "label key `Team` is invalid"),
        (_with(colour="red"), "Unknown name \"colour\" at 'tuning_job': Cannot find field."),
        (
            {**_with(), "supervisedTuningSpec": {"trainingDatasetUri": "/tmp/train.jsonl"}},
            "Invalid supervised_tuning_spec.training_dataset_uri `/tmp/train.jsonl`",
        ),
        (
            _with(preferenceOptimizationSpec={"trainingDatasetUri": "gs://bucket/p.jsonl"}),
            "supervised tuning of a base model only",
        ),
    ],
)
async def test_bad_create_bodies(
    tuning_emu: BatchEmulator, body: dict[str, Any], fragment: str
) -> None:
    status, reply = await create(tuning_emu, body)
    assert status == 400, reply
    assert fragment in reply["error"]["message"], reply["error"]["message"]
    [record] = await tuning_emu.records()
    assert record["schema_errors"]


async def test_base_model_names_and_output_only_fields(tuning_emu: BatchEmulator) -> None:
    emu = tuning_emu
    body = job_body(
        await upload(emu, TRAINING), baseModel="publishers/google/models/gemini-2.0-flash-001"
    )
    body["state"] = "JOB_STATE_SUCCEEDED"
    del body["supervisedTuningSpec"]["hyperParameters"]
    status, created = await create(emu, body)
    assert status == 200, created
    assert created["state"] == "JOB_STATE_PENDING"
    job = await wait(emu, created["name"])
    assert job["state"] == "JOB_STATE_SUCCEEDED"
    # Default epochs (3) x one batch of three examples.
    assert job["tuningDataStats"]["supervisedTuningDataStats"]["tuningStepCount"] == "3"


async def test_valid_bodies_pass_the_audit(tuning_emu: BatchEmulator) -> None:
    emu = tuning_emu
    agent = f"tuning-audit-{uuid.uuid4().hex}"
    headers = {**emu.auth(), "User-Agent": agent}
    training = await upload(emu, TRAINING)
    status, _, _ = await emu.post(jobs_url(emu), job_body(training), headers)
    assert status == 200
    await emu.post(jobs_url(emu), job_body(training, baseModel="gemini-9"), headers)
    missing = f"gs://{DEFAULT_BUCKET}/missing-{uuid.uuid4().hex}.jsonl"
    await emu.post(jobs_url(emu), job_body(missing), headers)
    audit = await emu.admin("GET", "audit", params={"user_agent_prefix": agent})
    # The bad base model counts; the missing object depends on stored data and does not.
    assert audit["checked"] == 3 and len(audit["violations"]) == 1


# --- cancel, get, list --------------------------------------------------------------------------


async def test_cancel_then_cancelled(tuning_emu: BatchEmulator) -> None:
    emu = tuning_emu
    emu.state.config.update({"tuning_step_seconds": 0.5})
    status, created = await create(emu, job_body(await upload(emu, TRAINING)))
    name = created["name"]
    status, reply, _ = await emu.post(f"{emu.base_url}/v1/{name}:cancel", {})
    assert (status, reply) == (200, {})
    _, job = await get(emu, f"{emu.base_url}/v1/{name}")
    assert job["state"] == "JOB_STATE_CANCELLING"
    assert (await emu.post(f"{emu.base_url}/v1/{name}:cancel", {}))[0] == 200
    emu.state.config.update({"tuning_step_seconds": STEP_SECONDS})
    job = await wait(emu, name)
    assert job["state"] == "JOB_STATE_CANCELLED"
    assert job["error"] == {"code": 1, "message": "CANCELED"}
    assert "tunedModel" not in job and "endTime" in job
    status, reply, _ = await emu.post(f"{emu.base_url}/v1/{name}:cancel", {})
    assert status == 400 and reply["error"]["status"] == "FAILED_PRECONDITION"
    assert reply["error"]["message"] == (
        f"Cannot cancel TuningJob {name} because it is in state JOB_STATE_CANCELLED. Only a job "
        "that has not finished can be cancelled."
    )
    status, reply, _ = await emu.post(f"{emu.base_url}/v1/{name}:cancel", {"force": True})
    assert status == 400 and 'Unknown name "force"' in reply["error"]["message"]


async def test_cancel_while_running(tuning_emu: BatchEmulator) -> None:
    emu = tuning_emu
    emu.state.config.update({"tuning_step_seconds": 0.3})
    _, created = await create(emu, job_body(await upload(emu, TRAINING)))
    await wait(emu, created["name"], "JOB_STATE_RUNNING")
    assert (await emu.post(f"{emu.base_url}/v1/{created['name']}:cancel", {}))[0] == 200
    job = await wait(emu, created["name"])
    assert job["state"] == "JOB_STATE_CANCELLED" and "startTime" in job


async def test_get_unknown_and_other_parents(tuning_emu: BatchEmulator) -> None:
    emu = tuning_emu
    status, reply = await get(emu, jobs_url(emu, "/123"))
    assert status == 404
    assert reply["error"]["message"] == f'The TuningJob "{PARENT}/tuningJobs/123" does not exist.'
    status, created = await create(emu, job_body(await upload(emu, TRAINING)))
    job_id = created["name"].rsplit("/", 1)[1]
    assert (await get(emu, jobs_url(emu, f"/{job_id}")))[0] == 200
    other = "projects/test-project/locations/europe-west4"
    assert (await get(emu, jobs_url(emu, f"/{job_id}", other)))[0] == 404
    async with emu.http.delete(jobs_url(emu, f"/{job_id}"), headers=emu.auth()) as resp:
        assert resp.status == 404 and "Error 404 (Not Found)!!1" in await resp.text()


async def test_list_pages_and_filters(tuning_emu: BatchEmulator) -> None:
    emu = tuning_emu
    training = await upload(emu, TRAINING)
    names = []
    for i in range(5):
        body = job_body(training, labels={"batch": "odd" if i % 2 else "even"})
        names.append((await create(emu, body))[1]["name"])
    for name in names:
        await wait(emu, name)
    status, page = await get(emu, jobs_url(emu), pageSize="2")
    assert status == 200 and [j["name"] for j in page["tuningJobs"]] == names[::-1][:2]
    seen = [j["name"] for j in page["tuningJobs"]]
    while "nextPageToken" in page:
        _, page = await get(emu, jobs_url(emu), pageSize="2", pageToken=page["nextPageToken"])
        seen += [j["name"] for j in page["tuningJobs"]]
    assert seen == names[::-1]
    status, odd = await get(emu, jobs_url(emu), filter='labels.batch="odd"')
    assert [j["name"] for j in odd["tuningJobs"]] == [names[3], names[1]]
    status, done = await get(emu, jobs_url(emu), filter="state=JOB_STATE_SUCCEEDED")
    assert len(done["tuningJobs"]) == 5
    status, reply = await get(emu, jobs_url(emu), filter="create_time>1")
    assert status == 400
    status, reply = await get(emu, jobs_url(emu), pageToken="bogus")
    assert status == 400 and reply["error"]["message"] == "Invalid page token."
    status, reply = await get(emu, jobs_url(emu), pageSize="-1")
    assert status == 400
    status, empty = await get(emu, jobs_url(emu, parent="projects/other/locations/us-central1"))
    assert (status, empty) == (200, {})
    result = document("v1").validate(
        "GoogleCloudAiplatformV1ListTuningJobsResponse", done, lenient_names=False
    )
    assert result.errors == []


async def test_reset_forgets_jobs_and_tuned_resources(tuning_emu: BatchEmulator) -> None:
    emu = tuning_emu
    job = await wait(emu, (await create(emu, job_body(await upload(emu, TRAINING))))[1]["name"])
    endpoint = job["tunedModel"]["endpoint"]
    await emu.admin("POST", "reset")
    assert (await get(emu, f"{emu.base_url}/v1/{job['name']}"))[0] == 404
    status, _, _ = await emu.post(f"{emu.base_url}/v1/{endpoint}:generateContent", user_body())
    assert status == 404
