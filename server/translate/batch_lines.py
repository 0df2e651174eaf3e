"""Batch prediction lines: BatchItems -> Vertex JSONL lines (each built by the online
translator), and output lines -> typed BatchResults. Pure functions, no I/O.

Vertex's output order is not the input order (vertex-wire.md §8.3), so every line carries its
row: Gemini requests a `vertex-gateway-row` label (labels are echoed back), Claude lines a
`custom_id`. Embedding lines have no room for one; their results are matched by the echoed
instance, and identical instances get identical vectors, so any pairing among them is right.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from vertex_gateway.v1 import batch_pb2, common_pb2, embedding_pb2

from server.errors import FieldViolation, GatewayError
from server.routing.registry import Family, ModelSpec

from . import claude_chat, gemini_chat, text_embedding
from .chat_capabilities import required_capabilities
from .chat_validation import validate_chat_request
from .tolerant import tolerant

ROW_LABEL = "vertex-gateway-row"
MAX_ID = 128
CHAT_FAMILIES = (Family.GEMINI, Family.CLAUDE)


def canonical(instance: Any) -> str:
    """A key equal for equal JSON instances."""
    return json.dumps(instance, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Staged:
    """The lines of a valid batch, and what reading its results needs."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    kind: str = "chat"  # "chat" | "embed"
    # Claude rows answered through the JSON-output tool (the reply translator needs its name).
    json_tools: dict[int, str] = field(default_factory=dict)
    # Embeddings: settings Vertex takes per job, not per line.
    model_parameters: dict[str, Any] = field(default_factory=dict)
    parameters_set: bool = False


def _prefixed(err: GatewayError, where: str) -> list[FieldViolation]:
    if err.field_violations:
        return [FieldViolation(f"{where}.{v.field}", v.description) for v in err.field_violations]
    return [FieldViolation(where, err.message)]


def _chat_line(
    item: batch_pb2.BatchItem, row: int, spec: ModelSpec, staged: Staged
) -> dict[str, Any]:
    chat = item.chat
    validate_chat_request(chat)
    missing = [c for c, _ in required_capabilities(chat) if c not in spec.capabilities]
    if missing:
        raise GatewayError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{spec.id} does not support {missing[0].value}",
            "CAPABILITY_NOT_SUPPORTED",
        )
    if spec.family is Family.GEMINI:
        body = gemini_chat.to_generate_content(chat, spec)
        body.setdefault("labels", {})[ROW_LABEL] = str(row)
        return {"request": body}
    body = claude_chat.to_messages(chat, spec)
    tool = claude_chat.json_tool_name(chat)
    if tool:
        staged.json_tools[row] = tool
    return {"custom_id": str(row), "request": body}


def _embed_line(item: batch_pb2.BatchItem, spec: ModelSpec, staged: Staged) -> dict[str, Any]:
    embed = item.embed
    if len(embed.inputs) != 1:
        raise GatewayError(
            grpc.StatusCode.INVALID_ARGUMENT, "must have exactly one input", "INVALID_REQUEST",
            field_violations=[FieldViolation("inputs", "a batch embedding request has exactly one input")],
        )  # fmt: skip
    text_embedding.validate(embed, spec)
    params: dict[str, Any] = {}
    if embed.HasField("output_dimensionality"):
        params["outputDimensionality"] = embed.output_dimensionality
    if embed.HasField("auto_truncate"):
        params["autoTruncate"] = embed.auto_truncate
    if not staged.parameters_set:
        staged.model_parameters, staged.parameters_set = params, True
    elif params != staged.model_parameters:
        raise GatewayError(
            grpc.StatusCode.INVALID_ARGUMENT, "settings differ", "INVALID_REQUEST",
            field_violations=[FieldViolation(
                "output_dimensionality",
                "output_dimensionality and auto_truncate must be the same for every request of a"
                " batch (Vertex applies them to the whole job)",
            )],
        )  # fmt: skip
    instance: dict[str, Any] = text_embedding.to_predict(embed, [0])["instances"][0]
    return instance


