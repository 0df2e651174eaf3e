"""ImageService end to end: Imagen (:predict) and Gemini image models (:generateContent)."""

from __future__ import annotations

import io

import grpc
import grpc.aio
import pytest
from PIL import Image, ImageChops, ImageDraw
from vertex_gateway.v1 import common_pb2, image_pb2, image_pb2_grpc

from emulator.admin import EmulatorAdmin

from ..conftest import error_details

IM = image_pb2


@pytest.fixture
def images(channel: grpc.aio.Channel) -> image_pb2_grpc.ImageServiceStub:
    return image_pb2_grpc.ImageServiceStub(channel)


def decoded(media: common_pb2.Media) -> Image.Image:
    return Image.open(io.BytesIO(media.data))


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def test_imagen_three_16_9_pngs(
    images: image_pb2_grpc.ImageServiceStub, admin: EmulatorAdmin
) -> None:
    reply = await images.GenerateImages(
        IM.GenerateImagesRequest(
            model="imagen-4.0-generate-001", prompt="a lighthouse at dusk", number_of_images=3,
            aspect_ratio="16:9",
        )
    )  # fmt: skip
    assert reply.model == "google/imagen-4.0-generate-001"
    assert len(reply.images) == 3
    for slot in reply.images:
        assert slot.image.mime_type == "image/png"
        picture = decoded(slot.image)
        assert picture.format == "PNG"
        assert picture.size == (1408, 768)  # Imagen's native 16:9 size
    assert reply.served_by.vertex_model == "publishers/google/models/imagen-4.0-generate-001"
    assert admin.audit()["violations"] == []


async def test_jpeg_and_pixel_sizes(images: image_pb2_grpc.ImageServiceStub) -> None:
    reply = await images.GenerateImages(
        IM.GenerateImagesRequest(
            model="imagen-4.0-fast-generate-001", prompt="a cat", output_mime_type="image/jpeg",
            output_compression_quality=70, dimensions=IM.ImageDimensions(width=768, height=1408),
        )
    )  # fmt: skip
    slot = reply.images[0]
    assert slot.image.mime_type == "image/jpeg" and decoded(slot.image).format == "JPEG"
    assert decoded(slot.image).size == (768, 1408)


async def test_filtered_images_are_reported_with_their_reason(
    images: image_pb2_grpc.ImageServiceStub,
) -> None:
    reply = await images.GenerateImages(
        IM.GenerateImagesRequest(
            model="imagen-4.0-generate-001", prompt="a fox [filter]", number_of_images=2
        )
    )
    kinds = [s.WhichOneof("result") for s in reply.images]
    assert kinds == ["image", "filtered_reason"] and reply.images[1].filtered_reason
    everything = await images.GenerateImages(
        IM.GenerateImagesRequest(
            model="imagen-4.0-generate-001", prompt="a fox [filter-all]", number_of_images=2
        )
    )
    assert everything.images and all(s.filtered_reason for s in everything.images)


async def test_gemini_image_model_returns_an_image(
    images: image_pb2_grpc.ImageServiceStub, admin: EmulatorAdmin
) -> None:
    reply = await images.GenerateImages(
        IM.GenerateImagesRequest(
            model="gemini-2.5-flash-image", prompt="a tiny robot watering a plant", aspect_ratio="3:2",
            number_of_images=2,
        )
    )  # fmt: skip
    assert len(reply.images) == 2 and all(s.HasField("image") for s in reply.images)
    assert decoded(reply.images[0].image).size == (1248, 832)
    assert reply.usage.output_tokens > 0
    calls = [r for r in admin.requests() if r["path"].endswith(":generateContent")]
    assert len(calls) == 2
    assert calls[0]["body"]["generationConfig"]["imageConfig"] == {"aspectRatio": "3:2"}
    blocked = await images.GenerateImages(
        IM.GenerateImagesRequest(model="gemini-2.5-flash-image", prompt="something [filter]")
    )
    assert blocked.images[0].filtered_reason and blocked.native_finish_reason == "IMAGE_SAFETY"
    assert admin.audit()["violations"] == []


