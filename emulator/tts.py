"""Gemini TTS (``gemini-2.5-*-tts``) over ``:generateContent`` and ``:streamGenerateContent``,
vertex-wire.md §7.1.

Request checks (``config_problems``, run with the other Vertex rules so they are audited):
``responseModalities`` exactly ``["AUDIO"]``; text parts only, not all blank;
``speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName`` one of the 30 prebuilt voices (any
case); ``multiSpeakerVoiceConfig.speakerVoiceConfigs`` exactly two distinct, named speakers with
prebuilt voices, never together with ``voiceConfig``; ``languageCode`` a BCP-47 tag. The
modality wording is Vertex's (captured); the others are modelled.

Reply: one candidate, one part ``{"inlineData": {"mimeType": "audio/L16;codec=pcm;rate=24000",
"data": <base64>}}`` holding real headerless signed 16-bit little-endian mono PCM at 24 kHz: 50 ms
of tone per character of the text (at least 0.5 s), silence for whitespace, the pitch set by the
voice (the speaking voice of each ``Name:`` turn with two speakers) and the character — the same
request always gets the same samples. Usage counts 25 audio tokens per second of speech.

Streaming sends the audio in 0.25 s slices, one per event, with a real pause between events
(``STREAM_INTERVAL``), so the first slice arrives long before the last; the last event carries
``finishReason`` and the full usage.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import re
import struct
from datetime import UTC, datetime
from typing import Any

from emulator.catalog import ModelInfo
from emulator.counting import count_prompt
from emulator.gemini import TRAFFIC_TYPE, canonical_json, last_user_text
from emulator.gemini_output import modality_problem

# The 30 prebuilt voices (vertex-wire.md §7.1; Google's voice list).
VOICES = (
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
)
_BY_LOWER = {v.lower(): v for v in VOICES}
# The voice Vertex speaks with when the request names none.
DEFAULT_VOICE = "Kore"
SAMPLE_RATE = 24000
MIME_TYPE = f"audio/L16;codec=pcm;rate={SAMPLE_RATE}"
SECONDS_PER_CHARACTER = 0.05
MIN_SECONDS = 0.5
AUDIO_TOKENS_PER_SECOND = 25
SPEAKERS = 2
STREAM_SLICE_SECONDS = 0.25
# Seconds between streamed events: long enough to see, short enough for tests.
STREAM_INTERVAL = 0.03
_BYTES_PER_SAMPLE = 2
_SEGMENT = int(SAMPLE_RATE * SECONDS_PER_CHARACTER)
_FADE = _SEGMENT // 20
_AMPLITUDE = 9000
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_TURN = re.compile(r"^\s*([^:\n]{1,64}):")

Problem = tuple[str | None, str]
_SPEECH = "generation_config.speech_config"


def canonical_voice(name: str) -> str | None:
    """The prebuilt voice ``name`` stands for (any case), or None."""
    return _BY_LOWER.get(name.lower())


def _unknown_voice(name: str) -> str:
    return (
        f"Unable to submit request because voice name `{name}` is not supported. Supported "
        f"voice names: {', '.join(VOICES)}."
    )


def _voice_problem(voice_config: Any, where: str) -> Problem | None:
    if not isinstance(voice_config, dict):
        return None
    prebuilt = voice_config.get("prebuiltVoiceConfig")
    for other, snake in (("replicatedVoiceConfig", "replicated_voice_config"), ("voice", "voice")):
        if voice_config.get(other) is not None:
            return (
                f"{where}.{snake}",
                f"Unable to submit request because {where}.{snake} is not supported by this "
                "model. Use prebuilt_voice_config.",
            )
    name = prebuilt.get("voiceName") if isinstance(prebuilt, dict) else None
    if not isinstance(name, str) or not name:
        return (
            f"{where}.prebuilt_voice_config.voice_name",
            f"Unable to submit request because {where}.prebuilt_voice_config.voice_name is "
            "required.",
        )
    if canonical_voice(name) is None:
        return f"{where}.prebuilt_voice_config.voice_name", _unknown_voice(name)
    return None


def _speakers_problem(multi: dict[str, Any]) -> Problem | None:
    where = f"{_SPEECH}.multi_speaker_voice_config.speaker_voice_configs"
    configs = multi.get("speakerVoiceConfigs") or []
    if len(configs) != SPEAKERS:
        return (
            where,
            f"Unable to submit request because multi_speaker_voice_config must have exactly "
            f"{SPEAKERS} speaker_voice_configs, got {len(configs)}.",
        )
    names: list[str] = []
    for i, config in enumerate(configs):
        speaker = config.get("speaker") if isinstance(config, dict) else None
        if not isinstance(speaker, str) or not speaker.strip():
            return (
                f"{where}[{i}].speaker",
                f"Unable to submit request because {where}[{i}].speaker is required.",
            )
        names.append(speaker.strip())
        voice = config.get("voiceConfig")
        if not isinstance(voice, dict):
            return (
                f"{where}[{i}].voice_config",
                f"Unable to submit request because {where}[{i}].voice_config is required.",
            )
        problem = _voice_problem(voice, f"{where}[{i}].voice_config")
        if problem is not None:
            return problem
    if len(set(names)) != len(names):
        return where, "Unable to submit request because the two speakers must have different names."
    return None


def _speech_problem(speech: dict[str, Any]) -> Problem | None:
    voice = speech.get("voiceConfig")
    multi = speech.get("multiSpeakerVoiceConfig")
    if voice is not None and multi is not None:
        return (
            _SPEECH,
            "Unable to submit request because speech_config sets both voice_config and "
            "multi_speaker_voice_config; only one of them may be set.",
        )
    language = speech.get("languageCode")
    if language is not None and not _LANGUAGE.match(str(language)):
        return (
            f"{_SPEECH}.language_code",
            f"Unable to submit request because language code `{language}` is not a valid "
            "BCP-47 language tag.",
        )
    if isinstance(multi, dict):
        return _speakers_problem(multi)
    return _voice_problem(voice, f"{_SPEECH}.voice_config")


def config_problems(body: dict[str, Any], model: ModelInfo) -> list[Problem]:
    """The first problem of a TTS request (an empty list when all is well)."""
    problem = modality_problem(body, model)
    if problem is not None:
        return [problem]
    for i, content in enumerate(body.get("contents") or []):
        parts = (content.get("parts") or []) if isinstance(content, dict) else []
        for j, part in enumerate(parts):
            if isinstance(part, dict) and set(part) - {"text", "thought", "thoughtSignature"}:
                return [
                    (
                        f"contents[{i}].parts[{j}]",
                        f"Unable to submit request because model {model.model_id} only takes "
                        "text input.",
                    )
                ]
    if not spoken_text(body).strip():
        return [
            (
                "contents",
                "Unable to submit request because the text to speak is empty. Add text and "
                "try again.",
            )
        ]
    config = body.get("generationConfig")
    speech = config.get("speechConfig") if isinstance(config, dict) else None
    if isinstance(speech, dict):
        found = _speech_problem(speech)
        if found is not None:
            return [found]
    return []


def spoken_text(body: dict[str, Any]) -> str:
    """The text the model speaks: the last user turn's text."""
    return last_user_text(body)


