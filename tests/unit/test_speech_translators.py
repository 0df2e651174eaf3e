"""Speech translation: TTS bodies and checks, audio encodings, transcription bodies and replies."""

from __future__ import annotations

import base64
import io
import json
import math
import struct
import warnings
import wave
from array import array

import grpc
import pytest
import soundfile
from vertex_gateway.v1 import common_pb2, speech_pb2

from server.errors import GatewayError
from server.routing.registry import Registry
from server.translate import audio_formats, gemini_tts, transcription

R = Registry()
TTS = R.get(None, "gemini-2.5-flash-tts")
FLASH = R.get(None, "gemini-2.5-flash")
assert TTS and FLASH
S = speech_pb2
F = speech_pb2.AudioFormat


def tone(seconds: float, rate: int = 24000) -> bytes:
    n = int(seconds * rate)
    return array("h", (int(8000 * math.sin(i / 9)) for i in range(n))).tobytes()


def violations(err: GatewayError) -> dict[str, str]:
    return {v.field: v.description for v in err.field_violations}


def test_single_voice_body() -> None:
    request = S.SynthesizeRequest(
        model="gemini-2.5-flash-tts", text="Have a wonderful day!", voice="kore",
        language_code="en-US", style_instructions="Say cheerfully",
    )  # fmt: skip
    assert gemini_tts.to_generate_content(request, TTS, streaming=False) == {
        "contents": [
            {"role": "user", "parts": [{"text": "Say cheerfully: Have a wonderful day!"}]}
        ],
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "speechConfig": {
                "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}},
                "languageCode": "en-US",
            },
        },
    }


def test_multi_speaker_body_and_checks() -> None:
    request = S.SynthesizeRequest(
        text="Joe: Hi!\nJane: Hello.",
        speakers=[
            S.SpeakerVoice(speaker="Joe", voice="Puck"),
            S.SpeakerVoice(speaker="Jane", voice="Kore"),
        ],
    )
    speech = gemini_tts.to_generate_content(request, TTS, streaming=True)["generationConfig"][
        "speechConfig"
    ]
    assert [c["speaker"] for c in speech["multiSpeakerVoiceConfig"]["speakerVoiceConfigs"]] == [
        "Joe",
        "Jane",
    ]
    bad = S.SynthesizeRequest(
        text="Joe: Hi!", voice="Nobody",
        speakers=[S.SpeakerVoice(speaker="Joe", voice="Puck"), S.SpeakerVoice(speaker="Ann", voice="Zed")],
    )  # fmt: skip
    with pytest.raises(GatewayError) as err:
        gemini_tts.to_generate_content(bad, TTS, streaming=False)
    got = violations(err.value)
    assert "both" in got["voice"] or "unknown voice" in got["voice"]
    assert "introduces no turn" in got["speakers[1].speaker"] and "Zed" in got["speakers[1].voice"]
    with pytest.raises(GatewayError) as err:
        gemini_tts.to_generate_content(S.SynthesizeRequest(text="  "), TTS, streaming=False)
    assert set(violations(err.value)) == {"text"}


def test_compressed_formats_are_not_streamed() -> None:
    request = S.SynthesizeRequest(text="hi", audio_format=F.AUDIO_FORMAT_MP3)
    gemini_tts.to_generate_content(request, TTS, streaming=False)
    with pytest.raises(GatewayError) as err:
        gemini_tts.to_generate_content(request, TTS, streaming=True)
    assert (
        err.value.code == grpc.StatusCode.UNIMPLEMENTED and "AUDIO_FORMAT_PCM" in err.value.message
    )


def test_reply_pcm_rate_comes_from_the_mime_type_and_wav_is_unwrapped() -> None:
    pcm = tone(0.1, 16000)
    pieces, _ = gemini_tts.audio_parts(
        {
            "candidates": [
                {
                    "content": {
                        "parts": [
                            {
                                "inlineData": {
                                    "mimeType": "audio/L16;codec=pcm;rate=16000",
                                    "data": base64.b64encode(pcm).decode(),
                                }
                            }
                        ]
                    }
                }
            ]
        }
    )
    assert pieces[0].rate == 16000 and pieces[0].data == pcm
    wav = audio_formats.encode(pcm, 16000, F.AUDIO_FORMAT_WAV)
    pieces, _ = gemini_tts.audio_parts(
        {
            "candidates": [
                {
                    "content": {
                        "parts": [
                            {
                                "inlineData": {
                                    "mimeType": "audio/wav",
                                    "data": base64.b64encode(wav).decode(),
                                }
                            }
                        ]
                    }
                }
            ]
        }
    )
    assert pieces[0].data == pcm


