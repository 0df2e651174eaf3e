"""Checks of the tool calls a model returns against the functions the caller declared.

Peers pass a call with missing or mistyped arguments straight to the caller's code. Here every
complete call is validated against its declared JSON Schema; a call that does not match is
still returned, but its candidate ends with FINISH_REASON_MALFORMED_TOOL_CALL and a message
saying which call and what is wrong, while the model's own finish reason stays in
`native_finish_reason`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from vertex_gateway.v1 import chat_pb2, common_pb2

from .json_schema import arguments_problem


def declared_schemas(request: chat_pb2.ChatRequest) -> dict[str, dict[str, Any] | None]:
    """Function name -> parameter schema (None when declared without one)."""
    out: dict[str, dict[str, Any] | None] = {}
    for tool in request.tools:
        if tool.WhichOneof("kind") == "function":
            fn = tool.function
            out[fn.name] = (
                json_format.MessageToDict(fn.parameters) if fn.HasField("parameters") else None
            )
    return out


def call_problem(
    call: chat_pb2.ToolCall, schemas: Mapping[str, Mapping[str, Any] | None]
) -> str | None:
    """Why a complete call does not fit the declarations, or None."""
    if call.name not in schemas:
        return f"tool call {call.name} ({call.id}) names a function that was not declared"
    schema = schemas[call.name]
    if schema is None:
        return None
    try:
        arguments = json_format.MessageToDict(call.arguments)
    except ValueError:  # NaN or Infinity: not JSON, whatever the schema says
        return f"tool call {call.name} ({call.id}): arguments hold a number JSON cannot carry"
    problem = arguments_problem(arguments, schema)
    if problem is None:
        return None
    return (
        f"tool call {call.name} ({call.id}): arguments do not match the declared schema {problem}"
    )


class ToolCallChecker:
    """Collects problems of complete calls per candidate and marks the candidate when it ends."""

    def __init__(self, request: chat_pb2.ChatRequest) -> None:
        self._request = request
        # Read from the request when the first call arrives; most replies hold none.
        self._schemas: dict[str, dict[str, Any] | None] | None = None
        self._problems: dict[int, str] = {}

    def check(self, candidate: chat_pb2.Candidate) -> None:
        """Check the complete calls among `candidate`'s parts; mark it if it has finished."""
        parts = candidate.message.parts
        for part in parts:  # most replies hold no call: one pass finds that out
            if part.WhichOneof("kind") == "tool_call":
                self._check_calls(candidate.index, parts)
                break
        if not self._problems:
            return
        reason = candidate.finish_reason
        if reason == common_pb2.FINISH_REASON_UNSPECIFIED or candidate.index not in self._problems:
            return
        if reason != common_pb2.FINISH_REASON_MALFORMED_TOOL_CALL:
            candidate.finish_reason = common_pb2.FINISH_REASON_MALFORMED_TOOL_CALL
            candidate.finish_message = self._problems[candidate.index]

    def _check_calls(self, index: int, parts: Any) -> None:
        if self._schemas is None:
            self._schemas = declared_schemas(self._request)
        for part in parts:
            if part.WhichOneof("kind") == "tool_call" and not part.tool_call.arguments_delta:
                problem = call_problem(part.tool_call, self._schemas)
                if problem and index not in self._problems:
                    self._problems[index] = problem


def check_reply(request: chat_pb2.ChatRequest, candidates: Any) -> None:
    """`ToolCallChecker.check` on each candidate of a complete reply that holds a call; most
    hold none, and then no checker is made."""
    checker: ToolCallChecker | None = None
    for candidate in candidates:
        for part in candidate.message.parts:
            if part.WhichOneof("kind") == "tool_call":
                if checker is None:
                    checker = ToolCallChecker(request)
                checker.check(candidate)
                break
