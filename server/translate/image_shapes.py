"""Image shapes and the checks every image request shares (Imagen and Gemini image models).

Aspect ratios and native sizes per model kind come from Vertex's documentation of Imagen
(`aspectRatio`, 1K sizes; 2K doubles each side) and of Gemini image models (`imageConfig`).
A pixel size is accepted when it is one of the model's native sizes or reduces to exactly one
of its ratios; anything else is INVALID_ARGUMENT listing what the model takes.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from vertex_gateway.v1 import common_pb2, image_pb2

from server.errors import FieldViolation

IMAGEN_RATIOS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "3:4": (896, 1280),
    "4:3": (1280, 896),
    "9:16": (768, 1408),
    "16:9": (1408, 768),
}
GEMINI_RATIOS: dict[str, tuple[int, int]] = {
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
MIME_TYPES = ("image/png", "image/jpeg")
MAX_IMAGES = 4


@dataclass(frozen=True)
class Shape:
    """What a request's shape fields come to: a ratio, and the size tier a native size implies."""

    aspect_ratio: str | None
    image_size: str | None


def _ratio_of(width: int, height: int) -> str:
    d = math.gcd(width, height)
    return f"{width // d}:{height // d}"


def shape(
    request: image_pb2.GenerateImagesRequest,
    ratios: dict[str, tuple[int, int]],
    sizes: tuple[str, ...],
    out: list[FieldViolation],
) -> Shape:
    """The aspect ratio (and size tier) the request asks for, or a violation naming the field."""
    allowed = ", ".join(ratios)
    kind = request.WhichOneof("shape")
    size = request.image_size or None
    if size is not None and size not in sizes:
        takes = f"takes {', '.join(sizes)}" if sizes else "has no resolution choice"
        out.append(FieldViolation("image_size", f"{request.model} {takes}"))
    if kind == "aspect_ratio":
        if request.aspect_ratio not in ratios:
            out.append(
                FieldViolation(
                    "aspect_ratio", f"{request.aspect_ratio!r} is not supported; use {allowed}"
                )
            )
            return Shape(None, size)
        return Shape(request.aspect_ratio, size)
    if kind == "dimensions":
        w, h = request.dimensions.width, request.dimensions.height
        if w <= 0 or h <= 0:
            out.append(FieldViolation("dimensions", "width and height must be positive"))
            return Shape(None, size)
        for tier, scale in (("1K", 1), ("2K", 2)):
            for ratio, (nw, nh) in ratios.items():
                if (w, h) == (nw * scale, nh * scale) and (tier == "1K" or tier in sizes):
                    return Shape(ratio, size or (tier if tier != "1K" else None))
        ratio = _ratio_of(w, h)
        if ratio in ratios:
            return Shape(ratio, size)
        natives = ", ".join(f"{nw}x{nh}" for nw, nh in ratios.values())
        out.append(
            FieldViolation(
                "dimensions",
                f"{w}x{h} is not a size {request.model} makes; use an aspect ratio of {allowed}"
                f" (native sizes {natives})",
            )
        )
    return Shape(None, size)


def output_problems(
    request: image_pb2.GenerateImagesRequest | image_pb2.EditImageRequest,
    out: list[FieldViolation],
) -> None:
    """Checks on the output format and the number of images (fields both requests share)."""
    mime_type = request.output_mime_type
    quality = (
        request.output_compression_quality
        if request.HasField("output_compression_quality")
        else None
    )
    count = request.number_of_images if request.HasField("number_of_images") else None
    if mime_type and mime_type not in MIME_TYPES:
        out.append(
            FieldViolation(
                "output_mime_type", f"{mime_type!r} is not one of {', '.join(MIME_TYPES)}"
            )
        )
    if quality is not None:
        if mime_type != "image/jpeg":
            out.append(
                FieldViolation("output_compression_quality", 'needs output_mime_type "image/jpeg"')
            )
        elif not 0 <= quality <= 100:
            out.append(FieldViolation("output_compression_quality", "must be 0 to 100"))
    if count is not None and not 1 <= count <= MAX_IMAGES:
        out.append(FieldViolation("number_of_images", f"must be 1 to {MAX_IMAGES}"))


def media_problems(media: common_pb2.Media, field: str, out: list[FieldViolation]) -> None:
    """An image input: present, an image type, bytes or a gs:// URI."""
    source = media.WhichOneof("source")
    if source is None:
        out.append(FieldViolation(field, "is required: image bytes or a gs:// URI"))
        return
    if not media.mime_type.startswith("image/"):
        out.append(FieldViolation(f"{field}.mime_type", "must be an image type (image/png, ...)"))
    if source == "uri" and not media.uri.startswith("gs://"):
        out.append(FieldViolation(f"{field}.uri", "Vertex reads images from gs:// URIs only"))
    if source == "data" and not media.data:
        out.append(FieldViolation(f"{field}.data", "is empty"))


def pixel_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of encoded image bytes (headers only), or None if unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None
