"""Multimodal embeddings: ``:predict`` of ``multimodalembedding@001`` (vertex-wire.md §5.3)."""

from __future__ import annotations

import base64
import math
from typing import Any

import pytest
from emu_helpers import Emulator

from emulator.embeddings import EmbeddingError
from emulator.multimodal_embeddings import video_segments

MM = "multimodalembedding@001"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake image bytes").decode("ascii")
JPEG = base64.b64encode(b"\xff\xd8\xffother image").decode("ascii")
MP4 = base64.b64encode(b"\x00\x00\x00\x18ftypmp42 fake video").decode("ascii")


async def predict(emu: Emulator, body: Any, model: str = MM) -> tuple[int, Any]:
    status, parsed, _ = await emu.post(emu.url("predict", model), body)
    return status, parsed


def one(instance: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"instances": [instance]}
    if parameters:
        body["parameters"] = parameters
    return body


def assert_unit(vector: list[float], dims: int) -> None:
    assert len(vector) == dims
    assert all(isinstance(v, float) for v in vector)
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0)


def assert_400(status: int, reply: Any, fragment: str) -> None:
    assert status == 400, reply
    assert reply["error"]["code"] == 400
    assert reply["error"]["status"] == "INVALID_ARGUMENT"
    assert fragment in reply["error"]["message"], reply["error"]["message"]


async def test_text_shape_and_default_dimension(emu: Emulator) -> None:
    status, reply = await predict(emu, one({"text": "a red bicycle"}))
    assert status == 200, reply
    assert set(reply) == {"predictions", "deployedModelId"}
    assert isinstance(reply["deployedModelId"], str) and reply["deployedModelId"]
    [prediction] = reply["predictions"]
    assert set(prediction) == {"textEmbedding"}
    assert_unit(prediction["textEmbedding"], 1408)


@pytest.mark.parametrize("dims", [128, 256, 512, 1408])
async def test_image_dimensions(emu: Emulator, dims: int) -> None:
    body = one({"image": {"bytesBase64Encoded": PNG, "mimeType": "image/png"}}, dimension=dims)
    status, reply = await predict(emu, body)
    assert status == 200, reply
    [prediction] = reply["predictions"]
    assert set(prediction) == {"imageEmbedding"}
    assert_unit(prediction["imageEmbedding"], dims)


async def test_image_sources_and_mime_types(emu: Emulator) -> None:
    for image in (
        {"bytesBase64Encoded": JPEG, "mimeType": "image/jpeg"},
        {"bytesBase64Encoded": JPEG},
        {"gcsUri": "gs://bucket/dir/cat.png", "mimeType": "image/png"},
    ):
        status, reply = await predict(emu, one({"image": image}))
        assert status == 200, (image, reply)
        assert_unit(reply["predictions"][0]["imageEmbedding"], 1408)


async def test_combined_instance_and_distinct_modalities(emu: Emulator) -> None:
    instance = {
        "text": "a red bicycle",
        "image": {"gcsUri": "gs://b/bike.png"},
        "video": {"gcsUri": "gs://b/clip.mp4"},
    }
    status, reply = await predict(emu, one(instance))
    assert status == 200, reply
    [prediction] = reply["predictions"]
    assert set(prediction) == {"textEmbedding", "imageEmbedding", "videoEmbeddings"}
    # The same content as text, image and video gives three different vectors.
    same = "gs://b/thing"
    _, text = await predict(emu, one({"text": same}))
    _, image = await predict(emu, one({"image": {"gcsUri": same}}))
    _, video = await predict(emu, one({"video": {"gcsUri": same}}))
    vectors = {
        tuple(text["predictions"][0]["textEmbedding"]),
        tuple(image["predictions"][0]["imageEmbedding"]),
        tuple(video["predictions"][0]["videoEmbeddings"][0]["embedding"]),
    }
    assert len(vectors) == 3


async def test_determinism(emu: Emulator) -> None:
    instance = {
        "text": "hello",
        "image": {"bytesBase64Encoded": PNG, "mimeType": "image/png"},
        "video": {"bytesBase64Encoded": MP4},
    }
    _, first = await predict(emu, one(instance))
    _, again = await predict(emu, one(instance))
    assert first == again
    # Each modality on its own gives the same vector as in the combined instance.
    _, text = await predict(emu, one({"text": "hello"}))
    assert text["predictions"][0]["textEmbedding"] == first["predictions"][0]["textEmbedding"]
    # The same bytes without a MIME type give the same image vector; other bytes do not.
    _, bare = await predict(emu, one({"image": {"bytesBase64Encoded": PNG}}))
    assert bare["predictions"][0]["imageEmbedding"] == first["predictions"][0]["imageEmbedding"]
    _, other = await predict(emu, one({"image": {"bytesBase64Encoded": JPEG}}))
    assert other["predictions"][0]["imageEmbedding"] != bare["predictions"][0]["imageEmbedding"]
    # Other text, another dimension: other vectors.
    _, other_text = await predict(emu, one({"text": "hello!"}))
    assert other_text != text
    _, small = await predict(emu, one({"text": "hello"}, dimension=128))
    assert small["predictions"][0]["textEmbedding"] != text["predictions"][0]["textEmbedding"][:128]


