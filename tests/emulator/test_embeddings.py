"""Text embeddings: ``:predict`` for the text-embedding models and ``:embedContent``."""

from __future__ import annotations

import math
from typing import Any

import pytest
from emu_helpers import Emulator

from emulator.catalog import find_model
from emulator.embeddings import embedding_values

TE = "text-embedding-005"
ML = "text-multilingual-embedding-002"
GE = "gemini-embedding-001"


async def predict(emu: Emulator, body: Any, model: str = TE) -> tuple[int, Any]:
    status, parsed, _ = await emu.post(emu.url("predict", model), body)
    return status, parsed


async def embed(emu: Emulator, body: Any, model: str = GE) -> tuple[int, Any]:
    status, parsed, _ = await emu.post(emu.url("embedContent", model), body)
    return status, parsed


def values(reply: Any, index: int = 0) -> list[float]:
    result: list[float] = reply["predictions"][index]["embeddings"]["values"]
    return result


def assert_400(status: int, reply: Any, fragment: str) -> None:
    assert status == 400, reply
    assert reply["error"]["status"] == "INVALID_ARGUMENT"
    assert reply["error"]["code"] == 400
    assert fragment in reply["error"]["message"], reply["error"]["message"]


@pytest.mark.parametrize(("model", "dims"), [(TE, 768), (ML, 768), (GE, 3072)])
async def test_predict_shape_and_default_dims(emu: Emulator, model: str, dims: int) -> None:
    status, reply = await predict(emu, {"instances": [{"content": "Hello, world!"}]}, model)
    assert status == 200, reply
    assert set(reply) == {"predictions", "metadata"}
    embedding = reply["predictions"][0]["embeddings"]
    assert embedding["statistics"] == {"token_count": 4, "truncated": False}
    assert len(embedding["values"]) == dims
    assert math.isclose(math.sqrt(sum(v * v for v in embedding["values"])), 1.0)
    assert reply["metadata"] == {"billableCharacterCount": 12}


async def test_determinism_order_and_distinctness(emu: Emulator) -> None:
    body = {
        "instances": [
            {"content": "How do I reset my router?", "task_type": "RETRIEVAL_QUERY"},
            {"content": "Unplug it.", "task_type": "RETRIEVAL_DOCUMENT", "title": "FAQ"},
            {"content": "Something else"},
        ]
    }
    _, first = await predict(emu, body)
    _, again = await predict(emu, body)
    assert first == again
    assert len(first["predictions"]) == 3
    _, single = await predict(emu, {"instances": [body["instances"][1]]})
    assert values(single) == values(first, 1)
    assert len({tuple(values(first, i)) for i in range(3)}) == 3
    # The task type, the title and the model change the vector too.
    _, other_task = await predict(
        emu, {"instances": [{"content": "How do I reset my router?", "task_type": "CLUSTERING"}]}
    )
    assert values(other_task) != values(first, 0)
    _, other_model = await predict(emu, {"instances": [body["instances"][0]]}, ML)
    assert values(other_model) != values(first, 0)


async def test_output_dimensionality(emu: Emulator) -> None:
    body = {"instances": [{"content": "abc"}], "parameters": {"outputDimensionality": 256}}
    status, reply = await predict(emu, body)
    assert status == 200
    vec = values(reply)
    assert len(vec) == 256
    assert math.isclose(sum(v * v for v in vec), 1.0)
    status, reply = await predict(emu, {**body, "parameters": {"outputDimensionality": 3072}}, GE)
    assert status == 200 and len(values(reply)) == 3072


