"""Inline and file media: accepted MIME types and URIs, token details per modality."""

from __future__ import annotations

from typing import Any

import pytest
from emu_helpers import Emulator
from test_gemini_helpers import GEMINI_DOCS, generate, parts_of, reject

from emulator.counting import count_tokens

PNG = {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
PDF = {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://bucket/report.pdf"}}
WAV = {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}
MP4 = {"fileData": {"mimeType": "video/mp4", "fileUri": "https://example.com/clip.mp4"}}


def media_body(*parts: dict[str, Any], text: str = "Describe these.") -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}, *parts]}]}


async def test_reply_names_the_media_in_order(emu: Emulator) -> None:
    reply = await generate(emu, media_body(PNG, PDF, WAV, MP4))
    text = parts_of(reply)[0]["text"]
    assert text.startswith("The emulator saw image/png, application/pdf, audio/wav, video/mp4.")
    usage = reply["usageMetadata"]
    text_tokens = count_tokens("Describe these.")
    assert usage["promptTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": text_tokens},
        {"modality": "AUDIO", "tokenCount": 258},
        {"modality": "DOCUMENT", "tokenCount": 258},
        {"modality": "IMAGE", "tokenCount": 258},
        {"modality": "VIDEO", "tokenCount": 258},
    ]
    assert usage["promptTokenCount"] == text_tokens + 4 * 258
    status, counted, _ = await emu.post(emu.url("countTokens"), media_body(PNG, PDF, WAV, MP4))
    assert status == 200
    assert counted["totalTokens"] == usage["promptTokenCount"]
    assert counted["promptTokensDetails"] == usage["promptTokensDetails"]


@pytest.mark.parametrize(
    "mime",
    [
        "image/jpeg",
        "image/webp",
        "image/heic",
        "image/heif",
        "text/plain",
        "audio/mp3",
        "audio/aiff",
        "audio/aac",
        "audio/ogg",
        "audio/flac",
        "audio/mpeg",
        "video/mpeg",
        "video/mov",
        "video/avi",
        "video/x-flv",
        "video/mpg",
        "video/webm",
        "video/wmv",
        "video/3gpp",
        "text/plain; charset=utf-8",
    ],
)
async def test_supported_mime_types(emu: Emulator, mime: str) -> None:
    await generate(emu, media_body({"inlineData": {"mimeType": mime, "data": "AAAA"}}))


@pytest.mark.parametrize("mime", ["image/bmp", "application/zip", "image/gif", "audio/midi"])
@pytest.mark.parametrize("method", ["generateContent", "countTokens"])
async def test_unsupported_mime_type(emu: Emulator, mime: str, method: str) -> None:
    body = media_body({"inlineData": {"mimeType": mime, "data": "AAAA"}})
    assert await reject(emu, body, method=method) == f"Unsupported MIME type: {mime}"
    body = media_body({"fileData": {"mimeType": mime, "fileUri": "gs://b/o"}})
    assert await reject(emu, body, method=method) == f"Unsupported MIME type: {mime}"


@pytest.mark.parametrize("member", ["inlineData", "fileData"])
async def test_missing_mime_type(emu: Emulator, member: str) -> None:
    media: dict[str, Any] = {"data": "AAAA"} if member == "inlineData" else {"fileUri": "gs://b/o"}
    assert await reject(emu, media_body({member: media})) == (
        f"Unable to submit request because it has an empty mimeType parameter in {member}. "
        f"Add a value to the parameter and try again. {GEMINI_DOCS}"
    )


@pytest.mark.parametrize(
    "uri", ["http://example.com/a.png", "file:///tmp/a.png", "s3://b/a.png", "a.png"]
)
async def test_file_uri_must_be_gcs_or_https(emu: Emulator, uri: str) -> None:
    body = media_body({"fileData": {"mimeType": "image/png", "fileUri": uri}})
    assert await reject(emu, body) == f"Unsupported file uri: {uri}"


async def test_inline_data_must_be_base64(emu: Emulator) -> None:
    body = media_body({"inlineData": {"mimeType": "image/png", "data": "not base64!"}})
    message = await reject(emu, body)
    assert message == (
        "Invalid value at 'contents[0].parts[1].inline_data.data' (TYPE_BYTES), "
        'Base64 decoding failed for "not base64!"'
    )


async def test_system_instruction_media_is_checked(emu: Emulator) -> None:
    body = {
        **media_body(),
        "systemInstruction": {"parts": [{"inlineData": {"mimeType": "image/bmp", "data": "AAAA"}}]},
    }
    assert await reject(emu, body) == "Unsupported MIME type: image/bmp"