async def test_video_defaults_inline_is_30_seconds(emu: Emulator) -> None:
    status, reply = await predict(emu, one({"video": {"bytesBase64Encoded": MP4}}))
    assert status == 200, reply
    segments = reply["predictions"][0]["videoEmbeddings"]
    assert [(s["startOffsetSec"], s["endOffsetSec"]) for s in segments] == [(0, 16), (16, 30)]
    for segment in segments:
        assert set(segment) == {"startOffsetSec", "endOffsetSec", "embedding"}
        assert isinstance(segment["startOffsetSec"], int)
        assert isinstance(segment["endOffsetSec"], int)
        assert_unit(segment["embedding"], 1408)
    assert segments[0]["embedding"] != segments[1]["embedding"]


async def test_video_gcs_is_60_seconds_and_config(emu: Emulator) -> None:
    status, reply = await predict(emu, one({"video": {"gcsUri": "gs://b/clip.mp4"}}))
    assert status == 200, reply
    offsets = [
        (s["startOffsetSec"], s["endOffsetSec"]) for s in reply["predictions"][0]["videoEmbeddings"]
    ]
    assert offsets == [(0, 16), (16, 32), (32, 48), (48, 60)]
    config = {"startOffsetSec": 10, "endOffsetSec": 30, "intervalSec": 4}
    video = {"gcsUri": "gs://b/clip.mp4", "videoSegmentConfig": config}
    status, reply = await predict(emu, one({"video": video}, dimension=1408))
    assert status == 200, reply
    offsets = [
        (s["startOffsetSec"], s["endOffsetSec"]) for s in reply["predictions"][0]["videoEmbeddings"]
    ]
    assert offsets == [(10, 14), (14, 18), (18, 22), (22, 26), (26, 30)]


