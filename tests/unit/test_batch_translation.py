"""Batch lines and job resources: staging, row matching, error statuses, Batch messages."""

from __future__ import annotations

import grpc
from vertex_gateway.v1 import batch_pb2, chat_pb2, common_pb2, embedding_pb2

from server.routing.registry import Family, Registry
from server.translate import batch_jobs, batch_lines

R = Registry()
FLASH = R.get(None, "gemini-2.5-flash")
CLAUDE = R.get("anthropic", "claude-sonnet-4-5@20250929")
T005 = R.get(None, "text-embedding-005")
assert FLASH and CLAUDE and T005


def chat(text: str, **kw: object) -> chat_pb2.ChatRequest:
    return chat_pb2.ChatRequest(
        messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text=text)])], **kw
    )  # type: ignore[arg-type]


def test_gemini_lines_carry_their_row_label() -> None:
    items = [
        batch_pb2.BatchItem(id=f"a{i}", chat=chat(f"q{i}", labels={"team": "x"})) for i in range(3)
    ]
    staged, problems = batch_lines.stage(items, FLASH, lambda m: False)
    assert problems == [] and staged.ids == ["a0", "a1", "a2"]
    assert staged.lines[2]["request"]["labels"] == {"team": "x", "vertex-gateway-row": "2"}
    assert (
        batch_lines.row_of({"request": {"labels": {"vertex-gateway-row": "2"}}}, Family.GEMINI) == 2
    )


def test_claude_lines_use_custom_id() -> None:
    staged, problems = batch_lines.stage(
        [batch_pb2.BatchItem(id="x", chat=chat("hi"))], CLAUDE, lambda m: False
    )
    assert problems == [] and staged.lines[0]["custom_id"] == "0"
    assert staged.lines[0]["request"]["anthropic_version"] == "vertex-2023-10-16"
    assert batch_lines.row_of({"custom_id": "0"}, Family.CLAUDE) == 0


def test_every_problem_names_its_index() -> None:
    items = [
        batch_pb2.BatchItem(id="ok", chat=chat("fine")),
        batch_pb2.BatchItem(id="", chat=chat("no id")),
        batch_pb2.BatchItem(id="ok", chat=chat("duplicate")),
        batch_pb2.BatchItem(id="e", embed=embedding_pb2.EmbedRequest()),
        batch_pb2.BatchItem(id="m", chat=chat("other model", model="gemini-2.5-pro")),
        batch_pb2.BatchItem(
            id="t", chat=chat("bad", generation_config=chat_pb2.GenerationConfig(temperature=-1))
        ),
        batch_pb2.BatchItem(id="none"),
    ]
    _, problems = batch_lines.stage(items, FLASH, lambda m: m == "gemini-2.5-flash")
    fields = [p.field for p in problems]
    assert "requests[1].id" in fields and "requests[2].id" in fields
    assert "requests[3].embed" in fields and "requests[4].chat.model" in fields
    assert any(f.startswith("requests[5].chat.generation_config") for f in fields)
    assert "requests[6]" in fields


def test_embedding_lines_and_uniform_settings() -> None:
    def item(i: int, dims: int | None = None) -> batch_pb2.BatchItem:
        req = embedding_pb2.EmbedRequest(inputs=[embedding_pb2.EmbedInput(text=f"t{i}")])
        if dims:
            req.output_dimensionality = dims
        return batch_pb2.BatchItem(id=str(i), embed=req)

    staged, problems = batch_lines.stage([item(0, 64), item(1, 64)], T005, lambda m: False)
    assert problems == [] and staged.kind == "embed"
    assert staged.lines[0] == {"content": "t0"} and staged.model_parameters == {
        "outputDimensionality": 64
    }
    _, problems = batch_lines.stage([item(0, 64), item(1)], T005, lambda m: False)
    assert [p.field for p in problems] == ["requests[1].embed.output_dimensionality"]


def test_failed_lines_become_error_statuses() -> None:
    text = 'Bad Request: {"error": {"code": 400, "message": "bad thing", "status": "INVALID_ARGUMENT"}}'
    error = batch_lines.error_of(text)
    assert (error.code, error.message) == (grpc.StatusCode.INVALID_ARGUMENT.value[0], "bad thing")
    assert batch_lines.error_of("something broke").code == grpc.StatusCode.INTERNAL.value[0]
    result = batch_lines.result_of(
        {"status": text}, Family.GEMINI, "m", None, common_pb2.ServedBy()
    )
    assert result.WhichOneof("result") == "error"
    assert (
        batch_lines.not_answered("JOB_STATE_CANCELLED").code == grpc.StatusCode.CANCELLED.value[0]
    )


def test_job_to_batch() -> None:
    job = {
        "name": "projects/123/locations/us-central1/batchPredictionJobs/456",
        "displayName": "nightly",
        "model": "publishers/google/models/gemini-2.5-flash",
        "state": "JOB_STATE_PARTIALLY_SUCCEEDED",
        "labels": {
            "team": "x",
            "vertex-gateway": "batch",
            "vertex-gateway-total": "10",
            "vertex-gateway-model": "m" + b"fast".hex(),
        },
        "completionStats": {"successfulCount": "8", "failedCount": "2"},
        "createTime": "2026-11-21T02:00:01.123Z",
        "outputInfo": {"gcsOutputDirectory": "gs://b/out/prediction-model-x"},
        "error": {"code": 3, "message": "partly"},
    }
    batch = batch_jobs.to_batch(job, "us-central1")
    assert (
        batch.name == "batches/us-central1-456"
        and batch.model == "fast"
        and batch.labels == {"team": "x"}
    )
    assert (
        batch.state == common_pb2.JOB_STATE_PARTIALLY_SUCCEEDED
        and batch.native_state == job["state"]
    )
    assert (batch.total_count, batch.succeeded_count, batch.failed_count) == (10, 8, 2)
    assert batch.output_uri == "gs://b/out/prediction-model-x" and batch.error.code == 3
    assert batch.create_time.seconds > 0
    odd = batch_jobs.to_batch({**job, "state": "JOB_STATE_NEW_THING"}, "us-central1")
    assert (
        odd.state == common_pb2.JOB_STATE_UNSPECIFIED and odd.native_state == "JOB_STATE_NEW_THING"
    )
