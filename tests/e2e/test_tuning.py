"""TuningService end to end: typed examples staged as Vertex tuning JSONL, the emulator's
tuningJobs state machine, and the tuned model answering Chat by name."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest
from google.protobuf import json_format, struct_pb2
from vertex_gateway.v1 import (
    chat_pb2,
    chat_pb2_grpc,
    common_pb2,
    file_pb2,
    file_pb2_grpc,
    model_pb2,
    model_pb2_grpc,
    tuning_pb2,
    tuning_pb2_grpc,
)

from emulator.admin import EmulatorAdmin
from emulator.storage_process import StorageEmulatorProcess

from ..conftest import error_details
from .conftest import BUCKET, ask, reply_text, vertex_calls

T = tuning_pb2
ENDED = {
    common_pb2.JOB_STATE_SUCCEEDED,
    common_pb2.JOB_STATE_FAILED,
    common_pb2.JOB_STATE_CANCELLED,
}


@pytest.fixture
def tuning(channel: grpc.aio.Channel) -> tuning_pb2_grpc.TuningServiceStub:
    return tuning_pb2_grpc.TuningServiceStub(channel)


@pytest.fixture(autouse=True)
def _fast_jobs(admin: EmulatorAdmin) -> None:
    admin.set_config(tuning_step_seconds=0.02)


def message(role: chat_pb2.Role.ValueType, *parts: chat_pb2.Part) -> chat_pb2.Message:
    return chat_pb2.Message(role=role, parts=parts)


def text(value: str) -> chat_pb2.Part:
    return chat_pb2.Part(text=value)


def example(question: str, answer: str, system: str = "") -> T.TuningExample:
    out = T.TuningExample(
        messages=[
            message(chat_pb2.ROLE_USER, text(question)),
            message(chat_pb2.ROLE_ASSISTANT, text(answer)),
        ]
    )
    if system:
        out.system_instruction.append(text(system))
    return out


TRAINING = [
    example("What is the refund window?", "Thirty days from delivery.", "Answer briefly."),
    example("Do you ship abroad?", "Yes, to 40 countries."),
    example("Can I change my order?", "Within one hour of ordering."),
]


async def upload(
    channel: grpc.aio.Channel,
    lines: list[bytes],
    purpose: file_pb2.FilePurpose.ValueType = file_pb2.FILE_PURPOSE_TUNING_DATA,
) -> str:
    async def chunks() -> AsyncIterator[file_pb2.UploadFileRequest]:
        yield file_pb2.UploadFileRequest(
            metadata=file_pb2.UploadFileMetadata(mime_type="application/jsonl", purpose=purpose)
        )
        yield file_pb2.UploadFileRequest(chunk=b"\n".join(lines) + b"\n")

    stored = await file_pb2_grpc.FileServiceStub(channel).UploadFile(chunks())
    return stored.name


def json_line(item: T.TuningExample) -> bytes:
    return json_format.MessageToJson(item, indent=None).encode()


def read_object(storage: StorageEmulatorProcess, uri: str) -> bytes:
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    quoted = urllib.parse.quote(name, safe="")
    with urllib.request.urlopen(
        f"{storage.base_url}/storage/v1/b/{bucket}/o/{quoted}?alt=media"
    ) as r:
        data: bytes = r.read()
    return data


def staged_count(storage: StorageEmulatorProcess) -> int:
    url = f"{storage.base_url}/storage/v1/b/{BUCKET}/o?prefix=gw/tuning/"
    with urllib.request.urlopen(url) as resp:
        return len(json.loads(resp.read()).get("items") or [])


async def ended(stub: tuning_pb2_grpc.TuningServiceStub, name: str) -> T.TuningJob:
    for _ in range(500):
        job = await stub.GetTuningJob(T.GetTuningJobRequest(name=name))
        if job.state in ENDED:
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"{name} did not end")


async def test_a_job_runs_to_success_and_the_tuned_model_answers_by_name(
    tuning: tuning_pb2_grpc.TuningServiceStub,
    channel: grpc.aio.Channel,
    admin: EmulatorAdmin,
    storage: StorageEmulatorProcess,
) -> None:
    models = model_pb2_grpc.ModelServiceStub(channel)
    # Discovery is cached for minutes; a job that makes an endpoint has it read again.
    before = await models.ListModels(model_pb2.ListModelsRequest(page_size=1000))
    validation = await upload(channel, [json_line(TRAINING[0])])
    created = await tuning.CreateTuningJob(
        T.CreateTuningJobRequest(
            base_model="gemini-2.5-flash", training_examples=TRAINING, validation_file=validation,
            epoch_count=2, learning_rate_multiplier=1.0, adapter_size=T.ADAPTER_SIZE_FOUR,
            tuned_model_display_name="support-bot", description="refund answers",
            labels={"team": "support"},
        )
    )  # fmt: skip
    assert created.name.startswith("tuningJobs/us-central1-")
    assert created.state == common_pb2.JOB_STATE_PENDING
    assert created.base_model == "google/gemini-2.5-flash" and created.labels == {"team": "support"}
    assert created.epoch_count == 2 and created.adapter_size == T.ADAPTER_SIZE_FOUR
    assert created.training_data_uri.startswith(f"gs://{BUCKET}/gw/tuning/")
    assert created.training_data_uri.endswith("/train.jsonl")
    assert created.validation_data_uri.endswith("/validation.jsonl")
    staged = [
        json.loads(line) for line in read_object(storage, created.training_data_uri).splitlines()
    ]
    assert staged[0] == {
        "contents": [
            {"role": "user", "parts": [{"text": "What is the refund window?"}]},
            {"role": "model", "parts": [{"text": "Thirty days from delivery."}]},
        ],
        "systemInstruction": {"parts": [{"text": "Answer briefly."}]},
    }
    assert len(staged) == 3
    [sent] = [r for r in admin.requests() if r["path"].endswith("/tuningJobs")]
    body = sent["body"]
    assert body["baseModel"] == "gemini-2.5-flash"
    assert body["supervisedTuningSpec"]["hyperParameters"] == {
        "epochCount": "2", "learningRateMultiplier": 1.0, "adapterSize": "ADAPTER_SIZE_FOUR"
    }  # fmt: skip
    assert body["labels"]["team"] == "support" and body["labels"]["vertex-gateway"] == "tuning"

    done = await ended(tuning, created.name)
    assert done.state == common_pb2.JOB_STATE_SUCCEEDED, done.error
    assert done.training_example_count == 3 and done.end_time.seconds > 0
    assert done.tuned_model.startswith("endpoints/")
    assert done.vertex_endpoint.endswith("/" + done.tuned_model)
    assert "/models/" in done.vertex_tuned_model

    chat = chat_pb2_grpc.ChatServiceStub(channel)
    admin.clear_requests()
    reply = await chat.Chat(ask("What is the refund window?", model=done.tuned_model))
    assert reply_text(reply.candidates[0]) and reply.model == done.tuned_model
    assert reply.served_by.vertex_model == done.tuned_model
    [call] = vertex_calls(admin, "generateContent")
    assert call["path"].endswith(f"/locations/us-central1/{done.tuned_model}:generateContent")
    chunks = [c async for c in chat.StreamChat(ask("And abroad?", model=done.tuned_model))]
    assert "".join(reply_text(c) for chunk in chunks for c in chunk.candidates)
    counted = await chat.CountTokens(
        chat_pb2.CountTokensRequest(model=done.tuned_model, messages=[ask("hi").messages[0]])
    )
    assert counted.total_tokens > 0

    assert done.tuned_model not in [m.id for m in before.models]
    listed = await models.GetModel(model_pb2.GetModelRequest(name=f"models/{done.tuned_model}"))
    assert listed.family == model_pb2.MODEL_FAMILY_TUNED
    assert listed.base_model == "google/gemini-2.5-flash"
    assert model_pb2.CAPABILITY_CHAT in listed.capabilities
    assert model_pb2.CAPABILITY_STREAMING in listed.capabilities

    page = await tuning.ListTuningJobs(
        T.ListTuningJobsRequest(states=[common_pb2.JOB_STATE_SUCCEEDED], page_size=1000)
    )
    assert created.name in [j.name for j in page.tuning_jobs]
    assert all(j.state == common_pb2.JOB_STATE_SUCCEEDED for j in page.tuning_jobs)


async def test_examples_from_a_file_and_paging(
    tuning: tuning_pb2_grpc.TuningServiceStub,
    channel: grpc.aio.Channel,
    storage: StorageEmulatorProcess,
) -> None:
    tool_use = T.TuningExample(
        messages=[
            message(chat_pb2.ROLE_USER, text("Where is order 7?")),
            message(
                chat_pb2.ROLE_ASSISTANT,
                chat_pb2.Part(tool_call=chat_pb2.ToolCall(name="track", arguments={"order": 7})),
            ),
            message(
                chat_pb2.ROLE_TOOL,
                chat_pb2.Part(
                    tool_result=chat_pb2.ToolResult(
                        name="track", output=struct_pb2.Value(string_value="Lyon")
                    )
                ),
            ),
            message(chat_pb2.ROLE_ASSISTANT, text("It is in Lyon.")),
        ],
        tools=[chat_pb2.Tool(function=chat_pb2.FunctionDeclaration(name="track"))],
    )
    training = await upload(channel, [json_line(e) for e in (*TRAINING, tool_use)])
    names = []
    for display in ("file-a", "file-b"):
        job = await tuning.CreateTuningJob(
            T.CreateTuningJobRequest(
                base_model="gemini-2.0-flash-001", training_file=training,
                tuned_model_display_name=display,
            )
        )  # fmt: skip
        names.append(job.name)
    lines = [json.loads(x) for x in read_object(storage, job.training_data_uri).split(b"\n") if x]
    assert lines[3]["contents"][1]["parts"][0]["functionCall"] == {
        "name": "track", "args": {"order": 7}
    }  # fmt: skip
    assert lines[3]["contents"][2]["parts"][0]["functionResponse"]["name"] == "track"
    assert lines[3]["tools"] == [{"functionDeclarations": [{"name": "track"}]}]
    for name in names:
        assert (await ended(tuning, name)).state == common_pb2.JOB_STATE_SUCCEEDED
    seen: list[str] = []
    token = ""
    while True:
        page = await tuning.ListTuningJobs(T.ListTuningJobsRequest(page_size=1, page_token=token))
        assert len(page.tuning_jobs) <= 1
        seen += [j.name for j in page.tuning_jobs]
        token = page.next_page_token
        if not token:
            break
    assert set(names) <= set(seen) and len(seen) == len(set(seen))


async def test_cancel_a_running_job(
    tuning: tuning_pb2_grpc.TuningServiceStub, admin: EmulatorAdmin
) -> None:
    admin.set_config(tuning_step_seconds=1.0)  # a window of seconds to cancel in
    job = await tuning.CreateTuningJob(
        T.CreateTuningJobRequest(base_model="gemini-2.5-flash-lite", training_examples=TRAINING)
    )
    cancelled = await tuning.CancelTuningJob(T.CancelTuningJobRequest(name=job.name))
    assert cancelled.state in (common_pb2.JOB_STATE_CANCELLING, common_pb2.JOB_STATE_CANCELLED)
    again = await tuning.CancelTuningJob(T.CancelTuningJobRequest(name=job.name))  # idempotent
    assert again.name == job.name
    done = await ended(tuning, job.name)
    assert done.state == common_pb2.JOB_STATE_CANCELLED and not done.tuned_model
    assert done.error.code == grpc.StatusCode.CANCELLED.value[0]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await tuning.CancelTuningJob(T.CancelTuningJobRequest(name=job.name))
    d = error_details(info.value)
    assert d.code == grpc.StatusCode.FAILED_PRECONDITION and d.info is not None
    assert d.info.reason == "TUNING_JOB_ENDED"
    assert len([r for r in admin.requests() if r["path"].endswith(":cancel")]) == 1


def bad_examples() -> list[tuple[T.TuningExample, str]]:
    """(example, the field path its problem is named by)."""
    ends_with_user = T.TuningExample(messages=[message(chat_pb2.ROLE_USER, text("hi"))])
    starts_with_model = T.TuningExample(
        messages=[
            message(chat_pb2.ROLE_ASSISTANT, text("hi")),
            message(chat_pb2.ROLE_USER, text("?")),
            message(chat_pb2.ROLE_ASSISTANT, text("!")),
        ]
    )
    two_users = T.TuningExample(
        messages=[
            message(chat_pb2.ROLE_USER, text("a")),
            message(chat_pb2.ROLE_USER, text("b")),
            message(chat_pb2.ROLE_ASSISTANT, text("c")),
        ]
    )
    inline_image = example("x", "y")
    inline_image.messages[0].parts.append(
        chat_pb2.Part(media=common_pb2.Media(mime_type="image/png", data=b"\x89PNG"))
    )
    thought = example("x", "y")
    thought.messages[1].parts.append(chat_pb2.Part(thought=chat_pb2.Thought(text="hmm")))
    no_role = example("x", "y")
    no_role.messages[1].role = chat_pb2.ROLE_UNSPECIFIED
    return [
        (ends_with_user, "messages[0].role"),
        (starts_with_model, "messages[0].role"),
        (two_users, "messages[1].role"),
        (inline_image, "messages[0].parts[1].media.data"),
        (thought, "messages[1].parts[1].thought"),
        (no_role, "messages[1].role"),
        (T.TuningExample(), "messages"),
    ]


async def test_a_bad_example_is_refused_by_index_and_field_before_any_upload(
    tuning: tuning_pb2_grpc.TuningServiceStub,
    channel: grpc.aio.Channel,
    admin: EmulatorAdmin,
    storage: StorageEmulatorProcess,
) -> None:
    cases = bad_examples()
    before = staged_count(storage)
    examples = [TRAINING[0], *(e for e, _ in cases)]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await tuning.CreateTuningJob(
            T.CreateTuningJobRequest(base_model="gemini-2.5-flash", training_examples=examples)
        )
    d = error_details(info.value)
    assert d.code == grpc.StatusCode.INVALID_ARGUMENT and d.bad_request is not None
    fields = [v.field for v in d.bad_request.field_violations]
    for index, (_, field) in enumerate(cases, start=1):
        assert f"training_examples[{index}].{field}" in fields, fields
    assert not any(f.startswith("training_examples[0]") for f in fields)
    # From a file: the example's index and its line.
    bad_file = await upload(channel, [json_line(TRAINING[0]), b"", json_line(cases[0][0]), b"{"])
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await tuning.CreateTuningJob(
            T.CreateTuningJobRequest(base_model="gemini-2.5-flash", training_file=bad_file)
        )
    d = error_details(info.value)
    assert d.bad_request is not None
    found = {v.field: v.description for v in d.bad_request.field_violations}
    assert "(line 3)" in found["training_file[1].messages[0].role"]
    assert "(line 4)" in found["training_file[2]"]
    media = await upload(channel, [json_line(TRAINING[0])], file_pb2.FILE_PURPOSE_MEDIA)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await tuning.CreateTuningJob(
            T.CreateTuningJobRequest(base_model="gemini-2.5-flash", training_file=media)
        )
    d = error_details(info.value)
    assert d.bad_request is not None
    assert [v.field for v in d.bad_request.field_violations] == ["training_file"]
    assert staged_count(storage) == before
    assert not [r for r in admin.requests() if "tuningJobs" in r["path"]]


SETTINGS = [
    ({"base_model": "gemini-3-pro-preview"}, "base_model"),
    ({"base_model": "claude-sonnet-4-5@20250929"}, "base_model"),
    ({"epoch_count": 0}, "epoch_count"),
    ({"epoch_count": 101}, "epoch_count"),
    ({"learning_rate_multiplier": 0.0}, "learning_rate_multiplier"),
    ({"base_model": "gemini-2.5-pro", "adapter_size": T.ADAPTER_SIZE_SIXTEEN}, "adapter_size"),
    ({"adapter_size": 42}, "adapter_size"),
    ({"tuned_model_display_name": "x" * 129}, "tuned_model_display_name"),
    ({"labels": {"vertex-gateway-x": "y"}}, "labels['vertex-gateway-x']"),
    ({"training_file": "files/" + "0" * 32}, "training_examples"),
    ({"training_examples": []}, "training_examples"),
    ({"validation_file": "files/nope"}, "validation_file"),
]


@pytest.mark.parametrize(("change", "field"), SETTINGS)
async def test_bad_settings_are_refused_by_name(
    tuning: tuning_pb2_grpc.TuningServiceStub,
    admin: EmulatorAdmin,
    change: dict[str, Any],
    field: str,
) -> None:
    request = T.CreateTuningJobRequest(base_model="gemini-2.5-flash", training_examples=TRAINING)
    for key, value in change.items():
        if key == "labels":
            request.labels.update(value)
        elif key == "training_examples":
            del request.training_examples[:]
        else:
            setattr(request, key, value)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await tuning.CreateTuningJob(request)
    d = error_details(info.value)
    assert d.code == grpc.StatusCode.INVALID_ARGUMENT, d.message
    assert d.bad_request is not None
    assert field in [v.field for v in d.bad_request.field_violations], d.message
    assert not [r for r in admin.requests() if "tuningJobs" in r["path"]]


async def test_job_names_and_endpoint_names_are_checked(
    tuning: tuning_pb2_grpc.TuningServiceStub, channel: grpc.aio.Channel, admin: EmulatorAdmin
) -> None:
    for name in ("", "tuningJobs/x", "tuningJobs/us-central1-12a", "tuningJobs/../1-2"):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await tuning.GetTuningJob(T.GetTuningJobRequest(name=name))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await tuning.GetTuningJob(T.GetTuningJobRequest(name="tuningJobs/us-central1-123"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    chat = chat_pb2_grpc.ChatServiceStub(channel)
    for model in ("endpoints/0123", "endpoints/openapi", "endpoints/a_b", "endpoints/1/2"):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await chat.Chat(ask("hi", model=model))
        d = error_details(info.value)
        assert d.code == grpc.StatusCode.INVALID_ARGUMENT and "model" in d.message, model
    assert not vertex_calls(admin, "generateContent")
    # Ids Vertex could have: answered by Vertex (an unknown endpoint is NOT_FOUND).
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await chat.Chat(ask("hi", model="endpoints/987654321"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    seeded = await chat.Chat(ask("hi", model="endpoints/4001"))  # the emulator's tuned endpoint
    assert seeded.served_by.vertex_model == "endpoints/4001"
