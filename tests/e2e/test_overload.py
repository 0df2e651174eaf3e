"""Load shedding: past a limit the gateway refuses at once with RESOURCE_EXHAUSTED and RetryInfo
instead of queueing without bound."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import grpc.aio
from vertex_gateway.v1 import chat_pb2_grpc

from emulator.admin import EmulatorAdmin
from emulator.process import EmulatorProcess
from server.app import create_gateway
from server.config import load_config

from ..conftest import error_details
from .conftest import ask, gateway_env


@asynccontextmanager
async def chat_stub(
    emulator: EmulatorProcess, key: dict[str, Any], **env: str
) -> AsyncIterator[chat_pb2_grpc.ChatServiceStub]:
    gw = await create_gateway(load_config(env=gateway_env(emulator, key, **env)))
    await gw.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel:
            yield chat_pb2_grpc.ChatServiceStub(channel)
    finally:
        await gw.shutdown()


async def _outcome(call: Any, *, retry_info: bool = True) -> str:
    try:
        await call
        return "OK"
    except grpc.aio.AioRpcError as err:
        d = error_details(err)
        assert d.info is not None and (d.retry is not None or not retry_info)
        return f"{err.code().name}:{d.info.reason}"


async def test_per_model_concurrency(
    emulator: EmulatorProcess, service_account: dict[str, Any], admin: EmulatorAdmin
) -> None:
    async with chat_stub(emulator, service_account, VG_MAX_CONCURRENT_PER_MODEL="2") as chat:
        admin.arm_fault("slow:400", times=3, path_contains="gemini-2.5-flash:generateContent")
        outcomes = await asyncio.gather(*(_outcome(chat.Chat(ask(f"q{i}"))) for i in range(3)))
        assert sorted(outcomes) == ["OK", "OK", "RESOURCE_EXHAUSTED:GATEWAY_MODEL_BUSY"]
        # Another model has slots of its own; and the busy one recovers once calls end.
        assert (await chat.Chat(ask("other", model="gemini-2.5-pro"))).candidates
        assert (await chat.Chat(ask("again"))).candidates


async def test_server_wide_stream_limit(
    emulator: EmulatorProcess, service_account: dict[str, Any], admin: EmulatorAdmin
) -> None:
    async with chat_stub(emulator, service_account, VG_MAX_CONCURRENT_STREAMS="1") as chat:
        admin.arm_fault("slow-stream:100", times=1, path_contains=":streamGenerateContent")
        first = chat.StreamChat(ask("long"))
        assert await first.read() is not None  # the first stream is open
        second = chat.StreamChat(ask("more"))
        outcome = await _outcome(second.read())
        assert outcome == "RESOURCE_EXHAUSTED:GATEWAY_OVERLOADED"
        while await first.read() != grpc.aio.EOF:
            pass
        assert [c async for c in chat.StreamChat(ask("after"))]  # the slot is free again


async def test_circuit_breaker_fails_fast_then_probes(
    emulator: EmulatorProcess, service_account: dict[str, Any], admin: EmulatorAdmin
) -> None:
    env = {"VG_CIRCUIT_FAILURES": "3", "VG_CIRCUIT_COOLDOWN_SECONDS": "0.5", "VG_MAX_ATTEMPTS": "1"}
    async with chat_stub(emulator, service_account, **env) as chat:
        admin.arm_fault("503", times=3, path_contains="gemini-2.5-flash:")
        for _ in range(3):
            outcome = await _outcome(chat.Chat(ask("x")), retry_info=False)
            assert outcome == "UNAVAILABLE:UPSTREAM_UNAVAILABLE"
        admin.clear_requests()
        assert await _outcome(chat.Chat(ask("x"))) == "UNAVAILABLE:UPSTREAM_CIRCUIT_OPEN"
        assert not [r for r in admin.requests() if "generateContent" in r["path"]]  # failed fast
        assert (await chat.Chat(ask("other model", model="gemini-2.5-pro"))).candidates
        await asyncio.sleep(0.6)
        assert (await chat.Chat(ask("probe"))).candidates  # the probe succeeds: closed again
        assert (await chat.Chat(ask("after"))).candidates


def test_breaker_states() -> None:
    from server.vertex.breaker import CircuitBreaker
    from server.vertex.errors import VertexError

    now = [0.0]
    breaker = CircuitBreaker(2, 10.0, clock=lambda: now[0])
    breaker.failure("m")
    breaker.before("m")  # one failure: still closed
    breaker.failure("m")
    try:
        breaker.before("m")
        raise AssertionError("the circuit should be open")
    except VertexError as err:
        assert err.reason == "UPSTREAM_CIRCUIT_OPEN" and err.retry_delay_seconds == 10.0
    now[0] = 10.0
    breaker.before("m")  # the probe passes
    try:
        breaker.before("m")  # but only one
        raise AssertionError("only one probe")
    except VertexError:
        pass
    breaker.failure("m")  # the probe failed: open again
    now[0] = 15.0
    try:
        breaker.before("m")
        raise AssertionError("reopened")
    except VertexError as err:
        assert err.retry_delay_seconds == 5.0
    now[0] = 20.0
    breaker.before("m")
    breaker.success("m")
    breaker.before("m")
    breaker.before("m")
