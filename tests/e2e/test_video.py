"""VideoService end to end: Veo jobs through the emulator's :predictLongRunning and
:fetchPredictOperation, videos downloaded inline and from Cloud Storage and decoded with PyAV."""

from __future__ import annotations

import base64
import io
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import av
import grpc
import grpc.aio
import pytest
from PIL import Image
from vertex_gateway.v1 import common_pb2, image_pb2, video_pb2, video_pb2_grpc

from emulator.admin import EmulatorAdmin
from emulator.process import EmulatorProcess
from emulator.storage_process import StorageEmulatorProcess
from server.app import create_gateway
from server.config import load_config

from ..conftest import error_details
from .conftest import BUCKET, gateway_env, vertex_calls

V = video_pb2
PREFIX = f"gs://{BUCKET}/videos/"
PENDING_POLLS = 2


@pytest.fixture
def videos(channel: grpc.aio.Channel) -> video_pb2_grpc.VideoServiceStub:
    return video_pb2_grpc.VideoServiceStub(channel)


@pytest.fixture(autouse=True)
def _polls(admin: EmulatorAdmin) -> None:
    admin.set_config(veo_pending_fetches=PENDING_POLLS)


@asynccontextmanager
async def own_gateway(
    emulator: EmulatorProcess, key: dict[str, Any]
) -> AsyncIterator[video_pb2_grpc.VideoServiceStub]:
    """A gateway that lets Vertex write videos under PREFIX."""
    env = gateway_env(emulator, key, VG_OUTPUT_GCS_PREFIXES=PREFIX)
    gw = await create_gateway(load_config(env=env))
    await gw.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel:
            yield video_pb2_grpc.VideoServiceStub(channel)
    finally:
        await gw.shutdown()


async def until_done(stub: video_pb2_grpc.VideoServiceStub, name: str) -> V.VideoJob:
    """Poll as a caller would; the emulator answers "running" to the first PENDING_POLLS polls
    of an operation (any RPC that reads the job polls it) and "done" after."""
    for _ in range(PENDING_POLLS + 1):
        job = await stub.GetVideoJob(V.GetVideoJobRequest(name=name))
        if job.state != common_pb2.JOB_STATE_RUNNING:
            return job
    raise AssertionError(f"{name} still running after {PENDING_POLLS + 1} polls")


async def download(
    stub: video_pb2_grpc.VideoServiceStub, name: str, index: int
) -> tuple[V.GeneratedVideo, bytes, list[int]]:
    """The video's metadata, its bytes and the size of each piece."""
    messages = [m async for m in stub.DownloadVideo(V.DownloadVideoRequest(name=name, index=index))]
    assert messages[0].HasField("video") and not any(m.HasField("video") for m in messages[1:])
    return messages[0].video, b"".join(m.chunk for m in messages), [len(m.chunk) for m in messages]


def probe(data: bytes) -> tuple[str, float, list[Image.Image]]:
    """Demux and decode with FFmpeg (PyAV): container format, duration, frames."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.duration is not None
        seconds = float(stream.duration * stream.time_base)
        frames = [frame.to_image() for frame in container.decode(stream)]
        return container.format.name, seconds, frames


def stored(storage: StorageEmulatorProcess, uri: str) -> bytes:
    """An object's bytes, read from the storage stand-in directly."""
    obj = uri.removeprefix(f"gs://{BUCKET}/").replace("/", "%2F")
    with urllib.request.urlopen(f"{storage.base_url}/storage/v1/b/{BUCKET}/o/{obj}?alt=media") as r:
        data: bytes = r.read()
    return data


def png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 36)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


async def rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        result = call()
        if hasattr(result, "__aiter__"):
            [m async for m in result]
        else:
            await result
    return info.value


