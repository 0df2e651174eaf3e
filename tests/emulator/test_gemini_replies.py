"""Gemini reply triggers (safety, malformed calls, every finish reason), Google Search grounding,
citations and cached content."""

from __future__ import annotations

import pytest
from emu_helpers import Emulator
from test_gemini_helpers import (
    answer_text,
    declare,
    generate,
    json_stream,
    reject,
    sse,
    user,
)

from emulator.counting import count_tokens
from emulator.gemini import finish_reasons
from emulator.rules import RuleContext, check

KEEPS_TEXT = {"STOP", "OTHER", "CONTINUATION", "FINISH_REASON_UNSPECIFIED", "MAX_TOKENS"}
CALL_REASONS = {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"}
CACHE = "projects/test-project/locations/us-central1/cachedContents/123"


async def test_unsafe_unary_has_no_content(emu: Emulator) -> None:
    reply = await generate(emu, {"contents": [user("say EMULATOR_UNSAFE")]})
    (candidate,) = reply["candidates"]
    assert candidate["finishReason"] == "SAFETY" and "content" not in candidate
    assert any(r.get("blocked") for r in candidate["safetyRatings"])


async def test_unsafe_stream_sends_some_text_then_stops(emu: Emulator) -> None:
    body = {"contents": [user("say EMULATOR_UNSAFE")]}
    for events in (await sse(emu, body), await json_stream(emu, body)):
        *texts, last = events
        assert texts and all(answer_text(e["candidates"][0]) for e in texts)
        assert all("finishReason" not in e["candidates"][0] for e in texts)
        final = last["candidates"][0]
        assert final["finishReason"] == "SAFETY" and "content" not in final
        assert any(r.get("blocked") for r in final["safetyRatings"])
        partial = "".join(answer_text(e["candidates"][0]) for e in texts)
        assert last["usageMetadata"]["candidatesTokenCount"] == count_tokens(partial)


async def test_malformed_call(emu: Emulator) -> None:
    weather = {"name": "get_weather"}
    body = {"contents": [user("EMULATOR_MALFORMED_CALL")], "tools": declare(weather)}
    reply = await generate(emu, body)
    (candidate,) = reply["candidates"]
    assert candidate["finishReason"] == "MALFORMED_FUNCTION_CALL" and "content" not in candidate
    assert candidate["finishMessage"].startswith("Malformed function call: ")
    assert "get_weather" in candidate["finishMessage"]
    events = await sse(emu, body)
    assert len(events) == 1 and events[0]["candidates"] == reply["candidates"]


@pytest.mark.parametrize("reason", finish_reasons())
async def test_every_finish_reason_can_be_produced(emu: Emulator, reason: str) -> None:
    body = {"contents": [user(f"please EMULATOR_FINISH_{reason} now")]}
    reply = await generate(emu, body)
    (candidate,) = reply["candidates"]
    assert candidate["finishReason"] == reason
    if reason in KEEPS_TEXT:
        assert answer_text(candidate)
    else:
        assert "content" not in candidate
    if reason == "SAFETY":
        assert candidate["safetyRatings"]
    if reason == "RECITATION":
        assert candidate["citationMetadata"]["citations"]
    events = await sse(emu, body)
    assert events[-1]["candidates"][0]["finishReason"] == reason
    if reason not in KEEPS_TEXT and reason not in CALL_REASONS:
        assert answer_text(events[0]["candidates"][0])  # partial text before the stop


async def test_finish_max_tokens_cuts_the_text(emu: Emulator) -> None:
    full = answer_text((await generate(emu, {"contents": [user("owls")]}))["candidates"][0])
    reply = await generate(emu, {"contents": [user("owls EMULATOR_FINISH_MAX_TOKENS")]})
    cut = answer_text(reply["candidates"][0])
    assert 0 < count_tokens(cut) < count_tokens(full)


async def test_unknown_finish_reason_is_just_text(emu: Emulator) -> None:
    reply = await generate(emu, {"contents": [user("EMULATOR_FINISH_BANANA")]})
    assert reply["candidates"][0]["finishReason"] == "STOP"


async def test_google_search_grounding(emu: Emulator) -> None:
    body = {"contents": [user("Who won the match?")], "tools": [{"googleSearch": {}}]}
    reply = await generate(emu, body)
    (candidate,) = reply["candidates"]
    text = answer_text(candidate)
    grounding = candidate["groundingMetadata"]
    assert grounding["webSearchQueries"] == ["Who won the match?"]
    assert "<div" in grounding["searchEntryPoint"]["renderedContent"]
    chunks = grounding["groundingChunks"]
    assert chunks and all({"uri", "title", "domain"} <= set(c["web"]) for c in chunks)
    encoded = text.encode("utf-8")
    for support in grounding["groundingSupports"]:
        segment = support["segment"]
        start = segment.get("startIndex", 0)
        assert encoded[start : segment["endIndex"]].decode() == segment["text"]
        assert all(0 <= i < len(chunks) for i in support["groundingChunkIndices"])
        assert len(support["confidenceScores"]) == len(support["groundingChunkIndices"])
    usage = reply["usageMetadata"]
    assert usage["toolUsePromptTokenCount"] > 0
    assert usage["totalTokenCount"] == (
        usage["promptTokenCount"]
        + usage["candidatesTokenCount"]
        + usage["thoughtsTokenCount"]
        + usage["toolUsePromptTokenCount"]
    )
    events = await sse(emu, body)
    assert events[-1]["candidates"][0]["groundingMetadata"] == grounding
    assert all("groundingMetadata" not in e["candidates"][0] for e in events[:-1])
    assert events[-1]["usageMetadata"] == usage


async def test_citations_trigger(emu: Emulator) -> None:
    reply = await generate(emu, {"contents": [user("quote it EMULATOR_CITE")]})
    (citation,) = reply["candidates"][0]["citationMetadata"]["citations"]
    text = answer_text(reply["candidates"][0])
    assert 0 < citation["endIndex"] <= len(text.encode("utf-8"))
    assert citation["uri"].startswith("https://") and citation["publicationDate"]["year"]


async def test_cached_content_usage(emu: Emulator) -> None:
    reply = await generate(
        emu, {"contents": [user("Summarise the cached report")], "cachedContent": CACHE}
    )
    usage = reply["usageMetadata"]
    assert 0 < usage["cachedContentTokenCount"] <= usage["promptTokenCount"]
    assert usage["cacheTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": usage["cachedContentTokenCount"]}
    ]


