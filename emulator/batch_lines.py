"""One batch input line → one output line, for Gemini, Claude and text-embedding models.

Each line goes through the same checks as the online method (the discovery walker and the Vertex
rules for Gemini, the ``anthropic`` types and rules for Claude, the ``:predict`` checks for
embeddings) and gets the same reply builder, so a line answers exactly what the online call with
that body would. Measured cost: about 0.1 ms per Gemini or Claude line and 0.3 ms per
embedding line (768 floats), so 10,000 lines take about a second of CPU — cheap enough that no
check is skipped.

Formats (vertex-wire.md §8.3; Google's Claude and text-embedding batch pages):

* Gemini — in ``{"request": GenerateContentRequest}``; out ``{"status": "", "processed_time",
  "request", "response"}`` or, failed, ``{"status": "<error>", "processed_time", "request"}``.
* Claude — in ``{"custom_id", "request": Messages body}``; out ``{"custom_id", "request",
  "response": Message, "status": ""}`` or, failed, the same with ``status`` and no ``response``.
* Embeddings — in a ``:predict`` instance ``{"content", "task_type"?, "title"?}``; out
  ``{"instance", "predictions": [{"embeddings": {"values", "statistics"}}], "status": ""}`` or,
  failed, ``{"instance", "status": "<error>"}``.

An error ``status`` is ``Bad Request: {"error": {"code": 400, "message": …, "status":
"INVALID_ARGUMENT"}}``. Members the line did not have (or a line that is not a JSON object) are
left out of the echo. Trigger: a line whose last user text (embeddings: ``content``) contains
``[fail]`` fails with :data:`FAIL_MESSAGE`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emulator import claude_reply, claude_rules, embeddings, gemini, rules
from emulator.batch_jobs import LineKind
from emulator.catalog import ModelInfo
from emulator.claude_types import BodyKind, type_problems
from emulator.discovery import document
from emulator.errors import FieldViolation, bad_request

FAIL_TRIGGER = "[fail]"
FAIL_MESSAGE = (
    "Unable to submit request because the Vertex emulator was asked to fail it "
    "(the text contains [fail])."
)


@dataclass(frozen=True)
class LineContext:
    """What processing a line needs to know about its job."""

    kind: LineKind
    model: ModelInfo
    version: str
    project: str
    location: str
    reject_function_call_id: bool = True
    # The job's ``modelParameters`` (embeddings: ``outputDimensionality``, ``autoTruncate``).
    parameters: dict[str, Any] | None = None


@dataclass(frozen=True)
class LineResult:
    """An output line and whether it succeeded."""

    output: dict[str, Any]
    ok: bool


class LineFailed(Exception):
    """The line's request is refused; the message is the error Vertex would give online."""


def status_text(message: str) -> str:
    """A failed line's ``status``: Google's error JSON after ``Bad Request: ``."""
    error = {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}
    return "Bad Request: " + json.dumps(error, ensure_ascii=False)


def processed_time(now: datetime | None = None) -> str:
    """``2026-11-21T02:05:27.775+00:00``, as batch output writes it."""
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise LineFailed("Invalid JSON payload received. Invalid UTF-8 string.") from exc
    except json.JSONDecodeError as exc:
        raise LineFailed(
            f"Invalid JSON payload received. {exc.msg} at column {exc.colno}."
        ) from exc


# --- Gemini -------------------------------------------------------------------------------


def _gemini_reply(request: Any, ctx: LineContext) -> dict[str, Any]:
    if not isinstance(request, dict):
        raise LineFailed(
            'Invalid batch input line: it must be a JSON object {"request": GenerateContentRequest}.'
        )
    doc = document(ctx.version)
    schema = doc.request_schema("generateContent")
    assert schema is not None
    # Batch input takes the proto field names too (vertex-wire.md §8.3).
    result = doc.validate(schema, request, lenient_names=True)
    if result.errors:
        violations = [FieldViolation(e.field, e.description) for e in result.errors]
        raise LineFailed(bad_request(violations).message)
    body: dict[str, Any] = result.normalized
    context = rules.RuleContext(
        version=ctx.version,
        method="generateContent",
        max_output_tokens=ctx.model.max_output_tokens,
        reject_function_call_id=ctx.reject_function_call_id,
        model_id=ctx.model.model_id,
        project=ctx.project,
        location=ctx.location,
    )
    broken = rules.check(body, context)
    parse_level = [v for v in broken if v.parse_level]
    if parse_level:
        raise LineFailed(
            bad_request([FieldViolation(v.field, v.description) for v in parse_level]).message
        )
    if broken:
        raise LineFailed(broken[0].description)
    if FAIL_TRIGGER in gemini.last_user_text(body):
        raise LineFailed(FAIL_MESSAGE)
    try:
        plan = gemini.plan_reply(body, ctx.model)
    except gemini.RequestRejected as exc:
        raise LineFailed(exc.error.message) from exc
    return gemini.unary_response(plan)


