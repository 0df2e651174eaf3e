"""Audio encodings for synthesized speech: Gemini TTS returns 16-bit mono PCM (24 kHz); callers
ask for WAV, raw PCM, FLAC, MP3, Ogg Opus or G.711 (mu-law, A-law at 8 kHz).

WAV and PCM are written here; G.711 uses the standard segment tables (audioop, which did this,
is deprecated and gone in Python 3.13); FLAC, MP3 and Opus come from libsndfile through
`soundfile`, imported only when asked for so an idle gateway does not carry numpy. Streaming
keeps each chunk in the requested encoding: PCM and G.711 chunk by chunk, WAV with a streaming
header first; the compressed encodings need the whole audio and are not streamed.
"""

from __future__ import annotations

import functools
import io
import struct
import wave
from array import array
from dataclasses import dataclass

from vertex_gateway.v1 import speech_pb2

F = speech_pb2.AudioFormat
TELEPHONY_RATE = 8000

_MIME = {
    F.AUDIO_FORMAT_WAV: "audio/wav",
    F.AUDIO_FORMAT_MP3: "audio/mpeg",
    F.AUDIO_FORMAT_OGG_OPUS: "audio/ogg; codecs=opus",
    F.AUDIO_FORMAT_FLAC: "audio/flac",
    F.AUDIO_FORMAT_MULAW: "audio/basic",
    F.AUDIO_FORMAT_ALAW: "audio/x-alaw-basic",
}
# libsndfile container and subtype per compressed encoding.
_SOUNDFILE = {
    F.AUDIO_FORMAT_FLAC: ("FLAC", "PCM_16"),
    F.AUDIO_FORMAT_MP3: ("MP3", "MPEG_LAYER_III"),
    F.AUDIO_FORMAT_OGG_OPUS: ("OGG", "OPUS"),
}
UNARY_FORMATS = (
    F.AUDIO_FORMAT_WAV,
    F.AUDIO_FORMAT_PCM,
    F.AUDIO_FORMAT_MP3,
    F.AUDIO_FORMAT_OGG_OPUS,
    F.AUDIO_FORMAT_FLAC,
    F.AUDIO_FORMAT_MULAW,
    F.AUDIO_FORMAT_ALAW,
)
STREAM_FORMATS = (F.AUDIO_FORMAT_WAV, F.AUDIO_FORMAT_PCM, F.AUDIO_FORMAT_MULAW, F.AUDIO_FORMAT_ALAW)


def resolved(fmt: speech_pb2.AudioFormat.ValueType) -> speech_pb2.AudioFormat.ValueType:
    """The format a request gets (unset is WAV)."""
    return fmt or F.AUDIO_FORMAT_WAV


def audio_info(fmt: speech_pb2.AudioFormat.ValueType, rate: int) -> speech_pb2.AudioInfo:
    """What the bytes of `fmt` are, for speech produced at `rate` Hz."""
    fmt = resolved(fmt)
    if fmt in (F.AUDIO_FORMAT_MULAW, F.AUDIO_FORMAT_ALAW):
        rate = TELEPHONY_RATE
    mime = f"audio/L16;codec=pcm;rate={rate}" if fmt == F.AUDIO_FORMAT_PCM else _MIME[fmt]
    return speech_pb2.AudioInfo(format=fmt, mime_type=mime, sample_rate_hertz=rate, channels=1)


def wav_header(rate: int, data_bytes: int | None) -> bytes:
    """A 44-byte RIFF header for 16-bit mono PCM; unknown length -> 0xFFFFFFFF (streaming)."""
    size = 0xFFFFFFFF if data_bytes is None else data_bytes
    riff = 0xFFFFFFFF if data_bytes is None else 36 + data_bytes
    return (
        b"RIFF" + struct.pack("<I", riff) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data" + struct.pack("<I", size)
    )  # fmt: skip


def _mulaw(sample: int) -> int:
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, clip) + bias
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _alaw(sample: int) -> int:
    sign = 0x00 if sample < 0 else 0x80
    magnitude = min(-sample - 1 if sample < 0 else sample, 32767) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (sign | code) ^ 0x55


@functools.cache
def _g711_table(fmt: speech_pb2.AudioFormat.ValueType) -> bytes:
    """The code of each sample, indexed by its unsigned 16-bit value. Made on first use, not on
    import: the two tables take about 50 ms to build, which every start paid before."""
    code = _mulaw if fmt == F.AUDIO_FORMAT_MULAW else _alaw
    return bytes(code(s - 65536 if s >= 32768 else s) for s in range(65536))


class Transcoder:
    """PCM chunks in, chunks of one encoding out (streaming-capable formats only)."""

    def __init__(self, fmt: speech_pb2.AudioFormat.ValueType, rate: int) -> None:
        self.fmt = resolved(fmt)
        self.rate = rate
        self._started = False
        self._carry = b""  # PCM not yet converted: an odd byte, or samples short of a 3-group

    def feed(self, pcm: bytes) -> bytes:
        """The encoded bytes for the next PCM piece."""
        data = self._carry + pcm
        if self.fmt in (F.AUDIO_FORMAT_WAV, F.AUDIO_FORMAT_PCM):
            usable = len(data) - len(data) % 2
            self._carry = data[usable:]
            out = data[:usable]
            if self.fmt == F.AUDIO_FORMAT_WAV and not self._started:
                out = wav_header(self.rate, None) + out
            self._started = True
            return out
        step = 2 * max(1, self.rate // TELEPHONY_RATE)
        usable = len(data) - len(data) % step
        self._carry = data[usable:]
        return _g711(data[:usable], self.rate, self.fmt)

    def finish(self) -> bytes:
        """Whatever is left (a WAV header if no audio came at all)."""
        if self.fmt == F.AUDIO_FORMAT_WAV and not self._started:
            self._started = True
            return wav_header(self.rate, None)
        return b""


def _g711(pcm: bytes, rate: int, fmt: speech_pb2.AudioFormat.ValueType) -> bytes:
    samples = array("h")
    samples.frombytes(pcm)
    factor = max(1, rate // TELEPHONY_RATE)
    if factor > 1:  # average each group: a crude low-pass before dropping to 8 kHz
        samples = array(
            "h",
            (sum(samples[i : i + factor]) // factor for i in range(0, len(samples), factor)),
        )
    table = _g711_table(fmt)
    return bytes(table[s & 0xFFFF] for s in samples)


def encode(pcm: bytes, rate: int, fmt: speech_pb2.AudioFormat.ValueType) -> bytes:
    """The whole audio in `fmt`."""
    fmt = resolved(fmt)
    pcm = pcm[: len(pcm) - len(pcm) % 2]
    if fmt == F.AUDIO_FORMAT_PCM:
        return pcm
    if fmt == F.AUDIO_FORMAT_WAV:
        out = io.BytesIO()
        with wave.open(out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm)
        return out.getvalue()
    if fmt in (F.AUDIO_FORMAT_MULAW, F.AUDIO_FORMAT_ALAW):
        return _g711(pcm, rate, fmt)
    container, subtype = _SOUNDFILE[fmt]
    import numpy
    import soundfile  # type: ignore[import-untyped]

    samples = numpy.frombuffer(pcm, dtype="<i2")
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format=container, subtype=subtype)
    return out.getvalue()


@dataclass(frozen=True)
class Pcm:
    """Decoded speech: 16-bit little-endian mono samples and their rate."""

    data: bytes
    rate: int


def duration(pcm_bytes: int, rate: int) -> float:
    """Seconds of 16-bit mono PCM."""
    return pcm_bytes / 2 / rate if rate else 0.0
