"""Veo: ``:predictLongRunning`` / ``:fetchPredictOperation``, the MP4 files, Cloud Storage output,
body checks, triggers, and what Vertex does not offer (cancelling a predict operation)."""

from __future__ import annotations

import base64
import io
import re
import uuid
from typing import Any

import av
import pytest
from emu_batch_helpers import BatchEmulator
from emu_helpers import API_KEY, Emulator
from PIL import Image, ImageStat

from emulator.batch_jobs import project_number
from emulator.discovery import document
from emulator.gcs import GcsUri
from emulator.storage_process import DEFAULT_BUCKET
from emulator.video_file import mjpeg_mp4

VEO_3 = "veo-3.0-generate-001"
VEO_2 = "veo-2.0-generate-001"
VEO_31 = "veo-3.1-generate-preview"
PARENT = "projects/test-project/locations/us-central1"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def veo_body(prompt: str = "A paper boat on a rainy street", **parameters: Any) -> dict[str, Any]:
    """A Veo 3 body (``generateAudio`` is required there) with ``parameters`` merged in."""
    return {"instances": [{"prompt": prompt}], "parameters": {"generateAudio": True, **parameters}}


async def start(emu: Emulator, body: dict[str, Any], model: str = VEO_3) -> str:
    status, reply, _ = await emu.post(emu.url("predictLongRunning", model), body)
    assert status == 200, reply
    assert list(reply) == ["name"]
    name: str = reply["name"]
    return name


async def fetch(emu: Emulator, name: str, model: str = VEO_3) -> tuple[int, Any]:
    status, reply, _ = await emu.post(
        emu.url("fetchPredictOperation", model), {"operationName": name}
    )
    return status, reply


async def finish(emu: Emulator, name: str, model: str = VEO_3) -> dict[str, Any]:
    """Poll until done (at most a few polls: the pace is counted in polls)."""
    for _ in range(10):
        status, reply = await fetch(emu, name, model)
        assert status == 200, reply
        if reply.get("done"):
            result: dict[str, Any] = reply
            return result
    raise AssertionError("the operation never finished")


