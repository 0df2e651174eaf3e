"""Failover and quota pooling: several Vertex accounts (projects with their own credentials)
serve the same model, and a model may list several locations. A throttled or failing placement
hands the call to the next one before any reply byte reached the caller."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
import yaml
from vertex_gateway.v1 import chat_pb2_grpc, embedding_pb2, embedding_pb2_grpc

from emulator.admin import EmulatorAdmin
from emulator.process import EmulatorProcess
from server.app import create_gateway
from server.config import load_config
from tests.conftest import error_details

from .conftest import ask, gateway_env

POOL = "pool-b-project"
Stub = chat_pb2_grpc.ChatServiceStub


@pytest.fixture
async def pooled(
    emulator: EmulatorProcess,
    service_account: dict[str, Any],
    admin: EmulatorAdmin,
    tmp_path: Path,
) -> AsyncIterator[grpc.aio.Channel]:
    """A gateway whose primary account is the test project in us-central1, pooled with a
    second project (its own service account), and gemini-2.5-flash served from us-central1
    then europe-west4. The second account only serves gemini-2.5-flash and text-embedding-005."""
    other = admin.create_service_account(POOL)
    config = {
        "vertex": {
            "weight": 1000,  # first attempts go to the primary (almost always; the draw is random)
            "accounts": [
                {
                    "name": "pool-b",
                    "project": POOL,
                    "credentials": {"source": "service_account", "json": other},
                    "weight": 0.001,
                    "models": ["gemini-2.5-flash", "google/text-embedding-005"],
                }
            ],
        },
        "models": [
            {"model": "google/gemini-2.5-flash", "locations": ["us-central1", "europe-west4"]}
        ],
    }
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    env = gateway_env(emulator, service_account)
    gw = await create_gateway(load_config(env=env, path=str(path)))
    await gw.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel:
            yield channel
    finally:
        await gw.shutdown()


def _calls(admin: EmulatorAdmin, method: str) -> list[str]:
    """The project/location of each recorded call to `method`, in order."""
    out = []
    for record in admin.requests():
        path = record["path"]
        if path.split("?")[0].endswith(":" + method):
            parts = path.split("/")
            out.append(
                f"{parts[parts.index('projects') + 1]}/{parts[parts.index('locations') + 1]}"
            )
    return out


async def test_a_throttled_account_hands_the_call_to_the_next(
    pooled: grpc.aio.Channel, admin: EmulatorAdmin, service_account: dict[str, Any]
) -> None:
    primary = service_account["project_id"]
    chat = Stub(pooled)
    for streaming in (False, True):
        admin.clear_requests()
        admin.arm_fault("429", times=1, path_contains=f"projects/{primary}/")
        if streaming:
            chunks = [c async for c in chat.StreamChat(ask("hi"))]
            served = chunks[0].served_by
            assert chunks[-1].candidates[0].finish_reason
        else:
            reply = await chat.Chat(ask("hi"))
            served = reply.served_by
        method = "streamGenerateContent" if streaming else "generateContent"
        assert _calls(admin, method) == [f"{primary}/us-central1", f"{POOL}/us-central1"]
        assert (served.account, served.location) == ("pool-b", "us-central1")


async def test_an_outage_in_a_location_moves_to_the_next_location(
    pooled: grpc.aio.Channel, admin: EmulatorAdmin, service_account: dict[str, Any]
) -> None:
    primary = service_account["project_id"]
    admin.clear_requests()
    admin.arm_fault("503", times=2, path_contains="locations/us-central1/")
    reply = await Stub(pooled).Chat(ask("hi"))
    assert _calls(admin, "generateContent") == [
        f"{primary}/us-central1",
        f"{POOL}/us-central1",
        f"{primary}/europe-west4",
    ]
    assert (reply.served_by.location, reply.served_by.account) == ("europe-west4", "primary")


async def test_when_every_placement_fails_the_caller_gets_the_last_error_with_attempts(
    pooled: grpc.aio.Channel, admin: EmulatorAdmin
) -> None:
    # 429 everywhere: one round over the four placements, then Vertex's retry delay (2 s)
    # would pass the deadline, so the caller gets the 429 at once, with RetryInfo.
    admin.clear_requests()
    admin.arm_fault("429", times=100, path_contains=":generateContent")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await Stub(pooled).Chat(ask("hi"), timeout=1.5)
    err = caught.value
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert len(_calls(admin, "generateContent")) == 4
    details = error_details(err)
    assert details.info is not None and details.info.metadata["attempts"] == "4"
    assert details.retry is not None
    # 503 everywhere: vertex.max_attempts (3) rounds with backoff between them.
    admin.clear_faults()
    admin.clear_requests()
    admin.arm_fault("503", times=100, path_contains=":generateContent")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await Stub(pooled).Chat(ask("hi"), timeout=10)
    admin.clear_faults()
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert len(_calls(admin, "generateContent")) == 12
    info = error_details(caught.value).info
    assert info is not None and info.metadata["attempts"] == "12"


async def test_a_caller_error_is_not_failed_over(
    pooled: grpc.aio.Channel, admin: EmulatorAdmin
) -> None:
    admin.clear_requests()
    admin.arm_fault("400", times=1, path_contains=":generateContent")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await Stub(pooled).Chat(ask("hi"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(_calls(admin, "generateContent")) == 1


async def test_models_an_account_does_not_serve_stay_on_the_primary(
    pooled: grpc.aio.Channel, admin: EmulatorAdmin, service_account: dict[str, Any]
) -> None:
    # gemini-2.5-pro: pool-b does not serve it and it has one location, so its one placement
    # is retried after the policy's backoff rather than handed over.
    primary = service_account["project_id"]
    admin.clear_requests()
    admin.arm_fault("503", times=1, path_contains=":generateContent")
    reply = await Stub(pooled).Chat(ask("hi", model="gemini-2.5-pro"))
    assert reply.served_by.account == "primary"
    assert _calls(admin, "generateContent") == [f"{primary}/us-central1"] * 2


async def test_embeddings_fail_over_too(
    pooled: grpc.aio.Channel, admin: EmulatorAdmin, service_account: dict[str, Any]
) -> None:
    primary = service_account["project_id"]
    admin.clear_requests()
    admin.arm_fault("429", times=1, path_contains=f"projects/{primary}/")
    reply = await embedding_pb2_grpc.EmbeddingServiceStub(pooled).Embed(
        embedding_pb2.EmbedRequest(
            model="text-embedding-005", inputs=[embedding_pb2.EmbedInput(text="hello")]
        )
    )
    assert len(reply.embeddings) == 1
    assert reply.served_by.account == "pool-b"
    assert _calls(admin, "predict") == [f"{primary}/us-central1", f"{POOL}/us-central1"]


def test_account_settings_are_checked(tmp_path: Path) -> None:
    from server.config import ConfigError

    cases = [
        ({"accounts": [{"name": "Bad Name", "project": "p"}]}, "name"),
        ({"accounts": [{"name": "b", "project": "p", "weight": 0}]}, "weight"),
        ({"accounts": [{"name": "primary", "project": "p"}]}, "distinct"),
        ({"accounts": [{"name": "b", "project": "p", "colour": "red"}]}, "takes only"),
        ({"accounts": [{"name": "b", "project": "p", "credentials": {"source": "x"}}]}, "source"),
    ]
    for vertex, needle in cases:
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump({"vertex": {"project": "main", **vertex}}))
        with pytest.raises(ConfigError, match=needle):
            load_config(env={}, path=str(path))
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps({"models": [{"model": "google/gemini-2.5-flash", "locations": []}]}))
    with pytest.raises(ConfigError, match="locations"):
        load_config(env={}, path=str(path))
