"""The pictures of an emulated Veo video, and the MP4 file that holds them.

A video is small on purpose — 64x36 pixels (16:9) or 36x64 (9:16) at 8 frames per second, so an
8-second clip is 64 JPEG frames and about 90 KB — but it is a real MP4 (``video_file``) that
FFmpeg demuxes and decodes, lasting exactly ``durationSeconds``. Every frame is the seed's
picture (``images.render``: a gradient and a few shapes) blended between a start and an end
picture, with a marker square sliding from left to right, so frames differ and play back as
motion. A first-frame image (``instances[0].image``) is the start picture and the first frame
shows it; a ``lastFrame`` image is the end picture and the last frame shows it. The same request
gives the same bytes; the samples of one request differ (the seed includes the sample index).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageOps

from emulator import images, video_file

FPS = 8
FRAME_SIZES: dict[str, images.Size] = {"16:9": (64, 36), "9:16": (36, 64)}
JPEG_QUALITY = 85
_MARKER = 8


@dataclass(frozen=True)
class VideoPlan:
    """What one sample shows."""

    seed: bytes
    aspect_ratio: str
    duration_seconds: int
    first: Image.Image | None = None
    last: Image.Image | None = None
    # "pad" letterboxes an input image of another shape, "crop" fills the frame with it.
    resize_mode: str = "pad"


def _fitted(picture: Image.Image, size: images.Size, mode: str) -> Image.Image:
    if mode == "crop":
        return ImageOps.fit(picture, size, Image.Resampling.BILINEAR)
    return ImageOps.pad(picture, size, Image.Resampling.BILINEAR, color=(0, 0, 0))


def _jpeg(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def render_frames(plan: VideoPlan) -> list[Image.Image]:
    """Every frame of the video, in order (``FPS * duration_seconds`` of them)."""
    size = FRAME_SIZES[plan.aspect_ratio]
    width, height = size
    count = FPS * plan.duration_seconds
    start = (
        _fitted(plan.first, size, plan.resize_mode)
        if plan.first is not None
        else images.render(plan.seed, size)
    )
    end = (
        _fitted(plan.last, size, plan.resize_mode)
        if plan.last is not None
        else images.render(plan.seed + b"/end", size)
    )
    marker_colour = tuple(hashlib.sha256(plan.seed + b"/marker").digest()[:3])
    frames = []
    for index in range(count):
        share = index / (count - 1) if count > 1 else 0.0
        frame = Image.blend(start, end, share)
        pinned = (index == 0 and plan.first is not None) or (
            index == count - 1 and plan.last is not None
        )
        if not pinned:
            x = round(share * (width - _MARKER))
            y = (height - _MARKER) // 2
            ImageDraw.Draw(frame).rectangle(
                (x, y, x + _MARKER - 1, y + _MARKER - 1), fill=marker_colour
            )
        frames.append(frame)
    return frames


def render_mp4(plan: VideoPlan) -> bytes:
    """The video as MP4 bytes (Motion JPEG in ISO BMFF)."""
    width, height = FRAME_SIZES[plan.aspect_ratio]
    jpegs = [_jpeg(frame) for frame in render_frames(plan)]
    return video_file.mjpeg_mp4(jpegs, width, height, FPS)
