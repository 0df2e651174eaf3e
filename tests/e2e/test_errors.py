"""Upstream failures become precise gRPC statuses with details; deadlines and cancellation."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import grpc.aio
import pytest
from vertex_gateway.v1 import chat_pb2_grpc

from emulator.admin import EmulatorAdmin
from emulator.process import EmulatorProcess
from server.app import create_gateway
from server.config import load_config

from ..conftest import error_details
from .conftest import ask, gateway_env, rpc_error, vertex_calls

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
    admin.arm_fault(fault, times=3)
    admin.clear_requests()
    # Vertex asks to wait 2 s after a 429; with less time left than that there is no retry.
    timeout = 1.5 if fault.startswith("429") else None
    err = await rpc_error(chat, ask("hi"), streaming=streaming, timeout=timeout)
    d = error_details(err)
    assert d.code == code
    retried = fault in ("500", "503", "504")
    attempts = [
        r
        for r in admin.requests()
        if "GenerateContent" in r["path"] or "generateContent" in r["path"]
    ]
    assert len(attempts) == (3 if retried else 1)
    assert d.info is not None and d.info.metadata["attempts"] == ("3" if retried else "1")
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
    err = await rpc_error(chat, ask("hi"), streaming=streaming, timeout=0.5)
    assert err.code() == C.DEADLINE_EXCEEDED


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


async def test_transient_failures_are_retried_before_any_reply_byte(
    emulator: EmulatorProcess, service_account: dict[str, Any], admin: EmulatorAdmin
) -> None:
    # A gateway of its own: the shared one's retry budget is spent by the tests above.
    gw = await create_gateway(load_config(env=gateway_env(emulator, service_account)))
    await gw.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel:
            await _retried(chat_pb2_grpc.ChatServiceStub(channel), admin)
    finally:
        await gw.shutdown()


async def _retried(chat: Stub, admin: EmulatorAdmin) -> None:
    for streaming in (False, True):
        admin.arm_fault("503", times=2)
        admin.clear_requests()
        if streaming:
            chunks = [c async for c in chat.StreamChat(ask("hi"))]
            assert chunks and chunks[-1].candidates[0].finish_reason
        else:
            reply = await chat.Chat(ask("hi"))
            assert reply.candidates
        calls = [r for r in admin.requests() if "enerateContent" in r["path"]]
        assert len(calls) == 3, streaming


async def test_no_retry_once_a_stream_has_started(chat: Stub, admin: EmulatorAdmin) -> None:
    admin.arm_fault("disconnect-mid-stream", path_contains=":streamGenerateContent")
    admin.clear_requests()
    err = await rpc_error(chat, ask("hi"), streaming=True)
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert len([r for r in admin.requests() if "streamGenerateContent" in r["path"]]) == 1


def test_retry_budget_and_backoff() -> None:
    import random

    from server.vertex.retry import RetryBudget, RetryPolicy

    budget = RetryBudget(ratio=0.25, floor=2)
    assert budget.try_spend() and budget.try_spend() and not budget.try_spend()
    for _ in range(4):
        budget.on_request()
    assert budget.try_spend() and not budget.try_spend()  # 4 requests earn one retry
    policy = RetryPolicy(initial_backoff_seconds=0.2, max_backoff_seconds=1.0)
    rng = random.Random(1)
    assert 0.1 <= policy.backoff(1, None, rng) <= 0.2
    assert 0.5 <= policy.backoff(5, None, rng) <= 1.0
    assert policy.backoff(1, 2.0, rng) == 2.0  # Vertex's RetryInfo wins