async def test_inline_videos_from_start_to_download(
    videos: video_pb2_grpc.VideoServiceStub, admin: EmulatorAdmin
) -> None:
    job = await videos.GenerateVideo(
        V.GenerateVideoRequest(
            model="veo-3.0-generate-001", prompt="a paper boat on a rainy street",
            number_of_videos=2, duration_seconds=4, aspect_ratio="9:16", seed=7,
            negative_prompt="blurry", resolution="720p",
            person_generation=image_pb2.PERSON_GENERATION_DONT_ALLOW, labels={"team": "video"},
        )
    )  # fmt: skip
    assert job.name.startswith("videoJobs/") and job.model == "google/veo-3.0-generate-001"
    assert job.state == common_pb2.JOB_STATE_RUNNING and job.create_time.seconds > 0
    assert job.served_by.vertex_model == "publishers/google/models/veo-3.0-generate-001"
    assert job.vertex_operation.endswith("/publishers/google/models/veo-3.0-generate-001/"
                                         "operations/" + job.vertex_operation.rsplit("/", 1)[1])  # fmt: skip
    [started] = vertex_calls(admin, "predictLongRunning")
    assert started["body"] == {
        "instances": [{"prompt": "a paper boat on a rainy street"}],
        "parameters": {
            "sampleCount": 2, "aspectRatio": "9:16", "durationSeconds": 4, "resolution": "720p",
            "generateAudio": True, "negativePrompt": "blurry", "seed": 7,
            "personGeneration": "dont_allow",
        },
        "labels": {"team": "video"},
    }  # fmt: skip
    for _ in range(PENDING_POLLS):
        running = await videos.GetVideoJob(V.GetVideoJobRequest(name=job.name))
        assert running.state == common_pb2.JOB_STATE_RUNNING and not running.videos
    done = await videos.GetVideoJob(V.GetVideoJobRequest(name=job.name))
    assert done.state == common_pb2.JOB_STATE_SUCCEEDED and done.filtered_count == 0
    assert done.create_time == job.create_time and done.name == job.name
    assert [v.index for v in done.videos] == [0, 1]
    polls = vertex_calls(admin, "fetchPredictOperation")
    assert len(polls) == PENDING_POLLS + 1
    assert polls[0]["body"] == {"operationName": job.vertex_operation}
    seen = set()
    for video in done.videos:
        assert video.storage == V.VIDEO_STORAGE_INLINE and video.mime_type == "video/mp4"
        meta, data, pieces = await download(videos, job.name, video.index)
        assert meta == video and len(data) == video.size_bytes
        assert all(0 < p <= 1024 * 1024 for p in pieces)
        container, seconds, frames = probe(data)
        assert "mp4" in container and seconds == pytest.approx(4, abs=0.2)
        assert frames and frames[0].size == (36, 64)  # 9:16
        seen.add(data)
    assert len(seen) == 2  # two different videos


async def test_cloud_storage_output_with_first_and_last_frames(
    videos: video_pb2_grpc.VideoServiceStub,
    emulator: EmulatorProcess,
    service_account: dict[str, Any],
    storage: StorageEmulatorProcess,
    admin: EmulatorAdmin,
) -> None:
    first, last = png((250, 10, 10)), png((10, 10, 250))
    async with own_gateway(emulator, service_account) as stub:
        job = await stub.GenerateVideo(
            V.GenerateVideoRequest(
                model="veo-2.0-generate-001", prompt="red turns blue", duration_seconds=5,
                output_gcs_uri=f"{PREFIX}run-1/",
                first_frame=common_pb2.Media(mime_type="image/png", data=first),
                last_frame=common_pb2.Media(mime_type="image/png", data=last),
            )
        )  # fmt: skip
        [started] = vertex_calls(admin, "predictLongRunning")
        instance = started["body"]["instances"][0]
        assert instance["image"] == {
            "bytesBase64Encoded": base64.b64encode(first).decode(), "mimeType": "image/png"
        }  # fmt: skip
        assert instance["lastFrame"]["mimeType"] == "image/png"
        params = started["body"]["parameters"]
        assert params["storageUri"] == f"{PREFIX}run-1/" and "generateAudio" not in params
        done = await until_done(stub, job.name)
        [video] = done.videos
        assert video.storage == V.VIDEO_STORAGE_CLOUD_STORAGE
        assert video.uri.startswith(f"{PREFIX}run-1/") and video.uri.endswith(".mp4")
        meta, data, _ = await download(stub, job.name, 0)
        assert meta.size_bytes == len(data) == video.size_bytes
    assert stored(storage, video.uri) == data
    # A gateway that does not allow that prefix neither reads the object nor its size.
    elsewhere = await videos.GetVideoJob(V.GetVideoJobRequest(name=job.name))
    assert elsewhere.videos[0].uri == video.uri and not elsewhere.videos[0].HasField("size_bytes")
    err = await rpc_error(lambda: videos.DownloadVideo(V.DownloadVideoRequest(name=job.name)))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    _, seconds, frames = probe(data)
    assert seconds == pytest.approx(5, abs=0.2) and frames[0].size == (64, 36)
    # The input images are the first and last frames.
    red, *_ = frames[0].convert("RGB").resize((1, 1)).getpixel((0, 0))  # type: ignore[misc]
    *_, blue = frames[-1].convert("RGB").resize((1, 1)).getpixel((0, 0))  # type: ignore[misc]
    assert red > 150 and blue > 150


