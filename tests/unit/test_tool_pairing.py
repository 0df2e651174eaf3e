"""Tool results are paired with the calls they answer, by id or by name, or refused."""

from typing import Any

import pytest
from google.protobuf import json_format
from vertex_gateway.v1 import chat_pb2

from server.errors import FieldViolation
from server.translate.tool_pairing import pair_tool_results


def conversation(*messages: dict[str, Any]) -> list[chat_pb2.Message]:
    return [json_format.ParseDict(m, chat_pb2.Message()) for m in messages]


def user(text: str) -> dict[str, Any]:
    return {"role": "ROLE_USER", "parts": [{"text": text}]}


def calls(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {
        "role": "ROLE_ASSISTANT",
        "parts": [{"toolCall": {"id": i, "name": n, "arguments": {}}} for i, n in pairs],
    }


def results(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {
        "role": "ROLE_TOOL",
        "parts": [{"toolResult": {"id": i, "name": n, "output": "ok"}} for i, n in pairs],
    }


def pair(messages: list[chat_pb2.Message]) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    pair_tool_results(messages, out)
    return out


def test_results_by_id_or_by_name_are_completed() -> None:
    messages = conversation(
        user("go"),
        calls(("a1", "f"), ("a2", "g"), ("a3", "f")),
        results(("a2", ""), ("", "f"), ("", "f")),
    )
    assert pair(messages) == []
    got = [(p.tool_result.id, p.tool_result.name) for p in messages[2].parts]
    assert got == [("a2", "g"), ("a1", "f"), ("a3", "f")]


def test_results_may_be_split_over_several_tool_messages() -> None:
    messages = conversation(
        user("go"), calls(("a1", "f"), ("a2", "g")), results(("a1", "")), results(("a2", ""))
    )
    assert pair(messages) == []


def test_calls_without_ids_get_one() -> None:
    messages = conversation(user("go"), calls(("", "f")), results(("", "f")))
    assert pair(messages) == []
    assert messages[1].parts[0].tool_call.id == messages[2].parts[0].tool_result.id != ""


@pytest.mark.parametrize(
    ("messages", "field", "words"),
    [
        ([user("go"), results(("x", "f"))], "messages[1].parts[0].tool_result", "no assistant turn"),
        ([user("go"), calls(("a1", "f")), results(("zz", ""))], "messages[2].parts[0].tool_result.id", "matches no tool call"),
        ([user("go"), calls(("a1", "f")), results(("", "h"))], "messages[2].parts[0].tool_result.name", "matches no tool call"),
        ([user("go"), calls(("a1", "f")), results(("a1", ""), ("a1", ""))], "messages[2].parts[1].tool_result.id", "twice"),
        ([user("go"), calls(("a1", "f")), results(("a1", "g"))], "messages[2].parts[0].tool_result.name", "was to 'f'"),
        ([user("go"), calls(("a1", "f"), ("a2", "f")), results(("a1", "")), user("and?")], "messages[1].parts[1].tool_call", "no tool_result"),
        ([user("go"), calls(("a1", "f"), ("a1", "g"))], "messages[1].parts[1].tool_call.id", "duplicate"),
    ],
)  # fmt: skip
def test_problems_name_the_part(messages: list[dict[str, Any]], field: str, words: str) -> None:
    found = pair(conversation(*messages))
    assert found and found[0].field == field and words in found[0].description


def test_a_final_assistant_turn_may_leave_calls_unanswered() -> None:
    assert pair(conversation(user("go"), calls(("a1", "f")))) == []


def test_results_with_ids_claim_their_calls_before_name_only_results() -> None:
    messages = conversation(
        user("go"), calls(("a", "f"), ("b", "f")), results(("", "f"), ("a", ""))
    )
    assert pair(messages) == []
    assert [p.tool_result.id for p in messages[2].parts] == ["b", "a"]


def test_a_result_id_for_a_call_sent_without_one_pairs_by_name() -> None:
    # The caller stripped the call's id from history but kept it on the result.
    messages = conversation(user("go"), calls(("", "f")), results(("toolu_1", "f")))
    assert pair(messages) == []
    assert messages[2].parts[0].tool_result.id == messages[1].parts[0].tool_call.id