async def test_inpaint_keeps_the_unmasked_area(images: image_pb2_grpc.ImageServiceStub) -> None:
    base = Image.new("RGB", (256, 192), (40, 120, 200))
    ImageDraw.Draw(base).rectangle((10, 10, 60, 60), fill=(250, 200, 0))
    mask = Image.new("L", base.size, 0)
    ImageDraw.Draw(mask).rectangle((128, 64, 200, 150), fill=255)
    reply = await images.EditImage(
        IM.EditImageRequest(
            model="imagen-3.0-capability-001",
            prompt="a red balloon",
            edit_mode=IM.EDIT_MODE_INPAINT_INSERTION,
            image=common_pb2.Media(mime_type="image/png", data=png_bytes(base)),
            mask=IM.EditMask(image=common_pb2.Media(mime_type="image/png", data=png_bytes(mask))),
        )
    )
    edited = decoded(reply.images[0].image).convert("RGB")
    assert edited.size == base.size
    outside = Image.composite(Image.new("RGB", base.size), edited, mask)
    original = Image.composite(Image.new("RGB", base.size), base, mask)
    assert ImageChops.difference(outside, original).getbbox() is None  # unmasked: identical
    assert ImageChops.difference(edited, base).getbbox() is not None  # masked: changed


async def test_gemini_edit_from_a_reference(images: image_pb2_grpc.ImageServiceStub) -> None:
    base = Image.new("RGB", (300, 200), (0, 90, 0))
    reply = await images.EditImage(
        IM.EditImageRequest(
            model="gemini-2.5-flash-image",
            prompt="make the background a beach",
            image=common_pb2.Media(mime_type="image/png", data=png_bytes(base)),
        )
    )
    assert reply.images[0].HasField("image") and decoded(reply.images[0].image).size == (300, 200)


async def test_bad_image_requests(
    images: image_pb2_grpc.ImageServiceStub, admin: EmulatorAdmin
) -> None:
    small = png_bytes(Image.new("RGB", (64, 64)))
    other = png_bytes(Image.new("L", (32, 64)))
    cases = [
        (IM.GenerateImagesRequest(model="imagen-4.0-generate-001", prompt="x", aspect_ratio="2:1"), "aspect_ratio"),
        (IM.GenerateImagesRequest(model="imagen-4.0-generate-001", prompt="x", dimensions=IM.ImageDimensions(width=1000, height=300)), "dimensions"),
        (IM.GenerateImagesRequest(model="imagen-4.0-generate-001", prompt="x", number_of_images=5), "number_of_images"),
        (IM.GenerateImagesRequest(model="imagen-4.0-generate-001", prompt="x", seed=1), "seed"),
        (IM.GenerateImagesRequest(model="gemini-2.5-flash", prompt="x"), "images"),
        (IM.GenerateImagesRequest(model="imagen-4.0-generate-001", prompt=""), "prompt"),
    ]  # fmt: skip
    for request, needle in cases:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await images.GenerateImages(request)
        d = error_details(info.value)
        assert d.code == grpc.StatusCode.INVALID_ARGUMENT and needle in d.message, d.message
    mismatch = IM.EditImageRequest(
        model="imagen-3.0-capability-001", prompt="x", edit_mode=IM.EDIT_MODE_INPAINT_INSERTION,
        image=common_pb2.Media(mime_type="image/png", data=small),
        mask=IM.EditMask(image=common_pb2.Media(mime_type="image/png", data=other)),
    )  # fmt: skip
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await images.EditImage(mismatch)
    d = error_details(info.value)
    assert d.code == grpc.StatusCode.INVALID_ARGUMENT and "mask.image" in d.message
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await images.EditImage(
            IM.EditImageRequest(model="imagen-3.0-capability-001", edit_mode=IM.EDIT_MODE_VARIATION)
        )
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert not [r for r in admin.requests() if "/publishers/" in r["path"]]


async def test_output_locations_must_be_allowed(images: image_pb2_grpc.ImageServiceStub) -> None:
    request = IM.GenerateImagesRequest(
        model="imagen-4.0-generate-001", prompt="x", output_gcs_uri="gs://someone-elses-bucket/out/"
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await images.GenerateImages(request)
    d = error_details(info.value)
    assert d.code == grpc.StatusCode.PERMISSION_DENIED and "output_gcs_uri" in d.message
    request.model = "gemini-2.5-flash-image"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await images.GenerateImages(request)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_allowed_output_prefixes() -> None:
    from server.backends.images import check_output_uri
    from server.errors import GatewayError

    check_output_uri("gs://team-images/run-1/", ("gs://team-images/",))
    check_output_uri("", ())
    for uri in ("gs://team-images-evil/x/", "gs://other/x/"):
        with pytest.raises(GatewayError) as err:
            check_output_uri(uri, ("gs://team-images/",))
        assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(GatewayError) as err:
        check_output_uri("https://example.com/", ("gs://team-images/",))
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
