"""Canned Gemini-shaped payloads shared by the fake upstream and the clients.

Shapes follow shared/reference/vertex-wire.md §3.4 (unary) and §3.5 (SSE).
"""

from __future__ import annotations

import json
from typing import Any

UNARY_PATH = (
    "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
)
STREAM_PATH = (
    "/v1/projects/p/locations/us-central1/publishers/google/models/"
    "gemini-2.5-flash:streamGenerateContent?alt=sse"
)
STREAM_EVENTS = 100
_META = {
    "modelVersion": "gemini-2.5-flash",
    "createTime": "2026-03-10T14:54:45.066123Z",
    "responseId": "tTCwacuEBMvnitYP06qsgQY",
}


def request_body() -> dict[str, Any]:
    """A ~1 KB generateContent request, as the gateway would build it from a gRPC call."""
    return {
        "contents": [
            {"role": "user", "parts": [{"text": "What is the weather like in Paris today? " * 3}]},
            {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                        "thoughtSignature": "CiQBVKhc7" + "x" * 80,
                    }
                ],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "name": "get_weather",
                            "response": {"temperatureC": 18, "sky": "partly cloudy"},
                        }
                    }
                ],
            },
        ],
        "systemInstruction": {"parts": [{"text": "You are a concise weather assistant."}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Current weather for a city.",
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {"city": {"type": "STRING"}},
                            "required": ["city"],
                        },
                    }
                ]
            }
        ],
        "generationConfig": {
            "temperature": 0.7,
            "topP": 0.95,
            "maxOutputTokens": 1024,
            "thinkingConfig": {"thinkingBudget": 1024},
        },
        "safetySettings": [
            {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"},
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_ONLY_HIGH"},
        ],
    }


def unary_reply() -> bytes:
    """A ~1.5 KB generateContent response body."""
    text = "In Paris it is 18 °C and partly cloudy; a light jacket is enough. " * 14
    body = {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": text.strip()}]},
                "finishReason": "STOP",
                "avgLogprobs": -0.12,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 41,
            "candidatesTokenCount": 207,
            "thoughtsTokenCount": 52,
            "totalTokenCount": 300,
            "trafficType": "ON_DEMAND",
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 41}],
            "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 207}],
        },
        **_META,
    }
    return json.dumps(body, ensure_ascii=False).encode()


def stream_events() -> list[bytes]:
    """STREAM_EVENTS SSE events (`data: {json}\\r\\n\\r\\n`); usage only on the last one."""
    events = []
    for i in range(STREAM_EVENTS):
        last = i == STREAM_EVENTS - 1
        cand: dict[str, Any] = {
            "content": {"role": "model", "parts": [{"text": f"token {i:03d} of the answer, "}]}
        }
        usage: dict[str, Any] = {"trafficType": "ON_DEMAND"}
        if last:
            cand["finishReason"] = "STOP"
            usage.update(promptTokenCount=41, candidatesTokenCount=600, totalTokenCount=641)
        chunk = {"candidates": [cand], "usageMetadata": usage, **_META}
        events.append(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\r\n\r\n")
    return events
