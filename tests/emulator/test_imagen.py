"""Imagen generation: ``:predict`` of ``imagen-4.0-*`` and ``imagen-3.0-generate-002``
(vertex-wire.md §6.1): real images, the filter triggers and every parameter check."""

from __future__ import annotations

import base64
import io
import uuid
from typing import Any

import pytest
from emu_helpers import Emulator, user_body
from image_helpers import IMAGEN, assert_400, picture_of, predict
from PIL import Image

from emulator.imagen import filtered_reason

FAST = "imagen-4.0-fast-generate-001"
ULTRA = "imagen-4.0-ultra-generate-001"
IMAGEN3 = "imagen-3.0-generate-002"
PREFIX = "Image generation failed with the following error: "


def body(
    prompt: str = "a watercolor fox in a birch forest", /, **parameters: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"instances": [{"prompt": prompt}]}
    out["parameters"] = {"sampleCount": 1, **parameters}
    return out


async def test_reply_shape_default_png_1024(emu: Emulator) -> None:
    status, reply = await predict(emu, body())
    assert status == 200, reply
    assert set(reply) == {"predictions"}
    [item] = reply["predictions"]
    assert set(item) == {"bytesBase64Encoded", "mimeType"}
    assert item["mimeType"] == "image/png"
    assert picture_of(item["bytesBase64Encoded"]).size == (1024, 1024)


async def test_sample_count_defaults_to_four(emu: Emulator) -> None:
    status, reply = await predict(emu, {"instances": [{"prompt": "a lighthouse"}]}, FAST)
    assert status == 200, reply
    assert len(reply["predictions"]) == 4
    pictures = [p["bytesBase64Encoded"] for p in reply["predictions"]]
    assert len(set(pictures)) == 4, "each image of a sample differs"


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("1:1", (1024, 1024)),
        ("3:4", (896, 1280)),
        ("4:3", (1280, 896)),
        ("9:16", (768, 1408)),
        ("16:9", (1408, 768)),
    ],
)
async def test_native_size_per_aspect_ratio(
    emu: Emulator, ratio: str, size: tuple[int, int]
) -> None:
    status, reply = await predict(emu, body(aspectRatio=ratio), IMAGEN3)
    assert status == 200, reply
    assert picture_of(reply["predictions"][0]["bytesBase64Encoded"]).size == size


@pytest.mark.parametrize("model", [IMAGEN, ULTRA])
async def test_2k_doubles_each_side(emu: Emulator, model: str) -> None:
    status, reply = await predict(emu, body(aspectRatio="16:9", sampleImageSize="2K"), model)
    assert status == 200, reply
    assert picture_of(reply["predictions"][0]["bytesBase64Encoded"]).size == (2816, 1536)


@pytest.mark.parametrize("model", [FAST, IMAGEN3])
async def test_2k_is_refused_where_the_model_has_no_2k(emu: Emulator, model: str) -> None:
    status, reply = await predict(emu, body(sampleImageSize="2K"), model)
    assert_400(status, reply, f'sampleImageSize "2K" is not supported by {model}')
    status, reply = await predict(emu, body(sampleImageSize="1K"), model)
    assert status == 200, reply


async def test_jpeg_output_honours_quality(emu: Emulator) -> None:
    sizes = []
    for quality in (5, 95):
        options = {"mimeType": "image/jpeg", "compressionQuality": quality}
        status, reply = await predict(emu, body(outputOptions=options))
        assert status == 200, reply
        item = reply["predictions"][0]
        assert item["mimeType"] == "image/jpeg"
        assert picture_of(item["bytesBase64Encoded"], "JPEG").size == (1024, 1024)
        sizes.append(len(base64.b64decode(item["bytesBase64Encoded"])))
    assert sizes[0] < sizes[1]


async def test_same_request_same_pixels_and_seed_changes_them(emu: Emulator) -> None:
    seeded = body(seed=7, addWatermark=False)
    first = await predict(emu, seeded)
    again = await predict(emu, seeded)
    other = await predict(emu, body(seed=8, addWatermark=False))
    assert first == again
    assert first[1]["predictions"] != other[1]["predictions"]


