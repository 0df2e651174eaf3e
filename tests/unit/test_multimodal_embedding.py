"""multimodalembedding@001 translation: one call per modality, replies put back per input."""

from __future__ import annotations

from typing import Any

import pytest
from vertex_gateway.v1 import common_pb2, embedding_pb2

from server.errors import GatewayError
from server.translate import multimodal_embedding as mm

E = embedding_pb2
M = "multimodalembedding@001"
PNG = common_pb2.Media(mime_type="image/png", data=b"\x89PNG")


def test_calls_split_each_input_by_modality() -> None:
    request = E.EmbedRequest(
        model=M,
        output_dimensionality=1408,
        inputs=[
            E.EmbedInput(text="a red bicycle", image=PNG),
            E.EmbedInput(
                video=common_pb2.Media(mime_type="video/mp4", uri="gs://b/clip.mp4"),
                video_segment=E.VideoSegmentConfig(end_offset_seconds=60, interval_seconds=16),
            ),
        ],
    )
    calls = mm.calls(request)
    assert [(c.position, c.modality) for c in calls] == [(0, "text"), (0, "image"), (1, "video")]
    assert calls[0].body == {
        "instances": [{"text": "a red bicycle"}],
        "parameters": {"dimension": 1408},
    }
    assert calls[1].body["instances"] == [
        {"image": {"bytesBase64Encoded": "iVBORw==", "mimeType": "image/png"}}
    ]
    assert calls[2].body["instances"] == [
        {
            "video": {
                "gcsUri": "gs://b/clip.mp4",
                "videoSegmentConfig": {"endOffsetSec": 60, "intervalSec": 16},
            }
        }
    ]


def test_replies_fill_each_modality() -> None:
    request = E.EmbedRequest(
        model=M, inputs=[E.EmbedInput(text="t", image=PNG, video=common_pb2.Media(uri="gs://v"))]
    )
    calls = mm.calls(request)
    embedding = E.Embedding()
    mm.apply(calls[0], {"predictions": [{"textEmbedding": [0.5, 1]}]}, embedding)
    mm.apply(calls[1], {"predictions": [{"imageEmbedding": [0.25]}]}, embedding)
    mm.apply(
        calls[2],
        {"predictions": [{"videoEmbeddings": [
            {"startOffsetSec": 0, "endOffsetSec": 16, "embedding": [1.0]},
            {"startOffsetSec": 16, "endOffsetSec": 32, "embedding": [0.5]},
        ]}]},
        embedding,
    )  # fmt: skip
    assert list(embedding.text_values) == [0.5, 1.0] and list(embedding.image_values) == [0.25]
    assert [(s.start_offset_seconds, s.end_offset_seconds) for s in embedding.video_segments] == [
        (0, 16),
        (16, 32),
    ]
    assert not embedding.values


@pytest.mark.parametrize(
    "payload",
    [{}, {"predictions": []}, {"predictions": [{"textEmbedding": "x"}]}, {"predictions": [{}]}],
)
def test_malformed_replies(payload: Any) -> None:
    call = mm.calls(E.EmbedRequest(model=M, inputs=[E.EmbedInput(text="t")]))[0]
    with pytest.raises(GatewayError) as info:
        mm.apply(call, payload, E.Embedding())
    assert info.value.reason == "UPSTREAM_MALFORMED_RESPONSE"


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (E.EmbedRequest(model=M), "inputs"),
        (E.EmbedRequest(model=M, inputs=[E.EmbedInput()]), "inputs[0]"),
        (E.EmbedRequest(model=M, inputs=[E.EmbedInput(text="t")], output_dimensionality=300), "output_dimensionality"),
        (E.EmbedRequest(model=M, inputs=[E.EmbedInput(video=common_pb2.Media(uri="gs://v"))], output_dimensionality=512), "output_dimensionality"),
        (E.EmbedRequest(model=M, inputs=[E.EmbedInput(image=common_pb2.Media(mime_type="image/gif", data=b"x"))]), "inputs[0].image.mime_type"),
        (E.EmbedRequest(model=M, inputs=[E.EmbedInput(image=common_pb2.Media(mime_type="image/png", uri="https://x/y.png"))]), "inputs[0].image.uri"),
        (E.EmbedRequest(model=M, inputs=[E.EmbedInput(video=common_pb2.Media(uri="gs://v"), video_segment=E.VideoSegmentConfig(interval_seconds=2))]), "inputs[0].video_segment.interval_seconds"),
        (E.EmbedRequest(model=M, inputs=[E.EmbedInput(video=common_pb2.Media(uri="gs://v"), video_segment=E.VideoSegmentConfig(start_offset_seconds=10, end_offset_seconds=10))]), "inputs[0].video_segment.end_offset_seconds"),
        (E.EmbedRequest(model=M, inputs=[E.EmbedInput(text="t", video_segment=E.VideoSegmentConfig())]), "inputs[0].video_segment"),
        (E.EmbedRequest(model=M, inputs=[E.EmbedInput(text="t")], task_type=E.EMBEDDING_TASK_TYPE_CLUSTERING), "task_type"),
        (E.EmbedRequest(model=M, inputs=[E.EmbedInput(text="t")], auto_truncate=True), "auto_truncate"),
    ],
)  # fmt: skip
def test_invalid_requests_name_the_field(request_: embedding_pb2.EmbedRequest, field: str) -> None:
    with pytest.raises(GatewayError) as info:
        mm.validate(request_, M)
    assert field in [v.field for v in info.value.field_violations]
