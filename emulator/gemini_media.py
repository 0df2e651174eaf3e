"""Inline and file media in Gemini requests: which MIME types and URIs Vertex takes.

``inlineData.data`` is checked as base64 by the discovery walker (a transcoding error); here are
Vertex's semantic checks. Token counts per modality live in ``counting.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from emulator.errors import LEARN_MORE_GEMINI

# Gemini's documented input types (Vertex model reference, "mimeType"), plus common aliases.
SUPPORTED_MIME_TYPES = frozenset(
    {
        "application/pdf",
        "text/plain",
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/heic",
        "image/heif",
        "audio/wav",
        "audio/x-wav",
        "audio/mp3",
        "audio/mpeg",
        "audio/mpga",
        "audio/aiff",
        "audio/x-aiff",
        "audio/aac",
        "audio/ogg",
        "audio/flac",
        "audio/m4a",
        "audio/mp4",
        "audio/pcm",
        "audio/webm",
        "video/mp4",
        "video/mpeg",
        "video/mpegps",
        "video/mov",
        "video/quicktime",
        "video/avi",
        "video/x-flv",
        "video/flv",
        "video/mpg",
        "video/webm",
        "video/wmv",
        "video/x-ms-wmv",
        "video/3gpp",
    }
)
FILE_URI_SCHEMES = ("gs://", "https://")

Problem = tuple[str | None, str]


def _media_parts(body: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """``(path, member, snake member, media)`` for every inline/file part, in order."""
    holders: list[tuple[str, Any]] = []
    if isinstance(body.get("systemInstruction"), dict):
        holders.append(("system_instruction", body["systemInstruction"]))
    holders += [(f"contents[{i}]", c) for i, c in enumerate(body.get("contents") or [])]
    for path, content in holders:
        if not isinstance(content, dict):
            continue
        for j, part in enumerate(content.get("parts") or []):
            if not isinstance(part, dict):
                continue
            for member, snake in (("inlineData", "inline_data"), ("fileData", "file_data")):
                media = part.get(member)
                if isinstance(media, dict):
                    yield f"{path}.parts[{j}].{snake}", member, snake, media


def base_mime_type(mime_type: str) -> str:
    """``"Text/Plain; charset=utf-8"`` -> ``"text/plain"``."""
    return mime_type.split(";", 1)[0].strip().lower()


def media_problems(body: dict[str, Any]) -> list[Problem]:
    """The first media problem Vertex would report (an empty list when all is well)."""
    for path, member, _, media in _media_parts(body):
        mime = media.get("mimeType")
        if not isinstance(mime, str) or not mime.strip():
            message = (
                f"Unable to submit request because it has an empty mimeType parameter in "
                f"{member}. Add a value to the parameter and try again. {LEARN_MORE_GEMINI}"
            )
            return [(f"{path}.mime_type", message)]
        if base_mime_type(mime) not in SUPPORTED_MIME_TYPES:
            return [(f"{path}.mime_type", f"Unsupported MIME type: {mime}")]
        if member == "fileData":
            uri = media.get("fileUri")
            if not isinstance(uri, str) or not uri.startswith(FILE_URI_SCHEMES):
                shown = uri if isinstance(uri, str) else ""
                return [(f"{path}.file_uri", f"Unsupported file uri: {shown}")]
    return []


def media_seen(body: dict[str, Any]) -> list[str]:
    """MIME types of every media part of the conversation, in order."""
    return [
        base_mime_type(str(media.get("mimeType", "")))
        for path, _, _, media in _media_parts(body)
        if path.startswith("contents")
    ]