async def test_enhance_prompt_adds_the_rewritten_prompt(emu: Emulator) -> None:
    status, reply = await predict(emu, body("a red kite", sampleCount=2, enhancePrompt=True))
    assert status == 200, reply
    for item in reply["predictions"]:
        assert item["prompt"].startswith("a red kite") and len(item["prompt"]) > 20
    status, reply = await predict(emu, body("a red kite", enhancePrompt=False))
    assert "prompt" not in reply["predictions"][0]


async def test_safety_attributes_and_positive_prompt_item(emu: Emulator) -> None:
    status, reply = await predict(emu, body(sampleCount=2, includeSafetyAttributes=True))
    assert status == 200, reply
    *pictures, prompt_item = reply["predictions"]
    assert len(pictures) == 2
    for item in pictures:
        attributes = item["safetyAttributes"]
        assert len(attributes["categories"]) == len(attributes["scores"]) > 0
        assert all(0 <= s <= 1 for s in attributes["scores"])
    assert prompt_item["contentType"] == "Positive Prompt"
    assert set(prompt_item) == {"contentType", "safetyAttributes"}
    assert "Violence" in prompt_item["safetyAttributes"]["categories"]
    assert len(prompt_item["safetyAttributes"]["categories"]) == 12


async def test_filter_with_rai_reason_replaces_the_last_image(emu: Emulator) -> None:
    status, reply = await predict(emu, body("a cat [filter]", sampleCount=3, includeRaiReason=True))
    assert status == 200, reply
    *pictures, reason = reply["predictions"]
    assert len(pictures) == 2 and all("bytesBase64Encoded" in p for p in pictures)
    assert reason == {"raiFilteredReason": filtered_reason(1)}
    assert "filtered out 1 generated image." in reason["raiFilteredReason"]


async def test_filter_without_rai_reason_drops_the_slot(emu: Emulator) -> None:
    status, reply = await predict(emu, body("a cat [filter]", sampleCount=3))
    assert status == 200, reply
    assert len(reply["predictions"]) == 2
    assert all(set(p) == {"bytesBase64Encoded", "mimeType"} for p in reply["predictions"])


async def test_filter_all(emu: Emulator) -> None:
    status, reply = await predict(
        emu, body("a cat [filter-all]", sampleCount=3, includeRaiReason=True)
    )
    assert status == 200, reply
    assert reply == {"predictions": [{"raiFilteredReason": filtered_reason(3)}]}
    assert "filtered out 3 generated images." in filtered_reason(3)
    status, reply = await predict(emu, body("a cat [filter-all]", sampleCount=3))
    assert (status, reply) == (200, {})


async def test_block_trigger_refuses_the_prompt(emu: Emulator) -> None:
    status, reply = await predict(emu, body("a cat [block]"))
    assert_400(status, reply, PREFIX + "The prompt could not be submitted.")


async def test_seed_needs_the_watermark_off(emu: Emulator) -> None:
    verified = PREFIX + "Seed is not supported when watermark is enabled."
    for parameters in ({"seed": 3}, {"seed": 3, "addWatermark": True}):
        status, reply = await predict(emu, body(**parameters))
        assert assert_400(status, reply, verified) == verified
    status, reply = await predict(emu, body(seed=3, addWatermark=False))
    assert status == 200, reply