def test_segment_math() -> None:
    assert video_segments(60, None, None, None) == [(0, 16), (16, 32), (32, 48), (48, 60)]
    assert video_segments(60, 0, 60, 16) == [(0, 16), (16, 32), (32, 48), (48, 60)]
    assert video_segments(30, 0, 30, 30) == [(0, 30)]
    assert video_segments(30, 0, 30, 100) == [(0, 30)]
    # An end past the video is cut to its length.
    assert video_segments(30, 20, 500, 4) == [(20, 24), (24, 28), (28, 30)]
    # Spans default to 120 s: start from the end, end from the start.
    long = 600
    assert video_segments(long, None, None, 60) == [(0, 60), (60, 120)]
    assert video_segments(long, 100, None, 60) == [(100, 160), (160, 220)]
    assert video_segments(long, None, 300, 60) == [(180, 240), (240, 300)]
    with pytest.raises(EmbeddingError, match="minimum value is 4"):
        video_segments(60, 0, 60, 3)
    with pytest.raises(EmbeddingError, match="must be greater than"):
        video_segments(60, 20, 20, 4)
    with pytest.raises(EmbeddingError, match="not before the end of the video"):
        video_segments(30, 40, None, 4)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            {"instances": [{"text": "a"}, {"text": "b"}]},
            "Unable to submit request because it has a batchSize value of 2 but the supported "
            "range is from 1 (inclusive) to 2 (exclusive).",
        ),
        ({"instances": []}, "instances must not be empty"),
        ({"instances": ["a"]}, "instances[0] must be a JSON object"),
        (one({}), "instances[0] must specify at least one of text, image or video."),
        (one({"content": "a"}), "Unknown field 'content' in instances[0]"),
        (one({"text": ""}), "instances[0].text must be a non-empty string."),
        (one({"text": 3}), "instances[0].text must be a non-empty string."),
        (
            one({"image": {"bytesBase64Encoded": PNG, "gcsUri": "gs://b/o.png"}}),
            "instances[0].image: only one of bytesBase64Encoded and gcsUri may be set",
        ),
        (
            one({"image": {"mimeType": "image/png"}}),
            "instances[0].image: one of bytesBase64Encoded or gcsUri is required.",
        ),
        (
            one({"image": {"bytesBase64Encoded": "not base64!"}}),
            "instances[0].image.bytesBase64Encoded is not valid base64-encoded data.",
        ),
        (
            one({"image": {"gcsUri": "https://example.com/a.png"}}),
            "instances[0].image.gcsUri must be a Cloud Storage URI of the form gs://bucket/object",
        ),
        (one({"image": {"gcsUri": "gs://bucket"}}), "must be a Cloud Storage URI"),
        (
            one({"image": {"gcsUri": "gs://b/a.gif", "mimeType": "image/gif"}}),
            'Unsupported image mimeType "image/gif". Supported MIME types: image/jpeg, image/png.',
        ),
        (
            one({"image": {"gcsUri": "gs://b/a.png", "uri": "x"}}),
            "Unknown field 'uri' in instances[0].image",
        ),
        (
            one({"video": {"gcsUri": "gs://b/c.mp4", "mimeType": "video/mp4"}}),
            "Unknown field 'mimeType' in instances[0].video",
        ),
        (
            one({"video": {"bytesBase64Encoded": MP4, "gcsUri": "gs://b/c.mp4"}}),
            "instances[0].video: only one of bytesBase64Encoded and gcsUri may be set",
        ),
        (
            one({"video": {"bytesBase64Encoded": "@@@"}}),
            "instances[0].video.bytesBase64Encoded is not valid base64-encoded data.",
        ),
        (
            one({"video": {"gcsUri": "s3://b/c.mp4"}}),
            "instances[0].video.gcsUri must be a Cloud Storage URI",
        ),
        (
            one({"video": {"gcsUri": "gs://b/c.mp4", "videoSegmentConfig": {"interval": 8}}}),
            "Unknown field 'interval' in instances[0].video.videoSegmentConfig",
        ),
        (
            one({"video": {"gcsUri": "gs://b/c.mp4", "videoSegmentConfig": {"intervalSec": 3}}}),
            "videoSegmentConfig.intervalSec is 3 but the minimum value is 4.",
        ),
        (
            one(
                {
                    "video": {
                        "gcsUri": "gs://b/c.mp4",
                        "videoSegmentConfig": {"startOffsetSec": 30, "endOffsetSec": 30},
                    }
                }
            ),
            "videoSegmentConfig.endOffsetSec (30) must be greater than startOffsetSec (30).",
        ),
        (
            one(
                {
                    "video": {
                        "gcsUri": "gs://b/c.mp4",
                        "videoSegmentConfig": {"startOffsetSec": 20, "endOffsetSec": 10},
                    }
                }
            ),
            "must be greater than startOffsetSec",
        ),
        (
            one(
                {"video": {"gcsUri": "gs://b/c.mp4", "videoSegmentConfig": {"startOffsetSec": -1}}}
            ),
            "videoSegmentConfig.startOffsetSec must be a non-negative integer, got -1.",
        ),
        (
            one({"video": {"gcsUri": "gs://b/c.mp4", "videoSegmentConfig": {"intervalSec": 4.5}}}),
            "videoSegmentConfig.intervalSec must be a non-negative integer, got 4.5.",
        ),
        (
            one({"video": {"gcsUri": "gs://b/c.mp4"}}, dimension=512),
            "Video embeddings only support dimension 1408, but dimension 512 was requested.",
        ),
        (
            one({"text": "a", "video": {"gcsUri": "gs://b/c.mp4"}}, dimension=128),
            "Video embeddings only support dimension 1408",
        ),
        (
            one({"text": "a"}, dimension=64),
            "Invalid dimension 64. Supported dimensions: 128, 256, 512, 1408.",
        ),
        (one({"text": "a"}, dimension="512"), 'Invalid dimension "512".'),
        (one({"text": "a"}, dimension=True), "Invalid dimension true."),
        (
            one({"text": "a"}, outputDimensionality=128),
            "Unknown parameter 'outputDimensionality'; supported parameters: dimension.",
        ),
        ({"instances": [{"text": "a"}], "parameters": [1]}, "parameters must be a JSON object."),
    ],
)
async def test_rejections(emu: Emulator, body: Any, fragment: str) -> None:
    status, reply = await predict(emu, body)
    assert_400(status, reply, fragment)


async def test_unknown_top_level_field_is_a_schema_error(emu: Emulator) -> None:
    status, reply = await predict(emu, {"instances": [{"text": "a"}], "foo": 1})
    assert status == 400
    assert reply["error"]["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"


async def test_not_generative_and_no_embed_content(emu: Emulator) -> None:
    status, reply, _ = await emu.post(
        emu.url("generateContent", MM), {"contents": [{"role": "user", "parts": [{"text": "a"}]}]}
    )
    assert_400(status, reply, "does not support generateContent")
    status, reply, _ = await emu.post(
        emu.url("embedContent", MM), {"content": {"parts": [{"text": "a"}]}}
    )
    assert status == 404


async def test_text_models_unchanged(emu: Emulator) -> None:
    status, reply = await predict(emu, one({"text": "a"}), "text-embedding-005")
    assert_400(status, reply, "Unknown field 'text' in instances[0]")