def _gemini_line(raw: bytes, ctx: LineContext) -> LineResult:
    out: dict[str, Any] = {"status": "", "processed_time": processed_time()}
    try:
        line = _parse(raw)
        request = line.get("request") if isinstance(line, dict) else None
        if request is not None:
            out["request"] = request
        response = _gemini_reply(request, ctx)
    except LineFailed as exc:
        out["status"] = status_text(str(exc))
        return LineResult(out, False)
    out["response"] = response
    return LineResult(out, True)


# --- Claude -------------------------------------------------------------------------------


def _claude_reply(line: Any, ctx: LineContext) -> dict[str, Any]:
    if not isinstance(line, dict):
        raise LineFailed(
            'Invalid batch input line: it must be a JSON object {"custom_id", "request"}.'
        )
    custom_id, request = line.get("custom_id"), line.get("request")
    if not isinstance(custom_id, str) or not custom_id:
        raise LineFailed("custom_id: Field required (a non-empty string).")
    if not isinstance(request, dict):
        raise LineFailed("request: Field required (an Anthropic Messages body).")
    problems = type_problems(BodyKind.MESSAGE, request) or claude_rules.check(
        request, claude_rules.RuleContext(BodyKind.MESSAGE, ctx.model)
    )
    if problems:
        raise LineFailed(problems[0])
    if FAIL_TRIGGER in claude_reply.last_user_text(request):
        raise LineFailed(FAIL_MESSAGE)
    return claude_reply.plan_reply(request, ctx.model, None).message()


def _claude_line(raw: bytes, ctx: LineContext) -> LineResult:
    out: dict[str, Any] = {}
    try:
        line = _parse(raw)
        if isinstance(line, dict):
            out.update({k: line[k] for k in ("custom_id", "request") if k in line})
        response = _claude_reply(line, ctx)
    except LineFailed as exc:
        return LineResult({**out, "status": status_text(str(exc))}, False)
    return LineResult({**out, "response": response, "status": ""}, True)


# --- text embeddings ------------------------------------------------------------------------


def _embedding_prediction(instance: Any, ctx: LineContext) -> dict[str, Any]:
    if isinstance(instance, dict) and FAIL_TRIGGER in str(instance.get("content", "")):
        raise LineFailed(FAIL_MESSAGE)
    body = {"instances": [instance], "parameters": ctx.parameters or {}}
    try:
        prediction: dict[str, Any] = embeddings.predict_response(body, ctx.model)["predictions"][0]
    except embeddings.EmbeddingError as exc:
        raise LineFailed(str(exc).replace("instances[0]", "instance")) from exc
    return prediction


def _embedding_line(raw: bytes, ctx: LineContext) -> LineResult:
    out: dict[str, Any] = {}
    try:
        instance = _parse(raw)
        out["instance"] = instance
        prediction = _embedding_prediction(instance, ctx)
    except LineFailed as exc:
        return LineResult({**out, "status": status_text(str(exc))}, False)
    return LineResult({**out, "predictions": [prediction], "status": ""}, True)


_BY_KIND = {
    LineKind.GEMINI: _gemini_line,
    LineKind.CLAUDE: _claude_line,
    LineKind.EMBEDDING: _embedding_line,
}


def process_line(raw: bytes, ctx: LineContext) -> LineResult:
    """The output line for one input line (never raises for bad input: the line fails)."""
    return _BY_KIND[ctx.kind](raw, ctx)


def render_lines(lines: Sequence[bytes], ctx: LineContext) -> tuple[bytes, int, int]:
    """Process ``lines`` into JSONL bytes; returns (data, succeeded, failed)."""
    out: list[str] = []
    succeeded = 0
    for raw in lines:
        result = process_line(raw, ctx)
        succeeded += result.ok
        out.append(json.dumps(result.output, ensure_ascii=False))
    data = ("\n".join(out) + "\n").encode("utf-8") if out else b""
    return data, succeeded, len(lines) - succeeded


def check_parameters(ctx: LineContext) -> str | None:
    """The problem with an embedding job's ``modelParameters`` (checked at creation), or None."""
    if ctx.kind is not LineKind.EMBEDDING:
        return None
    body = {"instances": [{"content": "probe"}], "parameters": ctx.parameters or {}}
    try:
        embeddings.predict_response(body, ctx.model)
    except embeddings.EmbeddingError as exc:
        return f"modelParameters: {exc}"
    return None