@pytest.mark.parametrize(
    ("parameters", "fragment"),
    [
        ({"sampleCount": 0}, "parameters.sampleCount is 0, but the supported range is from 1 to 4"),
        ({"sampleCount": 5}, "parameters.sampleCount is 5"),
        ({"sampleCount": "2"}, 'parameters.sampleCount must be an integer, got "2"'),
        ({"sampleCount": 2.5}, "parameters.sampleCount must be an integer, got 2.5"),
        ({"sampleCount": True}, "parameters.sampleCount must be an integer, got true"),
        ({"aspectRatio": "2:1"}, 'parameters.aspectRatio "2:1" is not supported'),
        ({"aspectRatio": "21:9"}, 'parameters.aspectRatio "21:9" is not supported'),
        ({"personGeneration": "everyone"}, 'parameters.personGeneration "everyone"'),
        ({"safetySetting": "block_all"}, 'parameters.safetySetting "block_all"'),
        ({"addWatermark": "no"}, "parameters.addWatermark must be a boolean"),
        ({"enhancePrompt": 1}, "parameters.enhancePrompt must be a boolean"),
        ({"includeRaiReason": "true"}, "parameters.includeRaiReason must be a boolean"),
        ({"includeSafetyAttributes": None}, "parameters.includeSafetyAttributes must be a boolean"),
        ({"negativePrompt": 5}, "parameters.negativePrompt must be a string"),
        ({"language": "fr"}, 'parameters.language "fr" is not supported'),
        ({"guidanceScale": "high"}, "parameters.guidanceScale must be a number"),
        ({"guidanceScale": -1}, "parameters.guidanceScale is -1"),
        ({"seed": -1, "addWatermark": False}, "parameters.seed is -1"),
        ({"storageUri": "s3://bucket/out"}, "is not a Cloud Storage URI"),
        ({"sampleImageSize": "4K"}, 'parameters.sampleImageSize "4K" is not supported'),
        ({"outputOptions": "png"}, "parameters.outputOptions must be a JSON object"),
        ({"outputOptions": {"mimeType": "image/webp"}}, '"image/webp" is not supported'),
        ({"outputOptions": {"compressionQuality": 101}}, "compressionQuality is 101"),
        ({"outputOptions": {"quality": 80}}, 'Unknown field "quality" in parameters.outputOptions'),
        ({"sample_count": 2}, 'Unknown field "sample_count" in parameters'),
        ({"editMode": "EDIT_MODE_DEFAULT"}, 'Unknown field "editMode" in parameters'),
    ],
)
async def test_bad_parameters(emu: Emulator, parameters: dict[str, Any], fragment: str) -> None:
    status, reply = await predict(emu, body(**parameters))
    message = assert_400(status, reply, fragment)
    assert message.startswith(PREFIX)


@pytest.mark.parametrize(
    "parameters",
    [
        {"personGeneration": "ALLOW_ADULT"},
        {"personGeneration": "dont_allow"},
        {"safetySetting": "BLOCK_ONLY_HIGH"},
        {"safetySetting": "block_none"},
        {"language": "zh-CN"},
        {"guidanceScale": 12.5},
        {"negativePrompt": "text, watermark"},
        {"outputOptions": {"mimeType": "image/png", "compressionQuality": 80}},
        {"sampleCount": 2.0},
    ],
)
async def test_good_parameters(emu: Emulator, parameters: dict[str, Any]) -> None:
    status, reply = await predict(emu, body(**parameters), FAST)
    assert status == 200, reply


@pytest.mark.parametrize(
    ("request_body", "fragment"),
    [
        ({"instances": [], "parameters": {}}, "instances must hold exactly one instance, got none"),
        ({"parameters": {}}, "instances must hold exactly one instance, got none"),
        ({"instances": [{"prompt": "a"}, {"prompt": "b"}]}, "exactly one instance, got 2"),
        ({"instances": ["a cat"]}, "instances[0] must be a JSON object"),
        ({"instances": [{}]}, "instances[0].prompt is required."),
        ({"instances": [{"prompt": "   "}]}, "instances[0].prompt is empty"),
        ({"instances": [{"prompt": 5}]}, "instances[0].prompt must be a string, got 5"),
        ({"instances": [{"prompt": "a", "image": {}}]}, 'Unknown field "image" in instances[0]'),
        ({"instances": [{"prompt": "a"}], "parameters": []}, "parameters must be a JSON object"),
    ],
)
async def test_bad_instances(emu: Emulator, request_body: Any, fragment: str) -> None:
    status, reply = await predict(emu, request_body)
    assert_400(status, reply, fragment)