def test_wav_pcm_and_compressed_encodings_decode() -> None:
    pcm = tone(0.5)
    with wave.open(io.BytesIO(audio_formats.encode(pcm, 24000, F.AUDIO_FORMAT_WAV))) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        assert w.readframes(w.getnframes()) == pcm
    assert audio_formats.encode(pcm, 24000, F.AUDIO_FORMAT_PCM) == pcm
    for fmt in (F.AUDIO_FORMAT_FLAC, F.AUDIO_FORMAT_OGG_OPUS, F.AUDIO_FORMAT_MP3):
        data, rate = soundfile.read(
            io.BytesIO(audio_formats.encode(pcm, 24000, fmt)), dtype="int16"
        )
        assert rate in (24000, 48000) and abs(len(data) / rate - 0.5) < 0.1, fmt
    flac, _ = soundfile.read(
        io.BytesIO(audio_formats.encode(pcm, 24000, F.AUDIO_FORMAT_FLAC)), dtype="int16"
    )
    assert flac.tobytes() == pcm  # lossless


def test_g711_matches_the_standard_decoders() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    pcm = array("h", range(-32768, 32768, 7)).tobytes()
    samples = array("h")
    samples.frombytes(pcm)
    for fmt, decode in (
        (F.AUDIO_FORMAT_ALAW, audioop.alaw2lin),
        (F.AUDIO_FORMAT_MULAW, audioop.ulaw2lin),
    ):
        encoded = audio_formats.encode(pcm, 8000, fmt)  # already at 8 kHz: no resampling
        assert len(encoded) == len(samples)
        back = array("h")
        back.frombytes(decode(encoded, 2))
        assert all(abs(b - s) <= abs(s) // 16 + 40 for b, s in zip(back, samples, strict=True)), fmt
    assert len(audio_formats.encode(tone(1.0), 24000, F.AUDIO_FORMAT_MULAW)) == 8000


def test_streaming_wav_header_and_chunking() -> None:
    t = audio_formats.Transcoder(F.AUDIO_FORMAT_WAV, 24000)
    first = t.feed(b"\x01\x02\x03")
    assert first[:4] == b"RIFF" and struct.unpack("<I", first[40:44])[0] == 0xFFFFFFFF
    assert first[44:] == b"\x01\x02" and t.feed(b"\x04") == b"\x03\x04"
    mulaw = audio_formats.Transcoder(F.AUDIO_FORMAT_MULAW, 24000)
    assert len(mulaw.feed(tone(0.01))) == 80 and mulaw.feed(b"\x00\x00") == b""


def test_transcription_body_and_segments() -> None:
    request = S.TranscribeRequest(
        model="gemini-2.5-flash",
        audio=common_pb2.Media(mime_type="audio/wav", uri="gs://b/call.wav"),
        language_codes=["en-US"], vocabulary=["Vertex"], diarize=True,
        timestamps=S.TIMESTAMP_GRANULARITY_WORD, prompt="numbers as digits",
    )  # fmt: skip
    body = transcription.to_generate_content(request, FLASH)
    parts = body["contents"][0]["parts"]
    assert parts[0] == {"fileData": {"mimeType": "audio/wav", "fileUri": "gs://b/call.wav"}}
    assert (
        "en-US" in parts[1]["text"]
        and "Vertex" in parts[1]["text"]
        and "digits" in parts[1]["text"]
    )
    schema = body["generationConfig"]["responseJsonSchema"]["properties"]["segments"]["items"]
    assert {"speaker", "words"} <= set(schema["required"])
    answer = {
        "language_code": "en-US",
        "segments": [
            {"text": "Hello there.", "start_offset_seconds": 0, "end_offset_seconds": 1.5, "speaker": "A",
             "words": [{"text": "Hello", "start_offset_seconds": 0, "end_offset_seconds": 0.5}]},
            {"text": "Hi.", "start_offset_seconds": 1.5, "end_offset_seconds": 2, "speaker": "B", "words": []},
        ],
    }  # fmt: skip
    reply = transcription.from_generate_content(
        {
            "candidates": [
                {"content": {"parts": [{"text": json.dumps(answer)}]}, "finishReason": "STOP"}
            ]
        },
        request,
    )
    assert reply.text == "Hello there. Hi." and reply.language_code == "en-US"
    assert [s.speaker for s in reply.segments] == ["A", "B"] and reply.segments[0].words[
        0
    ].text == "Hello"
    plain = transcription.from_generate_content(
        {"candidates": [{"content": {"parts": [{"text": "not json"}]}}]}, request
    )
    assert plain.text == "not json" and not plain.segments
    with pytest.raises(GatewayError) as err:
        transcription.to_generate_content(
            S.TranscribeRequest(audio=common_pb2.Media(mime_type="text/plain", data=b"x")), FLASH
        )
    assert set(violations(err.value)) == {"audio.mime_type"}
