"""The circuit's probe always ends in a verdict or a release, so a circuit cannot stay open."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from server.vertex.auth import NoAuth
from server.vertex.breaker import CircuitBreaker
from server.vertex.client import Deadline, VertexClient
from server.vertex.errors import VertexError

URL = "http://x/v1/projects/p/locations/l/publishers/google/models/m:streamGenerateContent"


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class Reply:
    def __init__(self, status: int, body: bytes) -> None:
        self.status, self._body = status, body

    async def read(self) -> bytes:
        return self._body

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self._body


class ScriptedTransport:
    """Answers streams with the next scripted (status, body)."""

    def __init__(self, script: list[tuple[int, bytes]]) -> None:
        self.script = script

    @contextlib.asynccontextmanager
    async def stream(self, *_: Any, **__: Any) -> AsyncIterator[Reply]:
        status, body = self.script.pop(0)
        yield Reply(status, body)


ERROR_400 = b'{"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}'
ERROR_503 = b'{"error": {"code": 503, "message": "down", "status": "UNAVAILABLE"}}'
OK = b'data: {"candidates": []}\r\n\r\n'


async def _drain(client: VertexClient) -> None:
    async for _ in client.stream_json(URL, {}, Deadline(None, 10)):
        pass


async def test_a_stream_probe_answered_with_a_caller_error_closes_the_circuit() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 10, clock)
    transport = ScriptedTransport([(503, ERROR_503), (400, ERROR_400), (200, OK)])
    client = _client(transport, breaker)
    with pytest.raises(VertexError):
        await _drain(client)  # 503: the circuit opens
    with pytest.raises(VertexError) as refused:
        await _drain(client)
    assert refused.value.reason == "UPSTREAM_CIRCUIT_OPEN"
    clock.now = 11  # after the cooldown the probe goes through and Vertex answers 400
    with pytest.raises(VertexError) as answered:
        await _drain(client)
    assert answered.value.http_status == 400
    await _drain(client)  # Vertex is up: the circuit closed, the next call is sent


def _client(transport: Any, breaker: CircuitBreaker) -> VertexClient:
    return VertexClient(
        transport,
        NoAuth(),
        user_agent="t",
        max_request_bytes=1 << 20,
        max_event_bytes=1 << 20,
        default_timeout=10,
        breaker=breaker,
    )


def test_a_probe_that_ends_without_a_verdict_lets_the_next_call_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 10, clock)
    breaker.failure("k")
    clock.now = 11
    breaker.before("k")  # the probe
    breaker.release("k")  # cancelled
    breaker.before("k")  # another probe is let through, not refused forever


class TimingOut:
    """Every exchange runs out of time before a reply."""

    async def request(self, *_: Any, **__: Any) -> Any:
        from server.vertex.http import timeout_error

        raise timeout_error()

    @contextlib.asynccontextmanager
    async def stream(self, *_: Any, **__: Any) -> AsyncIterator[Reply]:
        from server.vertex.http import timeout_error

        raise timeout_error()
        yield Reply(200, b"")  # pragma: no cover


@pytest.mark.parametrize("streaming", [False, True])
async def test_a_probe_that_times_out_neither_closes_nor_locks_the_circuit(streaming: bool) -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 10, clock)
    breaker.failure(URL.split("?")[0].rsplit(":", 1)[0])  # open
    client = _client(TimingOut(), breaker)
    clock.now = 11
    for _ in range(3):  # each call after the cooldown is a new probe, never refused for good
        with pytest.raises(VertexError) as caught:
            if streaming:
                await _drain(client)
            else:
                await client.call_json(URL, {}, Deadline(None, 10))
        assert caught.value.reason != "UPSTREAM_CIRCUIT_OPEN"
