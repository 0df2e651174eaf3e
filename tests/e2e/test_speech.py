"""SpeechService end to end: Gemini TTS (whole and streamed), transcription."""

from __future__ import annotations

import io
import wave

import grpc
import grpc.aio
import pytest
from vertex_gateway.v1 import common_pb2, speech_pb2, speech_pb2_grpc

from emulator.admin import EmulatorAdmin

from ..conftest import error_details

S = speech_pb2


@pytest.fixture
def speech(channel: grpc.aio.Channel) -> speech_pb2_grpc.SpeechServiceStub:
    return speech_pb2_grpc.SpeechServiceStub(channel)


async def test_synthesize_returns_a_24khz_mono_16bit_wav(
    speech: speech_pb2_grpc.SpeechServiceStub, admin: EmulatorAdmin
) -> None:
    short = await speech.Synthesize(
        S.SynthesizeRequest(model="gemini-2.5-flash-tts", text="Hello.", voice="Kore")
    )
    long = await speech.Synthesize(
        S.SynthesizeRequest(
            model="gemini-2.5-flash-tts", text="Hello, and welcome to the show. " * 4, voice="Puck",
            style_instructions="Say warmly", language_code="en-US",
        )
    )  # fmt: skip
    with wave.open(io.BytesIO(long.audio)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        frames = w.getnframes()
    assert frames / 24000 == pytest.approx(long.duration_seconds)
    assert long.duration_seconds > short.duration_seconds > 0
    assert long.audio_info.mime_type == "audio/wav" and long.audio_info.sample_rate_hertz == 24000
    assert long.finish_reason == common_pb2.FINISH_REASON_STOP and long.usage.output_tokens > 0
    assert admin.audit()["violations"] == []


async def test_other_encodings(speech: speech_pb2_grpc.SpeechServiceStub) -> None:
    pcm = await speech.Synthesize(
        S.SynthesizeRequest(
            model="gemini-2.5-flash-tts", text="Hi there", audio_format=S.AUDIO_FORMAT_PCM
        )
    )
    assert pcm.audio_info.mime_type == "audio/L16;codec=pcm;rate=24000"
    assert len(pcm.audio) == round(pcm.duration_seconds * 24000) * 2
    flac = await speech.Synthesize(
        S.SynthesizeRequest(
            model="gemini-2.5-flash-tts", text="Hi there", audio_format=S.AUDIO_FORMAT_FLAC
        )
    )
    assert flac.audio.startswith(b"fLaC")
    mulaw = await speech.Synthesize(
        S.SynthesizeRequest(
            model="gemini-2.5-flash-tts", text="Hi there", audio_format=S.AUDIO_FORMAT_MULAW
        )
    )
    assert mulaw.audio_info.sample_rate_hertz == 8000 and len(mulaw.audio) == len(pcm.audio) // 6


async def test_stream_delivers_audio_before_the_emulator_finishes(
    speech: speech_pb2_grpc.SpeechServiceStub, admin: EmulatorAdmin
) -> None:
    request = S.SynthesizeRequest(
        model="gemini-2.5-flash-tts", text="A longer sentence to stream. " * 6, voice="Charon"
    )
    stream = speech.StreamSynthesize(request)
    first = await stream.read()
    assert isinstance(first, S.StreamSynthesizeResponse)
    assert first.audio[:4] == b"RIFF" and first.model == "google/gemini-2.5-flash-tts"
    # The emulator is still producing the stream when the first chunk has arrived.
    assert admin.stats()["in_flight"] >= 1
    rest = []
    while (message := await stream.read()) != grpc.aio.EOF:
        assert isinstance(message, S.StreamSynthesizeResponse)
        rest.append(message)
    assert len(rest) >= 2
    last = rest[-1]
    assert last.finish_reason == common_pb2.FINISH_REASON_STOP and last.usage.output_tokens > 0
    audio = first.audio + b"".join(m.audio for m in rest)
    assert (len(audio) - 44) / 48000 == pytest.approx(last.duration_seconds)


async def test_multi_speaker(
    speech: speech_pb2_grpc.SpeechServiceStub, admin: EmulatorAdmin
) -> None:
    reply = await speech.Synthesize(
        S.SynthesizeRequest(
            model="gemini-2.5-pro-tts", text="Joe: How's it going?\nJane: Not bad, you?",
            speakers=[S.SpeakerVoice(speaker="Joe", voice="Puck"), S.SpeakerVoice(speaker="Jane", voice="Kore")],
        )
    )  # fmt: skip
    assert reply.duration_seconds > 0
    call = [r for r in admin.requests() if r["path"].endswith(":generateContent")][-1]
    configs = call["body"]["generationConfig"]["speechConfig"]["multiSpeakerVoiceConfig"][
        "speakerVoiceConfigs"
    ]
    assert [c["speaker"] for c in configs] == ["Joe", "Jane"]


async def test_transcribe_returns_text(
    speech: speech_pb2_grpc.SpeechServiceStub, admin: EmulatorAdmin
) -> None:
    tts = await speech.Synthesize(
        S.SynthesizeRequest(model="gemini-2.5-flash-tts", text="Testing one two three.")
    )
    reply = await speech.Transcribe(
        S.TranscribeRequest(
            model="gemini-2.5-flash", audio=common_pb2.Media(mime_type="audio/wav", data=tts.audio),
            language_codes=["en-US"],
        )
    )  # fmt: skip
    assert reply.text and reply.model == "google/gemini-2.5-flash" and reply.usage.input_tokens > 0
    timed = await speech.Transcribe(
        S.TranscribeRequest(
            model="gemini-2.5-flash", audio=common_pb2.Media(mime_type="audio/wav", data=tts.audio),
            timestamps=S.TIMESTAMP_GRANULARITY_SEGMENT, diarize=True,
        )
    )  # fmt: skip
    assert timed.segments and all(s.HasField("start_offset_seconds") for s in timed.segments)
    assert admin.audit()["violations"] == []


async def test_bad_speech_requests(
    speech: speech_pb2_grpc.SpeechServiceStub, admin: EmulatorAdmin
) -> None:
    cases = [
        (S.SynthesizeRequest(model="gemini-2.5-flash-tts", text="hi", voice="Nobody"), "voice"),
        (S.SynthesizeRequest(model="gemini-2.5-flash-tts", text=""), "text"),
        (S.SynthesizeRequest(model="gemini-2.5-flash", text="hi"), "speech"),
        (S.SynthesizeRequest(model="gemini-2.5-flash-tts", text="Joe: hi", speakers=[S.SpeakerVoice(speaker="Joe", voice="Puck")]), "speakers"),
    ]  # fmt: skip
    for request, needle in cases:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await speech.Synthesize(request)
        d = error_details(info.value)
        assert d.code == grpc.StatusCode.INVALID_ARGUMENT and needle in d.message, d.message
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in speech.StreamSynthesize(
            S.SynthesizeRequest(
                model="gemini-2.5-flash-tts", text="hi", audio_format=S.AUDIO_FORMAT_MP3
            )
        ):
            pass
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await speech.Transcribe(S.TranscribeRequest(model="gemini-2.5-flash"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "audio" in (
        info.value.details() or ""
    )
    assert not [r for r in admin.requests() if "/publishers/" in r["path"]]
