"""Imagen editing: ``:predict`` of ``imagen-3.0-capability-001`` (vertex-wire.md §6.2): masks keep
every other pixel, the reference checks, and the checks on the pictures themselves."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from emu_helpers import Emulator
from image_helpers import (
    EDITOR,
    assert_400,
    assert_edit,
    b64_image,
    base_picture,
    box_mask,
    picture_of,
    predict,
)
from PIL import Image

from emulator import images
from emulator.imagen import filtered_reason

PREFIX = "Image editing failed with the following error: "
SIZE = (320, 240)
BOX = (100, 60, 219, 179)


def raw(picture: Image.Image | None = None, **extra: Any) -> dict[str, Any]:
    image = {"bytesBase64Encoded": b64_image(picture or base_picture(SIZE))}
    return {
        "referenceType": "REFERENCE_TYPE_RAW",
        "referenceId": 1,
        "referenceImage": image,
        **extra,
    }


def user_mask(mask: Image.Image | None = None, **config: Any) -> dict[str, Any]:
    return {
        "referenceType": "REFERENCE_TYPE_MASK",
        "referenceId": 2,
        "referenceImage": {"bytesBase64Encoded": b64_image(mask or box_mask(SIZE, BOX))},
        "maskImageConfig": {"maskMode": "MASK_MODE_USER_PROVIDED", **config},
    }


def auto_mask(mode: str, **config: Any) -> dict[str, Any]:
    return {
        "referenceType": "REFERENCE_TYPE_MASK",
        "referenceId": 2,
        "maskImageConfig": {"maskMode": mode, **config},
    }


def edit_body(
    prompt: str | None = "a golden retriever on the bench",
    references: list[dict[str, Any]] | None = None,
    **parameters: Any,
) -> dict[str, Any]:
    instance: dict[str, Any] = {"referenceImages": references or [raw(), user_mask()]}
    if prompt is not None:
        instance["prompt"] = prompt
    params = {"editMode": "EDIT_MODE_INPAINT_INSERTION", "sampleCount": 1, **parameters}
    return {"instances": [instance], "parameters": params}


async def edited(emu: Emulator, request_body: dict[str, Any]) -> list[Image.Image]:
    status, reply = await predict(emu, request_body, EDITOR)
    assert status == 200, reply
    assert set(reply) == {"predictions"}
    for item in reply["predictions"]:
        assert set(item) == {"bytesBase64Encoded", "mimeType"} and item["mimeType"] == "image/png"
    return [picture_of(item["bytesBase64Encoded"]) for item in reply["predictions"]]


async def test_insertion_keeps_every_pixel_outside_the_mask(emu: Emulator) -> None:
    [result] = await edited(emu, edit_body())
    assert_edit(result, base_picture(SIZE), box_mask(SIZE, BOX))


async def test_jpeg_base_keeps_its_decoded_pixels(emu: Emulator) -> None:
    base_jpeg = b64_image(base_picture(SIZE), "JPEG")
    reference = raw()
    reference["referenceImage"] = {"bytesBase64Encoded": base_jpeg, "mimeType": "image/jpeg"}
    [result] = await edited(emu, edit_body(references=[reference, user_mask()]))
    decoded = picture_of(base_jpeg, "JPEG")
    assert_edit(result, decoded, box_mask(SIZE, BOX))


async def test_rgba_mask_and_base_are_read_in_rgb(emu: Emulator) -> None:
    base = base_picture(SIZE).convert("RGBA")
    mask = box_mask(SIZE, BOX).convert("RGBA")
    [result] = await edited(emu, edit_body(references=[raw(base), user_mask(mask)]))
    assert_edit(result, base.convert("RGB"), box_mask(SIZE, BOX))


async def test_samples_differ_and_repeat(emu: Emulator) -> None:
    request_body = edit_body(sampleCount=2)
    first = await edited(emu, request_body)
    again = await edited(emu, request_body)
    assert len(first) == 2
    assert first[0].tobytes() != first[1].tobytes()
    assert [p.tobytes() for p in first] == [p.tobytes() for p in again]
    for picture in first:
        assert_edit(picture, base_picture(SIZE), box_mask(SIZE, BOX))


async def test_removal_may_have_an_empty_prompt(emu: Emulator) -> None:
    for prompt in ("", None):
        request_body = edit_body(prompt, editMode="EDIT_MODE_INPAINT_REMOVAL")
        [result] = await edited(emu, request_body)
        assert_edit(result, base_picture(SIZE), box_mask(SIZE, BOX))


@pytest.mark.parametrize(
    "mode", ["EDIT_MODE_INPAINT_INSERTION", "EDIT_MODE_BGSWAP", "EDIT_MODE_DEFAULT"]
)
async def test_modes_that_need_a_prompt(emu: Emulator, mode: str) -> None:
    for prompt in ("  ", None):
        status, reply = await predict(emu, edit_body(prompt, editMode=mode), EDITOR)
        assert_400(status, reply, "instances[0].prompt is")


async def test_background_mask_swaps_everything_but_the_subject(emu: Emulator) -> None:
    references = [raw(), auto_mask("MASK_MODE_BACKGROUND")]
    [result] = await edited(emu, edit_body("a beach", references, editMode="EDIT_MODE_BGSWAP"))
    assert_edit(result, base_picture(SIZE), images.ellipse_mask(SIZE, inside=False))


async def test_foreground_mask_changes_the_subject(emu: Emulator) -> None:
    references = [raw(), auto_mask("MASK_MODE_FOREGROUND", dilation=0.02)]
    [result] = await edited(emu, edit_body("a cat", references))
    assert_edit(result, base_picture(SIZE), images.ellipse_mask(SIZE, inside=True))


async def test_semantic_mask(emu: Emulator) -> None:
    references = [raw(), auto_mask("MASK_MODE_SEMANTIC", maskClasses=[8, 125])]
    [result] = await edited(emu, edit_body("", references, editMode="EDIT_MODE_INPAINT_REMOVAL"))
    assert_edit(result, base_picture(SIZE), images.semantic_mask(SIZE, [8, 125]))


async def test_outpaint_with_a_padded_image(emu: Emulator) -> None:
    padded = Image.new("RGB", (400, 240), (0, 0, 0))
    padded.paste(base_picture(SIZE), (40, 0))
    mask = Image.new("L", (400, 240), 255)
    mask.paste(0, (40, 0, 360, 240))
    references = [raw(padded), user_mask(mask)]
    [result] = await edited(emu, edit_body("", references, editMode="EDIT_MODE_OUTPAINT"))
    assert_edit(result, padded, mask)


async def test_default_mode_without_a_mask_redraws_the_image(emu: Emulator) -> None:
    references = [raw()]
    [result] = await edited(
        emu, edit_body("make it autumn", references, editMode="EDIT_MODE_DEFAULT")
    )
    assert_edit(result, base_picture(SIZE), images.full_mask(SIZE))


async def test_customization_without_a_base_uses_the_aspect_ratio(emu: Emulator) -> None:
    subject = {
        "referenceType": "REFERENCE_TYPE_SUBJECT",
        "referenceId": 1,
        "referenceImage": {"bytesBase64Encoded": b64_image(base_picture((64, 64)))},
        "subjectImageConfig": {
            "subjectType": "SUBJECT_TYPE_PRODUCT",
            "subjectDescription": "a mug",
        },
    }
    request_body = edit_body("a mug [1] on a desk", [subject], editMode="EDIT_MODE_DEFAULT")
    request_body["parameters"]["aspectRatio"] = "16:9"
    [result] = await edited(emu, request_body)
    assert result.size == (1408, 768)


async def test_jpeg_output(emu: Emulator) -> None:
    options = {"mimeType": "image/jpeg", "compressionQuality": 60}
    status, reply = await predict(emu, edit_body(outputOptions=options), EDITOR)
    assert status == 200, reply
    item = reply["predictions"][0]
    assert item["mimeType"] == "image/jpeg"
    assert picture_of(item["bytesBase64Encoded"], "JPEG").size == SIZE


async def test_filter_trigger(emu: Emulator) -> None:
    request_body = edit_body("a dog [filter]", sampleCount=2, includeRaiReason=True)
    status, reply = await predict(emu, request_body, EDITOR)
    assert status == 200, reply
    assert len(reply["predictions"]) == 2
    assert reply["predictions"][1] == {"raiFilteredReason": filtered_reason(1)}
    status, reply = await predict(emu, edit_body("a dog [filter-all]"), EDITOR)
    assert (status, reply) == (200, {})


async def test_mask_size_must_match_the_base_image(emu: Emulator) -> None:
    small = box_mask((160, 120), (10, 10, 50, 50))
    status, reply = await predict(emu, edit_body(references=[raw(), user_mask(small)]), EDITOR)
    assert_400(status, reply, PREFIX + "The mask image is 160x120 but the base image is 320x240")


async def test_unreadable_images(emu: Emulator) -> None:
    junk = base64.b64encode(b"not an image at all").decode("ascii")
    reference = raw()
    reference["referenceImage"] = {"bytesBase64Encoded": junk}
    status, reply = await predict(emu, edit_body(references=[reference, user_mask()]), EDITOR)
    assert_400(status, reply, "referenceImages[0].referenceImage is not a PNG or JPEG image")
    mask = user_mask()
    mask["referenceImage"] = {"bytesBase64Encoded": junk}
    status, reply = await predict(emu, edit_body(references=[raw(), mask]), EDITOR)
    assert_400(status, reply, "referenceImages[1].referenceImage (the mask) is not a PNG")


async def test_gcs_images_are_refused_clearly(emu: Emulator) -> None:
    reference = raw()
    reference["referenceImage"] = {"gcsUri": "gs://bucket/base.png"}
    status, reply = await predict(emu, edit_body(references=[reference, user_mask()]), EDITOR)
    assert_400(status, reply, "the Vertex emulator has no Cloud Storage yet")


def _with(reference: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**reference, **changes}


@pytest.mark.parametrize(
    ("references", "parameters", "fragment"),
    [
        (
            [raw()],
            {},
            "EDIT_MODE_INPAINT_INSERTION needs a REFERENCE_TYPE_RAW and a REFERENCE_TYPE_MASK",
        ),
        ([user_mask()], {}, "A REFERENCE_TYPE_MASK needs the image it masks"),
        ([raw(), raw(referenceId=3), user_mask()], {}, "more than one REFERENCE_TYPE_RAW"),
        (
            [raw(), user_mask(), _with(user_mask(), referenceId=3)],
            {},
            "more than one REFERENCE_TYPE_MASK",
        ),
        ([raw(), _with(user_mask(), referenceId=1)], {}, "every referenceId must be different"),
        (
            [_with(raw(), referenceType="REFERENCE_TYPE_BASE"), user_mask()],
            {},
            '"REFERENCE_TYPE_BASE" is not supported',
        ),
        ([{"referenceId": 1}, user_mask()], {}, "referenceImages[0].referenceType is required"),
        ([_with(raw(), referenceId="1"), user_mask()], {}, "referenceId must be an integer"),
        (
            [_with(raw(), weight=1), user_mask()],
            {},
            'Unknown field "weight" in instances[0].referenceImages[0]',
        ),
        (
            [_with(raw(), maskImageConfig={"maskMode": "MASK_MODE_BACKGROUND"}), user_mask()],
            {},
            "maskImageConfig does not go with REFERENCE_TYPE_RAW",
        ),
        (
            [{"referenceType": "REFERENCE_TYPE_RAW", "referenceId": 1}, user_mask()],
            {},
            "referenceImage is required with REFERENCE_TYPE_RAW",
        ),
        (
            [_with(raw(), referenceImage={"bytesBase64Encoded": "@@@"}), user_mask()],
            {},
            "bytesBase64Encoded is not valid base64",
        ),
        (
            [_with(raw(), referenceImage={"bytesBase64Encoded": ""}), user_mask()],
            {},
            "bytesBase64Encoded is empty",
        ),
        (
            [_with(raw(), referenceImage={}), user_mask()],
            {},
            "must set exactly one of bytesBase64Encoded and gcsUri",
        ),
        (
            [_with(raw(), referenceImage={"gcsUri": "http://x/a.png"}), user_mask()],
            {},
            "is not a Cloud Storage URI",
        ),
        (
            [
                _with(
                    raw(), referenceImage={"bytesBase64Encoded": "QUJD", "mimeType": "image/gif"}
                ),
                user_mask(),
            ],
            {},
            '"image/gif" is not supported',
        ),
        (
            [raw(), _with(user_mask(), maskImageConfig={})],
            {},
            "maskImageConfig.maskMode is required",
        ),
        (
            [raw(), {"referenceType": "REFERENCE_TYPE_MASK", "referenceId": 2}],
            {},
            "maskImageConfig is required with REFERENCE_TYPE_MASK",
        ),
        (
            [raw(), auto_mask("MASK_MODE_USER_PROVIDED")],
            {},
            "MASK_MODE_USER_PROVIDED needs the mask in referenceImage",
        ),
        (
            [raw(), auto_mask("MASK_MODE_DEFAULT")],
            {},
            "MASK_MODE_DEFAULT needs the mask in referenceImage",
        ),
        (
            [raw(), _with(user_mask(), maskImageConfig={"maskMode": "MASK_MODE_BACKGROUND"})],
            {},
            "MASK_MODE_BACKGROUND computes the mask: leave referenceImage out",
        ),
        (
            [raw(), auto_mask("MASK_MODE_SEMANTIC")],
            {},
            "maskClasses is required with MASK_MODE_SEMANTIC",
        ),
        ([raw(), auto_mask("MASK_MODE_SEMANTIC", maskClasses=[500])], {}, "maskClasses[0] is 500"),
        (
            [raw(), auto_mask("MASK_MODE_FOREGROUND", maskClasses=[1])],
            {},
            "maskClasses is only used with MASK_MODE_SEMANTIC",
        ),
        ([raw(), auto_mask("MASK_MODE_EVERYTHING")], {}, '"MASK_MODE_EVERYTHING" is not supported'),
        (
            [raw(), user_mask(dilation=1.5)],
            {},
            "dilation is 1.5, but the supported range is from 0 to 1",
        ),
        ([raw(), user_mask(dilation="a")], {}, "dilation must be a number"),
        ([raw(), user_mask(feather=2)], {}, 'Unknown field "feather"'),
        (
            [raw(), user_mask()],
            {"editMode": "EDIT_MODE_MAGIC"},
            '"EDIT_MODE_MAGIC" is not supported',
        ),
        ([raw(), user_mask()], {"editConfig": {"baseSteps": 0}}, "baseSteps is 0"),
        (
            [raw(), user_mask()],
            {"editConfig": {"steps": 10}},
            'Unknown field "steps" in parameters.editConfig',
        ),
        (
            [raw(), user_mask()],
            {"enhancePrompt": True},
            'Unknown field "enhancePrompt" in parameters',
        ),
        ([raw(), user_mask()], {"sampleImageSize": "2K"}, 'Unknown field "sampleImageSize"'),
        ([raw(), user_mask()], {"sampleCount": 5}, "sampleCount is 5"),
        ([raw(), user_mask()], {"seed": 1}, "Seed is not supported when watermark is enabled."),
        (
            [raw()],
            {"editMode": "EDIT_MODE_CONTROLLED_EDITING"},
            "EDIT_MODE_CONTROLLED_EDITING needs a REFERENCE_TYPE_CONTROL",
        ),
        ([raw()], {"editMode": "EDIT_MODE_STYLE"}, "EDIT_MODE_STYLE needs a REFERENCE_TYPE_STYLE"),
        (
            [
                raw(),
                {
                    "referenceType": "REFERENCE_TYPE_CONTROL",
                    "referenceId": 2,
                    "referenceImage": {"bytesBase64Encoded": "QUJD"},
                },
            ],
            {"editMode": "EDIT_MODE_CONTROLLED_EDITING"},
            "controlImageConfig is required with REFERENCE_TYPE_CONTROL",
        ),
        (
            [
                raw(),
                {
                    "referenceType": "REFERENCE_TYPE_CONTROL",
                    "referenceId": 2,
                    "referenceImage": {"bytesBase64Encoded": "QUJD"},
                    "controlImageConfig": {
                        "controlType": "CONTROL_TYPE_CANNY",
                        "computeControl": True,
                        "enableControlImageComputation": True,
                    },
                },
            ],
            {"editMode": "EDIT_MODE_CONTROLLED_EDITING"},
            "not both",
        ),
    ],
)
async def test_bad_edit_requests(
    emu: Emulator, references: list[dict[str, Any]], parameters: dict[str, Any], fragment: str
) -> None:
    status, reply = await predict(emu, edit_body(references=references, **parameters), EDITOR)
    message = assert_400(status, reply, fragment)
    assert message.startswith(PREFIX)


async def test_controlled_editing_takes_either_flag_spelling(emu: Emulator) -> None:
    for flag in ("computeControl", "enableControlImageComputation"):
        control = {
            "referenceType": "REFERENCE_TYPE_CONTROL",
            "referenceId": 2,
            "referenceImage": {"bytesBase64Encoded": b64_image(base_picture(SIZE))},
            "controlImageConfig": {"controlType": "CONTROL_TYPE_SCRIBBLE", flag: True},
        }
        request_body = edit_body(
            "a sketch of a house", [raw(), control], editMode="EDIT_MODE_CONTROLLED_EDITING"
        )
        [result] = await edited(emu, request_body)
        assert result.size == SIZE
