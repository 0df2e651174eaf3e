"""ListModels / GetModel: the registry, aliases and allow-list, filtered and paged."""

from __future__ import annotations

import grpc
import pytest
from vertex_gateway.v1 import model_pb2, model_pb2_grpc

from ..conftest import error_details

M = model_pb2


@pytest.fixture
def models(channel: grpc.aio.Channel) -> model_pb2_grpc.ModelServiceStub:
    return model_pb2_grpc.ModelServiceStub(channel)


async def everything(
    stub: model_pb2_grpc.ModelServiceStub, page_size: int, capabilities: list[int] | None = None
) -> list[model_pb2.Model]:
    out: list[model_pb2.Model] = []
    token = ""
    while True:
        page = await stub.ListModels(
            M.ListModelsRequest(page_size=page_size, page_token=token, capabilities=capabilities)
        )
        assert len(page.models) <= page_size
        out.extend(page.models)
        token = page.next_page_token
        if not token:
            return out


async def test_listing_is_the_union_without_duplicates(
    models: model_pb2_grpc.ModelServiceStub,
) -> None:
    listed = await everything(models, 1000)
    ids = [m.id for m in listed]
    assert len(ids) == len(set(ids))
    by_id = {m.id: m for m in listed}
    flash = by_id["google/gemini-2.5-flash"]
    assert flash.source == M.MODEL_SOURCE_REGISTRY and flash.family == M.MODEL_FAMILY_GEMINI
    assert {
        M.CAPABILITY_CHAT,
        M.CAPABILITY_STREAMING,
        M.CAPABILITY_TOOLS,
        M.CAPABILITY_REASONING,
    } <= set(flash.capabilities)
    assert flash.input_token_limit == 1_048_576 and flash.routes[0].location == "us-central1"
    claude = by_id["anthropic/claude-sonnet-4-5@20250929"]
    assert claude.family == M.MODEL_FAMILY_CLAUDE and claude.routes[0].location == "us-east5"
    assert by_id["google/gemini-3-pro-preview"].routes[0].location == "global"
    fast = by_id["fast"]  # the configured alias
    assert fast.source == M.MODEL_SOURCE_ALIAS and fast.alias_target == "google/gemini-2.5-flash"
    assert fast.name == "models/fast"
    # Paging by 3 gives the same listing in the same order.
    assert [m.id for m in await everything(models, 3)] == ids


async def test_filter_by_capability(models: model_pb2_grpc.ModelServiceStub) -> None:
    embedders = await everything(models, 50, [M.CAPABILITY_EMBEDDINGS])
    assert {m.id for m in embedders} == {
        "google/text-embedding-005",
        "google/text-multilingual-embedding-002",
        "google/gemini-embedding-001",
        "google/multimodalembedding@001",
    }
    both = await everything(models, 50, [M.CAPABILITY_CHAT, M.CAPABILITY_REASONING])
    assert both and all(M.CAPABILITY_REASONING in m.capabilities for m in both)
    assert "google/gemini-2.0-flash" not in {m.id for m in both}


async def test_get_model(models: model_pb2_grpc.ModelServiceStub) -> None:
    by_name = await models.GetModel(
        M.GetModelRequest(name="models/anthropic/claude-sonnet-4-5@20250929")
    )
    assert by_name.display_name == "Claude Sonnet 4.5"
    by_id = await models.GetModel(M.GetModelRequest(name="gemini-2.5-pro"))
    assert by_id.id == "google/gemini-2.5-pro"
    alias = await models.GetModel(M.GetModelRequest(name="smart"))
    assert alias.source == M.MODEL_SOURCE_ALIAS and alias.alias_target == "google/gemini-2.5-pro"


@pytest.mark.parametrize(
    ("call", "code", "needle"),
    [
        ("list", grpc.StatusCode.INVALID_ARGUMENT, "page_size"),
        ("token", grpc.StatusCode.INVALID_ARGUMENT, "page_token"),
        ("filter_token", grpc.StatusCode.INVALID_ARGUMENT, "page_token"),
        ("get_unknown", grpc.StatusCode.NOT_FOUND, "gemini-9-ultra"),
        ("get_empty", grpc.StatusCode.INVALID_ARGUMENT, "name"),
        ("bad_capability", grpc.StatusCode.INVALID_ARGUMENT, "capabilities[0]"),
    ],
)
async def test_bad_model_requests(
    models: model_pb2_grpc.ModelServiceStub, call: str, code: grpc.StatusCode, needle: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        if call == "list":
            await models.ListModels(M.ListModelsRequest(page_size=1001))
        elif call == "token":
            await models.ListModels(M.ListModelsRequest(page_token="not-a-token"))
        elif call == "filter_token":
            first = await models.ListModels(M.ListModelsRequest(page_size=2))
            await models.ListModels(
                M.ListModelsRequest(
                    page_size=2, page_token=first.next_page_token, capabilities=[M.CAPABILITY_CHAT]
                )
            )
        elif call == "get_unknown":
            await models.GetModel(M.GetModelRequest(name="gemini-9-ultra"))
        elif call == "get_empty":
            await models.GetModel(M.GetModelRequest())
        else:
            await models.ListModels(M.ListModelsRequest(capabilities=[99]))  # type: ignore[list-item]
    d = error_details(info.value)
    assert d.code == code and needle in d.message, d.message
