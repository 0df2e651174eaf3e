"""Helpers shared by the ``test_gemini_*`` modules (this module holds no tests)."""

from __future__ import annotations

import json
from typing import Any

from emu_helpers import Emulator

from emulator.discovery import document

GEMINI_DOCS = (
    "Learn more: https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini"
)


def user(text: str) -> dict[str, Any]:
    """A plain user text turn."""
    return {"role": "user", "parts": [{"text": text}]}


def declare(*declarations: dict[str, Any]) -> list[dict[str, Any]]:
    """``tools`` with one tool holding these function declarations."""
    return [{"functionDeclarations": list(declarations)}]


async def generate(
    emu: Emulator, body: dict[str, Any], model: str = "gemini-2.5-flash", **url: Any
) -> dict[str, Any]:
    """``:generateContent`` that must succeed; the reply must fit Vertex's response schema."""
    status, answer, _ = await emu.post(emu.url(model=model, **url), body)
    assert status == 200, answer
    assert_response_schema(answer)
    result: dict[str, Any] = answer
    return result


async def sse(
    emu: Emulator, body: dict[str, Any], model: str = "gemini-2.5-flash"
) -> list[dict[str, Any]]:
    """``:streamGenerateContent?alt=sse`` events (each checked against the response schema)."""
    url = emu.url("streamGenerateContent", model=model) + "?alt=sse"
    async with emu.http.post(url, json=body, headers=emu.auth()) as resp:
        raw = (await resp.read()).decode()
        assert resp.status == 200, raw
    events = [json.loads(block.removeprefix("data: ")) for block in raw.split("\r\n\r\n") if block]
    for event in events:
        assert_response_schema(event)
    return events


async def json_stream(
    emu: Emulator, body: dict[str, Any], model: str = "gemini-2.5-flash"
) -> list[dict[str, Any]]:
    """``:streamGenerateContent`` without ``alt``: the JSON-array form."""
    url = emu.url("streamGenerateContent", model=model)
    async with emu.http.post(url, json=body, headers=emu.auth()) as resp:
        raw = (await resp.read()).decode()
        assert resp.status == 200, raw
    chunks: list[dict[str, Any]] = json.loads(raw)
    return chunks


async def reject(
    emu: Emulator, body: Any, model: str = "gemini-2.5-flash", method: str = "generateContent"
) -> str:
    """Post a body Vertex refuses: 400 INVALID_ARGUMENT in Google's shape; returns the message."""
    status, answer, resp = await emu.post(emu.url(method, model=model), body)
    assert status == 400, answer
    assert resp.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert set(answer) == {"error"}
    assert answer["error"]["code"] == 400 and answer["error"]["status"] == "INVALID_ARGUMENT"
    message: str = answer["error"]["message"]
    return message


def assert_response_schema(reply: dict[str, Any]) -> None:
    """Every field name and enum value of a reply exists in the v1 discovery document."""
    result = document("v1").validate(
        "GoogleCloudAiplatformV1GenerateContentResponse", reply, lenient_names=False
    )
    assert result.errors == [], result.errors


def parts_of(reply: dict[str, Any], index: int = 0) -> list[dict[str, Any]]:
    """The content parts of candidate ``index`` of a unary reply."""
    parts: list[dict[str, Any]] = reply["candidates"][index]["content"]["parts"]
    return parts


def answer_text(candidate: dict[str, Any]) -> str:
    """Non-thought text of a candidate (empty when it has no content)."""
    content = candidate.get("content") or {}
    return "".join(p.get("text", "") for p in content.get("parts", []) if not p.get("thought"))


def streamed_text(events: list[dict[str, Any]]) -> str:
    """Concatenated non-thought text of candidate 0 over a stream."""
    return "".join(answer_text(e["candidates"][0]) for e in events if e.get("candidates"))
