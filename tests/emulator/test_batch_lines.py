"""Batch line formats: Gemini, Claude and text embeddings, successes and failures."""

from __future__ import annotations

import json
import re
from typing import Any

from emu_batch_helpers import (
    CLAUDE,
    EMBEDDING,
    BatchEmulator,
    claude_line,
    gemini_line,
    job_body,
    row_of,
)

from emulator.batch_jobs import LineKind
from emulator.batch_lines import FAIL_MESSAGE, LineContext, process_line, status_text
from emulator.catalog import find_model

PROCESSED_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


def error_of(status: str) -> dict[str, Any]:
    assert status.startswith("Bad Request: ")
    error: dict[str, Any] = json.loads(status.removeprefix("Bad Request: "))["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    return error


async def online(emu: BatchEmulator, url: str, body: dict[str, Any]) -> Any:
    status, reply, _ = await emu.post(url, body)
    assert status == 200, reply
    return reply


async def test_gemini_lines_answer_like_generate_content(batch_emu: BatchEmulator) -> None:
    good = gemini_line(0, "Tell me about owls")
    snake = gemini_line(1, "hi")
    snake["request"]["generation_config"] = {"max_output_tokens": 5}
    bad_role = gemini_line(2)
    bad_role["request"]["contents"][0]["role"] = "system"
    unknown = gemini_line(3)
    unknown["request"]["generationConfig"] = {"temprature": 1}
    uri = await batch_emu.upload(
        [good, snake, bad_role, unknown, gemini_line(4, "x [fail] y"), {"no_request": True}]
    )
    job = await batch_emu.run(job_body(uri))
    assert job["completionStats"] == {"successfulCount": "2", "failedCount": "4"}
    lines = await batch_emu.output_lines(job)
    by_row = {row_of(line): line for line in lines if "request" in line}

    first = by_row[0]
    assert list(first) == ["status", "processed_time", "request", "response"]
    assert first["status"] == "" and PROCESSED_TIME.match(first["processed_time"])
    assert first["request"] == good["request"]
    direct = await online(batch_emu, batch_emu.url(), good["request"])
    assert first["response"]["candidates"] == direct["candidates"]
    assert first["response"]["usageMetadata"] == direct["usageMetadata"]
    assert by_row[1]["response"]["candidates"][0]["finishReason"] == "MAX_TOKENS"

    assert "Please use a valid role" in error_of(by_row[2]["status"])["message"]
    assert 'Unknown name "temprature"' in error_of(by_row[3]["status"])["message"]
    assert error_of(by_row[4]["status"])["message"] == FAIL_MESSAGE
    assert all("response" not in by_row[i] for i in (2, 3, 4))
    orphan = next(line for line in lines if "request" not in line)
    assert list(orphan) == ["status", "processed_time"]


async def test_claude_lines_answer_like_raw_predict(batch_emu: BatchEmulator) -> None:
    good = claude_line(0, "Tell me about owls")
    no_version = claude_line(1)
    del no_version["request"]["anthropic_version"]
    streaming = claude_line(2)
    streaming["request"]["stream"] = True
    uri = await batch_emu.upload([good, no_version, streaming, claude_line(3, "[fail] now")])
    job = await batch_emu.run(job_body(uri, model=CLAUDE))
    assert job["state"] == "JOB_STATE_PARTIALLY_SUCCEEDED"
    assert job["completionStats"] == {"successfulCount": "1", "failedCount": "3"}
    by_id = {line["custom_id"]: line for line in await batch_emu.output_lines(job)}

    assert list(by_id["0"]) == ["custom_id", "request", "response", "status"]
    assert by_id["0"]["status"] == "" and by_id["0"]["request"] == good["request"]
    url = batch_emu.url("rawPredict", "claude-sonnet-4-5@20250929").replace(
        "publishers/google", "publishers/anthropic"
    )
    direct = await online(batch_emu, url, good["request"])
    message = by_id["0"]["response"]
    assert message["type"] == "message" and message["content"] == direct["content"]
    assert message["usage"] == direct["usage"]

    assert "anthropic_version" in error_of(by_id["1"]["status"])["message"]
    assert "stream" in error_of(by_id["2"]["status"])["message"]
    assert error_of(by_id["3"]["status"])["message"] == FAIL_MESSAGE
    assert all("response" not in by_id[k] for k in ("1", "2", "3"))


async def test_embedding_lines_answer_like_predict(batch_emu: BatchEmulator) -> None:
    first = {"content": "The owl hoots at night"}
    titled = {"content": "Owls", "task_type": "RETRIEVAL_DOCUMENT", "title": "Birds"}
    bad = {"content": "x", "task_type": "NOPE"}
    uri = await batch_emu.upload([first, titled, bad, {"content": "[fail] me"}])
    job = await batch_emu.run(job_body(uri, model=EMBEDDING))
    assert job["completionStats"] == {"successfulCount": "2", "failedCount": "2"}
    lines = await batch_emu.output_lines(job)
    by_content = {line["instance"]["content"]: line for line in lines}

    for instance in (first, titled):
        line = by_content[instance["content"]]
        assert list(line) == ["instance", "predictions", "status"]
        assert line["instance"] == instance and line["status"] == ""
        direct = await online(
            batch_emu, batch_emu.url("predict", "text-embedding-005"), {"instances": [instance]}
        )
        assert line["predictions"] == direct["predictions"]
        statistics = line["predictions"][0]["embeddings"]["statistics"]
        assert statistics["truncated"] is False and statistics["token_count"] > 0
    assert "Invalid task_type" in error_of(by_content["x"]["status"])["message"]
    assert list(by_content["[fail] me"]) == ["instance", "status"]


async def test_embedding_model_parameters_apply_to_every_line(batch_emu: BatchEmulator) -> None:
    uri = await batch_emu.upload([{"content": "a"}, {"content": "b"}])
    body = job_body(uri, model=EMBEDDING, modelParameters={"outputDimensionality": 16})
    lines = await batch_emu.output_lines(await batch_emu.run(body))
    assert all(len(line["predictions"][0]["embeddings"]["values"]) == 16 for line in lines)


def context(kind: LineKind, publisher: str, model_id: str) -> LineContext:
    model = find_model(publisher, model_id)
    assert model is not None
    return LineContext(kind, model, "v1", "p", "us-central1")


def test_process_line_never_raises_on_bad_input() -> None:
    gemini = context(LineKind.GEMINI, "google", "gemini-2.5-flash")
    for raw in (b"not json", b"[1, 2]", b'"text"', b"\xff\xfe", b'{"request": 3}'):
        result = process_line(raw, gemini)
        assert not result.ok
        error_of(result.output["status"])
    claude = context(LineKind.CLAUDE, "anthropic", "claude-sonnet-4-5@20250929")
    result = process_line(json.dumps({"request": claude_line(0)["request"]}).encode(), claude)
    assert not result.ok and "custom_id" in error_of(result.output["status"])["message"]
    embedding = context(LineKind.EMBEDDING, "google", "text-embedding-005")
    assert not process_line(b'["content"]', embedding).ok


def test_status_text_is_google_error_json() -> None:
    assert status_text('say "hi"') == (
        'Bad Request: {"error": {"code": 400, "message": "say \\"hi\\"", '
        '"status": "INVALID_ARGUMENT"}}'
    )
