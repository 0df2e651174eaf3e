"""Upstream failures become precise gRPC statuses with details; deadlines and cancellation."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from vertex_gateway.v1 import chat_pb2_grpc

from emulator.admin import EmulatorAdmin

from ..conftest import error_details
from .conftest import ask, rpc_error, vertex_calls

Stub = chat_pb2_grpc.ChatServiceStub
C = grpc.StatusCode


@pytest.mark.parametrize(
    ("fault", "code", "reason"),
    [
        ("400", C.INVALID_ARGUMENT, "UPSTREAM_INVALID_ARGUMENT"),
        ("403", C.PERMISSION_DENIED, "UPSTREAM_PERMISSION_DENIED"),
        ("404", C.NOT_FOUND, "UPSTREAM_NOT_FOUND"),
        ("429", C.RESOURCE_EXHAUSTED, "UPSTREAM_RATE_LIMITED"),
        ("429-array", C.RESOURCE_EXHAUSTED, "UPSTREAM_RATE_LIMITED"),
        ("500", C.INTERNAL, "UPSTREAM_INTERNAL"),
        ("503", C.UNAVAILABLE, "UPSTREAM_UNAVAILABLE"),
        ("504", C.DEADLINE_EXCEEDED, "UPSTREAM_DEADLINE_EXCEEDED"),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_http_errors_map_to_grpc(
    chat: Stub,
    admin: EmulatorAdmin,
    fault: str,
    code: grpc.StatusCode,
    reason: str,
    streaming: bool,
) -> None:
    admin.arm_fault(fault, times=1)
    err = await rpc_error(chat, ask("hi"), streaming=streaming)
    d = error_details(err)
    assert d.code == code
    assert d.info is not None and d.info.reason == reason and d.info.domain == "vertex-gateway"
    assert d.info.metadata["http_status"] == fault.split("-")[0]
    assert d.message.startswith("Vertex AI: ")
    if fault.startswith("429"):
        assert d.retry is not None and d.retry.retry_delay.seconds == 2
        assert d.info.metadata["upstream_reason"] == "RATE_LIMIT_EXCEEDED"
    else:
        assert d.retry is None


async def test_401_twice_is_unauthenticated_after_one_refresh(
    chat: Stub, admin: EmulatorAdmin
) -> None:
    before = admin.stats()["token_requests"]
    admin.arm_fault("401", times=2)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await chat.Chat(ask("hi"))
    d = error_details(info.value)
    assert d.code == C.UNAUTHENTICATED
    assert d.info is not None and d.info.reason == "UPSTREAM_UNAUTHENTICATED"
    assert len(vertex_calls(admin, "generateContent")) == 2  # the original and one retry
    assert admin.stats()["token_requests"] == before + 1  # exactly one refresh


@pytest.mark.parametrize("fault", ["stream-error", "stream-error-raw"])
async def test_error_event_inside_a_200_stream(
    chat: Stub, admin: EmulatorAdmin, fault: str
) -> None:
    admin.arm_fault(fault, path_contains=":streamGenerateContent")
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for chunk in chat.StreamChat(ask("Tell me a long story")):
            received.append(chunk)
    assert received, "chunks before the error event reach the caller"
    d = error_details(info.value)
    assert d.code == C.RESOURCE_EXHAUSTED
    assert d.info is not None and d.info.reason == "UPSTREAM_RATE_LIMITED"


async def test_disconnect_mid_stream_is_unavailable(chat: Stub, admin: EmulatorAdmin) -> None:
    admin.arm_fault("disconnect-mid-stream", path_contains=":streamGenerateContent")
    d = error_details(await rpc_error(chat, ask("Tell me a long story"), streaming=True))
    assert d.code == C.UNAVAILABLE
    assert d.info is not None and d.info.reason == "UPSTREAM_CONNECTION_LOST"


@pytest.mark.parametrize("streaming", [False, True])
async def test_malformed_json_is_unavailable(
    chat: Stub, admin: EmulatorAdmin, streaming: bool
) -> None:
    admin.arm_fault("malformed-json")
    err = await rpc_error(chat, ask("hi"), streaming=streaming)
    d = error_details(err)
    assert d.code == C.UNAVAILABLE
    assert d.info is not None and d.info.reason == "UPSTREAM_MALFORMED_RESPONSE"


@pytest.mark.parametrize("streaming", [False, True])
async def test_deadline_shorter_than_upstream_delay(
    chat: Stub, admin: EmulatorAdmin, streaming: bool
) -> None:
    admin.arm_fault("slow:3000")
    start = time.monotonic()
    err = await rpc_error(chat, ask("hi"), streaming=streaming, timeout=0.5)
    assert err.code() == C.DEADLINE_EXCEEDED
    assert time.monotonic() - start < 2.5


async def test_cancelling_a_stream_closes_the_upstream_request(
    chat: Stub, admin: EmulatorAdmin
) -> None:
    admin.arm_fault("slow-stream:400", path_contains=":streamGenerateContent")
    call = chat.StreamChat(ask("Tell me a very long story"))
    first = await call.read()
    assert first.candidates
    call.cancel()
    for _ in range(50):
        [record] = vertex_calls(admin, "streamGenerateContent")
        if record["client_disconnected"]:
            break
        await asyncio.sleep(0.1)
    assert record["client_disconnected"] and not record["completed"]
