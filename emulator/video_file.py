"""A real, small MP4 file written in pure Python: the videos Veo operations return.

The container is ISO BMFF (``ftyp``, ``mdat``, ``moov`` with one video ``trak``) holding one
JPEG picture per sample — Motion JPEG, declared the MP4 way: an ``mp4v`` sample entry whose
``esds`` decoder config names object type 0x6C (ISO/IEC 10918-1, registered by the MP4
registration authority). FFmpeg's MP4 demuxer maps that object type to its MJPEG decoder, so the
file opens and decodes with FFmpeg (PyAV), and players that read MP4 see a well-formed file.

Layout (all sizes big-endian)::

    ftyp  isom, minor 0x200, compatible isom iso2 mp41
    mdat  the JPEG samples, back to back
    moov  mvhd, trak (tkhd, mdia (mdhd, hdlr 'vide', minf (vmhd, dinf/dref 'url ',
          stbl (stsd 'mp4v'+esds, stts, stsc, stsz, stco))))

Every sample is a sync sample (no ``stss`` box), one chunk holds them all, and every sample
lasts one frame (``stts`` has one entry). Times: the movie time scale is 1000, the media time
scale is ``fps * 1000`` with a delta of 1000 per frame, so any whole ``fps`` is exact. Creation
and modification times are 0, so the same frames always give the same bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

MOVIE_TIMESCALE = 1000
MIME_TYPE = "video/mp4"
# ISO/IEC 14496-1 objectTypeIndication for JPEG pictures; streamType 4 = visual stream.
_JPEG_OBJECT_TYPE = 0x6C
_VISUAL_STREAM = 0x04
_UNITY_MATRIX = (0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
# ISO 639-2 "und", packed as three 5-bit letters.
_UNDETERMINED = ((ord("u") - 0x60) << 10) | ((ord("n") - 0x60) << 5) | (ord("d") - 0x60)


def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def _matrix() -> bytes:
    return struct.pack(">9I", *_UNITY_MATRIX)


def _descriptor(tag: int, body: bytes) -> bytes:
    # Every descriptor here is shorter than 128 bytes: a one-byte size is enough.
    assert len(body) < 0x80
    return bytes((tag, len(body))) + body


def _esds(bitrate: int, largest_sample: int) -> bytes:
    decoder_config = _descriptor(
        0x04,
        bytes((_JPEG_OBJECT_TYPE, (_VISUAL_STREAM << 2) | 1))
        + largest_sample.to_bytes(3, "big")
        + struct.pack(">II", bitrate, bitrate),
    )
    sl_config = _descriptor(0x06, b"\x02")
    es = _descriptor(0x03, struct.pack(">HB", 1, 0) + decoder_config + sl_config)
    return _full_box(b"esds", 0, 0, es)


def _sample_entry(width: int, height: int, esds: bytes) -> bytes:
    compressor = b"\x0cMotion JPEG".ljust(32, b"\x00")
    return _box(
        b"mp4v",
        b"\x00" * 6,
        struct.pack(">H", 1),  # data_reference_index
        b"\x00" * 16,  # pre_defined, reserved, pre_defined[3]
        struct.pack(">HH", width, height),
        struct.pack(">II", 0x00480000, 0x00480000),  # 72 dpi
        b"\x00" * 4,
        struct.pack(">H", 1),  # frame_count
        compressor,
        struct.pack(">Hh", 0x0018, -1),  # depth, pre_defined
        esds,
    )


def _sample_table(
    sizes: Sequence[int], width: int, height: int, delta: int, chunk_offset: int, bitrate: int
) -> bytes:
    count = len(sizes)
    stsd = _full_box(
        b"stsd",
        0,
        0,
        struct.pack(">I", 1),
        _sample_entry(width, height, _esds(bitrate, max(sizes))),
    )
    stts = _full_box(b"stts", 0, 0, struct.pack(">III", 1, count, delta))
    stsc = _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, count, 1))
    stsz = _full_box(b"stsz", 0, 0, struct.pack(f">II{count}I", 0, count, *sizes))
    stco = _full_box(b"stco", 0, 0, struct.pack(">II", 1, chunk_offset))
    return _box(b"stbl", stsd, stts, stsc, stsz, stco)


def _track(
    sizes: Sequence[int], width: int, height: int, fps: int, chunk_offset: int, bitrate: int
) -> bytes:
    media_timescale = fps * 1000
    delta = 1000
    media_duration = len(sizes) * delta
    movie_duration = len(sizes) * MOVIE_TIMESCALE // fps
    tkhd = _full_box(
        b"tkhd",
        0,
        0x000003,  # enabled, in movie
        struct.pack(">IIIII", 0, 0, 1, 0, movie_duration),
        b"\x00" * 8,
        struct.pack(">hhhH", 0, 0, 0, 0),  # layer, alternate group, volume, reserved
        _matrix(),
        struct.pack(">II", width << 16, height << 16),
    )
    mdhd = _full_box(
        b"mdhd",
        0,
        0,
        struct.pack(">IIIIHH", 0, 0, media_timescale, media_duration, _UNDETERMINED, 0),
    )
    hdlr = _full_box(
        b"hdlr", 0, 0, struct.pack(">I", 0), b"vide", b"\x00" * 12, b"VideoHandler\x00"
    )
    vmhd = _full_box(b"vmhd", 0, 1, struct.pack(">HHHH", 0, 0, 0, 0))
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    stbl = _sample_table(sizes, width, height, delta, chunk_offset, bitrate)
    minf = _box(b"minf", vmhd, dinf, stbl)
    return _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))


def _movie_header(duration: int) -> bytes:
    return _full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, MOVIE_TIMESCALE, duration),
        struct.pack(">IH", 0x00010000, 0x0100),  # rate 1.0, volume 1.0
        b"\x00" * 10,
        _matrix(),
        b"\x00" * 24,  # pre_defined
        struct.pack(">I", 2),  # next_track_ID
    )


def mjpeg_mp4(jpegs: Sequence[bytes], width: int, height: int, fps: int) -> bytes:
    """An MP4 file showing ``jpegs`` (each one JPEG picture of ``width`` x ``height``) at
    ``fps`` frames per second; its duration is ``len(jpegs) / fps`` seconds."""
    if not jpegs:
        raise ValueError("a video needs at least one frame")
    if fps < 1:
        raise ValueError("fps must be at least 1")
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso2", b"mp41")
    mdat = _box(b"mdat", *jpegs)
    sizes = [len(frame) for frame in jpegs]
    seconds = len(jpegs) / fps
    bitrate = int(sum(sizes) * 8 / seconds)
    chunk_offset = len(ftyp) + 8
    movie_duration = len(jpegs) * MOVIE_TIMESCALE // fps
    moov = _box(
        b"moov",
        _movie_header(movie_duration),
        _track(sizes, width, height, fps, chunk_offset, bitrate),
    )
    return ftyp + mdat + moov
