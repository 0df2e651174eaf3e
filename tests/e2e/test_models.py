"""ListModels / GetModel: the registry, aliases, allow-list and what Vertex lists (endpoints,
custom models, publisher catalogs), filtered and paged."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest
from vertex_gateway.v1 import model_pb2, model_pb2_grpc

from emulator.admin import EmulatorAdmin
from emulator.process import EmulatorProcess
from server.app import create_gateway
from server.config import load_config

from ..conftest import error_details
from .conftest import gateway_env

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
        "google/gemini-embedding-2",
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


@contextlib.asynccontextmanager
async def own_gateway(
    emulator: EmulatorProcess, key: dict[str, Any], **env: str
) -> AsyncIterator[model_pb2_grpc.ModelServiceStub]:
    """A gateway of its own (discovery is cached per gateway for minutes)."""
    gw = await create_gateway(load_config(env=gateway_env(emulator, key, **env)))
    await gw.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel:
            yield model_pb2_grpc.ModelServiceStub(channel)
    finally:
        await gw.shutdown()


async def test_discovery_lists_endpoints_custom_and_catalog_models(
    models: model_pb2_grpc.ModelServiceStub,
) -> None:
    listed = await everything(models, 7)
    ids = [m.id for m in listed]
    assert len(ids) == len(set(ids))
    by_id = {m.id: m for m in listed}
    endpoint = by_id["endpoints/4001"]
    assert endpoint.source == M.MODEL_SOURCE_VERTEX_ENDPOINT
    assert endpoint.display_name == "support-assistant"
    assert endpoint.family == M.MODEL_FAMILY_TUNED
    assert endpoint.base_model == "google/gemini-2.5-flash"
    assert endpoint.routes[0].vertex_model == "endpoints/4001"
    assert by_id["endpoints/4003"].description == "Vertex endpoint with no model deployed"
    tuned = by_id["models/1001"]
    assert tuned.source == M.MODEL_SOURCE_VERTEX_CUSTOM and tuned.name == "models/models/1001"
    assert tuned.family == M.MODEL_FAMILY_TUNED and tuned.version == "1"
    assert by_id["models/2002"].family == M.MODEL_FAMILY_OTHER
    # Registry entries get the catalog's metadata; catalog-only models are listed once.
    flash = by_id["google/gemini-2.5-flash"]
    assert flash.source == M.MODEL_SOURCE_REGISTRY and flash.launch_stage == "GA"
    gemma = by_id["google/gemma-3-27b-it"]
    assert gemma.source == M.MODEL_SOURCE_PUBLISHER_CATALOG and not gemma.capabilities
    assert by_id["google/gemini-3-pro-preview"].launch_stage == "PUBLIC_PREVIEW"
    # Nothing the gateway cannot call is offered under a capability filter.
    chat = await everything(models, 50, [M.CAPABILITY_CHAT])
    assert not {m.id for m in chat} & {"models/1001", "google/gemma-3-27b-it"}
    assert "endpoints/4001" in {m.id for m in chat}  # a tuned Gemini endpoint is callable
    assert (
        await models.GetModel(M.GetModelRequest(name="models/endpoints/4002"))
    ).display_name == ("churn")


async def test_discovery_pages_through_vertex_lists(
    emulator: EmulatorProcess, service_account: dict[str, Any], admin: EmulatorAdmin
) -> None:
    project = service_account["project_id"]
    admin.add_resources(project, "us-central1", endpoints=247, models=120)
    async with own_gateway(emulator, service_account) as stub:
        listed = await everything(stub, 100)
    ids = [m.id for m in listed]
    assert len(ids) == len(set(ids))
    assert sum(i.startswith("endpoints/") for i in ids) == 250
    assert sum(i.startswith("models/") for i in ids) == 123
    lists = [
        r for r in admin.requests() if r["method"] == "GET" and r["path"].endswith("/endpoints")
    ]
    assert len(lists) == 3 and lists[0]["query"].get("pageSize") == "100"


async def test_a_failing_list_does_not_fail_the_listing(
    emulator: EmulatorProcess, service_account: dict[str, Any], admin: EmulatorAdmin
) -> None:
    admin.arm_fault("403", times=5, path_contains="/endpoints")
    async with own_gateway(emulator, service_account) as stub:
        listed = {m.id: m for m in await everything(stub, 1000)}
    assert "google/gemini-2.5-flash" in listed and "models/1001" in listed
    assert not any(i.startswith("endpoints/") for i in listed)


async def test_discovery_respects_the_allow_list(
    emulator: EmulatorProcess, service_account: dict[str, Any]
) -> None:
    allow = "gemini-2.5-flash,endpoints/4002,google/gemma-3-27b-it"
    async with own_gateway(emulator, service_account, VG_ALLOW_MODELS=allow) as stub:
        listed = {m.id: m for m in await everything(stub, 1000)}
    # "fast" is a configured alias of an allowed model.
    assert set(listed) == {
        "google/gemini-2.5-flash",
        "fast",
        "endpoints/4002",
        "google/gemma-3-27b-it",
    }
    assert listed["endpoints/4002"].source == M.MODEL_SOURCE_VERTEX_ENDPOINT


async def test_discovery_can_be_turned_off(
    emulator: EmulatorProcess, service_account: dict[str, Any], admin: EmulatorAdmin
) -> None:
    async with own_gateway(emulator, service_account, VG_MODEL_DISCOVERY="false") as stub:
        listed = {m.id for m in await everything(stub, 1000)}
    assert "google/gemini-2.5-flash" in listed and "endpoints/4001" not in listed
    assert not [r for r in admin.requests() if r["method"] == "GET"]


async def test_the_allow_list_refuses_other_models_on_every_rpc(
    emulator: EmulatorProcess, service_account: dict[str, Any], admin: EmulatorAdmin
) -> None:
    from vertex_gateway.v1 import chat_pb2, chat_pb2_grpc, embedding_pb2, embedding_pb2_grpc

    from .conftest import ask

    env = gateway_env(emulator, service_account, VG_ALLOW_MODELS="gemini-2.5-flash")
    gw = await create_gateway(load_config(env=env))
    await gw.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel:
            chat = chat_pb2_grpc.ChatServiceStub(channel)
            embed = embedding_pb2_grpc.EmbeddingServiceStub(channel)
            assert (await chat.Chat(ask("hi"))).candidates  # the allowed model works
            refused = [
                chat.Chat(ask("hi", model="gemini-2.5-pro")),
                chat.CountTokens(
                    chat_pb2.CountTokensRequest(model="gemini-2.5-pro", messages=ask("hi").messages)
                ),
                embed.Embed(
                    embedding_pb2.EmbedRequest(
                        model="text-embedding-005",
                        inputs=[embedding_pb2.EmbedInput(text="x")],
                    )
                ),
            ]
            for call in refused:
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await call
                d = error_details(info.value)
                assert d.code == grpc.StatusCode.PERMISSION_DENIED
                assert d.info is not None and d.info.reason == "MODEL_NOT_ALLOWED"
            # "smart" is an alias of a refused model.
            with pytest.raises(grpc.aio.AioRpcError) as info:
                async for _ in chat.StreamChat(ask("hi", model="smart")):
                    pass
            assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await gw.shutdown()
    posted = [r for r in admin.requests() if "/publishers/" in r["path"]]
    assert posted and all("gemini-2.5-flash" in r["path"] for r in posted)
