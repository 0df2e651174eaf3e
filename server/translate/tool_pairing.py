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


def _fill_call_ids(messages: list[chat_pb2.Message], out: list[FieldViolation]) -> set[str]:
    """Give every call an id; returns the ids made here (their results may only name them)."""
    made: set[str] = set()
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
                made.add(call.id)
            elif call.id in seen:
                out.append(
                    FieldViolation(
                        f"messages[{i}].parts[{j}].tool_call.id", f"duplicate call id {call.id!r}"
                    )
                )
            seen.add(call.id)
    return made


def pair_tool_results(messages: list[chat_pb2.Message], out: list[FieldViolation]) -> None:
    """Check and complete tool results in place; append one violation per problem to `out`.

    Results are looked up in the nearest preceding assistant message: first those that give an
    id, by id, then the others by name (the first unanswered call of that name). A result whose
    id matches nothing still pairs by name with a call the caller sent without an id. Each call
    of an assistant message that is followed by later messages must be answered exactly once.
    """
    made = _fill_call_ids(messages, out)
    starts = [i for i, m in enumerate(messages) if m.role == _ASSISTANT]
    # Results before the first assistant message answer nothing.
    for i, message in enumerate(messages[: starts[0] if starts else len(messages)]):
        for j, part in enumerate(message.parts):
            if part.WhichOneof("kind") == "tool_result":
                out.append(
                    FieldViolation(
                        f"messages[{i}].parts[{j}].tool_result",
                        "answers no tool call: no assistant turn before it",
                    )
                )
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(messages)
        _pair_segment(messages, start, end, made, out)


def _pair_segment(
    messages: list[chat_pb2.Message],
    start: int,
    end: int,
    made: set[str],
    out: list[FieldViolation],
) -> None:
    calls = [
        (j, p.tool_call)
        for j, p in enumerate(messages[start].parts)
        if p.WhichOneof("kind") == "tool_call"
    ]
    pending = {call.id: call for _, call in calls}
    results = [
        (i, j, p.tool_result)
        for i in range(start + 1, end)
        for j, p in enumerate(messages[i].parts)
        if p.WhichOneof("kind") == "tool_result"
    ]
    answered: set[str] = set()
    # Results that give an id claim their call before name-only results pick theirs.
    for i, j, result in sorted(results, key=lambda r: not r[2].id):
        where = f"messages[{i}].parts[{j}].tool_result"
        call = pending.get(result.id) if result.id else None
        if call is None and (not result.id or result.id not in answered):
            call = next(
                (
                    c
                    for c in pending.values()
                    if c.name == (result.name or "") and (not result.id or c.id in made)
                ),
                None,
            )
        if call is None:
            key = f"id {result.id!r}" if result.id else f"name {result.name!r}"
            again = bool(result.id) and result.id in answered
            out.append(
                FieldViolation(
                    f"{where}.{'id' if result.id else 'name'}",
                    f"{'answers the same call twice' if again else 'matches no tool call'}"
                    f" ({key}) of the preceding assistant message messages[{start}]",
                )
            )
            continue
        if result.name and result.name != call.name:
            out.append(
                FieldViolation(
                    f"{where}.name", f"is {result.name!r} but call {call.id!r} was to {call.name!r}"
                )
            )
        result.id, result.name = call.id, call.name
        answered.add(call.id)
        del pending[call.id]
    # The final assistant message may end the conversation with calls still to be answered.
    if end == len(messages) and start == len(messages) - 1:
        return
    for j, call in calls:
        if call.id in pending:
            out.append(
                FieldViolation(
                    f"messages[{start}].parts[{j}].tool_call",
                    f"call {call.id!r} ({call.name}) has no tool_result in the ROLE_TOOL messages"
                    " that follow it",
                )
            )
