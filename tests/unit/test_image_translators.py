"""Imagen and Gemini image translation: bodies, shape mapping, checks, reply slots."""

from __future__ import annotations

import base64
import io

import grpc
import pytest
from PIL import Image
from vertex_gateway.v1 import common_pb2, image_pb2

from server.errors import GatewayError
from server.routing.registry import Registry
from server.translate import gemini_image, imagen

R = Registry()
IMAGEN4 = R.get(None, "imagen-4.0-generate-001")
FAST = R.get(None, "imagen-4.0-fast-generate-001")
EDITOR = R.get(None, "imagen-3.0-capability-001")
GEMINI = R.get(None, "gemini-2.5-flash-image")
assert IMAGEN4 and FAST and EDITOR and GEMINI
IM = image_pb2


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(out, "PNG")
    return out.getvalue()


def violations(err: GatewayError) -> dict[str, str]:
    return {v.field: v.description for v in err.field_violations}


def test_imagen_generate_body_uses_the_sdk_parameter_names() -> None:
    request = IM.GenerateImagesRequest(
        model="imagen-4.0-generate-001",
        prompt="a fox",
        number_of_images=3,
        aspect_ratio="16:9",
        negative_prompt="text",
        seed=7,
        add_watermark=False,
        output_mime_type="image/jpeg",
        output_compression_quality=80,
        person_generation=IM.PERSON_GENERATION_ALLOW_ADULT,
        safety_filter_level=IM.SAFETY_FILTER_LEVEL_BLOCK_ONLY_HIGH,
        enhance_prompt=False,
        image_size="2K",
        labels={"team": "ads"},
    )
    assert imagen.to_generate_predict(request, IMAGEN4) == {
        "instances": [{"prompt": "a fox"}],
        "parameters": {
            "includeRaiReason": True,
            "sampleCount": 3,
            "negativePrompt": "text",
            "seed": 7,
            "addWatermark": False,
            "safetySetting": "block_only_high",
            "personGeneration": "allow_adult",
            "outputOptions": {"mimeType": "image/jpeg", "compressionQuality": 80},
            "aspectRatio": "16:9",
            "sampleImageSize": "2K",
            "enhancePrompt": False,
        },
        "labels": {"team": "ads"},
    }


@pytest.mark.parametrize(
    ("dimensions", "ratio", "size"),
    [((1408, 768), "16:9", None), ((2816, 1536), "16:9", "2K"), ((300, 400), "3:4", None)],
)
def test_pixel_sizes_map_to_ratios(
    dimensions: tuple[int, int], ratio: str, size: str | None
) -> None:
    request = IM.GenerateImagesRequest(
        model="m",
        prompt="p",
        dimensions=IM.ImageDimensions(width=dimensions[0], height=dimensions[1]),
    )
    params = imagen.to_generate_predict(request, IMAGEN4)["parameters"]
    assert params["aspectRatio"] == ratio and params.get("sampleImageSize") == size


def test_bad_generate_requests_name_every_field() -> None:
    request = IM.GenerateImagesRequest(
        model="imagen-4.0-fast-generate-001",
        prompt=" ",
        number_of_images=5,
        dimensions=IM.ImageDimensions(width=1000, height=333),
        image_size="2K",
        seed=3,
        output_mime_type="image/gif",
        output_compression_quality=50,
    )
    with pytest.raises(GatewayError) as err:
        imagen.to_generate_predict(request, FAST)
    got = violations(err.value)
    assert set(got) == {
        "prompt", "number_of_images", "dimensions", "image_size", "seed", "output_mime_type",
        "output_compression_quality",
    }  # fmt: skip
    assert "16:9" in got["dimensions"] and "add_watermark" in got["seed"]
    with pytest.raises(GatewayError) as err:
        imagen.to_generate_predict(
            IM.GenerateImagesRequest(model="m", prompt="p", aspect_ratio="2:1"), IMAGEN4
        )
    assert "1:1, 3:4, 4:3, 9:16, 16:9" in violations(err.value)["aspect_ratio"]


def test_imagen_reply_slots_keep_filtered_images() -> None:
    data = base64.b64encode(png(4, 4)).decode()
    payload = {
        "predictions": [
            {"bytesBase64Encoded": data, "mimeType": "image/png", "prompt": "a better fox"},
            {"raiFilteredReason": "filtered: 1 image"},
            {
                "contentType": "Positive Prompt",
                "safetyAttributes": {"categories": ["Violence"], "scores": [0.1]},
            },
        ]
    }
    images, prompt = imagen.from_predict(payload, 2)
    assert (
        images[0].image.data == base64.b64decode(data)
        and images[0].enhanced_prompt == "a better fox"
    )
    assert images[1].filtered_reason == "filtered: 1 image"
    assert prompt is not None and list(prompt.categories) == ["Violence"]
    everything_filtered, _ = imagen.from_predict({}, 3)
    assert [s.WhichOneof("result") for s in everything_filtered] == ["filtered_reason"] * 3
    with pytest.raises(GatewayError):
        imagen.from_predict({"predictions": [{"bytesBase64Encoded": "@@@"}]}, 1)


