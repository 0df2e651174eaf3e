"""Embed end to end: split to each model's limits, sent concurrently, returned in input order."""

from __future__ import annotations

import math
from typing import Any

import grpc
import grpc.aio
import pytest
from vertex_gateway.v1 import embedding_pb2, embedding_pb2_grpc

from emulator.admin import EmulatorAdmin
from emulator.process import EmulatorProcess
from server.app import create_gateway
from server.config import load_config

from ..conftest import error_details
from .conftest import gateway_env

E = embedding_pb2


@pytest.fixture
def embed(channel: grpc.aio.Channel) -> embedding_pb2_grpc.EmbeddingServiceStub:
    return embedding_pb2_grpc.EmbeddingServiceStub(channel)


def texts(n: int) -> list[E.EmbedInput]:
    return [E.EmbedInput(text=f"document number {i} about routers") for i in range(n)]


def predict_calls(admin: EmulatorAdmin) -> list[dict]:  # type: ignore[type-arg]
    return [r for r in admin.requests() if r["path"].endswith(":predict")]


async def test_600_texts_become_three_calls_and_keep_their_order(
    embed: embedding_pb2_grpc.EmbeddingServiceStub, admin: EmulatorAdmin
) -> None:
    reply = await embed.Embed(E.EmbedRequest(model="text-embedding-005", inputs=texts(600)))
    assert len(reply.embeddings) == 600
    assert sorted(len(c["body"]["instances"]) for c in predict_calls(admin)) == [100, 250, 250]
    assert all(len(e.values) == 768 for e in reply.embeddings)
    assert reply.usage.input_tokens == sum(e.token_count for e in reply.embeddings) > 0
    assert reply.billable_characters > 0
    assert reply.model == "google/text-embedding-005"
    # Position 599 holds text 599's vector: the same text embedded alone gives the same vector.
    alone = await embed.Embed(E.EmbedRequest(model="text-embedding-005", inputs=[texts(600)[599]]))
    assert list(alone.embeddings[0].values) == list(reply.embeddings[599].values)
    assert list(reply.embeddings[0].values) != list(reply.embeddings[599].values)


async def test_one_text_per_call_models_fan_out(
    embed: embedding_pb2_grpc.EmbeddingServiceStub, admin: EmulatorAdmin
) -> None:
    request = E.EmbedRequest(
        model="gemini-embedding-001",
        inputs=texts(12),
        task_type=E.EMBEDDING_TASK_TYPE_SEMANTIC_SIMILARITY,
        output_dimensionality=256,
    )
    reply = await embed.Embed(request)
    calls = predict_calls(admin)
    assert len(calls) == 12 and all(len(c["body"]["instances"]) == 1 for c in calls)
    assert all(c["body"]["instances"][0]["task_type"] == "SEMANTIC_SIMILARITY" for c in calls)
    assert [len(e.values) for e in reply.embeddings] == [256] * 12
    for i in (0, 11):
        alone = await embed.Embed(
            E.EmbedRequest(
                model="gemini-embedding-001",
                inputs=[texts(12)[i]],
                task_type=E.EMBEDDING_TASK_TYPE_SEMANTIC_SIMILARITY,
                output_dimensionality=256,
            )
        )
        assert list(alone.embeddings[0].values) == list(reply.embeddings[i].values)
    assert all(math.isfinite(v) for e in reply.embeddings for v in e.values)


async def test_bad_embedding_requests(
    embed: embedding_pb2_grpc.EmbeddingServiceStub, admin: EmulatorAdmin
) -> None:
    cases = [
        (E.EmbedRequest(model="gemini-2.5-flash", inputs=texts(1)), grpc.StatusCode.INVALID_ARGUMENT, "embeddings"),
        (E.EmbedRequest(model="text-embedding-999", inputs=texts(1)), grpc.StatusCode.NOT_FOUND, "text-embedding-999"),
        (E.EmbedRequest(model="text-embedding-005", inputs=texts(1), output_dimensionality=1024), grpc.StatusCode.INVALID_ARGUMENT, "output_dimensionality"),
        (E.EmbedRequest(model="text-embedding-005", inputs=[E.EmbedInput(text="a", title="T")]), grpc.StatusCode.INVALID_ARGUMENT, "inputs[0].title"),
        (E.EmbedRequest(model="text-embedding-005"), grpc.StatusCode.INVALID_ARGUMENT, "inputs"),
    ]  # fmt: skip
    for request, code, needle in cases:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await embed.Embed(request)
        d = error_details(info.value)
        assert d.code == code and needle in d.message, d.message
    assert predict_calls(admin) == []