async def test_failed_filtered_and_not_yet_done_jobs(
    videos: video_pb2_grpc.VideoServiceStub,
) -> None:
    running = await videos.GenerateVideo(
        V.GenerateVideoRequest(model="veo-3.0-fast-generate-001", prompt="a lighthouse")
    )
    err = await rpc_error(
        lambda: videos.DownloadVideo(V.DownloadVideoRequest(name=running.name, index=0))
    )
    d = error_details(err)
    assert d.code == grpc.StatusCode.FAILED_PRECONDITION and d.info is not None
    assert d.info.reason == "VIDEO_JOB_NOT_DONE"
    await until_done(videos, running.name)
    err = await rpc_error(
        lambda: videos.DownloadVideo(V.DownloadVideoRequest(name=running.name, index=1))
    )
    assert err.code() == grpc.StatusCode.OUT_OF_RANGE

    failing = await videos.GenerateVideo(
        V.GenerateVideoRequest(model="veo-3.0-generate-001", prompt="a storm [fail]")
    )
    failed = await until_done(videos, failing.name)
    assert failed.state == common_pb2.JOB_STATE_FAILED and not failed.videos
    assert failed.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "[fail]" in failed.error.message and failed.error.reason == "VIDEO_GENERATION_FAILED"
    err = await rpc_error(
        lambda: videos.DownloadVideo(V.DownloadVideoRequest(name=failing.name, index=0))
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION

    filtered = await videos.GenerateVideo(
        V.GenerateVideoRequest(
            model="veo-3.0-generate-001", prompt="a fox [filter-all]", number_of_videos=2
        )
    )
    everything = await until_done(videos, filtered.name)
    assert everything.state == common_pb2.JOB_STATE_SUCCEEDED and not everything.videos
    assert everything.filtered_count == 2 and everything.filtered_reasons


async def test_cancel_is_not_offered_by_vertex(videos: video_pb2_grpc.VideoServiceStub) -> None:
    job = await videos.GenerateVideo(
        V.GenerateVideoRequest(model="veo-3.0-generate-001", prompt="a slow sunrise")
    )
    err = await rpc_error(lambda: videos.CancelVideoJob(V.CancelVideoJobRequest(name=job.name)))
    d = error_details(err)
    assert d.code == grpc.StatusCode.UNIMPLEMENTED and "cancel" in d.message
    assert d.info is not None and d.info.reason == "NOT_OFFERED_BY_VERTEX"
    # The job goes on.
    assert (await until_done(videos, job.name)).state == common_pb2.JOB_STATE_SUCCEEDED


BAD_REQUESTS = [
    ({"model": "gemini-2.5-flash"}, "model"),
    ({"model": "imagen-4.0-generate-001"}, "model"),
    ({"prompt": " "}, "prompt"),
    ({"duration_seconds": 5}, "duration_seconds"),
    ({"resolution": "4k"}, "resolution"),
    ({"aspect_ratio": "1:1"}, "aspect_ratio"),
    ({"number_of_videos": 5}, "number_of_videos"),
    ({"number_of_videos": 0}, "number_of_videos"),
    ({"last_frame": common_pb2.Media(mime_type="image/png", data=b"x")}, "last_frame"),
    ({"first_frame": common_pb2.Media(mime_type="image/gif", data=b"x")}, "first_frame.mime_type"),
    ({"first_frame": common_pb2.Media(mime_type="image/png", uri="https://x/y.png")},
     "first_frame.uri"),
    ({"labels": {"Team": "x"}}, "labels['Team']"),
    ({"person_generation": 9}, "person_generation"),
    ({"model": "veo-2.0-generate-001", "generate_audio": True}, "generate_audio"),
    ({"model": "veo-2.0-generate-001", "resolution": "720p"}, "resolution"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field"), BAD_REQUESTS)
async def test_bad_fields_are_refused_by_name(
    videos: video_pb2_grpc.VideoServiceStub,
    admin: EmulatorAdmin,
    change: dict[str, Any],
    field: str,
) -> None:
    request = V.GenerateVideoRequest(model="veo-3.0-generate-001", prompt="a cat")
    for key, value in change.items():
        if isinstance(value, common_pb2.Media):
            getattr(request, key).CopyFrom(value)
        elif isinstance(value, dict):
            getattr(request, key).update(value)
        else:
            setattr(request, key, value)
    err = await rpc_error(lambda: videos.GenerateVideo(request))
    d = error_details(err)
    assert d.code == grpc.StatusCode.INVALID_ARGUMENT, d.message
    assert d.bad_request is not None
    assert field in [v.field for v in d.bad_request.field_violations], d.message
    assert not vertex_calls(admin, "predictLongRunning")


async def test_output_prefix_must_be_allowed(
    videos: video_pb2_grpc.VideoServiceStub, admin: EmulatorAdmin
) -> None:
    request = V.GenerateVideoRequest(
        model="veo-3.0-generate-001", prompt="x", output_gcs_uri=f"{PREFIX}x/"
    )
    err = await rpc_error(lambda: videos.GenerateVideo(request))  # none allowed on this gateway
    d = error_details(err)
    assert d.code == grpc.StatusCode.PERMISSION_DENIED and "output_gcs_uri" in d.message
    assert not vertex_calls(admin, "predictLongRunning")


def forged(raw: str) -> str:
    return "videoJobs/" + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "videoJobs/",
        "batches/us-central1-1",
        "videoJobs/../../etc",
        "videoJobs/abc?x=1",
        "videoJobs/abc#x",
        "videoJobs/abc@x",
        forged("us-central1/google/veo-3.0-generate-001/../x/1"),
        forged("us-central1/google/veo-3.0-generate-001/op?x/1"),
        forged("us-central1/google/../veo/op/1"),
        forged("us-central1/google/veo-3.0-generate-001/op#x/1"),
        forged("us-central1/google/veo-3.0-generate-001/op@x/1"),
        forged("US/google/veo-3.0-generate-001/op/1"),
        forged("us-central1/google/veo-3.0-generate-001/op/1/extra"),
        forged("us-central1/google/veo-3.0-generate-001/op/1") + "==",
    ],
)
async def test_names_are_checked_strictly(
    videos: video_pb2_grpc.VideoServiceStub, admin: EmulatorAdmin, name: str
) -> None:
    err = await rpc_error(lambda: videos.GetVideoJob(V.GetVideoJobRequest(name=name)))
    d = error_details(err)
    assert d.code == grpc.StatusCode.INVALID_ARGUMENT and d.message.startswith("name:"), d.message
    assert not vertex_calls(admin, "fetchPredictOperation")


async def test_unknown_jobs_and_other_models(
    videos: video_pb2_grpc.VideoServiceStub, admin: EmulatorAdmin
) -> None:
    unknown = forged(
        "us-central1/google/veo-3.0-generate-001/0f0e1d2c-aaaa-4bbb-8ccc-123456789abc/1"
    )
    err = await rpc_error(lambda: videos.GetVideoJob(V.GetVideoJobRequest(name=unknown)))
    d = error_details(err)
    assert d.code == grpc.StatusCode.NOT_FOUND and d.info is not None
    assert d.info.reason == "VIDEO_JOB_NOT_FOUND"
    # A name that points at a model that makes no videos is refused before any call.
    admin.clear_requests()
    chat_model = forged("us-central1/google/gemini-2.5-flash/op/1")
    err = await rpc_error(lambda: videos.GetVideoJob(V.GetVideoJobRequest(name=chat_model)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert not vertex_calls(admin, "fetchPredictOperation")
