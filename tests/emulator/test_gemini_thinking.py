"""Thinking: thought parts, thinkingConfig validation per model, and thought signatures."""

from __future__ import annotations

from typing import Any

import pytest
from emu_helpers import Emulator
from test_gemini_helpers import (
    GEMINI_DOCS,
    declare,
    generate,
    json_stream,
    parts_of,
    reject,
    sse,
    streamed_text,
    user,
)

from emulator.counting import count_tokens
from emulator.gemini_signatures import SKIP_VALIDATOR
from emulator.rules import RuleContext, check

SIGNATURES_DOCS = (
    "Learn more: https://docs.cloud.google.com/vertex-ai/generative-ai/docs/thought-signatures"
)
INVALID_SIGNATURE = (
    f"Unable to submit request because Thought signature is not valid.. {GEMINI_DOCS}"
)
WEATHER = {
    "name": "get_weather",
    "parametersJsonSchema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def thinking(**config: Any) -> dict[str, Any]:
    return {"thinkingConfig": config}


async def test_thought_part_comes_first_and_is_counted(emu: Emulator) -> None:
    body = {
        "contents": [user("Why is the sky blue?")],
        "generationConfig": thinking(includeThoughts=True),
    }
    reply = await generate(emu, body, model="gemini-3-flash-preview")
    thought, answer = parts_of(reply)
    assert thought["thought"] is True and thought["text"]
    assert answer["thoughtSignature"] and "thought" not in answer
    usage = reply["usageMetadata"]
    assert usage["thoughtsTokenCount"] == count_tokens(thought["text"]) > 0
    for events in (
        await sse(emu, body, "gemini-3-flash-preview"),
        await json_stream(emu, body, "gemini-3-flash-preview"),
    ):
        assert events[0]["candidates"][0]["content"]["parts"] == [thought]
        assert streamed_text(events) == answer["text"]
        assert events[-1]["candidates"][0]["content"]["parts"] == [
            {"text": "", "thoughtSignature": answer["thoughtSignature"]}
        ]


async def test_thinking_models_sign_text_replies_without_include_thoughts(emu: Emulator) -> None:
    reply = await generate(emu, {"contents": [user("hello")]})
    (answer,) = parts_of(reply)
    assert answer["thoughtSignature"]
    assert reply["usageMetadata"]["thoughtsTokenCount"] > 0


@pytest.mark.parametrize(
    ("model", "config"),
    [("gemini-2.0-flash", {}), ("gemini-2.5-flash", thinking(thinkingBudget=0))],
)
async def test_no_thinking_no_signature(emu: Emulator, model: str, config: dict[str, Any]) -> None:
    reply = await generate(emu, {"contents": [user("hello")], "generationConfig": config}, model)
    assert all("thoughtSignature" not in p for p in parts_of(reply))
    assert "thoughtsTokenCount" not in reply["usageMetadata"]


async def test_thinking_level_on_gemini_3(emu: Emulator) -> None:
    body = {"contents": [user("hello")], "generationConfig": thinking(thinkingLevel="LOW")}
    reply = await generate(emu, body, model="gemini-3-pro-preview")
    assert reply["usageMetadata"]["thoughtsTokenCount"] > 0


BUDGET_CASES = [
    ("gemini-2.5-pro", 0, "The model does not support setting thinking_budget to 0."),
    (
        "gemini-2.5-pro",
        127,
        "thinking_budget is out of range; supported values are integers from 128 to 32768",
    ),
    (
        "gemini-2.5-pro",
        32769,
        "thinking_budget is out of range; supported values are integers from 128 to 32768",
    ),
    (
        "gemini-2.5-flash",
        24577,
        "thinking_budget is out of range; supported values are integers from 1 to 24576",
    ),
    (
        "gemini-2.5-flash",
        -2,
        "thinking_budget is out of range; supported values are integers from 1 to 24576",
    ),
    (
        "gemini-2.5-flash-lite",
        100,
        "thinking_budget is out of range; supported values are integers from 512 to 24576",
    ),
    ("gemini-3-pro-preview", 0, "The model does not support setting thinking_budget to 0."),
    ("gemini-2.0-flash", 1024, "Thinking is not supported by this model."),
]


@pytest.mark.parametrize(("model", "budget", "reason"), BUDGET_CASES)
async def test_thinking_budget_out_of_range(
    emu: Emulator, model: str, budget: int, reason: str
) -> None:
    body = {"contents": [user("hello")], "generationConfig": thinking(thinkingBudget=budget)}
    expected = f"Unable to submit request because {reason}. {GEMINI_DOCS}"
    assert await reject(emu, body, model=model) == expected
    assert await reject_stream(emu, body, model) == expected


async def reject_stream(emu: Emulator, body: dict[str, Any], model: str) -> str:
    url = emu.url("streamGenerateContent", model=model) + "?alt=sse"
    async with emu.http.post(url, json=body, headers=emu.auth()) as resp:
        answer = await resp.json()
        assert resp.status == 400
    message: str = answer["error"]["message"]
    return message


@pytest.mark.parametrize(
    ("model", "budget"),
    [
        ("gemini-2.5-pro", 128),
        ("gemini-2.5-pro", 32768),
        ("gemini-2.5-pro", -1),
        ("gemini-2.5-flash", 0),
        ("gemini-2.5-flash", 24576),
        ("gemini-2.5-flash-lite", 0),
        ("gemini-2.5-flash-lite", 512),
        ("gemini-3-pro-preview", -1),
        ("gemini-2.0-flash", 0),
    ],
)
async def test_thinking_budget_in_range(emu: Emulator, model: str, budget: int) -> None:
    body = {"contents": [user("hello")], "generationConfig": thinking(thinkingBudget=budget)}
    await generate(emu, body, model=model)


async def test_thinking_level_rules(emu: Emulator) -> None:
    body = {"contents": [user("hello")], "generationConfig": thinking(thinkingLevel="HIGH")}
    assert await reject(emu, body, model="gemini-2.5-flash") == (
        f"Unable to submit request because Thinking level is not supported for this model.. {GEMINI_DOCS}"
    )
    body["generationConfig"] = thinking(thinkingLevel="MINIMAL")
    assert await reject(emu, body, model="gemini-3-pro-preview") == (
        f"Unable to submit request because Thinking level MINIMAL is not supported for this model.. {GEMINI_DOCS}"
    )
    await generate(emu, body, model="gemini-3-flash-preview")
    body["generationConfig"] = thinking(thinkingLevel="LOW", thinkingBudget=1024)
    assert "`thinking_level` and `thinking_budget` are both set" in await reject(
        emu, body, model="gemini-3-flash-preview"
    )


async def test_include_thoughts_needs_a_thinking_model(emu: Emulator) -> None:
    body = {"contents": [user("hello")], "generationConfig": thinking(includeThoughts=True)}
    assert await reject(emu, body, model="gemini-2.0-flash-001") == (
        "Unable to submit request because Thinking_config.include_thoughts is only enabled when "
        f"thinking is enabled.. {GEMINI_DOCS}"
    )


def model_turn(reply: dict[str, Any]) -> dict[str, Any]:
    """The reply's content as history (as a client sends it back)."""
    content: dict[str, Any] = reply["candidates"][0]["content"]
    return content


async def call_round(emu: Emulator, model: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    body = {"contents": [user("get_weather in Paris")], "tools": declare(WEATHER)}
    reply = await generate(emu, body, model=model)
    result = {
        "role": "user",
        "parts": [{"functionResponse": {"name": "get_weather", "response": {"output": 18}}}],
    }
    return body, [*body["contents"], model_turn(reply), result]


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-3-pro-preview"])
async def test_signed_history_round_trips(emu: Emulator, model: str) -> None:
    body, contents = await call_round(emu, model)
    assert contents[1]["parts"][0]["thoughtSignature"]
    follow = await generate(emu, {**body, "contents": contents}, model=model)
    text_turn = model_turn(follow)
    assert "get_weather result" in text_turn["parts"][0]["text"]
    # the whole conversation, including the signed text answer, goes back again
    await generate(emu, {**body, "contents": [*contents, text_turn, user("thanks")]}, model=model)


async def test_streamed_signature_carrier_round_trips(emu: Emulator) -> None:
    body = {"contents": [user("Tell me a story")]}
    events = await sse(emu, body)
    text = streamed_text(events)
    carrier = events[-1]["candidates"][0]["content"]["parts"][0]
    assert carrier["text"] == "" and carrier["thoughtSignature"]
    as_streamed = {"role": "model", "parts": [{"text": text}, carrier]}
    merged = {
        "role": "model",
        "parts": [{"text": text, "thoughtSignature": carrier["thoughtSignature"]}],
    }
    for turn in (as_streamed, merged):
        await generate(emu, {"contents": [user("Tell me a story"), turn, user("more")]})


async def test_tampered_or_moved_signatures_are_invalid(emu: Emulator) -> None:
    body, contents = await call_round(emu, "gemini-2.5-flash")
    call_part = contents[1]["parts"][0]
    edited = {**call_part, "functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}
    tampered = {**call_part, "thoughtSignature": call_part["thoughtSignature"][:-2] + "AA"}
    for part in (edited, tampered):
        broken = [contents[0], {"role": "model", "parts": [part]}, contents[2]]
        assert await reject(emu, {**body, "contents": broken}) == INVALID_SIGNATURE
    # a text signature moved to another turn no longer fits that turn's text
    reply = await generate(emu, {"contents": [user("first question")]})
    signature = parts_of(reply)[0]["thoughtSignature"]
    moved = {
        "role": "model",
        "parts": [{"text": "Some other answer.", "thoughtSignature": signature}],
    }
    assert await reject(emu, {"contents": [user("q"), moved, user("and?")]}) == INVALID_SIGNATURE


async def test_foreign_signatures(emu: Emulator) -> None:
    _, contents = await call_round(emu, "gemini-2.5-flash")
    foreign = [
        contents[0],
        {
            "role": "model",
            "parts": [{**contents[1]["parts"][0], "thoughtSignature": "CiQBVKhc7w=="}],
        },
        contents[2],
    ]
    body = {"contents": foreign, "tools": declare(WEATHER)}
    await generate(emu, body)  # Gemini 2.5 does not enforce signatures
    assert await reject(emu, body, model="gemini-3-flash-preview") == INVALID_SIGNATURE
    foreign[1]["parts"][0]["thoughtSignature"] = SKIP_VALIDATOR  # Vertex's documented dummy
    await generate(emu, body, model="gemini-3-flash-preview")


async def test_gemini_3_requires_signatures_in_the_current_turn(emu: Emulator) -> None:
    _, contents = await call_round(emu, "gemini-3-pro-preview")
    unsigned = {
        "role": "model",
        "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
    }
    body = {"contents": [contents[0], unsigned, contents[2]], "tools": declare(WEATHER)}
    expected = (
        "Unable to submit request because function call `default_api:get_weather` in the 2. "
        f"content block is missing a `thought_signature`. {SIGNATURES_DOCS}"
    )
    assert await reject(emu, body, model="gemini-3-pro-preview") == expected
    await generate(emu, body, model="gemini-2.5-pro")  # 2.5 does not require them
    # an unsigned call in an earlier turn (before the last plain user text) is tolerated
    older = {
        "contents": [
            *body["contents"],
            {"role": "model", "parts": [{"text": "18 degrees."}]},
            user("thanks"),
        ],
        "tools": declare(WEATHER),
    }
    await generate(emu, older, model="gemini-3-pro-preview")
    # parallel calls: only the first call of a turn carries (and needs) the signature
    clock = {"name": "get_time"}
    tools = declare(WEATHER, clock)
    first = {"contents": [user("get_weather and get_time")], "tools": tools}
    reply = await generate(emu, first, model="gemini-3-pro-preview")
    one, two = parts_of(reply)
    assert "thoughtSignature" in one and "thoughtSignature" not in two
    results = {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": n, "response": {"output": 1}}}
            for n in ("get_weather", "get_time")
        ],
    }
    contents = [*first["contents"], model_turn(reply), results]
    await generate(emu, {"contents": contents, "tools": tools}, model="gemini-3-pro-preview")


async def test_signatures_only_checked_on_generate(emu: Emulator) -> None:
    moved = {
        "role": "model",
        "parts": [
            {"text": "x", "thoughtSignature": "RU1VAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
        ],
    }
    body = {"contents": [user("q"), moved, user("and?")]}
    status, _, _ = await emu.post(emu.url("countTokens"), body)
    assert status == 200
    assert await reject(emu, body) == INVALID_SIGNATURE


def test_model_rules_run_in_rules_when_the_model_is_known() -> None:
    body = {"contents": [user("hello")], "generationConfig": thinking(thinkingBudget=0)}
    ctx = RuleContext(version="v1", method="generateContent", model_id="gemini-2.5-pro")
    (violation,) = check(body, ctx)
    assert "thinking_budget to 0" in violation.description and not violation.parse_level
    assert check(body, RuleContext(version="v1", method="generateContent")) == []