async def audited(emu: Emulator, request_body: Any) -> dict[str, Any]:
    """Send ``request_body`` with a User-Agent of its own; the audit of that agent."""
    agent = f"imagen-audit-{uuid.uuid4().hex}"
    await emu.post(emu.url("predict", IMAGEN), request_body, {**emu.auth(), "User-Agent": agent})
    result: dict[str, Any] = await emu.admin("GET", "audit", params={"user_agent_prefix": agent})
    return result


async def test_problems_are_recorded_for_the_audit(emu: Emulator) -> None:
    audit = await audited(emu, body(sampleCount=9))
    [record] = await emu.records()
    assert record["status"] == 400
    assert record["schema_errors"] and "sampleCount is 9" in record["schema_errors"][0]
    assert audit["checked"] == 1 and len(audit["violations"]) == 1
    assert (await audited(emu, body()))["violations"] == []


async def test_the_envelope_is_checked_against_the_discovery_schema(emu: Emulator) -> None:
    # PredictRequest has instances, parameters, labels: other names are transcoder errors.
    status, reply = await predict(emu, {"instance": [{"prompt": "a"}]})
    assert status == 400
    assert reply["error"]["message"] == (
        'Invalid JSON payload received. Unknown name "instance": Cannot find field.'
    )
    assert reply["error"]["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    status, reply = await predict(emu, {**body(), "labels": {"Team": "x"}})
    assert_400(status, reply, "label key `Team` is invalid")
    status, reply = await predict(emu, {**body(), "labels": {"team": "imaging"}})
    assert status == 200, reply


async def test_storage_uri_is_refused_clearly(emu: Emulator) -> None:
    status, reply = await predict(emu, body(storageUri="gs://bucket/out/"))
    assert_400(status, reply, "the Vertex emulator has no Cloud Storage yet")
    # An emulator limit, not a problem with the body: recorded, but not audited.
    audit = await audited(emu, body(storageUri="gs://bucket/out/"))
    assert audit == {"checked": 1, "violations": []}
    assert all(r["schema_errors"] for r in await emu.records())


@pytest.mark.parametrize("method", ["generateContent", "countTokens"])
async def test_imagen_does_not_generate_content(emu: Emulator, method: str) -> None:
    status, reply, _ = await emu.post(emu.url(method, IMAGEN), user_body())
    assert_400(status, reply, f"does not support {method}")


@pytest.mark.parametrize("model", ["gemini-2.5-flash-image", "gemini-2.5-flash-tts"])
async def test_gemini_media_models_refuse_predict(emu: Emulator, model: str) -> None:
    status, reply = await predict(emu, body(), model)
    assert status == 400
    assert reply["error"]["status"] == "FAILED_PRECONDITION"
    assert reply["error"]["message"].startswith(
        "Gemini cannot be accessed through Vertex Predict/RawPredict API."
    )


async def test_v1beta1_and_express_paths(emu: Emulator) -> None:
    url = emu.url("predict", IMAGEN, version="v1beta1")
    status, reply, _ = await emu.post(url, body())
    assert status == 200, reply
    url = emu.url("predict", IMAGEN, express=True) + "?key=test-api-key"
    status, reply, _ = await emu.post(url, body(), headers={})
    assert status == 200, reply


async def test_image_bytes_are_a_real_png(emu: Emulator) -> None:
    _, reply = await predict(emu, body())
    data = base64.b64decode(reply["predictions"][0]["bytesBase64Encoded"])
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as picture:
        assert picture.mode == "RGB"
        assert len(picture.getcolors(1 << 16) or []) > 2, "more than a flat colour"


async def test_imagen_is_no_chat_model_on_the_openai_endpoint(emu: Emulator) -> None:
    url = (
        f"{emu.base_url}/v1/projects/test-project/locations/us-central1"
        "/endpoints/openapi/chat/completions"
    )
    chat = {"model": f"google/{IMAGEN}", "messages": [{"role": "user", "content": "a fox"}]}
    status, reply, _ = await emu.post(url, chat)
    assert status == 404
    assert f"publishers/google/models/{IMAGEN}` was not found" in reply[0]["error"]["message"]
