"""``gemini-2.5-flash-image`` over ``:generateContent`` / ``:streamGenerateContent``
(vertex-wire.md §6.3): real images at each ratio's native size, edits, the filter trigger and the
image-config checks (the discovery schema first, then Vertex's rules)."""

from __future__ import annotations

from typing import Any

import pytest
from emu_helpers import Emulator
from image_helpers import b64_image, base_picture, picture_of
from test_gemini_helpers import generate, json_stream, reject, sse, user

from emulator.gemini_image import FILTERED_MESSAGE, IMAGE_TOKENS, UNREADABLE_INPUT
from emulator.images import ellipse_mask

MODEL = "gemini-2.5-flash-image"


def draw(
    text: str = "Draw a tiny robot watering a plant",
    modalities: list[str] | None = None,
    **image_config: Any,
) -> dict[str, Any]:
    config: dict[str, Any] = {"responseModalities": modalities or ["TEXT", "IMAGE"]}
    if image_config:
        config["imageConfig"] = image_config
    return {"contents": [user(text)], "generationConfig": config}


def image_parts(reply: dict[str, Any]) -> list[dict[str, Any]]:
    parts = reply["candidates"][0]["content"]["parts"]
    return [p["inlineData"] for p in parts if "inlineData" in p]


async def test_text_and_image_reply(emu: Emulator) -> None:
    reply = await generate(emu, draw(), MODEL)
    [candidate] = reply["candidates"]
    assert candidate["finishReason"] == "STOP"
    text, image = candidate["content"]["parts"]
    assert candidate["content"]["role"] == "model"
    assert "tiny robot" in text["text"]
    assert image["inlineData"]["mimeType"] == "image/png"
    assert picture_of(image["inlineData"]["data"]).size == (1024, 1024)
    usage = reply["usageMetadata"]
    details = {d["modality"]: d["tokenCount"] for d in usage["candidatesTokensDetails"]}
    assert details["IMAGE"] == IMAGE_TOKENS and details["TEXT"] > 0
    assert usage["candidatesTokenCount"] == sum(details.values())
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert reply["modelVersion"] == MODEL and reply["responseId"] and reply["createTime"]


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("1:1", (1024, 1024)),
        ("2:3", (832, 1248)),
        ("3:2", (1248, 832)),
        ("3:4", (864, 1184)),
        ("4:3", (1184, 864)),
        ("4:5", (896, 1152)),
        ("5:4", (1152, 896)),
        ("9:16", (768, 1344)),
        ("16:9", (1344, 768)),
        ("21:9", (1536, 672)),
    ],
)
async def test_native_size_per_aspect_ratio(
    emu: Emulator, ratio: str, size: tuple[int, int]
) -> None:
    reply = await generate(emu, draw(modalities=["IMAGE"], aspectRatio=ratio), MODEL)
    [image] = image_parts(reply)
    assert len(reply["candidates"][0]["content"]["parts"]) == 1, "IMAGE alone: no text part"
    assert picture_of(image["data"]).size == size


@pytest.mark.parametrize("image_size", ["1K", "2K", "4K"])
async def test_image_sizes_are_accepted(emu: Emulator, image_size: str) -> None:
    reply = await generate(emu, draw(aspectRatio="3:2", imageSize=image_size), MODEL)
    assert picture_of(image_parts(reply)[0]["data"]).size == (1248, 832)


async def test_no_modalities_named_draws_and_talks(emu: Emulator) -> None:
    reply = await generate(emu, {"contents": [user("Draw a kite")]}, MODEL)
    parts = reply["candidates"][0]["content"]["parts"]
    assert "text" in parts[0] and "inlineData" in parts[1]


async def test_text_only_is_an_ordinary_reply(emu: Emulator) -> None:
    reply = await generate(emu, draw("What is a kite?", ["TEXT"]), MODEL)
    parts = reply["candidates"][0]["content"]["parts"]
    assert all("inlineData" not in p for p in parts) and parts[0]["text"]


async def test_jpeg_output_options(emu: Emulator) -> None:
    options = {"mimeType": "image/jpeg", "compressionQuality": 70}
    reply = await generate(emu, draw(imageOutputOptions=options), MODEL)
    [image] = image_parts(reply)
    assert image["mimeType"] == "image/jpeg"
    assert picture_of(image["data"], "JPEG").size == (1024, 1024)


async def test_edit_keeps_the_input_size(emu: Emulator) -> None:
    base = base_picture((300, 200))
    body = draw()
    body["contents"][0]["parts"].append(
        {"inlineData": {"mimeType": "image/png", "data": b64_image(base)}}
    )
    reply = await generate(emu, body, MODEL)
    [image] = image_parts(reply)
    result = picture_of(image["data"])
    assert result.size == (300, 200)
    assert result.tobytes() != base.tobytes()
    # The edit redraws the centre; the corners are the input's own pixels.
    outside = ellipse_mask((300, 200), inside=False)
    corner = (0, 199)
    assert outside.getpixel(corner) == 255
    assert result.getpixel(corner) == base.getpixel(corner)
    usage = reply["usageMetadata"]
    assert {"modality": "IMAGE", "tokenCount": 258} in usage["promptTokensDetails"]