def test_edit_body_with_a_user_mask_and_its_checks() -> None:
    base = common_pb2.Media(mime_type="image/png", data=png(64, 32))
    request = IM.EditImageRequest(
        model="imagen-3.0-capability-001",
        prompt="a dog",
        edit_mode=IM.EDIT_MODE_INPAINT_INSERTION,
        image=base,
        mask=IM.EditMask(
            image=common_pb2.Media(mime_type="image/png", data=png(64, 32)), dilation=0.02
        ),
        edit_steps=35,
    )
    body = imagen.to_edit_predict(request, EDITOR)
    refs = body["instances"][0]["referenceImages"]
    assert [r["referenceType"] for r in refs] == ["REFERENCE_TYPE_RAW", "REFERENCE_TYPE_MASK"]
    assert refs[1]["maskImageConfig"] == {"maskMode": "MASK_MODE_USER_PROVIDED", "dilation": 0.02}
    assert body["parameters"]["editMode"] == "EDIT_MODE_INPAINT_INSERTION"
    assert body["parameters"]["editConfig"] == {"baseSteps": 35}
    request.mask.image.data = png(32, 32)
    with pytest.raises(GatewayError) as err:
        imagen.to_edit_predict(request, EDITOR)
    assert "64x32" in violations(err.value)["mask.image"]


def test_edit_automatic_masks_and_modes() -> None:
    base = common_pb2.Media(mime_type="image/png", data=png(8, 8))
    swap = IM.EditImageRequest(
        prompt="a beach", edit_mode=IM.EDIT_MODE_BACKGROUND_SWAP, image=base,
        mask=IM.EditMask(automatic=IM.MASK_MODE_BACKGROUND),
    )  # fmt: skip
    body = imagen.to_edit_predict(swap, EDITOR)
    assert body["parameters"]["editMode"] == "EDIT_MODE_BGSWAP"
    assert "referenceImage" not in body["instances"][0]["referenceImages"][1]
    semantic = IM.EditImageRequest(
        prompt="x", edit_mode=IM.EDIT_MODE_INPAINT_REMOVAL, image=base,
        mask=IM.EditMask(automatic=IM.MASK_MODE_SEMANTIC),
    )  # fmt: skip
    with pytest.raises(GatewayError) as err:
        imagen.to_edit_predict(semantic, EDITOR)
    assert "mask.semantic_classes" in violations(err.value)
    removal = IM.EditImageRequest(edit_mode=IM.EDIT_MODE_INPAINT_REMOVAL, image=base)
    with pytest.raises(GatewayError) as err:
        imagen.to_edit_predict(removal, EDITOR)
    assert set(violations(err.value)) == {"mask"}  # no prompt needed for removal
    with pytest.raises(GatewayError) as err:
        imagen.to_edit_predict(IM.EditImageRequest(edit_mode=IM.EDIT_MODE_VARIATION), EDITOR)
    assert err.value.code == grpc.StatusCode.UNIMPLEMENTED


def test_gemini_image_bodies_and_imagen_only_settings() -> None:
    request = IM.GenerateImagesRequest(
        model="gemini-2.5-flash-image", prompt="a robot", aspect_ratio="21:9", seed=4
    )
    assert gemini_image.to_generate(request, GEMINI) == {
        "contents": [{"role": "user", "parts": [{"text": "a robot"}]}],
        "generationConfig": {
            "responseModalities": ["TEXT", "IMAGE"],
            "imageConfig": {"aspectRatio": "21:9"},
            "seed": 4,
        },
    }
    bad = IM.GenerateImagesRequest(
        prompt="x", negative_prompt="y", enhance_prompt=True, add_watermark=False
    )
    with pytest.raises(GatewayError) as err:
        gemini_image.to_generate(bad, GEMINI)
    assert set(violations(err.value)) == {"negative_prompt", "enhance_prompt", "add_watermark"}
    edit = IM.EditImageRequest(
        prompt="make it blue",
        image=common_pb2.Media(mime_type="image/png", data=b"png"),
        reference_images=[common_pb2.Media(mime_type="image/png", uri="gs://b/ref.png")],
    )
    parts = gemini_image.to_edit(edit, GEMINI)["contents"][0]["parts"]
    assert [next(iter(p)) for p in parts] == ["inlineData", "fileData", "text"]


def test_gemini_image_reply() -> None:
    data = base64.b64encode(png(4, 4)).decode()
    reply = gemini_image.from_generate(
        {
            "candidates": [
                {
                    "content": {
                        "parts": [
                            {"text": "Here it is."},
                            {"inlineData": {"mimeType": "image/png", "data": data}},
                        ]
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1290},
            "modelVersion": "gemini-2.5-flash-image",
        }
    )
    assert reply.text == "Here it is." and reply.images[0].image.mime_type == "image/png"
    assert (
        reply.usage.output_tokens == 1290 and reply.finish_reason == common_pb2.FINISH_REASON_STOP
    )
    blocked = gemini_image.from_generate(
        {"candidates": [{"finishReason": "IMAGE_SAFETY", "finishMessage": "unsafe"}]}
    )
    assert blocked.finish_reason == common_pb2.FINISH_REASON_CONTENT_FILTER
    assert blocked.images[0].filtered_reason == "no image was returned (IMAGE_SAFETY: unsafe)"
