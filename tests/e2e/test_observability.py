"""Operations: request ids, usage and cost in trailing metadata, Prometheus metrics (scraped
from a real server process), and OpenTelemetry spans (an in-memory exporter)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from vertex_gateway.v1 import chat_pb2_grpc, embedding_pb2, embedding_pb2_grpc

from emulator.admin import EmulatorAdmin
from emulator.process import EmulatorProcess
from server.app import create_gateway
from server.config import load_config
from server.observability import request_ids, tracing
from server.observability.usage import DEFAULT_PRICES, account

from .conftest import ask, gateway_env

ROOT = Path(__file__).resolve().parents[2]
Stub = chat_pb2_grpc.ChatServiceStub


def _trailers(call: Any) -> dict[str, str]:
    return {k: v for k, v in call if isinstance(v, str)}


async def test_every_reply_carries_a_request_id_and_its_usage(chat: Stub) -> None:
    call = chat.Chat(ask("hello"))
    reply = await call
    trailers = _trailers(await call.trailing_metadata())
    assert re.match(r"^[0-9a-f]{12}-[0-9a-f]+$", trailers["x-request-id"])
    usage = reply.usage
    assert usage.input_tokens > 0
    assert trailers["vg-usage-input-tokens"] == str(usage.input_tokens)
    assert trailers["vg-usage-output-tokens"] == str(usage.output_tokens)
    assert trailers["vg-usage-reasoning-tokens"] == str(usage.reasoning_tokens)
    expected = account(usage, DEFAULT_PRICES["google/gemini-2.5-flash"]).cost_usd
    assert expected and float(trailers["vg-estimated-cost-usd"]) == pytest.approx(expected)

    # A caller's own id is kept; a stream reports the usage of its last message.
    stream = chat.StreamChat(ask("hello"), metadata=(("x-request-id", "trace-abc.123"),))
    chunks = [c async for c in stream]
    trailers = _trailers(await stream.trailing_metadata())
    assert trailers["x-request-id"] == "trace-abc.123"
    assert trailers["vg-usage-output-tokens"] == str(chunks[-1].usage.output_tokens)


async def test_errors_carry_the_request_id_and_the_logs_name_it(
    chat: Stub, admin: EmulatorAdmin, caplog: pytest.LogCaptureFixture
) -> None:
    handler_filter = request_ids.RequestIdFilter()
    caplog.handler.addFilter(handler_filter)
    try:
        admin.arm_fault("500", times=5, path_contains=":generateContent")
        call = chat.Chat(ask("hello"), metadata=(("x-request-id", "req-42"),))
        with pytest.raises(grpc.aio.AioRpcError) as caught, caplog.at_level(logging.WARNING):
            await call
        admin.clear_faults()
    finally:
        caplog.handler.removeFilter(handler_filter)
    trailers = _trailers(caught.value.trailing_metadata() or ())
    assert trailers["x-request-id"] == "req-42"
    assert any(getattr(r, "request_id", "") == "req-42" for r in caplog.records)


async def test_a_chat_call_makes_an_rpc_span_with_an_upstream_child(
    emulator: EmulatorProcess, service_account: dict[str, Any]
) -> None:
    exporter = InMemorySpanExporter()
    tracing.setup(exporter)
    gw = await create_gateway(load_config(env=gateway_env(emulator, service_account)))
    await gw.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel:
            parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            await Stub(channel).Chat(ask("hello"), metadata=(("traceparent", parent),))
    finally:
        await gw.shutdown()
        tracing.shutdown()
    spans = exporter.get_finished_spans()
    [rpc] = [s for s in spans if s.kind is SpanKind.SERVER]
    [upstream] = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert rpc.name == "vertex_gateway.v1.ChatService/Chat"
    assert rpc.attributes is not None and rpc.attributes["rpc.grpc.status_code"] == "OK"
    assert f"{rpc.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert upstream.parent is not None and upstream.parent.span_id == rpc.context.span_id
    assert upstream.attributes is not None
    assert upstream.attributes["http.response.status_code"] == 200
    assert str(upstream.attributes["url.full"]).endswith("gemini-2.5-flash:generateContent")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(emulator: EmulatorProcess, service_account: dict[str, Any]) -> Iterator[tuple[int, int]]:
    """A gateway process with its metrics endpoint on a free port: (gRPC port, metrics port)."""
    port, metrics_port = _free_port(), _free_port()
    env = {**os.environ, **gateway_env(emulator, service_account), "VG_LISTEN": f"127.0.0.1:{port}",
           "VG_EMULATOR": "off", "VG_LOG_LEVEL": "WARNING", "VG_METRICS_PORT": str(metrics_port),
           "VG_METRICS_HOST": "127.0.0.1", "PYTHONPATH": f"{ROOT}:{ROOT / 'clients' / 'python'}"}  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "server"], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=1)
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "no metrics"
                time.sleep(0.1)
        yield port, metrics_port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _samples(metrics_port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


async def test_scraped_metrics_count_rpcs_tokens_cost_upstream_calls_and_retries(
    served: tuple[int, int], admin: EmulatorAdmin
) -> None:
    port, metrics_port = served
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        chat = Stub(channel)
        await chat.Chat(ask("hello"))
        [_ async for _ in chat.StreamChat(ask("hello"))]
        await embedding_pb2_grpc.EmbeddingServiceStub(channel).Embed(
            embedding_pb2.EmbedRequest(
                model="text-embedding-005", inputs=[embedding_pb2.EmbedInput(text="hi")]
            )
        )
        with pytest.raises(grpc.aio.AioRpcError):
            await chat.Chat(ask("hello", model="no-such-model"))
        admin.arm_fault("503", times=1, path_contains=":generateContent")
        await chat.Chat(ask("hello"))
    m = _samples(metrics_port)
    model = 'model="google/gemini-2.5-flash"'
    assert m['vertex_gateway_rpc_requests_total{code="OK",method="ChatService/Chat"}'] == 2
    assert m['vertex_gateway_rpc_requests_total{code="OK",method="ChatService/StreamChat"}'] == 1
    assert m['vertex_gateway_rpc_requests_total{code="NOT_FOUND",method="ChatService/Chat"}'] == 1
    assert m['vertex_gateway_rpc_requests_total{code="OK",method="EmbeddingService/Embed"}'] == 1
    assert m['vertex_gateway_rpc_duration_seconds_count{method="ChatService/Chat"}'] == 3
    for kind in ("input", "output"):
        assert m[f'vertex_gateway_tokens_total{{caller="anonymous",kind="{kind}",{model}}}'] > 0
    assert m[f'vertex_gateway_estimated_cost_usd_total{{caller="anonymous",{model}}}'] > 0
    assert m['vertex_gateway_upstream_duration_seconds_count{family="gemini",status="200"}'] == 3
    assert m['vertex_gateway_upstream_duration_seconds_count{family="gemini",status="503"}'] == 1
    assert m['vertex_gateway_upstream_retries_total{family="gemini",kind="retry"}'] == 1
    assert m['vertex_gateway_token_refreshes_total{result="ok"}'] >= 1
    assert m["vertex_gateway_streams_in_flight"] == 0
