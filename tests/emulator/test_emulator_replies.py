"""Deterministic, plausible Gemini replies: unary, SSE, JSON-array streaming, countTokens."""

from __future__ import annotations

import json
from typing import Any

from emu_helpers import API_KEY, Emulator, user_body

from emulator.counting import count_tokens


async def generate(emu: Emulator, body: dict[str, Any], **url: Any) -> dict[str, Any]:
    status, answer, _ = await emu.post(emu.url(**url), body)
    assert status == 200, answer
    result: dict[str, Any] = answer
    return result


async def sse_events(
    emu: Emulator, body: dict[str, Any], **url: Any
) -> tuple[list[dict[str, Any]], str]:
    async with emu.http.post(
        emu.url("streamGenerateContent", **url) + "?alt=sse", json=body, headers=emu.auth()
    ) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        raw = (await resp.read()).decode()
    events = [json.loads(block.removeprefix("data: ")) for block in raw.split("\r\n\r\n") if block]
    return events, raw


def text_of(candidate: dict[str, Any]) -> str:
    return "".join(p.get("text", "") for p in candidate["content"]["parts"] if not p.get("thought"))


async def test_same_request_same_reply(emu: Emulator) -> None:
    first = await generate(emu, user_body())
    second = await generate(emu, user_body())
    for reply in (first, second):
        reply.pop("createTime")
    assert first == second
    other = await generate(emu, user_body("Tell me about owls"))
    assert other["responseId"] != first["responseId"]
    assert text_of(other["candidates"][0]) != text_of(first["candidates"][0])


async def test_reply_shape_and_usage(emu: Emulator) -> None:
    body = user_body("Explain photosynthesis", systemInstruction={"parts": [{"text": "Be brief."}]})
    reply = await generate(emu, body, model="gemini-2.0-flash")
    (candidate,) = reply["candidates"]
    text = text_of(candidate)
    assert "photosynthesis" in text and "emulator" in text
    assert count_tokens(text) >= 24
    assert candidate["finishReason"] == "STOP" and candidate["content"]["role"] == "model"
    usage = reply["usageMetadata"]
    prompt = count_tokens("Explain photosynthesis") + count_tokens("Be brief.")
    assert usage["promptTokenCount"] == prompt
    assert usage["candidatesTokenCount"] == count_tokens(text)
    assert usage["totalTokenCount"] == prompt + count_tokens(text)
    assert "thoughtsTokenCount" not in usage  # gemini-2.0 does not think
    assert usage["trafficType"] == "ON_DEMAND"
    assert usage["promptTokensDetails"] == [{"modality": "TEXT", "tokenCount": prompt}]
    assert usage["candidatesTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": count_tokens(text)}
    ]
    assert reply["modelVersion"] == "gemini-2.0-flash-001"
    assert reply["createTime"].endswith("Z") and reply["responseId"]


async def test_max_output_tokens(emu: Emulator) -> None:
    full = text_of((await generate(emu, user_body()))["candidates"][0])
    reply = await generate(emu, user_body(generationConfig={"maxOutputTokens": 5}))
    (candidate,) = reply["candidates"]
    assert candidate["finishReason"] == "MAX_TOKENS"
    assert count_tokens(text_of(candidate)) == 5
    assert full.startswith(text_of(candidate))
    assert reply["usageMetadata"]["candidatesTokenCount"] == 5


async def test_stop_sequences(emu: Emulator) -> None:
    full = text_of((await generate(emu, user_body()))["candidates"][0])
    reply = await generate(emu, user_body(generationConfig={"stopSequences": ["emulator"]}))
    (candidate,) = reply["candidates"]
    cut = text_of(candidate)
    assert candidate["finishReason"] == "STOP"
    assert "emulator" not in cut and full.startswith(cut) and len(cut) < len(full)


async def test_candidate_count(emu: Emulator) -> None:
    reply = await generate(emu, user_body(generationConfig={"candidateCount": 3}))
    candidates = reply["candidates"]
    assert [c.get("index", 0) for c in candidates] == [0, 1, 2]
    texts = {text_of(c) for c in candidates}
    assert len(texts) == 3
    assert reply["usageMetadata"]["candidatesTokenCount"] == sum(count_tokens(t) for t in texts)


async def test_safety_trigger(emu: Emulator) -> None:
    reply = await generate(emu, user_body("please say EMULATOR_UNSAFE now"))
    (candidate,) = reply["candidates"]
    assert candidate["finishReason"] == "SAFETY"
    assert "content" not in candidate
    blocked = [r for r in candidate["safetyRatings"] if r.get("blocked")]
    assert blocked and blocked[0]["probability"] == "HIGH"
    assert "candidatesTokenCount" not in reply["usageMetadata"]