def test_values_unit_norm_and_stable() -> None:
    a = embedding_values(TE, None, None, "x", 10)
    assert a == embedding_values(TE, None, None, "x", 10)
    assert a != embedding_values(TE, None, None, "y", 10)
    assert math.isclose(sum(v * v for v in a), 1.0)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"instances": []}, "instances must not be empty"),
        ({"instances": [{"content": "a", "taskType": "CLUSTERING"}]}, "Unknown field 'taskType'"),
        ({"instances": [{"text": "a"}]}, "Unknown field 'text'"),
        ({"instances": [{}]}, "instances[0].content is required"),
        ({"instances": [{"content": ""}]}, "instances[0].content is required"),
        ({"instances": [{"content": 5}]}, "instances[0].content is required"),
        ({"instances": [{"content": "a", "task_type": "SEARCH"}]}, 'Invalid task_type "SEARCH"'),
        (
            {"instances": [{"content": "a", "task_type": "RETRIEVAL_QUERY", "title": "t"}]},
            "only supported with task_type RETRIEVAL_DOCUMENT",
        ),
        ({"instances": [{"content": "a", "title": "t"}]}, "only supported with task_type"),
        (
            {"instances": [{"content": "a"}], "parameters": {"outputDimensionality": 0}},
            "outputDimensionality 0 is out of range",
        ),
        (
            {"instances": [{"content": "a"}], "parameters": {"outputDimensionality": 769}},
            "from 1 to 768",
        ),
        (
            {"instances": [{"content": "a"}], "parameters": {"outputDimensionality": "8"}},
            "outputDimensionality must be an integer",
        ),
        (
            {"instances": [{"content": "a"}], "parameters": {"autoTruncate": "no"}},
            "autoTruncate must be a boolean",
        ),
        ({"instances": [{"content": "a"}], "parameters": {"dims": 3}}, "Unknown parameter 'dims'"),
        ({"instances": ["a"]}, "instances[0] must be a JSON object"),
    ],
)
async def test_predict_rejections(emu: Emulator, body: Any, fragment: str) -> None:
    status, reply = await predict(emu, body)
    assert_400(status, reply, fragment)


