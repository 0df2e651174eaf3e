"""Gemini TTS over ``:generateContent`` and ``:streamGenerateContent`` (vertex-wire.md §7.1):
real 24 kHz PCM that grows with the text, the voice and speaker rules, and a paced stream."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import time
import uuid
from typing import Any

import pytest
from emu_helpers import Emulator
from test_gemini_helpers import generate, json_stream, reject, sse

from emulator import tts

MODEL = "gemini-2.5-flash-tts"
MODELS = (
    "gemini-2.5-flash-tts",
    "gemini-2.5-pro-tts",
    "gemini-2.5-flash-preview-tts",
    "gemini-2.5-pro-preview-tts",
    "gemini-2.5-flash-lite-preview-tts",
)
PCM_MIME = "audio/L16;codec=pcm;rate=24000"
BYTES_PER_SECOND = 24000 * 2


def speak(
    text: str = "Have a wonderful day!", voice: str | None = "Kore", **speech: Any
) -> dict[str, Any]:
    config: dict[str, Any] = {"responseModalities": ["AUDIO"]}
    speech_config = dict(speech)
    if voice is not None:
        speech_config["voiceConfig"] = {"prebuiltVoiceConfig": {"voiceName": voice}}
    if speech_config:
        config["speechConfig"] = speech_config
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], "generationConfig": config}


def two_speakers(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {
        "speakerVoiceConfigs": [
            {"speaker": name, "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": voice}}}
            for name, voice in pairs
        ]
    }


def pcm_of(reply: dict[str, Any]) -> bytes:
    [candidate] = reply["candidates"]
    [part] = candidate["content"]["parts"]
    assert part["inlineData"]["mimeType"] == PCM_MIME
    return base64.b64decode(part["inlineData"]["data"])


async def test_unary_reply(emu: Emulator) -> None:
    text = "Have a wonderful day!"
    reply = await generate(emu, speak(text), MODEL)
    assert set(reply) == {"candidates", "usageMetadata", "modelVersion", "createTime", "responseId"}
    assert reply["candidates"][0]["finishReason"] == "STOP"
    assert reply["candidates"][0]["content"]["role"] == "model"
    pcm = pcm_of(reply)
    assert len(pcm) == len(text) * 1200 * 2  # 50 ms of 16-bit samples per character
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    assert max(samples) > 1000 and min(samples) < -1000, "a real waveform, not silence"
    usage = reply["usageMetadata"]
    seconds = len(pcm) / BYTES_PER_SECOND
    assert usage["candidatesTokenCount"] == round(seconds * 25 + 0.4999)
    assert usage["candidatesTokensDetails"] == [
        {"modality": "AUDIO", "tokenCount": usage["candidatesTokenCount"]}
    ]
    assert usage["promptTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": usage["promptTokenCount"]}
    ]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert reply["modelVersion"] == MODEL


async def test_length_grows_with_the_text_with_a_floor(emu: Emulator) -> None:
    lengths = []
    for text in ("Hi", "Hello there", "Hello there, how are you doing today?"):
        lengths.append(len(pcm_of(await generate(emu, speak(text), MODEL))))
    assert lengths[0] == BYTES_PER_SECOND // 2, "at least half a second"
    assert lengths[0] < lengths[1] < lengths[2]
    assert all(n % 2 == 0 for n in lengths)


async def test_deterministic_and_voice_dependent(emu: Emulator) -> None:
    kore = pcm_of(await generate(emu, speak(voice="Kore"), MODEL))
    again = pcm_of(await generate(emu, speak(voice="kore"), MODEL))
    puck = pcm_of(await generate(emu, speak(voice="Puck"), MODEL))
    default = pcm_of(await generate(emu, speak(voice=None), MODEL))
    assert kore == again == default
    assert kore != puck and len(kore) == len(puck)


@pytest.mark.parametrize("model", MODELS)
async def test_every_tts_model(emu: Emulator, model: str) -> None:
    reply = await generate(emu, speak("Testing"), model)
    assert len(pcm_of(reply)) == BYTES_PER_SECOND // 2
    assert reply["modelVersion"] == model


async def test_multi_speaker(emu: Emulator) -> None:
    text = "Joe: How's it going today Jane?\nJane: Not too bad, how about you?"
    speech = {"multiSpeakerVoiceConfig": two_speakers(("Joe", "Puck"), ("Jane", "Kore"))}
    reply = await generate(emu, speak(text, voice=None, **speech), MODEL)
    pcm = pcm_of(reply)
    assert len(pcm) == len(text) * 2400
    swapped = {"multiSpeakerVoiceConfig": two_speakers(("Joe", "Kore"), ("Jane", "Puck"))}
    assert pcm_of(await generate(emu, speak(text, voice=None, **swapped), MODEL)) != pcm


async def test_language_code(emu: Emulator) -> None:
    reply = await generate(emu, speak(languageCode="en-US"), MODEL)
    assert pcm_of(reply)
    message = await reject(emu, speak(languageCode="english!"), MODEL)
    assert "language code `english!` is not a valid BCP-47" in message


async def test_unknown_voice_is_named(emu: Emulator) -> None:
    message = await reject(emu, speak(voice="Jarvis"), MODEL)
    assert "voice name `Jarvis` is not supported" in message
    assert "Zubenelgenubi" in message


async def test_modalities_must_be_audio(emu: Emulator) -> None:
    accepted = (
        "is not supported by the model. models/gemini-2.5-flash-tts accepts the following "
        "combination of response modalities:\n* AUDIO\n"
    )
    body = speak()
    del body["generationConfig"]["responseModalities"]
    message = await reject(emu, body, MODEL)
    assert message == "The requested combination of response modalities " + accepted
    for modalities in (["TEXT"], ["AUDIO", "TEXT"]):
        body = speak()
        body["generationConfig"]["responseModalities"] = modalities
        message = await reject(emu, body, MODEL)
        shown = ", ".join(modalities)
        assert message == f"The requested combination of response modalities ({shown}) " + accepted


@pytest.mark.parametrize(
    ("speech", "fragment"),
    [
        (
            {"multiSpeakerVoiceConfig": two_speakers(("Joe", "Puck"))},
            "exactly 2 speaker_voice_configs, got 1",
        ),
        (
            {"multiSpeakerVoiceConfig": two_speakers(("A", "Puck"), ("B", "Kore"), ("C", "Leda"))},
            "exactly 2 speaker_voice_configs, got 3",
        ),
        (
            {"multiSpeakerVoiceConfig": two_speakers(("Joe", "Puck"), ("Joe", "Kore"))},
            "different names",
        ),
        (
            {"multiSpeakerVoiceConfig": two_speakers(("Joe", "Puck"), ("", "Kore"))},
            "speaker_voice_configs[1].speaker is required",
        ),
        (
            {"multiSpeakerVoiceConfig": two_speakers(("Joe", "Puck"), ("Jane", "Robot"))},
            "voice name `Robot` is not supported",
        ),
        (
            {
                "multiSpeakerVoiceConfig": {
                    "speakerVoiceConfigs": [{"speaker": "Joe"}, {"speaker": "Jane"}]
                }
            },
            "speaker_voice_configs[0].voice_config is required",
        ),
    ],
)
async def test_multi_speaker_rules(emu: Emulator, speech: dict[str, Any], fragment: str) -> None:
    message = await reject(emu, speak("Joe: hi\nJane: hello", voice=None, **speech), MODEL)
    assert fragment in message


async def test_voice_config_and_multi_speaker_exclude_each_other(emu: Emulator) -> None:
    speech = {"multiSpeakerVoiceConfig": two_speakers(("Joe", "Puck"), ("Jane", "Kore"))}
    message = await reject(emu, speak("Joe: hi\nJane: hello", voice="Kore", **speech), MODEL)
    assert "sets both voice_config and multi_speaker_voice_config" in message


@pytest.mark.parametrize(
    ("voice_config", "fragment"),
    [
        (
            {"replicatedVoiceConfig": {"mimeType": "audio/wav", "voiceSampleAudio": "QUJD"}},
            "replicated_voice_config is not supported",
        ),
        ({"voice": "Kore"}, "voice_config.voice is not supported"),
        ({"prebuiltVoiceConfig": {}}, "voice_name is required"),
    ],
)
async def test_voice_config_forms(
    emu: Emulator, voice_config: dict[str, Any], fragment: str
) -> None:
    body = speak(voice=None)
    body["generationConfig"]["speechConfig"] = {"voiceConfig": voice_config}
    assert fragment in await reject(emu, body, MODEL)


async def test_text_is_required(emu: Emulator) -> None:
    message = await reject(emu, speak("   "), MODEL)
    assert "the text to speak is empty" in message
    body = speak()
    body["contents"][0]["parts"].append({"inlineData": {"mimeType": "audio/wav", "data": "QUJD"}})
    assert "only takes text input" in await reject(emu, body, MODEL)


async def test_speech_config_goes_through_the_discovery_schema(emu: Emulator) -> None:
    body = speak()
    body["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["name"] = "x"
    status, reply, _ = await emu.post(emu.url(model=MODEL), body)
    assert status == 400
    assert reply["error"]["message"] == (
        'Invalid JSON payload received. Unknown name "name" at '
        "'generation_config.speech_config.voice_config.prebuilt_voice_config': Cannot find field."
    )


async def test_rule_problems_are_audited(emu: Emulator) -> None:
    agent = f"tts-audit-{uuid.uuid4().hex}"
    headers = {**emu.auth(), "User-Agent": agent}
    await emu.post(emu.url(model=MODEL), speak(voice="Jarvis"), headers)
    audit = await emu.admin("GET", "audit", params={"user_agent_prefix": agent})
    assert audit["violations"] and "Jarvis" in audit["violations"][-1]["schema_errors"][0]


async def test_stream_slices_the_audio(emu: Emulator) -> None:
    text = "One two three four five six"  # 27 characters: 1.35 s, six slices of <= 0.25 s
    unary = pcm_of(await generate(emu, speak(text), MODEL))
    events = await sse(emu, speak(text), MODEL)
    assert len(events) == 6
    pieces = []
    for event in events[:-1]:
        assert event["usageMetadata"] == {"trafficType": "ON_DEMAND"}
        assert "finishReason" not in event["candidates"][0]
        pieces.append(pcm_of(event))
    last = events[-1]
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["usageMetadata"]["candidatesTokensDetails"][0]["modality"] == "AUDIO"
    pieces.append(pcm_of(last))
    assert all(len(p) % 2 == 0 and len(p) <= BYTES_PER_SECOND // 4 for p in pieces)
    assert b"".join(pieces) == unary
    assert {e["responseId"] for e in events} == {last["responseId"]}


async def test_stream_is_paced(emu: Emulator) -> None:
    url = emu.url("streamGenerateContent", model=MODEL) + "?alt=sse"
    arrivals = []
    start = time.monotonic()
    async with emu.http.post(url, json=speak("x" * 30), headers=emu.auth()) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        async for line in resp.content:
            if line.startswith(b"data: "):
                arrivals.append(time.monotonic() - start)
                json.loads(line[6:])
    assert len(arrivals) == 6
    assert arrivals[-1] - arrivals[0] >= 5 * tts.STREAM_INTERVAL * 0.8


async def test_stream_honours_a_client_that_leaves(emu: Emulator) -> None:
    url = emu.url("streamGenerateContent", model=MODEL) + "?alt=sse"
    resp = await emu.http.post(url, json=speak("x" * 200), headers=emu.auth())
    first = await resp.content.readline()
    assert first.startswith(b"data: ")
    resp.close()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        records = await emu.records()
        if records and records[-1]["client_disconnected"]:
            break
        await asyncio.sleep(0.05)
    [record] = await emu.records()
    assert record["client_disconnected"] and not record["completed"]


async def test_json_array_stream_and_count_tokens(emu: Emulator) -> None:
    chunks = await json_stream(emu, speak("Hello"), MODEL)
    assert len(chunks) == 2 and chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    status, reply, _ = await emu.post(emu.url("countTokens", MODEL), speak("Hello"))
    assert status == 200 and reply["totalTokens"] > 0