async def test_blocked_prompt(emu: Emulator) -> None:
    reply = await generate(emu, user_body("EMULATOR_BLOCK_PROMPT"))
    assert "candidates" not in reply
    assert reply["promptFeedback"]["blockReason"] == "PROHIBITED_CONTENT"
    usage = reply["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] > 0


async def test_thinking_parts(emu: Emulator) -> None:
    body = user_body(generationConfig={"thinkingConfig": {"includeThoughts": True}})
    reply = await generate(emu, body, model="gemini-2.5-pro")
    thought, answer = reply["candidates"][0]["content"]["parts"]
    assert thought["thought"] is True and thought["text"]
    assert "thought" not in answer and answer["thoughtSignature"]
    usage = reply["usageMetadata"]
    assert usage["thoughtsTokenCount"] == count_tokens(thought["text"])
    assert usage["totalTokenCount"] == (
        usage["promptTokenCount"] + usage["candidatesTokenCount"] + usage["thoughtsTokenCount"]
    )


async def test_thinking_budget_caps_thought_tokens(emu: Emulator) -> None:
    body = user_body(generationConfig={"thinkingConfig": {"thinkingBudget": 7}})
    reply = await generate(emu, body, model="gemini-2.5-flash")
    assert reply["usageMetadata"]["thoughtsTokenCount"] == 7
    assert all(not p.get("thought") for p in reply["candidates"][0]["content"]["parts"])


async def test_thinking_off_with_zero_budget(emu: Emulator) -> None:
    body = user_body(generationConfig={"thinkingConfig": {"thinkingBudget": 0}})
    reply = await generate(emu, body, model="gemini-2.5-flash")
    assert "thoughtsTokenCount" not in reply["usageMetadata"]


async def test_sse_stream(emu: Emulator) -> None:
    unary = await generate(emu, user_body())
    events, raw = await sse_events(emu, user_body())
    assert len(events) >= 3
    assert raw.startswith("data: ") and raw.endswith("\r\n\r\n")
    for event in events[:-1]:
        assert event["usageMetadata"] == {"trafficType": "ON_DEMAND"}
        assert "finishReason" not in event["candidates"][0]
    last = events[-1]
    assert last["candidates"][0]["finishReason"] == "STOP"
    expected_usage = unary["usageMetadata"]
    assert last["usageMetadata"] == expected_usage
    assert {e["responseId"] for e in events} == {unary["responseId"]}
    assert len({e["createTime"] for e in events}) == 1
    assert {e["modelVersion"] for e in events} == {unary["modelVersion"]}
    streamed = "".join(text_of(e["candidates"][0]) for e in events)
    assert streamed == text_of(unary["candidates"][0])


async def test_sse_stream_with_thinking(emu: Emulator) -> None:
    body = user_body(generationConfig={"thinkingConfig": {"includeThoughts": True}})
    unary = await generate(emu, body)
    events, _ = await sse_events(emu, body)
    first_parts = events[0]["candidates"][0]["content"]["parts"]
    assert first_parts[0]["thought"] is True
    last_parts = events[-1]["candidates"][0]["content"]["parts"]
    assert last_parts == [
        {
            "text": "",
            "thoughtSignature": unary["candidates"][0]["content"]["parts"][1]["thoughtSignature"],
        }
    ]
    streamed = "".join(text_of(e["candidates"][0]) for e in events)
    assert streamed == text_of(unary["candidates"][0])


async def test_sse_stream_with_several_candidates(emu: Emulator) -> None:
    body = user_body(generationConfig={"candidateCount": 2})
    unary = await generate(emu, body)
    events, _ = await sse_events(emu, body)
    for index in (0, 1):
        streamed = "".join(
            text_of(c) for e in events for c in e["candidates"] if c.get("index", 0) == index
        )
        assert streamed == text_of(unary["candidates"][index])
    assert {c.get("index", 0) for c in events[-1]["candidates"]} == {0, 1}


async def test_json_array_stream(emu: Emulator) -> None:
    unary = await generate(emu, user_body())
    async with emu.http.post(
        emu.url("streamGenerateContent"), json=user_body(), headers=emu.auth()
    ) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json; charset=UTF-8"
        raw = (await resp.read()).decode()
    assert raw.startswith("[{") and "\n,\r\n" in raw and raw.endswith("\n]")
    chunks = json.loads(raw)
    assert len(chunks) >= 3
    assert "".join(text_of(c["candidates"][0]) for c in chunks) == text_of(unary["candidates"][0])
    assert chunks[-1]["usageMetadata"] == unary["usageMetadata"]


async def test_count_tokens_agrees_with_generation(emu: Emulator) -> None:
    body = user_body(
        "Count these words, please.",
        systemInstruction={"parts": [{"text": "System text."}]},
    )
    body["contents"][0]["parts"].append(
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    )
    status, counted, _ = await emu.post(emu.url("countTokens"), body)
    assert status == 200
    reply = await generate(emu, body)
    assert counted["totalTokens"] == reply["usageMetadata"]["promptTokenCount"]
    text_tokens = count_tokens("Count these words, please.") + count_tokens("System text.")
    assert counted["promptTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": text_tokens},
        {"modality": "IMAGE", "tokenCount": 258},
    ]
    assert counted["totalBillableCharacters"] == len("Countthesewords,please.") + len("Systemtext.")


async def test_v1beta1_and_express_mode(emu: Emulator) -> None:
    beta = await generate(emu, user_body(), version="v1beta1")
    status, express, _ = await emu.post(
        emu.url(express=True), user_body(), {"x-goog-api-key": API_KEY}
    )
    assert status == 200
    assert text_of(beta["candidates"][0]) == text_of(express["candidates"][0])


async def test_function_response_turn_gets_a_reply(emu: Emulator) -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {
                "role": "model",
                "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"output": 18}}}
                ],
            },
        ]
    }
    reply = await generate(emu, body)
    assert "get_weather" in text_of(reply["candidates"][0])
