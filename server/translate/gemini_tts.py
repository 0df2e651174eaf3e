"""Gemini TTS over `:generateContent` / `:streamGenerateContent`: SynthesizeRequest -> body with
the AUDIO modality and a speech config; replies -> PCM. Pure functions, no I/O.

Gemini TTS answers with base64 headerless 16-bit mono PCM (`audio/L16;codec=pcm;rate=24000`);
the rate is read from the MIME type rather than assumed, and a WAV answer (which newer TTS
models may send) is unwrapped to PCM, so the gateway encodes from one representation.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import wave
from collections.abc import Mapping
from typing import Any

import grpc
from vertex_gateway.v1 import speech_pb2

from server.errors import FieldViolation, GatewayError, invalid_request, upstream_malformed
from server.routing.registry import ModelSpec

from . import audio_formats
from .labels import label_problems
from .message_checks import message_problems
from .tolerant import tolerant

# Gemini TTS prebuilt voices (vertex-wire.md §7.1).
VOICES = {
    v.lower(): v
    for v in [
        "Achernar",
        "Achird",
        "Algenib",
        "Algieba",
        "Alnilam",
        "Aoede",
        "Autonoe",
        "Callirrhoe",
        "Charon",
        "Despina",
        "Enceladus",
        "Erinome",
        "Fenrir",
        "Gacrux",
        "Iapetus",
        "Kore",
        "Laomedeia",
        "Leda",
        "Orus",
        "Pulcherrima",
        "Puck",
        "Rasalgethi",
        "Sadachbia",
        "Sadaltager",
        "Schedar",
        "Sulafat",
        "Umbriel",
        "Vindemiatrix",
        "Zephyr",
        "Zubenelgenubi",
    ]
}
DEFAULT_RATE = 24000
MAX_TEXT_BYTES = 8000
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_RATE = re.compile(r"rate=(\d+)")


def unsupported_format(fmt: speech_pb2.AudioFormat.ValueType, streaming: bool) -> GatewayError:
    """UNIMPLEMENTED naming the encodings that can be produced."""
    offered = audio_formats.STREAM_FORMATS if streaming else audio_formats.UNARY_FORMATS
    names = ", ".join(speech_pb2.AudioFormat.Name(f) for f in offered)
    what = "streamed" if streaming else "produced"
    return GatewayError(
        grpc.StatusCode.UNIMPLEMENTED,
        f"audio_format: {speech_pb2.AudioFormat.Name(fmt)} cannot be {what} by this gateway;"
        f" use one of {names}"
        + (" (compressed encodings need the whole audio: use Synthesize)" if streaming else ""),
        "AUDIO_FORMAT_UNAVAILABLE",
        metadata={"field": "audio_format"},
    )


def _voice(name: str, field: str, out: list[FieldViolation]) -> str:
    canonical = VOICES.get(name.lower())
    if canonical is None:
        out.append(
            FieldViolation(
                field, f"unknown voice {name!r}; prebuilt voices: {', '.join(VOICES.values())}"
            )
        )
        return name
    return canonical


def to_generate_content(
    request: speech_pb2.SynthesizeRequest, spec: ModelSpec, *, streaming: bool
) -> dict[str, Any]:
    """The body; INVALID_ARGUMENT listing every problem, UNIMPLEMENTED for an encoding the
    gateway cannot produce (in this mode)."""
    out: list[FieldViolation] = list(message_problems(request))
    if out:
        raise invalid_request(out)
    fmt = audio_formats.resolved(request.audio_format)
    offered = audio_formats.STREAM_FORMATS if streaming else audio_formats.UNARY_FORMATS
    if fmt not in offered:
        raise unsupported_format(fmt, streaming)
    text = request.text
    if not text.strip():
        out.append(FieldViolation("text", "is required"))
    elif len(text.encode()) > MAX_TEXT_BYTES:
        out.append(
            FieldViolation("text", f"is longer than {MAX_TEXT_BYTES} bytes, Gemini TTS's limit")
        )
    speech: dict[str, Any] = {}
    if request.voice and request.speakers:
        out.append(FieldViolation("voice", "set either voice or speakers, not both"))
    if request.voice:
        name = _voice(request.voice, "voice", out)
        speech["voiceConfig"] = {"prebuiltVoiceConfig": {"voiceName": name}}
    if request.speakers:
        if len(request.speakers) != 2:
            out.append(FieldViolation("speakers", "Gemini TTS takes exactly two speakers"))
        configs = []
        seen: set[str] = set()
        for i, sv in enumerate(request.speakers):
            if not sv.speaker.strip():
                out.append(FieldViolation(f"speakers[{i}].speaker", "is required"))
            elif sv.speaker in seen:
                out.append(
                    FieldViolation(f"speakers[{i}].speaker", f"duplicate speaker {sv.speaker!r}")
                )
            elif f"{sv.speaker}:" not in text:
                out.append(
                    FieldViolation(
                        f"speakers[{i}].speaker",
                        f'{sv.speaker!r} introduces no turn in text (write "{sv.speaker}: ...")',
                    )
                )
            seen.add(sv.speaker)
            if not sv.voice:
                out.append(FieldViolation(f"speakers[{i}].voice", "is required"))
                continue
            voice = _voice(sv.voice, f"speakers[{i}].voice", out)
            configs.append(
                {
                    "speaker": sv.speaker,
                    "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": voice}},
                }
            )
        speech["multiSpeakerVoiceConfig"] = {"speakerVoiceConfigs": configs}
    if request.language_code:
        if not _LANGUAGE.match(request.language_code):
            out.append(FieldViolation("language_code", "is not a BCP-47 code such as en-US"))
        speech["languageCode"] = request.language_code
    out.extend(label_problems(request.labels))
    if out:
        raise invalid_request(out)
    style = request.style_instructions.strip()
    prompt = f"{style.rstrip(':')}: {text}" if style else text
    config: dict[str, Any] = {"responseModalities": ["AUDIO"]}
    if speech:
        config["speechConfig"] = speech
    body: dict[str, Any] = {
        "contents": [{"role": "user", "parts": [{"text": prompt}]}],
        "generationConfig": config,
    }
    if request.labels:
        body["labels"] = dict(request.labels)
    return body


def _pcm_of(blob: Mapping[str, Any]) -> audio_formats.Pcm:
    mime = str(blob.get("mimeType") or "")
    try:
        data = base64.b64decode(str(blob.get("data") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise upstream_malformed("speech reply: inlineData.data is not base64") from None
    if mime.startswith(("audio/wav", "audio/x-wav", "audio/wave")):
        try:
            with wave.open(io.BytesIO(data)) as w:
                if w.getsampwidth() != 2 or w.getnchannels() != 1:
                    raise upstream_malformed("speech reply: WAV audio is not 16-bit mono")
                return audio_formats.Pcm(w.readframes(w.getnframes()), w.getframerate())
        except (wave.Error, EOFError):
            raise upstream_malformed("speech reply: WAV audio is unreadable") from None
    if not mime.lower().startswith("audio/l16") and not mime.lower().startswith("audio/pcm"):
        raise upstream_malformed(f"speech reply: unexpected audio type {mime!r}")
    rate = _RATE.search(mime)
    return audio_formats.Pcm(data, int(rate.group(1)) if rate else DEFAULT_RATE)


@tolerant
def audio_parts(payload: Any) -> tuple[list[audio_formats.Pcm], Mapping[str, Any]]:
    """The PCM pieces of one reply or stream event, and its first candidate (for the finish)."""
    if not isinstance(payload, Mapping):
        raise upstream_malformed("speech reply: expected a JSON object")
    candidates = payload.get("candidates") or []
    candidate = candidates[0] if isinstance(candidates, list) and candidates else {}
    if not isinstance(candidate, Mapping):
        raise upstream_malformed("speech reply: a candidate is not an object")
    content = candidate.get("content") or {}
    parts = content.get("parts") if isinstance(content, Mapping) else None
    pieces = []
    for part in parts if isinstance(parts, list) else []:
        blob = part.get("inlineData") if isinstance(part, Mapping) else None
        if isinstance(blob, Mapping):
            pieces.append(_pcm_of(blob))
    return pieces, candidate
