"""Real, deterministic PNG / JPEG pictures for the image routes (Imagen ``:predict`` and Gemini
image replies), made with Pillow; and the reading, masking and editing of callers' images.

A picture is a vertical two-colour gradient with a few ellipses and rectangles whose colours and
places come from a seed (what the request asked for), so the same request always gets the same
pixels. Everything stays in Pillow's C code — a 256-level gradient resized, flat shapes, PNG at
compress level 1 — so even a 2K image takes a few tens of milliseconds.

An edit keeps every pixel outside the mask exactly (compared in RGB) and fills the mask with a
seed-derived pattern pushed away from the base image channel by channel, so every masked pixel
visibly changes.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageOps, UnidentifiedImageError

PNG = "image/png"
JPEG = "image/jpeg"
OUTPUT_MIME_TYPES = (PNG, JPEG)
# Vertex's default JPEG quality for Imagen (``outputOptions.compressionQuality``).
DEFAULT_JPEG_QUALITY = 75

# Imagen's native sizes at 1K (Imagen API reference, "aspectRatio"); 2K doubles each side.
IMAGEN_SIZES = {
    "1:1": (1024, 1024),
    "3:4": (896, 1280),
    "4:3": (1280, 896),
    "9:16": (768, 1408),
    "16:9": (1408, 768),
}
# gemini-2.5-flash-image's native sizes (the ratios of ImageConfig.aspectRatio in the discovery
# document). The model renders about one megapixel (1290 output tokens) whatever ``imageSize``
# says, so the emulator keeps these sizes for 1K, 2K and 4K alike.
GEMINI_SIZES = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}
# Formats a caller's image may come in (Vertex takes PNG and JPEG for Imagen; Gemini also WebP).
_READABLE = ("PNG", "JPEG", "WEBP")
# Every masked channel ends up at least this far from the base image's value.
_MIN_CHANGE = 64

Size = tuple[int, int]
Colour = tuple[int, int, int]


class UnreadableImage(ValueError):
    """Bytes that are not a PNG, JPEG or WebP image Pillow can decode."""


@dataclass(frozen=True)
class Encoded:
    """An encoded picture and its MIME type."""

    data: bytes
    mime_type: str


def imagen_size(aspect_ratio: str, image_size: str = "1K") -> Size:
    """Imagen's native pixel size for an aspect ratio; ``2K`` doubles each side."""
    width, height = IMAGEN_SIZES[aspect_ratio]
    factor = 2 if image_size == "2K" else 1
    return width * factor, height * factor


def _digest(seed: str | bytes) -> bytes:
    return hashlib.sha256(seed.encode("utf-8") if isinstance(seed, str) else seed).digest()


def _colour(digest: bytes, at: int) -> Colour:
    return digest[at % 32], digest[(at + 1) % 32], digest[(at + 2) % 32]


def render(seed: str | bytes, size: Size) -> Image.Image:
    """A deterministic RGB picture of ``size`` for ``seed``: a gradient and a few shapes."""
    digest = _digest(seed)
    width, height = size
    ramp = Image.linear_gradient("L").resize(size, Image.Resampling.BILINEAR)
    picture = ImageOps.colorize(ramp, black=_colour(digest, 0), white=_colour(digest, 3))
    draw = ImageDraw.Draw(picture)
    for k in range(4):
        base = 6 + 6 * k
        x0 = digest[base] * width // 320
        y0 = digest[base + 1] * height // 320
        x1 = min(width - 1, x0 + width // 8 + digest[base + 2] * width // 512)
        y1 = min(height - 1, y0 + height // 8 + digest[base + 3] * height // 512)
        box = (x0, y0, max(x0, x1), max(y0, y1))
        colour = _colour(digest, base + 4)
        if digest[base + 5] % 2:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    return picture


def encode(picture: Image.Image, mime_type: str = PNG, quality: int | None = None) -> Encoded:
    """PNG (compress level 1: fast, still lossless) or JPEG at ``quality`` (default 75)."""
    out = io.BytesIO()
    if mime_type == JPEG:
        picture.convert("RGB").save(
            out, "JPEG", quality=DEFAULT_JPEG_QUALITY if quality is None else quality
        )
    else:
        picture.save(out, "PNG", compress_level=1)
    return Encoded(out.getvalue(), JPEG if mime_type == JPEG else PNG)


def decode(data: bytes) -> Image.Image:
    """The RGB pixels of a caller's PNG / JPEG / WebP image, or :class:`UnreadableImage`."""
    try:
        with Image.open(io.BytesIO(data), formats=_READABLE) as opened:
            opened.load()
            return opened.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(str(exc)) from exc


def decode_mask(data: bytes) -> Image.Image:
    """A caller's mask as a two-level ``L`` image: white (>= 128) is the area to edit."""
    try:
        with Image.open(io.BytesIO(data), formats=_READABLE) as opened:
            opened.load()
            grey = opened.convert("L")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(str(exc)) from exc
    return grey.point(lambda v: 255 if v >= 128 else 0)


def ellipse_mask(size: Size, *, inside: bool) -> Image.Image:
    """The centred ellipse over the middle 60 % of each side (``inside``) or everything else:
    the emulator's foreground and background."""
    width, height = size
    mask = Image.new("L", size, 0 if inside else 255)
    box = (width // 5, height // 5, width - width // 5 - 1, height - height // 5 - 1)
    ImageDraw.Draw(mask).ellipse(box, fill=255 if inside else 0)
    return mask


def semantic_mask(size: Size, classes: list[int]) -> Image.Image:
    """A deterministic stand-in for segmentation: one horizontal band (an eighth of the height)
    per class id, placed by the id."""
    width, height = size
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    band = max(1, height // 8)
    for class_id in classes:
        top = (class_id * 37 % 8) * band
        draw.rectangle((0, top, width - 1, min(height - 1, top + band - 1)), fill=255)
    return mask


def full_mask(size: Size) -> Image.Image:
    """Everything: an edit without a mask redraws the whole image."""
    return Image.new("L", size, 255)


def _away_from(pattern: Image.Image, base: Image.Image) -> Image.Image:
    """``pattern`` with every channel value that lies within ``_MIN_CHANGE`` of the base image's
    moved half the range away, so no masked pixel can keep its old colour."""
    channels = []
    for mine, theirs in zip(pattern.split(), base.split(), strict=True):
        close = ImageChops.difference(mine, theirs).point(lambda v: 255 if v < _MIN_CHANGE else 0)
        shifted = mine.point(lambda v: (v + 128) % 256)
        channels.append(Image.composite(shifted, mine, close))
    return Image.merge("RGB", channels)


def edit(base: Image.Image, mask: Image.Image, seed: str | bytes) -> Image.Image:
    """``base`` with the white area of ``mask`` (same size, two-level ``L``) filled with a
    pattern derived from ``seed``; every pixel outside the mask is the base image's own."""
    fill = _away_from(render(seed, base.size), base)
    return Image.composite(fill, base, mask)