async def test_one_failed_call_fails_the_request(
    embed: embedding_pb2_grpc.EmbeddingServiceStub, admin: EmulatorAdmin
) -> None:
    admin.arm_fault("400", path_contains=":predict")  # not retried: the request fails as a whole
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await embed.Embed(E.EmbedRequest(model="gemini-embedding-001", inputs=texts(4)))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_multimodal_inputs_get_a_vector_per_modality(
    embed: embedding_pb2_grpc.EmbeddingServiceStub, admin: EmulatorAdmin
) -> None:
    from vertex_gateway.v1 import common_pb2

    png = common_pb2.Media(mime_type="image/png", data=b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
    video = common_pb2.Media(mime_type="video/mp4", uri="gs://bucket/clip.mp4")
    reply = await embed.Embed(
        E.EmbedRequest(
            model="multimodalembedding@001",
            inputs=[
                E.EmbedInput(text="a red bicycle", image=png),
                E.EmbedInput(video=video, video_segment=E.VideoSegmentConfig(interval_seconds=16)),
                E.EmbedInput(text="a blue car"),
            ],
        )
    )
    first, second, third = reply.embeddings
    assert len(first.text_values) == 1408 and len(first.image_values) == 1408
    assert not first.video_segments and not first.values
    assert [(s.start_offset_seconds, s.end_offset_seconds) for s in second.video_segments] == [
        (0, 16), (16, 32), (32, 48), (48, 60),
    ]  # fmt: skip
    assert all(len(s.values) == 1408 for s in second.video_segments)
    assert len(third.text_values) == 1408 and list(third.text_values) != list(first.text_values)
    assert len(predict_calls(admin)) == 4  # one call per modality
    small = await embed.Embed(
        E.EmbedRequest(
            model="multimodalembedding@001",
            inputs=[E.EmbedInput(text="a blue car")],
            output_dimensionality=128,
        )
    )
    assert len(small.embeddings[0].text_values) == 128
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await embed.Embed(
            E.EmbedRequest(
                model="multimodalembedding@001",
                inputs=[E.EmbedInput(video=video)],
                output_dimensionality=512,
            )
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "1408" in str(info.value.details())


async def test_1000_texts_one_per_call_in_order_within_the_concurrency_bound(
    embed: embedding_pb2_grpc.EmbeddingServiceStub, admin: EmulatorAdmin
) -> None:
    inputs = texts(1000)
    # Each call takes 5 ms at the emulator, so calls in flight together overlap there.
    admin.arm_fault("slow:5", times=1000, path_contains=":predict")
    reply = await embed.Embed(
        E.EmbedRequest(model="gemini-embedding-001", inputs=inputs, output_dimensionality=32)
    )
    assert len(reply.embeddings) == 1000
    calls = predict_calls(admin)
    assert len(calls) == 1000 and all(len(c["body"]["instances"]) == 1 for c in calls)
    # Every vector is the one its own text gets: order kept across 1,000 concurrent calls.
    sent = {c["body"]["instances"][0]["content"] for c in calls}
    assert sent == {i.text for i in inputs}
    for i in (0, 499, 999):
        alone = await embed.Embed(
            E.EmbedRequest(
                model="gemini-embedding-001", inputs=[inputs[i]], output_dimensionality=32
            )
        )
        assert list(alone.embeddings[0].values) == list(reply.embeddings[i].values)
    # The gateway's default bound is 8 calls at once per caller request, and it used them.
    assert admin.stats()["max_in_flight"] == 8


async def test_a_text_over_the_token_limit_without_truncation_is_refused(
    embed: embedding_pb2_grpc.EmbeddingServiceStub, admin: EmulatorAdmin
) -> None:
    long_text = " ".join(f"word{i}" for i in range(5000))
    request = E.EmbedRequest(
        model="text-embedding-005", inputs=[E.EmbedInput(text=long_text)], auto_truncate=False
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await embed.Embed(request)
    d = error_details(info.value)
    assert d.code == grpc.StatusCode.INVALID_ARGUMENT and "token" in d.message.lower(), d.message
    # With truncation (the default) the same text is embedded and marked truncated.
    reply = await embed.Embed(
        E.EmbedRequest(model="text-embedding-005", inputs=[E.EmbedInput(text=long_text)])
    )
    assert reply.embeddings[0].truncated


async def test_newer_gemini_embedding_models_use_embed_content(
    embed: embedding_pb2_grpc.EmbeddingServiceStub, admin: EmulatorAdmin
) -> None:
    request = E.EmbedRequest(
        model="gemini-embedding-2",
        inputs=[
            E.EmbedInput(text="how do I reset my router?"),
            E.EmbedInput(
                text="Router manual",
                title="Manual",
                task_type=E.EMBEDDING_TASK_TYPE_RETRIEVAL_DOCUMENT,
            ),
        ],
        task_type=E.EMBEDDING_TASK_TYPE_RETRIEVAL_QUERY,
        output_dimensionality=128,
    )
    reply = await embed.Embed(request)
    assert reply.model == "google/gemini-embedding-2"
    assert [len(e.values) for e in reply.embeddings] == [128, 128]
    assert all(e.token_count > 0 for e in reply.embeddings)
    calls = [r for r in admin.requests() if r["path"].endswith(":embedContent")]
    assert len(calls) == 2 and not predict_calls(admin)
    configs = sorted((c["body"]["embedContentConfig"] for c in calls), key=lambda c: c["taskType"])
    assert configs == [
        {"taskType": "RETRIEVAL_DOCUMENT", "title": "Manual", "outputDimensionality": 128},
        {"taskType": "RETRIEVAL_QUERY", "outputDimensionality": 128},
    ]
    assert admin.audit()["violations"] == []


async def test_the_concurrency_bound_is_configurable(
    emulator: EmulatorProcess, service_account: dict[str, Any], admin: EmulatorAdmin
) -> None:
    env = gateway_env(emulator, service_account, VG_MAX_CONCURRENT_CALLS_PER_REQUEST="3")
    gw = await create_gateway(load_config(env=env))
    await gw.start()
    try:
        admin.arm_fault("slow:20", times=30, path_contains=":predict")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel:
            stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
            reply = await stub.Embed(E.EmbedRequest(model="gemini-embedding-001", inputs=texts(30)))
    finally:
        await gw.shutdown()
    assert len(reply.embeddings) == 30
    assert admin.stats()["max_in_flight"] == 3
