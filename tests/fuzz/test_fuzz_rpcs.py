"""Every RPC with hypothesis-made requests: any answer but INTERNAL or UNKNOWN, never a hang.

The gateway runs as its own process with Vertex and Cloud Storage pointed at a closed port, so
a request that passes validation ends as UNAVAILABLE (could not reach Vertex): what is fuzzed
is everything the gateway does before the network. Examples are seeded and bounded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vertex_gateway.v1 import (
    batch_pb2,
    batch_pb2_grpc,
    chat_pb2,
    chat_pb2_grpc,
    embedding_pb2,
    embedding_pb2_grpc,
    file_pb2,
    file_pb2_grpc,
    image_pb2,
    image_pb2_grpc,
    model_pb2,
    model_pb2_grpc,
    speech_pb2,
    speech_pb2_grpc,
    tuning_pb2,
    tuning_pb2_grpc,
    video_pb2,
    video_pb2_grpc,
)  # fmt: skip

from .proto_strategies import messages

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
EXAMPLES = int(os.environ.get("VG_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def channel() -> Iterator[grpc.Channel]:
    port, dead = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "VG_"))}
    env.update(
        PYTHONPATH=f"{ROOT}:{ROOT / 'clients' / 'python'}", VG_LISTEN=f"127.0.0.1:{port}",
        VG_EMULATOR="off", VG_PROJECT="fuzz-project", VG_CREDENTIALS="none",
        VG_VERTEX_BASE_URL=f"http://127.0.0.1:{dead}", VG_STORAGE_BUCKET="fuzz-bucket",
        VG_STORAGE_BASE_URL=f"http://127.0.0.1:{dead}", VG_MAX_ATTEMPTS="1",
        VG_MODEL_DISCOVERY="false", VG_LOG_LEVEL="ERROR", VG_ALIASES="fast=gemini-2.5-flash",
    )  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "server"], env=env, cwd=ROOT)
    ch = grpc.insecure_channel(f"127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    while True:
        try:
            health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1)
            break
        except grpc.RpcError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the gateway did not start") from None
            time.sleep(0.1)
    yield ch
    ch.close()
    process.terminate()
    assert process.wait(timeout=30) == 0, "the gateway did not stop cleanly after fuzzing"


def _check(call: Callable[[], Any]) -> None:
    try:
        result = call()
        if hasattr(result, "__iter__") and not isinstance(result, bytes):
            for _ in result:
                pass
    except grpc.RpcError as err:
        code = err.code()  # type: ignore[attr-defined]
        assert code not in FORBIDDEN, f"{code}: {err.details()}"  # type: ignore[attr-defined]
        assert code != grpc.StatusCode.DEADLINE_EXCEEDED, "the gateway hung"


UNARY = [
    ("chat", chat_pb2_grpc.ChatServiceStub, "Chat", chat_pb2.ChatRequest),
    ("chat", chat_pb2_grpc.ChatServiceStub, "CountTokens", chat_pb2.CountTokensRequest),
    ("embed", embedding_pb2_grpc.EmbeddingServiceStub, "Embed", embedding_pb2.EmbedRequest),
    ("images", image_pb2_grpc.ImageServiceStub, "GenerateImages", image_pb2.GenerateImagesRequest),
    ("images", image_pb2_grpc.ImageServiceStub, "EditImage", image_pb2.EditImageRequest),
    ("speech", speech_pb2_grpc.SpeechServiceStub, "Synthesize", speech_pb2.SynthesizeRequest),
    ("speech", speech_pb2_grpc.SpeechServiceStub, "Transcribe", speech_pb2.TranscribeRequest),
    ("models", model_pb2_grpc.ModelServiceStub, "ListModels", model_pb2.ListModelsRequest),
    ("models", model_pb2_grpc.ModelServiceStub, "GetModel", model_pb2.GetModelRequest),
    ("files", file_pb2_grpc.FileServiceStub, "GetFile", file_pb2.GetFileRequest),
    ("batches", batch_pb2_grpc.BatchServiceStub, "CreateBatch", batch_pb2.CreateBatchRequest),
    ("batches", batch_pb2_grpc.BatchServiceStub, "GetBatch", batch_pb2.GetBatchRequest),
    ("batches", batch_pb2_grpc.BatchServiceStub, "ListBatches", batch_pb2.ListBatchesRequest),
    ("batches", batch_pb2_grpc.BatchServiceStub, "CancelBatch", batch_pb2.CancelBatchRequest),
    ("chat", chat_pb2_grpc.ChatServiceStub, "StreamChat", chat_pb2.ChatRequest),
    ("speech", speech_pb2_grpc.SpeechServiceStub, "StreamSynthesize", speech_pb2.SynthesizeRequest),
    ("files", file_pb2_grpc.FileServiceStub, "DownloadFile", file_pb2.DownloadFileRequest),
    ("batches", batch_pb2_grpc.BatchServiceStub, "ListBatchResults", batch_pb2.ListBatchResultsRequest),
    ("video", video_pb2_grpc.VideoServiceStub, "GenerateVideo", video_pb2.GenerateVideoRequest),
    ("video", video_pb2_grpc.VideoServiceStub, "GetVideoJob", video_pb2.GetVideoJobRequest),
    ("video", video_pb2_grpc.VideoServiceStub, "CancelVideoJob", video_pb2.CancelVideoJobRequest),
    ("video", video_pb2_grpc.VideoServiceStub, "DownloadVideo", video_pb2.DownloadVideoRequest),
    ("tuning", tuning_pb2_grpc.TuningServiceStub, "CreateTuningJob", tuning_pb2.CreateTuningJobRequest),
    ("tuning", tuning_pb2_grpc.TuningServiceStub, "GetTuningJob", tuning_pb2.GetTuningJobRequest),
    ("tuning", tuning_pb2_grpc.TuningServiceStub, "ListTuningJobs", tuning_pb2.ListTuningJobsRequest),
    ("tuning", tuning_pb2_grpc.TuningServiceStub, "CancelTuningJob", tuning_pb2.CancelTuningJobRequest),
]  # fmt: skip


@pytest.mark.parametrize(
    ("_", "stub", "method", "request_type"), UNARY, ids=[m for _, _, m, _ in UNARY]
)
def test_rpc_never_fails_internally(
    channel: grpc.Channel, _: str, stub: Any, method: str, request_type: Any
) -> None:
    rpc = getattr(stub(channel), method)

    @FUZZ
    @given(messages(request_type.DESCRIPTOR, request_type))
    def run(request: Any) -> None:
        _check(lambda: rpc(request, timeout=10))

    run()


def test_upload_never_fails_internally(channel: grpc.Channel) -> None:
    rpc = file_pb2_grpc.FileServiceStub(channel).UploadFile

    @FUZZ
    @given(
        st.lists(
            messages(file_pb2.UploadFileRequest.DESCRIPTOR, file_pb2.UploadFileRequest), max_size=4
        )
    )
    def run(sequence: list[Any]) -> None:
        _check(lambda: rpc(iter(sequence), timeout=10))

    run()
