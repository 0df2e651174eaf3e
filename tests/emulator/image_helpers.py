"""Helpers shared by the image tests (Imagen, Gemini image); this module holds no tests."""

from __future__ import annotations

import base64
import io
from typing import Any

from emu_helpers import Emulator
from PIL import Image, ImageChops, ImageDraw, ImageStat

IMAGEN = "imagen-4.0-generate-001"
EDITOR = "imagen-3.0-capability-001"


async def predict(emu: Emulator, body: Any, model: str = IMAGEN) -> tuple[int, Any]:
    """POST ``:predict``; the status and the parsed reply."""
    status, reply, _ = await emu.post(emu.url("predict", model), body)
    return status, reply


def assert_400(status: int, reply: Any, fragment: str) -> str:
    """A 400 INVALID_ARGUMENT in Google's shape whose message holds ``fragment``."""
    assert status == 400, reply
    assert set(reply) == {"error"}, reply
    assert reply["error"]["code"] == 400
    assert reply["error"]["status"] == "INVALID_ARGUMENT"
    message: str = reply["error"]["message"]
    assert fragment in message, message
    return message


def picture_of(data_b64: str, fmt: str = "PNG") -> Image.Image:
    """Decode a base64 image, checking its format; RGB pixels."""
    with Image.open(io.BytesIO(base64.b64decode(data_b64))) as opened:
        assert opened.format == fmt, opened.format
        opened.load()
        return opened.convert("RGB")


def b64_image(picture: Image.Image, fmt: str = "PNG") -> str:
    """``picture`` encoded as base64 PNG (or ``fmt``)."""
    out = io.BytesIO()
    picture.save(out, fmt)
    return base64.b64encode(out.getvalue()).decode("ascii")


def base_picture(size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A base image to edit: a flat colour with a stripe."""
    picture = Image.new("RGB", size, (40, 120, 200))
    ImageDraw.Draw(picture).rectangle((0, 0, size[0] - 1, size[1] // 6), fill=(250, 240, 10))
    return picture


def box_mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    """A black mask with a white (edit here) rectangle."""
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle(box, fill=255)
    return mask


def assert_edit(result: Image.Image, base: Image.Image, mask: Image.Image) -> None:
    """Outside the mask: the base image's exact pixels. Inside: every pixel changed."""
    assert result.size == base.size
    difference = ImageChops.difference(result, base).convert("L")
    black = Image.new("L", base.size, 0)
    outside = Image.composite(black, difference, mask)
    assert outside.getbbox() is None, "pixels outside the mask changed"
    # Every masked pixel moved (a channel by at least 64 is the emulator's promise).
    moved = difference.point(lambda v: 255 if v > 0 else 0)
    unchanged_inside = Image.composite(ImageChops.invert(moved), black, mask)
    assert unchanged_inside.getbbox() is None, "some masked pixels kept their colour"
    assert ImageStat.Stat(difference, mask).mean[0] > 20