async def test_multi_turn_edit_uses_the_latest_image(emu: Emulator) -> None:
    earlier = b64_image(base_picture((200, 120)))
    body = {
        "contents": [
            user("Draw a flag"),
            {
                "role": "model",
                "parts": [{"inlineData": {"mimeType": "image/png", "data": earlier}}],
            },
            user("Make it blue"),
        ],
        "generationConfig": {"responseModalities": ["IMAGE"]},
    }
    reply = await generate(emu, body, MODEL)
    assert picture_of(image_parts(reply)[0]["data"]).size == (200, 120)


async def test_unreadable_input_image(emu: Emulator) -> None:
    body = draw()
    body["contents"][0]["parts"].append(
        {"inlineData": {"mimeType": "image/png", "data": "bm90IGFuIGltYWdl"}}
    )
    message = await reject(emu, body, MODEL)
    assert message == UNREADABLE_INPUT


async def test_filter_trigger(emu: Emulator) -> None:
    reply = await generate(emu, draw("Draw a dragon [filter]"), MODEL)
    [candidate] = reply["candidates"]
    assert candidate == {"finishReason": "IMAGE_SAFETY", "finishMessage": FILTERED_MESSAGE}
    assert "candidatesTokenCount" not in reply["usageMetadata"]
    events = await sse(emu, draw("Draw a dragon [filter]"), MODEL)
    assert len(events) == 1 and events[0]["candidates"][0]["finishReason"] == "IMAGE_SAFETY"


async def test_stream_sends_text_then_the_image(emu: Emulator) -> None:
    events = await sse(emu, draw(), MODEL)
    assert len(events) == 2
    first, last = events
    assert first["usageMetadata"] == {"trafficType": "ON_DEMAND"}
    assert "text" in first["candidates"][0]["content"]["parts"][0]
    assert "finishReason" not in first["candidates"][0]
    [image] = last["candidates"][0]["content"]["parts"]
    assert picture_of(image["inlineData"]["data"]).size == (1024, 1024)
    assert last["candidates"][0]["finishReason"] == "STOP"
    unary = await generate(emu, draw(), MODEL)
    assert last["usageMetadata"] == unary["usageMetadata"]
    assert image == unary["candidates"][0]["content"]["parts"][1]


async def test_json_array_stream(emu: Emulator) -> None:
    chunks = await json_stream(emu, draw(modalities=["IMAGE"]), MODEL)
    assert len(chunks) == 1
    assert chunks[0]["candidates"][0]["finishReason"] == "STOP"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (draw(aspectRatio="7:3"), "invalid aspect_ratio `7:3`"),
        (draw(aspectRatio="1x1"), "invalid aspect_ratio `1x1`"),
        (draw(imageSize="8K"), "invalid image_size `8K`"),
        (draw(imageOutputOptions={"mimeType": "image/gif"}), "invalid mime_type `image/gif`"),
        (draw(imageOutputOptions={"compressionQuality": 101}), "compression_quality value of 101"),
        (
            draw(modalities=["AUDIO"]),
            "The requested combination of response modalities (AUDIO) is not supported by the "
            "model. models/gemini-2.5-flash-image accepts the following combination of response "
            "modalities:\n* TEXT, IMAGE\n* IMAGE\n* TEXT\n",
        ),
        (draw(modalities=["TEXT", "IMAGE", "AUDIO"]), "(TEXT, IMAGE, AUDIO) is not supported"),
    ],
)
async def test_rule_rejections(emu: Emulator, body: dict[str, Any], fragment: str) -> None:
    message = await reject(emu, body, MODEL)
    assert fragment in message


async def test_image_config_goes_through_the_discovery_schema(emu: Emulator) -> None:
    # imageConfig is in the packaged discovery document: its names and enums are checked there.
    status, reply, _ = await emu.post(emu.url(model=MODEL), draw(aspect="1:1"))
    assert status == 400
    assert reply["error"]["message"] == (
        'Invalid JSON payload received. Unknown name "aspect" at '
        "'generation_config.image_config': Cannot find field."
    )
    assert reply["error"]["details"][0]["fieldViolations"][0]["field"] == (
        "generation_config.image_config"
    )
    status, reply, _ = await emu.post(emu.url(model=MODEL), draw(personGeneration="EVERYONE"))
    assert status == 400 and "ImageConfig.PersonGeneration" in reply["error"]["message"]
    reply = await generate(emu, draw(personGeneration="ALLOW_ADULT"), MODEL)
    assert image_parts(reply)


async def test_count_tokens_and_v1beta1(emu: Emulator) -> None:
    status, reply, _ = await emu.post(emu.url("countTokens", MODEL), draw())
    assert status == 200 and reply["totalTokens"] > 0
    reply = await generate(emu, draw(modalities=["IMAGE"]), MODEL, version="v1beta1")
    assert image_parts(reply)