def stage(
    items: list[batch_pb2.BatchItem],
    spec: ModelSpec,
    same_model: Any,
    where: str = "requests",
) -> tuple[Staged, list[FieldViolation]]:
    """Every line of the batch, or every problem, each naming the item's index."""
    staged = Staged(kind="chat" if spec.family in CHAT_FAMILIES else "embed")
    problems: list[FieldViolation] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not item.id:
            problems.append(FieldViolation(f"{at}.id", "is required"))
        elif len(item.id) > MAX_ID:
            problems.append(FieldViolation(f"{at}.id", f"is longer than {MAX_ID} characters"))
        elif item.id in seen:
            problems.append(FieldViolation(f"{at}.id", f"duplicate id {item.id!r}"))
        seen.add(item.id)
        kind = item.WhichOneof("request")
        if kind is None:
            problems.append(FieldViolation(at, "has no request: set chat or embed"))
            continue
        if kind != staged.kind:
            problems.append(
                FieldViolation(f"{at}.{kind}", f"{spec.id} takes {staged.kind} requests in a batch")
            )
            continue
        request = item.chat if kind == "chat" else item.embed
        if request.model and not same_model(request.model):
            problems.append(
                FieldViolation(f"{at}.{kind}.model", "must be empty or the batch's model")
            )
            continue
        try:
            if kind == "chat":
                line = _chat_line(item, i, spec, staged)
            else:
                line = _embed_line(item, spec, staged)
        except GatewayError as err:
            problems.extend(_prefixed(err, f"{at}.{kind}"))
            continue
        staged.lines.append(line)
        staged.ids.append(item.id)
    return staged, problems


# ---------------------------------------------------------------------------------------------
# Results


@tolerant
def row_of(line: Mapping[str, Any], family: Family) -> int | None:
    """The row a Gemini or Claude output line answers, or None if it names none."""
    if family is Family.GEMINI:
        request = line.get("request")
        labels = request.get("labels") if isinstance(request, Mapping) else None
        value = labels.get(ROW_LABEL) if isinstance(labels, Mapping) else None
    else:
        value = line.get("custom_id")
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _grpc_code(name: str) -> int | None:
    try:
        return int(grpc.StatusCode[name].value[0])
    except KeyError:
        return None


def error_of(status: Any) -> common_pb2.ErrorStatus:
    """A failed line's status text as an ErrorStatus (Vertex embeds a Google error JSON)."""
    text = str(status)
    code = common_pb2.ErrorStatus(
        code=grpc.StatusCode.INTERNAL.value[0], message=text, reason="VERTEX_REQUEST_FAILED"
    )
    start = text.find("{")
    if start >= 0:
        try:
            error = json.loads(text[start:]).get("error", {})
        except (ValueError, AttributeError):
            error = {}
        if isinstance(error, dict):
            number = _grpc_code(str(error.get("status", "")))
            if number is not None:
                code.code = number
            if isinstance(error.get("message"), str):
                code.message = error["message"]
    elif text.lower().startswith("bad request"):
        code.code = grpc.StatusCode.INVALID_ARGUMENT.value[0]
    return code


def not_answered(state: str) -> common_pb2.ErrorStatus:
    """The error of a request Vertex never answered."""
    if state in ("JOB_STATE_CANCELLED", "JOB_STATE_CANCELLING"):
        return common_pb2.ErrorStatus(
            code=grpc.StatusCode.CANCELLED.value[0],
            message="the batch was cancelled before this request ran",
            reason="NOT_PROCESSED",
        )
    return common_pb2.ErrorStatus(
        code=grpc.StatusCode.ABORTED.value[0],
        message=f"Vertex AI returned no result for this request (batch {state})",
        reason="NOT_PROCESSED",
    )


@tolerant
def result_of(
    line: Mapping[str, Any],
    family: Family,
    model: str,
    json_tool: str | None,
    served_by: common_pb2.ServedBy,
) -> batch_pb2.BatchResult:
    """The typed outcome of one output line (the id is the caller's, set by the reader)."""
    status = line.get("status")
    if status:
        return batch_pb2.BatchResult(error=error_of(status))
    try:
        if family is Family.GEMINI:
            reply = gemini_chat.from_generate_content(line.get("response"), model=model)
            reply.served_by.CopyFrom(served_by)
            return batch_pb2.BatchResult(chat=reply)
        if family is Family.CLAUDE:
            reply = claude_chat.from_message(line.get("response"), model=model, json_tool=json_tool)
            reply.served_by.CopyFrom(served_by)
            return batch_pb2.BatchResult(chat=reply)
        embeddings, billable = text_embedding.from_predict(
            {"predictions": line.get("predictions")}, 1
        )
        return batch_pb2.BatchResult(
            embed=embedding_pb2.EmbedResponse(
                model=model,
                embeddings=embeddings,
                usage=text_embedding.usage(embeddings),
                billable_characters=billable,
                served_by=served_by,
            )
        )
    except GatewayError as err:
        return batch_pb2.BatchResult(
            error=common_pb2.ErrorStatus(
                code=err.code.value[0], message=err.message, reason=err.reason
            )
        )
