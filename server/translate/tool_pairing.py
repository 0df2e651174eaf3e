"""Pairing of tool results with the tool calls they answer, across every model family.

Every family needs the pairs, in different ways: Gemini sends the function name, Claude and the
OpenAI-compatible API the call id. Callers may give either, so the pairing is checked once here
and each result is completed with the other half; a result without a call, a call left without
a result, or a duplicate answer is INVALID_ARGUMENT naming the part, instead of an upstream 400
that names a Vertex JSON path the caller never wrote.
"""

from __future__ import annotations

from vertex_gateway.v1 import chat_pb2

from server.errors import FieldViolation

_ASSISTANT = chat_pb2.ROLE_ASSISTANT
_TOOL = chat_pb2.ROLE_TOOL


def _fill_call_ids(messages: list[chat_pb2.Message], out: list[FieldViolation]) -> None:
    for i, message in enumerate(messages):
        if message.role != _ASSISTANT:
            continue
        seen: set[str] = set()
        for j, part in enumerate(message.parts):
            if part.WhichOneof("kind") != "tool_call":
                continue
            call = part.tool_call
            if not call.id:
                call.id = f"call_m{i}_p{j}"
            elif call.id in seen:
                out.append(
                    FieldViolation(
                        f"messages[{i}].parts[{j}].tool_call.id", f"duplicate call id {call.id!r}"
                    )
                )
            seen.add(call.id)


def pair_tool_results(messages: list[chat_pb2.Message], out: list[FieldViolation]) -> None:
    """Check and complete tool results in place; append one violation per problem to `out`.

    Results are looked up in the nearest preceding assistant message, by id when the result has
    one, else by name (the first unanswered call of that name). Each call of an assistant message
    that is followed by later messages must be answered exactly once.
    """
    _fill_call_ids(messages, out)
    last_assistant: int | None = None
    pending: dict[str, chat_pb2.ToolCall] = {}
    answered: set[str] = set()

    def close(index: int | None) -> None:
        if index is None:
            return
        for j, part in enumerate(messages[index].parts):
            if part.WhichOneof("kind") == "tool_call" and part.tool_call.id in pending:
                out.append(
                    FieldViolation(
                        f"messages[{index}].parts[{j}].tool_call",
                        f"call {part.tool_call.id!r} ({part.tool_call.name}) has no tool_result"
                        " in the ROLE_TOOL messages that follow it",
                    )
                )

    for i, message in enumerate(messages):
        if message.role == _ASSISTANT:
            close(last_assistant)
            last_assistant = i
            pending = {
                p.tool_call.id: p.tool_call
                for p in message.parts
                if p.WhichOneof("kind") == "tool_call"
            }
            answered = set()
            continue
        for j, part in enumerate(message.parts):
            if part.WhichOneof("kind") != "tool_result":
                continue
            result = part.tool_result
            where = f"messages[{i}].parts[{j}].tool_result"
            if last_assistant is None:
                out.append(
                    FieldViolation(where, "answers no tool call: no assistant turn before it")
                )
                continue
            call = _match(result, pending, answered)
            if call is None:
                key = f"id {result.id!r}" if result.id else f"name {result.name!r}"
                again = result.id in answered if result.id else False
                out.append(
                    FieldViolation(
                        f"{where}.{'id' if result.id else 'name'}",
                        f"{'answers the same call twice' if again else 'matches no tool call'}"
                        f" ({key}) of the preceding assistant message messages[{last_assistant}]",
                    )
                )
                continue
            if result.name and result.name != call.name:
                out.append(
                    FieldViolation(
                        f"{where}.name",
                        f"is {result.name!r} but call {call.id!r} was to {call.name!r}",
                    )
                )
            result.id, result.name = call.id, call.name
            answered.add(call.id)
            pending.pop(call.id, None)
    # The final assistant message may end the conversation with calls still to be answered.
    if last_assistant is not None and last_assistant != len(messages) - 1:
        close(last_assistant)


def _match(
    result: chat_pb2.ToolResult, pending: dict[str, chat_pb2.ToolCall], answered: set[str]
) -> chat_pb2.ToolCall | None:
    if result.id:
        return pending.get(result.id)
    return next((c for c in pending.values() if c.name == result.name), None)
