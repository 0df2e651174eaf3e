"""Reading the prompt of a chat-completions body: message text, media parts and token counts
(shared by the rules and the reply planner)."""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from collections.abc import Iterator
from typing import Any

from emulator.counting import MEDIA_TOKENS, count_tokens
from emulator.gemini import canonical_json

_DATA_URL = re.compile(r"^data:(?P<mime>[^;,]+);base64,(?P<data>.*)$", re.DOTALL)


def decode_data_url(url: str) -> tuple[str, bytes] | None:
    """``(mime type, bytes)`` of a ``data:<mime>;base64,<data>`` URL, or None if it is not one."""
    match = _DATA_URL.match(url)
    if match is None:
        return None
    try:
        data = base64.b64decode(match.group("data"), validate=True)
    except (binascii.Error, ValueError):
        return match.group("mime").lower(), b""
    return match.group("mime").lower(), data


def content_parts(message: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The parts of a message whose content is a list."""
    content = message.get("content")
    if isinstance(content, list):
        for j, part in enumerate(content):
            if isinstance(part, dict):
                yield j, part


def text_of(content: Any) -> str:
    """The text of a message ``content`` (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return ""


def media_type(part: dict[str, Any]) -> str | None:
    kind = part.get("type")
    if kind == "image_url":
        url = str(part.get("image_url", {}).get("url", ""))
        decoded = decode_data_url(url)
        if decoded is not None:
            return decoded[0]
        guessed = mimetypes.guess_type(url.split("?", 1)[0])[0]
        return guessed if guessed and guessed.startswith("image/") else "image/*"
    if kind == "file":
        return "application/pdf"
    if kind == "input_audio":
        fmt = part.get("input_audio", {}).get("format")
        return "audio/mpeg" if fmt == "mp3" else f"audio/{fmt}"
    return None


def count_prompt_tokens(body: dict[str, Any]) -> int:
    """Every message's text and tool calls, media at a flat rate, tools and output schemas."""
    total = 0
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        total += count_tokens(text_of(message.get("content")))
        total += sum(MEDIA_TOKENS for _, p in content_parts(message) if media_type(p))
        for call in message.get("tool_calls") or []:
            function = call.get("function", {}) if isinstance(call, dict) else {}
            total += count_tokens(f"{function.get('name', '')} {function.get('arguments', '')}")
    for tool in body.get("tools") or []:
        total += count_tokens(canonical_json(tool))
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        total += count_tokens(canonical_json(fmt.get("json_schema", {})))
    return total
