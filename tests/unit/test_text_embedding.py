"""Text embedding translation: splitting to Vertex's limits, bodies, replies, validation."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from vertex_gateway.v1 import embedding_pb2

from server.errors import GatewayError
from server.routing.registry import Registry
from server.translate import text_embedding

REGISTRY = Registry()
T005 = REGISTRY.get(None, "text-embedding-005")
GEMINI = REGISTRY.get(None, "gemini-embedding-001")
assert T005 is not None and GEMINI is not None
E = embedding_pb2


def request(texts: list[str], **kw: Any) -> embedding_pb2.EmbedRequest:
    return E.EmbedRequest(model="m", inputs=[E.EmbedInput(text=t) for t in texts], **kw)


def test_split_by_instance_limit_keeps_order() -> None:
    batches = text_embedding.batches(request([f"t{i}" for i in range(600)]), T005)
    assert [len(b) for b in batches] == [250, 250, 100]
    assert [i for b in batches for i in b] == list(range(600))
    assert text_embedding.batches(request(["a", "b", "c"]), GEMINI) == [[0], [1], [2]]


def test_split_by_token_budget() -> None:
    # 30 texts of 1,000 bytes: 20 fit the 20,000-token budget, then a new call.
    batches = text_embedding.batches(request(["x" * 1000] * 30), T005)
    assert [len(b) for b in batches] == [20, 10]
    # With truncation on, a long text counts at most the per-input limit (2,048).
    assert [len(b) for b in text_embedding.batches(request(["x" * 9000] * 12), T005)] == [9, 3]
    # With truncation off it counts whole, and still goes alone if it exceeds the budget.
    off = request(["x" * 30000, "y"], auto_truncate=False)
    assert text_embedding.batches(off, T005) == [[0], [1]]


def test_predict_body() -> None:
    req = E.EmbedRequest(
        model="m",
        task_type=E.EMBEDDING_TASK_TYPE_RETRIEVAL_DOCUMENT,
        output_dimensionality=256,
        auto_truncate=False,
        inputs=[
            E.EmbedInput(text="doc", title="FAQ"),
            E.EmbedInput(text="q", task_type=E.EMBEDDING_TASK_TYPE_RETRIEVAL_QUERY),
        ],
    )
    assert text_embedding.to_predict(req, [0, 1]) == {
        "instances": [
            {"content": "doc", "task_type": "RETRIEVAL_DOCUMENT", "title": "FAQ"},
            {"content": "q", "task_type": "RETRIEVAL_QUERY"},
        ],
        "parameters": {"autoTruncate": False, "outputDimensionality": 256},
    }
    assert text_embedding.to_predict(request(["a"]), [0]) == {"instances": [{"content": "a"}]}


def test_reply_and_usage() -> None:
    payload = {
        "predictions": [
            {
                "embeddings": {
                    "values": [0.5, -0.25],
                    "statistics": {"token_count": 3, "truncated": False},
                }
            },
            {
                "embeddings": {
                    "values": [0.125, 1.0],
                    "statistics": {"token_count": 2048, "truncated": True},
                }
            },
        ],
        "metadata": {"billableCharacterCount": 42},
    }
    embeddings, billable = text_embedding.from_predict(payload, 2)
    assert [list(e.values) for e in embeddings] == [[0.5, -0.25], [0.125, 1.0]]
    assert [(e.token_count, e.truncated) for e in embeddings] == [(3, False), (2048, True)]
    assert billable == 42
    assert text_embedding.usage(embeddings).input_tokens == 2051


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"predictions": [{"embeddings": {"values": [1.0]}}]},  # one for two inputs
        {"predictions": [{"embeddings": {}}, {"embeddings": {"values": [1]}}]},
        {"predictions": [{"embeddings": {"values": ["x"]}}, {"embeddings": {"values": [1]}}]},
    ],
)
def test_malformed_replies(payload: Any) -> None:
    with pytest.raises(GatewayError) as info:
        text_embedding.from_predict(payload, 2)
    assert info.value.reason == "UPSTREAM_MALFORMED_RESPONSE"


@pytest.mark.parametrize(
    ("req", "field"),
    [
        (E.EmbedRequest(model="m"), "inputs"),
        (request([""]), "inputs[0].text"),
        (request(["a"], output_dimensionality=769), "output_dimensionality"),
        (request(["a"], output_dimensionality=0), "output_dimensionality"),
        (E.EmbedRequest(model="m", inputs=[E.EmbedInput(text="a", title="T")]), "inputs[0].title"),
        (E.EmbedRequest(model="m", inputs=[E.EmbedInput(text="a", task_type=42)]), "inputs[0].task_type"),  # type: ignore[arg-type]
        (E.EmbedRequest(model="m", inputs=[E.EmbedInput(text="a", video_segment=E.VideoSegmentConfig())]), "inputs[0]"),
    ],
)  # fmt: skip
def test_invalid_requests_name_the_field(req: embedding_pb2.EmbedRequest, field: str) -> None:
    with pytest.raises(GatewayError) as info:
        text_embedding.validate(req, T005)  # type: ignore[arg-type]
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [v.field for v in info.value.field_violations]


def test_embed_content_body_per_input() -> None:
    req = request(["query text", "doc"], task_type=E.EMBEDDING_TASK_TYPE_RETRIEVAL_QUERY)
    req.inputs[1].title = "Doc"
    req.inputs[1].task_type = E.EMBEDDING_TASK_TYPE_RETRIEVAL_DOCUMENT
    req.auto_truncate = False
    assert text_embedding.to_embed_content(req, 0) == {
        "content": {"parts": [{"text": "query text"}]},
        "embedContentConfig": {"taskType": "RETRIEVAL_QUERY", "autoTruncate": False},
    }
    assert text_embedding.to_embed_content(req, 1)["embedContentConfig"] == {
        "taskType": "RETRIEVAL_DOCUMENT",
        "title": "Doc",
        "autoTruncate": False,
    }
    assert text_embedding.to_embed_content(request(["x"]), 0) == {
        "content": {"parts": [{"text": "x"}]}
    }


def test_embed_content_reply() -> None:
    reply = {
        "embedding": {"values": [0.25, -0.5]},
        "usageMetadata": {"promptTokenCount": 7},
        "truncated": True,
    }
    got = text_embedding.from_embed_content(reply)
    assert list(got.values) == [0.25, -0.5] and got.token_count == 7 and got.truncated
    for bad in ({}, {"embedding": {}}, {"embedding": {"values": ["x"]}}, [], None):
        with pytest.raises(GatewayError) as err:
            text_embedding.from_embed_content(bad)
        assert err.value.code == grpc.StatusCode.UNAVAILABLE