def _voices(body: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The default voice and, with two speakers, each speaker's voice."""
    config = body.get("generationConfig") or {}
    speech = config.get("speechConfig") or {}
    multi = speech.get("multiSpeakerVoiceConfig")
    if isinstance(multi, dict):
        speakers = {
            str(c["speaker"]).strip(): canonical_voice(
                c["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"]
            )
            or DEFAULT_VOICE
            for c in multi.get("speakerVoiceConfigs") or []
        }
        return next(iter(speakers.values()), DEFAULT_VOICE), speakers
    name = ((speech.get("voiceConfig") or {}).get("prebuiltVoiceConfig") or {}).get("voiceName")
    return (canonical_voice(str(name)) if name else None) or DEFAULT_VOICE, {}


@functools.cache
def _tone(voice: str, step: int) -> bytes:
    """50 ms of a faded sine: the voice sets the base pitch, the character a semitone step."""
    base = 110.0 + 5.0 * VOICES.index(voice)
    frequency = base * 2 ** (step / 12)
    samples = []
    for n in range(_SEGMENT):
        envelope = min(1.0, n / _FADE, (_SEGMENT - 1 - n) / _FADE)
        samples.append(
            round(_AMPLITUDE * envelope * math.sin(2 * math.pi * frequency * n / SAMPLE_RATE))
        )
    return struct.pack(f"<{_SEGMENT}h", *samples)


_SILENCE = bytes(_SEGMENT * _BYTES_PER_SAMPLE)


def synthesize(text: str, voice: str, speakers: dict[str, str] | None = None) -> bytes:
    """Signed 16-bit little-endian mono PCM at 24 kHz for ``text`` (see the module docstring)."""
    chunks: list[bytes] = []
    current = voice
    for line in text.splitlines(keepends=True) or [text]:
        turn = _TURN.match(line)
        if speakers and turn and turn.group(1).strip() in speakers:
            current = speakers[turn.group(1).strip()]
        for char in line:
            chunks.append(_SILENCE if char.isspace() else _tone(current, ord(char) % 12))
    pcm = b"".join(chunks)
    minimum = int(SAMPLE_RATE * MIN_SECONDS) * _BYTES_PER_SAMPLE
    return pcm + bytes(max(0, minimum - len(pcm)))


def audio_tokens(pcm: bytes) -> int:
    """Output tokens for ``pcm``: 25 per second, rounded up."""
    seconds = len(pcm) / _BYTES_PER_SAMPLE / SAMPLE_RATE
    return math.ceil(seconds * AUDIO_TOKENS_PER_SECOND)


def _usage(body: dict[str, Any], pcm: bytes) -> dict[str, Any]:
    prompt = count_prompt(body)
    tokens = audio_tokens(pcm)
    return {
        "promptTokenCount": prompt.total,
        "candidatesTokenCount": tokens,
        "totalTokenCount": prompt.total + tokens,
        "trafficType": TRAFFIC_TYPE,
        "promptTokensDetails": prompt.details(),
        "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": tokens}],
    }