@pytest.mark.parametrize(
    "name",
    ["cachedContents/123", "projects/p/locations/l/cachedContent/1", "projects/p/cachedContents/1"],
)
async def test_cached_content_name_must_be_a_resource(emu: Emulator, name: str) -> None:
    message = await reject(emu, {"contents": [user("x")], "cachedContent": name})
    assert message == (
        f"The CachedContent name `{name}` is malformed and it should be in form of "
        "projects/{project}/locations/{location}/cachedContents/{cached_content}"
    )


async def test_cached_content_leaves_tools_to_the_cache(emu: Emulator) -> None:
    body = {
        "contents": [user("x")],
        "cachedContent": CACHE,
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
    }
    assert await reject(emu, body) == (
        "CachedContent can not be used with GenerateContent request setting system_instruction, "
        "tools or tool_config. Proposed fix: move those values to CachedContent from "
        "GenerateContent request."
    )


def test_cached_content_must_match_the_url_project_and_location() -> None:
    body = {"contents": [user("x")], "cachedContent": CACHE}
    same = RuleContext(
        version="v1", method="generateContent", project="test-project", location="us-central1"
    )
    assert check(body, same) == []
    other = RuleContext(
        version="v1", method="generateContent", project="test-project", location="europe-west4"
    )
    (violation,) = check(body, other)
    assert violation.field == "cached_content"
    assert "not in the project and location of the request" in violation.description