async def test_unknown_top_level_field_is_a_schema_error(emu: Emulator) -> None:
    status, reply = await predict(emu, {"instances": [{"content": "a"}], "foo": 1})
    assert status == 400
    assert reply["error"]["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"


async def test_truncation(emu: Emulator) -> None:
    long_text = "word " * 2100
    status, reply = await predict(emu, {"instances": [{"content": long_text}]})
    assert status == 200
    stats = reply["predictions"][0]["embeddings"]["statistics"]
    assert stats == {"token_count": 2048, "truncated": True}
    # Only the first 2048 tokens are embedded.
    _, cut = await predict(emu, {"instances": [{"content": "word " * 2047 + "word"}]})
    assert values(cut) == values(reply)
    body = {"instances": [{"content": long_text}], "parameters": {"autoTruncate": False}}
    status, reply = await predict(emu, body)
    assert_400(
        status,
        reply,
        "Unable to submit request because the input token count is 2100 but the model "
        "supports up to 2048. Reduce the input token count and try again.",
    )


@pytest.mark.parametrize(("model", "limit"), [(TE, 250), (ML, 250), (GE, 1)])
async def test_instance_limit(emu: Emulator, model: str, limit: int) -> None:
    ok = {"instances": [{"content": f"text {i}"} for i in range(limit)]}
    status, reply = await predict(emu, ok, model)
    assert status == 200 and len(reply["predictions"]) == limit
    too_many = {"instances": [{"content": f"text {i}"} for i in range(limit + 1)]}
    status, reply = await predict(emu, too_many, model)
    assert_400(
        status,
        reply,
        f"Unable to submit request because it has a batchSize value of {limit + 1} but the "
        f"supported range is from 1 (inclusive) to {limit + 1} (exclusive).",
    )


async def test_request_token_limit(emu: Emulator) -> None:
    instances = [{"content": "word " * 2000} for _ in range(10)]
    status, _ = await predict(emu, {"instances": instances})
    assert status == 200
    status, reply = await predict(emu, {"instances": [*instances, {"content": "one more"}]})
    assert_400(
        status,
        reply,
        "Unable to submit request because the input token count is 20002 but the model "
        "supports up to 20000.",
    )


async def test_chat_models_still_refuse_predict(emu: Emulator) -> None:
    status, reply = await predict(emu, {"instances": [{"content": "a"}]}, "gemini-2.5-flash")
    assert status == 404
    assert "Error 404 (Not Found)!!1" in reply


async def test_unknown_model(emu: Emulator) -> None:
    status, reply = await predict(emu, {"instances": [{"content": "a"}]}, "text-embedding-999")
    assert status == 404
    assert "Publisher Model" in reply["error"]["message"]


async def test_malformed_json_fault_applies(emu: Emulator) -> None:
    async with emu.http.post(
        emu.url("predict", TE),
        json={"instances": [{"content": "a"}]},
        headers=emu.auth(**{"x-emulator-fault": "malformed-json"}),
    ) as resp:
        text = await resp.text()
    assert resp.status == 200
    with pytest.raises(ValueError):
        __import__("json").loads(text)


async def test_embed_content_shape(emu: Emulator) -> None:
    body = {
        "content": {"parts": [{"text": "How do I reset my router?"}]},
        "embedContentConfig": {"taskType": "RETRIEVAL_QUERY", "outputDimensionality": 768},
    }
    status, reply = await embed(emu, body)
    assert status == 200, reply
    assert set(reply) == {"embedding", "usageMetadata", "truncated"}
    assert len(reply["embedding"]["values"]) == 768
    assert reply["usageMetadata"] == {"promptTokenCount": 7}
    assert reply["truncated"] is False
    # The deprecated top-level fields give the same answer; so does :predict.
    legacy = {
        "content": body["content"],
        "taskType": "RETRIEVAL_QUERY",
        "outputDimensionality": 768,
    }
    assert (await embed(emu, legacy))[1] == reply
    _, predicted = await predict(
        emu,
        {
            "instances": [{"content": "How do I reset my router?", "task_type": "RETRIEVAL_QUERY"}],
            "parameters": {"outputDimensionality": 768},
        },
        GE,
    )
    assert values(predicted) == reply["embedding"]["values"]


async def test_embed_content_defaults_and_truncation(emu: Emulator) -> None:
    status, reply = await embed(emu, {"content": {"parts": [{"text": "w " * 3000}]}})
    assert status == 200
    assert len(reply["embedding"]["values"]) == 3072
    assert reply["truncated"] is True
    assert reply["usageMetadata"] == {"promptTokenCount": 2048}
    body = {
        "content": {"parts": [{"text": "w " * 3000}]},
        "embedContentConfig": {"autoTruncate": False},
    }
    status, reply = await embed(emu, body)
    assert_400(status, reply, "the input token count is 3000 but the model supports up to 2048")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "content is required"),
        ({"content": {"parts": []}}, "content.parts must not be empty"),
        ({"content": {"parts": [{"text": "  "}]}}, "content text is empty"),
        (
            {"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]}},
            "only text parts are supported",
        ),
        (
            {"content": {"parts": [{"text": "a"}]}, "embedContentConfig": {"title": "t"}},
            "only supported with task_type RETRIEVAL_DOCUMENT",
        ),
        (
            {"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 3073},
            "from 1 to 3072",
        ),
    ],
)
async def test_embed_content_rejections(emu: Emulator, body: Any, fragment: str) -> None:
    status, reply = await embed(emu, body)
    assert_400(status, reply, fragment)


async def test_embed_content_schema_checks(emu: Emulator) -> None:
    body = {"content": {"parts": [{"text": "a"}]}, "embedContentConfig": {"taskType": "NOPE"}}
    status, reply = await embed(emu, body)
    assert status == 400
    assert reply["error"]["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"


async def test_embed_content_only_on_gemini_embedding(emu: Emulator) -> None:
    body = {"content": {"parts": [{"text": "a"}]}}
    for model in (TE, "gemini-2.5-flash"):
        status, reply = await embed(emu, body, model)
        assert status == 404
        assert "Error 404 (Not Found)!!1" in reply


def test_catalog_limits() -> None:
    te, ge = find_model("google", TE), find_model("google", GE)
    assert te is not None and te.embedding is not None
    assert ge is not None and ge.embedding is not None
    assert (te.embedding.dimensions, te.embedding.max_instances) == (768, 250)
    assert (ge.embedding.dimensions, ge.embedding.max_instances) == (3072, 1)
    assert ge.embedding.embed_content and not te.embedding.embed_content


async def test_embedding_models_do_not_generate(emu: Emulator) -> None:
    for method in ("generateContent", "countTokens"):
        status, reply, _ = await emu.post(
            emu.url(method, TE), {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        )
        assert_400(status, reply, f"does not support {method}")