def probe(data: bytes) -> tuple[str, float, list[Image.Image]]:
    """Demux and decode an MP4 with FFmpeg (PyAV): format name, stream duration, frames."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.duration is not None
        seconds = float(stream.duration * stream.time_base)
        frames = [frame.to_image() for frame in container.decode(stream)]
        return container.format.name, seconds, frames


def assert_400(status: int, reply: Any, fragment: str) -> None:
    assert status == 400, reply
    assert reply["error"]["status"] == "INVALID_ARGUMENT"
    assert fragment in reply["error"]["message"], reply["error"]["message"]


def solid_png(colour: tuple[int, int, int], size: tuple[int, int] = (160, 90)) -> str:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def mean(picture: Image.Image) -> list[float]:
    return list(ImageStat.Stat(picture).mean)


# --- the MP4 file itself ------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "fps"), [(1, 1), (48, 8), (30, 24)])
def test_mjpeg_mp4_is_demuxed_and_decoded_by_ffmpeg(count: int, fps: int) -> None:
    jpegs = []
    for i in range(count):
        out = io.BytesIO()
        Image.new("RGB", (32, 18), (i * 5 % 256, 40, 200)).save(out, "JPEG")
        jpegs.append(out.getvalue())
    data = mjpeg_mp4(jpegs, 32, 18, fps)
    assert data[4:8] == b"ftyp" and data[8:12] == b"isom"
    name, seconds, frames = probe(data)
    assert "mp4" in name and "mov" in name
    assert seconds == pytest.approx(count / fps)
    assert len(frames) == count and {f.size for f in frames} == {(32, 18)}
    assert mjpeg_mp4(jpegs, 32, 18, fps) == data


def test_mjpeg_mp4_needs_frames() -> None:
    with pytest.raises(ValueError):
        mjpeg_mp4([], 32, 18, 8)


# --- the operation ------------------------------------------------------------------------------


async def test_text_to_video_is_done_on_the_third_poll_with_inline_videos(emu: Emulator) -> None:
    name = await start(emu, veo_body(durationSeconds=6, sampleCount=2, aspectRatio="16:9"))
    assert re.fullmatch(f"{PARENT}/publishers/google/models/{VEO_3}/operations/{UUID}", name), name
    # Running: proto3 JSON leaves ``done: false`` out.
    assert await fetch(emu, name) == (200, {"name": name})
    assert await fetch(emu, name) == (200, {"name": name})
    status, done = await fetch(emu, name)
    assert status == 200
    assert (
        document("v1").validate("GoogleLongrunningOperation", done, lenient_names=False).errors
        == []
    )
    assert set(done) == {"name", "done", "response"} and done["done"] is True
    response = done["response"]
    assert response["@type"] == (
        "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
    )
    assert response["raiMediaFilteredCount"] == 0 and "raiMediaFilteredReasons" not in response
    videos = response["videos"]
    assert [v["mimeType"] for v in videos] == ["video/mp4", "video/mp4"]
    files = [base64.b64decode(v["bytesBase64Encoded"]) for v in videos]
    assert files[0] != files[1]
    for data in files:
        container, seconds, frames = probe(data)
        assert "mp4" in container
        assert seconds == pytest.approx(6.0)
        assert len(frames) == 48 and {f.size for f in frames} == {(64, 36)}
        assert mean(frames[0]) != mean(frames[-1])
    # Later polls repeat the finished operation.
    assert await fetch(emu, name) == (200, done)


async def test_same_request_same_bytes(emu: Emulator) -> None:
    body = veo_body(durationSeconds=4, seed=7)
    first = await finish(emu, await start(emu, body))
    second = await finish(emu, await start(emu, body))
    assert first["name"] != second["name"]
    assert first["response"] == second["response"]
    other = await finish(emu, await start(emu, veo_body(durationSeconds=4, seed=8)))
    assert other["response"] != first["response"]


async def test_veo_2_portrait_and_defaults(emu: Emulator) -> None:
    body = {"instances": [{"prompt": "A kite"}], "parameters": {"aspectRatio": "9:16"}}
    done = await finish(emu, await start(emu, body, VEO_2), VEO_2)
    [video] = done["response"]["videos"]
    _, seconds, frames = probe(base64.b64decode(video["bytesBase64Encoded"]))
    assert seconds == pytest.approx(8.0)
    assert {f.size for f in frames} == {(36, 64)}
    plain = {"instances": [{"prompt": "A kite"}], "parameters": {"durationSeconds": 5}}
    done = await finish(emu, await start(emu, plain, VEO_2), VEO_2)
    _, seconds, _ = probe(base64.b64decode(done["response"]["videos"][0]["bytesBase64Encoded"]))
    assert seconds == pytest.approx(5.0)


async def test_pending_polls_follow_the_config(emu: Emulator) -> None:
    await emu.admin("POST", "config", json={"veo_pending_fetches": 0})
    name = await start(emu, veo_body(durationSeconds=4))
    status, reply = await fetch(emu, name)
    assert status == 200 and reply["done"] is True
    await emu.admin("POST", "config", json={"veo_pending_fetches": 4})
    name = await start(emu, veo_body(durationSeconds=4))
    for _ in range(4):
        assert await fetch(emu, name) == (200, {"name": name})
    assert (await fetch(emu, name))[1]["done"] is True


async def test_first_and_last_frames_are_shown(emu: Emulator) -> None:
    body = {
        "instances": [
            {
                "prompt": "From red to blue",
                "image": {"bytesBase64Encoded": solid_png((220, 20, 20)), "mimeType": "image/png"},
                "lastFrame": {
                    "bytesBase64Encoded": solid_png((20, 20, 220)),
                    "mimeType": "image/png",
                },
            }
        ],
        "parameters": {"generateAudio": False, "durationSeconds": 4, "resizeMode": "crop"},
    }
    done = await finish(emu, await start(emu, body, VEO_31), VEO_31)
    _, _, frames = probe(base64.b64decode(done["response"]["videos"][0]["bytesBase64Encoded"]))
    red, blue = mean(frames[0]), mean(frames[-1])
    assert red[0] > 180 and red[2] < 60, red
    assert blue[2] > 180 and blue[0] < 60, blue


async def test_an_image_that_does_not_decode_is_refused(emu: Emulator) -> None:
    body = veo_body()
    body["instances"][0]["image"] = {
        "bytesBase64Encoded": base64.b64encode(b"not an image").decode(),
        "mimeType": "image/png",
    }
    status, reply, _ = await emu.post(emu.url("predictLongRunning", VEO_3), body)
    assert_400(status, reply, "instances[0].image is not a PNG or JPEG image")
    [record] = await emu.records()
    assert record["schema_errors"]


async def test_express_mode_operation_names(emu: Emulator) -> None:
    headers = {"x-goog-api-key": API_KEY}
    status, reply, _ = await emu.post(
        emu.url("predictLongRunning", VEO_3, express=True), veo_body(durationSeconds=4), headers
    )
    assert status == 200, reply
    name = reply["name"]
    assert re.fullmatch(f"publishers/google/models/{VEO_3}/operations/{UUID}", name)
    await emu.admin("POST", "config", json={"veo_pending_fetches": 0})
    status, done, _ = await emu.post(
        emu.url("fetchPredictOperation", VEO_3, express=True), {"operationName": name}, headers
    )
    assert status == 200 and done["done"] is True


# --- Cloud Storage ------------------------------------------------------------------------------


async def test_videos_are_written_to_the_storage_uri(batch_emu: BatchEmulator) -> None:
    prefix = f"gs://{DEFAULT_BUCKET}/veo/{uuid.uuid4().hex}/"
    name = await start(batch_emu, veo_body(durationSeconds=4, sampleCount=2, storageUri=prefix))
    done = await finish(batch_emu, name)
    operation_id = name.rsplit("/", 1)[1]
    videos = done["response"]["videos"]
    assert videos == [
        {"gcsUri": f"{prefix}{operation_id}/sample_{i}.mp4", "mimeType": "video/mp4"}
        for i in range(2)
    ]
    async with batch_emu.gcs() as gcs:
        data = await gcs.read_object(GcsUri.parse(videos[0]["gcsUri"]))
        meta = await gcs.object_metadata(GcsUri.parse(videos[1]["gcsUri"]))
    _, seconds, frames = probe(data)
    assert seconds == pytest.approx(4.0) and len(frames) == 32
    assert meta["contentType"] == "video/mp4"


async def test_a_prefix_without_slash_and_a_missing_bucket(batch_emu: BatchEmulator) -> None:
    prefix = f"gs://{DEFAULT_BUCKET}/veo-{uuid.uuid4().hex}"
    name = await start(batch_emu, veo_body(durationSeconds=4, storageUri=prefix))
    done = await finish(batch_emu, name)
    operation_id = name.rsplit("/", 1)[1]
    assert done["response"]["videos"][0]["gcsUri"] == f"{prefix}/{operation_id}/sample_0.mp4"
    name = await start(batch_emu, veo_body(durationSeconds=4, storageUri="gs://no-such-bucket/x/"))
    done = await finish(batch_emu, name)
    assert done["error"]["code"] == 5 and "bucket does not exist" in done["error"]["message"]
    assert "response" not in done


async def test_a_first_frame_from_cloud_storage(batch_emu: BatchEmulator) -> None:
    uri = GcsUri(DEFAULT_BUCKET, f"veo-in/{uuid.uuid4().hex}.png")
    async with batch_emu.gcs() as gcs:
        await gcs.write_object(uri, base64.b64decode(solid_png((10, 200, 10))))
    body = veo_body(durationSeconds=4)
    body["instances"][0]["image"] = {"gcsUri": str(uri), "mimeType": "image/png"}
    done = await finish(batch_emu, await start(batch_emu, body))
    _, _, frames = probe(base64.b64decode(done["response"]["videos"][0]["bytesBase64Encoded"]))
    assert mean(frames[0])[1] > 170
    body["instances"][0]["image"]["gcsUri"] = f"gs://{DEFAULT_BUCKET}/veo-in/missing.png"
    status, reply, _ = await batch_emu.post(batch_emu.url("predictLongRunning", VEO_3), body)
    assert_400(status, reply, "does not exist")


async def test_storage_is_needed_for_gs_output(emu: Emulator) -> None:
    status, reply, _ = await emu.post(
        emu.url("predictLongRunning", VEO_3), veo_body(storageUri="gs://bucket/out/")
    )
    assert status == 400 and reply["error"]["status"] == "FAILED_PRECONDITION"
    assert "no Cloud Storage configured" in reply["error"]["message"]


# --- triggers -----------------------------------------------------------------------------------


async def test_filter_triggers(emu: Emulator) -> None:
    done = await finish(emu, await start(emu, veo_body("A duel [filter]", sampleCount=3)))
    response = done["response"]
    assert len(response["videos"]) == 2 and response["raiMediaFilteredCount"] == 1
    assert "usage guidelines" in response["raiMediaFilteredReasons"][0]
    done = await finish(emu, await start(emu, veo_body("A duel [filter-all]", sampleCount=2)))
    assert "videos" not in done["response"]
    assert done["response"]["raiMediaFilteredCount"] == 2


async def test_fail_trigger_fails_the_operation(emu: Emulator) -> None:
    name = await start(emu, veo_body("Anything [fail]"))
    assert await fetch(emu, name) == (200, {"name": name})
    done = await finish(emu, name)
    assert set(done) == {"name", "done", "error"}
    assert done["error"]["code"] == 3 and "[fail]" in done["error"]["message"]


# --- body checks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "body", "fragment"),
    [
        (
            VEO_3,
            veo_body(durationSeconds=10),
            "The number value for `durationSeconds` is out of bound. Please provide a value "
            "between 4 and 8, inclusive.",
        ),
        (
            VEO_3,
            veo_body(durationSeconds=5),
            "Unsupported output video duration 5 seconds, supported durations are [4,6,8] for "
            "feature text_to_video.",
        ),
        (
            VEO_2,
            {"instances": [{"prompt": "a"}], "parameters": {"durationSeconds": 4}},
            "between 5 and 8",
        ),
        (VEO_3, {"instances": [{"prompt": "a"}]}, "parameters.generateAudio is required"),
        (
            VEO_2,
            {"instances": [{"prompt": "a"}], "parameters": {"generateAudio": True}},
            "Audio generation is not supported",
        ),
        (
            VEO_2,
            {"instances": [{"prompt": "a"}], "parameters": {"resolution": "720p"}},
            "resolution is not supported",
        ),
        (VEO_3, veo_body(resolution="4k"), 'parameters.resolution "4k" is not supported'),
        (VEO_3, veo_body(sampleCount=5), "parameters.sampleCount is 5"),
        (VEO_3, veo_body(sampleCount="2"), 'parameters.sampleCount must be an integer, got "2"'),
        (VEO_3, veo_body(seed=2**32), "parameters.seed is 4294967296"),
        (VEO_3, veo_body(aspectRatio="1:1"), 'parameters.aspectRatio "1:1" is not supported'),
        (VEO_3, veo_body(personGeneration="everyone"), "parameters.personGeneration"),
        (VEO_3, veo_body(storageUri="s3://bucket/out"), "is not a Cloud Storage URI"),
        (VEO_3, veo_body(fps=30), "parameters.fps is 30"),
        (VEO_3, veo_body(numberOfVideos=2), 'Unknown field "numberOfVideos" in parameters'),
        (
            VEO_3,
            {"instances": [], "parameters": {"generateAudio": True}},
            "exactly one instance, got none",
        ),
        (
            VEO_3,
            {
                "instances": [{"prompt": "a"}, {"prompt": "b"}],
                "parameters": {"generateAudio": True},
            },
            "exactly one instance, got 2",
        ),
        (VEO_3, veo_body("  "), "instances[0].prompt is required when no image is given"),
        (
            VEO_3,
            {
                "instances": [{"prompt": "a", "image": {"gcsUri": "gs://bucket/i.png"}}],
                "parameters": {"generateAudio": True},
            },
            "instances[0].image.mimeType is required",
        ),
        (
            VEO_3,
            {
                "instances": [
                    {
                        "prompt": "a",
                        "image": {
                            "bytesBase64Encoded": "AAAA",
                            "gcsUri": "gs://bucket/i.png",
                            "mimeType": "image/png",
                        },
                    }
                ],
                "parameters": {"generateAudio": True},
            },
            "exactly one of bytesBase64Encoded and gcsUri",
        ),
        (
            VEO_3,
            {
                "instances": [
                    {
                        "prompt": "a",
                        "image": {"bytesBase64Encoded": "AAAA", "mimeType": "image/png"},
                        "lastFrame": {"bytesBase64Encoded": "AAAA", "mimeType": "image/png"},
                    }
                ],
                "parameters": {"generateAudio": True},
            },
            "instances[0].lastFrame is not supported by veo-3.0-generate-001",
        ),
        (
            VEO_31,
            {
                "instances": [
                    {
                        "prompt": "a",
                        "lastFrame": {"bytesBase64Encoded": "AAAA", "mimeType": "image/png"},
                    }
                ],
                "parameters": {"generateAudio": True},
            },
            "lastFrame needs instances[0].image",
        ),
        (VEO_3, {**veo_body(), "labels": {"Team": "x"}}, "label key `Team` is invalid"),
    ],
)
async def test_bad_bodies(emu: Emulator, model: str, body: dict[str, Any], fragment: str) -> None:
    status, reply, _ = await emu.post(emu.url("predictLongRunning", model), body)
    assert_400(status, reply, fragment)
    [record] = await emu.records()
    assert record["schema_errors"]


@pytest.mark.parametrize(
    ("model", "parameters"),
    [
        (VEO_3, {"generateAudio": False, "resolution": "1080p", "durationSeconds": 8.0}),
        (VEO_3, {"generateAudio": True, "personGeneration": "dont_allow", "negativePrompt": "x"}),
        (VEO_3, {"generateAudio": True, "enhancePrompt": False, "compressionQuality": "lossless"}),
        (VEO_3, {"generateAudio": True, "fps": 24, "pubsubTopic": "projects/p/topics/t"}),
        (VEO_31, {"generateAudio": True, "resolution": "4k", "seed": 4294967295}),
        (VEO_2, {"durationSeconds": 7, "generateAudio": False, "sampleCount": 4}),
    ],
)
async def test_good_parameters(emu: Emulator, model: str, parameters: dict[str, Any]) -> None:
    body = {"instances": [{"prompt": "a lighthouse"}], "parameters": parameters}
    status, reply, _ = await emu.post(emu.url("predictLongRunning", model), body)
    assert status == 200, reply


async def test_the_envelope_is_checked_against_the_discovery_schema(emu: Emulator) -> None:
    status, reply, _ = await emu.post(
        emu.url("predictLongRunning", VEO_3), {"instance": [{"prompt": "a"}]}
    )
    assert status == 400
    assert reply["error"]["message"] == (
        'Invalid JSON payload received. Unknown name "instance": Cannot find field.'
    )
    assert reply["error"]["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    status, reply, _ = await emu.post(
        emu.url("fetchPredictOperation", VEO_3), {"operation_name": "x"}
    )
    assert status == 400 and 'Unknown name "operation_name"' in reply["error"]["message"]


async def test_valid_bodies_pass_the_audit(emu: Emulator) -> None:
    agent = f"veo-audit-{uuid.uuid4().hex}"
    headers = {**emu.auth(), "User-Agent": agent}
    status, reply, _ = await emu.post(emu.url("predictLongRunning", VEO_3), veo_body(), headers)
    assert status == 200
    status, _, _ = await emu.post(
        emu.url("fetchPredictOperation", VEO_3), {"operationName": reply["name"]}, headers
    )
    assert status == 200
    await emu.post(emu.url("predictLongRunning", VEO_3), veo_body(sampleCount=9), headers)
    audit = await emu.admin("GET", "audit", params={"user_agent_prefix": agent})
    assert audit["checked"] == 3 and len(audit["violations"]) == 1


async def test_video_unemulated_members_are_refused_but_not_audited(emu: Emulator) -> None:
    agent = f"veo-audit-{uuid.uuid4().hex}"
    body = veo_body()
    body["instances"][0]["video"] = {"gcsUri": "gs://bucket/v.mp4", "mimeType": "video/mp4"}
    status, reply, _ = await emu.post(
        emu.url("predictLongRunning", VEO_3), body, {**emu.auth(), "User-Agent": agent}
    )
    assert_400(status, reply, "instances[0].video")
    audit = await emu.admin("GET", "audit", params={"user_agent_prefix": agent})
    assert audit == {"checked": 1, "violations": []}


# --- polling errors, other models, no cancel ---------------------------------------------------


async def test_fetch_checks_the_operation_name(emu: Emulator) -> None:
    name = await start(emu, veo_body())
    status, reply, _ = await emu.post(emu.url("fetchPredictOperation", VEO_3), {})
    assert_400(status, reply, "operation_name is required")
    status, reply = await fetch(emu, "operations/123")
    assert_400(status, reply, "Invalid operation name `operations/123`")
    # Another model's URL: the operation does not belong to it.
    status, reply = await fetch(emu, name, "veo-3.0-fast-generate-001")
    assert_400(status, reply, "does not belong to the model")
    unknown = name.rsplit("/", 1)[0] + f"/{uuid.uuid4()}"
    status, reply = await fetch(emu, unknown)
    assert status == 404 and reply["error"]["status"] == "NOT_FOUND"
    assert reply["error"]["message"] == f"Operation `{unknown}` not found."
    # The project number names the same project.
    numbered = name.replace("test-project", project_number("test-project"))
    assert (await fetch(emu, numbered))[0] == 200


@pytest.mark.parametrize("method", ["predictLongRunning", "fetchPredictOperation"])
async def test_other_models_do_not_run_video_operations(emu: Emulator, method: str) -> None:
    status, reply, _ = await emu.post(
        emu.url(method, "gemini-2.5-flash"),
        {"operationName": "x"} if method.startswith("fetch") else veo_body(),
    )
    assert_400(status, reply, f"does not support {method}")


async def test_veo_does_not_generate_content(emu: Emulator) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    status, reply, _ = await emu.post(emu.url("generateContent", VEO_3), body)
    assert_400(status, reply, "does not support generateContent")
    status, reply, _ = await emu.post(emu.url("predict", VEO_3), {"instances": [{"prompt": "a"}]})
    assert status == 404 and "Error 404 (Not Found)!!1" in reply


async def test_predict_operations_cannot_be_cancelled_or_read_directly(emu: Emulator) -> None:
    # The discovery document has no operations resource under publishers/*/models: Vertex
    # offers neither :cancel nor GET on a predict operation (Google's HTML 404).
    name = await start(emu, veo_body())
    status, reply, _ = await emu.post(f"{emu.base_url}/v1/{name}:cancel", {})
    assert status == 404 and "Error 404 (Not Found)!!1" in reply
    async with emu.http.get(f"{emu.base_url}/v1/{name}", headers=emu.auth()) as resp:
        assert resp.status == 404
    assert (await fetch(emu, name)) == (200, {"name": name})


async def test_veo_models_are_in_the_publisher_catalog(emu: Emulator) -> None:
    async with emu.http.get(
        f"{emu.base_url}/v1beta1/publishers/google/models", headers=emu.auth()
    ) as resp:
        names = {m["name"] for m in (await resp.json())["publisherModels"]}
    assert {f"publishers/google/models/{m}" for m in (VEO_2, VEO_3, VEO_31)} <= names


async def test_reset_forgets_operations(emu: Emulator) -> None:
    name = await start(emu, veo_body())
    await emu.admin("POST", "reset")
    status, reply = await fetch(emu, name)
    assert status == 404, reply


async def test_unary_faults_apply_to_polls(emu: Emulator) -> None:
    name = await start(emu, veo_body())
    headers = {**emu.auth(), "x-emulator-fault": "malformed-json"}
    status, reply, _ = await emu.post(
        emu.url("fetchPredictOperation", VEO_3), {"operationName": name}, headers
    )
    assert status == 200 and isinstance(reply, str) and reply.startswith("{")
    headers["x-emulator-fault"] = "503"
    status, reply, _ = await emu.post(
        emu.url("fetchPredictOperation", VEO_3), {"operationName": name}, headers
    )
    assert status == 503 and reply["error"]["status"] == "UNAVAILABLE"
    # The malformed answer counted as a poll; the refused one did not reach the operation.
    assert await fetch(emu, name) == (200, {"name": name})
    assert (await fetch(emu, name))[1]["done"] is True