def _metadata(body: dict[str, Any], model: ModelInfo, now: datetime | None) -> dict[str, Any]:
    digest = hashlib.sha256(f"{model.model_id}\n{canonical_json(body)}".encode()).digest()
    return {
        "modelVersion": model.model_version,
        "createTime": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "responseId": base64.urlsafe_b64encode(digest[:17]).decode("ascii").rstrip("="),
    }


def _audio_part(pcm: bytes) -> dict[str, Any]:
    return {"inlineData": {"mimeType": MIME_TYPE, "data": base64.b64encode(pcm).decode("ascii")}}


def speech(body: dict[str, Any]) -> bytes:
    """The PCM a (valid) TTS request gets."""
    voice, speakers = _voices(body)
    return synthesize(spoken_text(body), voice, speakers)


def unary_response(
    body: dict[str, Any], model: ModelInfo, now: datetime | None = None
) -> dict[str, Any]:
    """The GenerateContentResponse of ``:generateContent``."""
    pcm = speech(body)
    candidate = {
        "content": {"role": "model", "parts": [_audio_part(pcm)]},
        "finishReason": "STOP",
    }
    return {
        "candidates": [candidate],
        "usageMetadata": _usage(body, pcm),
        **_metadata(body, model, now),
    }


def stream_chunks(
    body: dict[str, Any], model: ModelInfo, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The chunks of ``:streamGenerateContent``: 0.25 s of PCM each, the last with the finish
    reason and the usage (earlier ones carry ``trafficType`` only, as Vertex's do)."""
    pcm = speech(body)
    step = int(SAMPLE_RATE * STREAM_SLICE_SECONDS) * _BYTES_PER_SAMPLE
    slices = [pcm[k : k + step] for k in range(0, len(pcm), step)]
    metadata = _metadata(body, model, now)
    chunks = []
    for k, piece in enumerate(slices):
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [_audio_part(piece)]}}
        usage: dict[str, Any] = {"trafficType": TRAFFIC_TYPE}
        if k == len(slices) - 1:
            candidate["finishReason"] = "STOP"
            usage = _usage(body, pcm)
        chunks.append({"candidates": [candidate], "usageMetadata": usage, **metadata})
    return chunks
