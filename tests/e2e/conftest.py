"""End-to-end fixtures: a real emulator process, the gateway in-process, a real gRPC channel."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import grpc.aio
import pytest
from vertex_gateway.v1 import chat_pb2, chat_pb2_grpc

from emulator.admin import EmulatorAdmin
from emulator.process import EmulatorProcess
from emulator.storage_process import StorageEmulatorProcess
from server.app import Gateway, create_gateway
from server.config import load_config

MAX_REQUEST_BYTES = 1024 * 1024
BUCKET = "vertex-gateway-test"
# The storage stand-in's URL, set once by the `storage` fixture (gateway_env reads it).
STORAGE_URL: list[str] = []


@pytest.fixture(scope="session")
def storage() -> Iterator[StorageEmulatorProcess]:
    """The Cloud Storage stand-in on loopback, with the gateway's bucket."""
    with StorageEmulatorProcess() as gcs:
        gcs.create_bucket(BUCKET)
        STORAGE_URL[:] = [gcs.base_url]
        yield gcs


@pytest.fixture(scope="session")
def emulator(storage: StorageEmulatorProcess) -> Iterator[EmulatorProcess]:
    """One emulator for the whole run; at the end, every body the gateway sent must have passed
    the emulator's schema validation (acceptance: the audit covers the whole suite)."""
    with EmulatorProcess(["--storage-url", storage.base_url]) as emu:
        yield emu
        audit = EmulatorAdmin(emu.base_url).audit("vertex-gateway")
        assert audit["checked"] > 0, "the gateway sent no bodies to the emulator"
        assert audit["violations"] == [], f"gateway bodies failed validation: {audit['violations']}"


@pytest.fixture(scope="session")
def admin(emulator: EmulatorProcess) -> EmulatorAdmin:
    return EmulatorAdmin(emulator.base_url)


@pytest.fixture(scope="session")
def service_account(admin: EmulatorAdmin) -> dict[str, Any]:
    return admin.create_service_account()


def gateway_env(emulator: EmulatorProcess, key: dict[str, Any], **extra: str) -> dict[str, str]:
    env = {
        "VG_LISTEN": "127.0.0.1:0",
        "VG_VERTEX_BASE_URL": emulator.base_url,
        "GOOGLE_CLOUD_PROJECT": key["project_id"],
        "VG_CREDENTIALS": "service_account",
        "VG_CREDENTIALS_JSON": json.dumps(key),
        "VG_SHUTDOWN_DRAIN_SECONDS": "0",
        "VG_SHUTDOWN_GRACE_SECONDS": "2",
        "VG_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES),
        "VG_ALIASES": "fast=gemini-2.5-flash,smart=google/gemini-2.5-pro",
        "VG_STORAGE_BUCKET": BUCKET,
        # The fault tests fail one model on purpose many times in a row; the breaker has tests
        # of its own (test_overload.py) and would otherwise couple the others.
        "VG_CIRCUIT_FAILURES": "0",
        "VG_STORAGE_PREFIX": "gw/",
        "VG_METRICS_PORT": "0",
    }
    if STORAGE_URL:
        env["VG_STORAGE_BASE_URL"] = STORAGE_URL[0]
    env.update(extra)
    return env


@pytest.fixture(scope="session")
async def gateway(
    emulator: EmulatorProcess, service_account: dict[str, Any]
) -> AsyncIterator[Gateway]:
    gw = await create_gateway(load_config(env=gateway_env(emulator, service_account)))
    await gw.start()
    yield gw
    await gw.shutdown()


@pytest.fixture(scope="session")
async def channel(gateway: Gateway) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as ch:
        yield ch


@pytest.fixture
def chat(channel: grpc.aio.Channel) -> chat_pb2_grpc.ChatServiceStub:
    return chat_pb2_grpc.ChatServiceStub(channel)


@pytest.fixture(autouse=True)
def _fresh_emulator(request: pytest.FixtureRequest) -> None:
    """Each e2e test starts with no armed faults, no records and default emulator settings."""
    if "admin" in request.fixturenames or "gateway" in request.fixturenames:
        request.getfixturevalue("admin").reset()


def user(text: str) -> chat_pb2.Message:
    return chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text=text)])


def ask(text: str, model: str = "gemini-2.5-flash", **kw: Any) -> chat_pb2.ChatRequest:
    return chat_pb2.ChatRequest(model=model, messages=[user(text)], **kw)


def reply_text(candidate: chat_pb2.Candidate) -> str:
    return "".join(p.text for p in candidate.message.parts if p.WhichOneof("kind") == "text")


def vertex_calls(admin: EmulatorAdmin, method: str) -> list[dict[str, Any]]:
    return [r for r in admin.requests() if r["path"].endswith(":" + method)]


async def rpc_error(
    chat: chat_pb2_grpc.ChatServiceStub,
    request: chat_pb2.ChatRequest,
    *,
    streaming: bool = False,
    timeout: float | None = None,
) -> grpc.aio.AioRpcError:
    """The error a Chat (or, streaming, a StreamChat read to its end) call fails with."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        if streaming:
            [c async for c in chat.StreamChat(request, timeout=timeout)]
        else:
            await chat.Chat(request, timeout=timeout)
    return info.value
