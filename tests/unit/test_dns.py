"""Host-name answers for new upstream connections: kept, shared, and tried address by address."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from server.vertex import dns
from server.vertex.dns import Resolver
from server.vertex.errors import VertexError
from server.vertex.http1 import Http1Transport
from tests.unit.test_http1 import Scripted, reply


class Lookups:
    """Stands in for the loop's getaddrinfo: counts calls and answers from a script."""

    def __init__(self, *answers: list[str] | BaseException) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, host: str, port: int, **kw: Any) -> list[Any]:
        self.calls.append((host, port))
        await self.release.wait()
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        if isinstance(answer, BaseException):
            raise answer
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answer]


@pytest.fixture
async def lookups(monkeypatch: pytest.MonkeyPatch) -> Lookups:
    fake = Lookups(["127.0.0.1"])
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake)
    return fake


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def test_concurrent_callers_share_one_lookup(lookups: Lookups) -> None:
    lookups.release.clear()
    resolver = Resolver()
    loop = asyncio.get_running_loop()
    waiting = [asyncio.create_task(resolver.addresses("vertex.test", 443, loop)) for _ in range(20)]
    await asyncio.sleep(0)
    lookups.release.set()
    assert await asyncio.gather(*waiting) == [("127.0.0.1",)] * 20
    assert lookups.calls == [("vertex.test", 443)]


async def test_answer_is_kept_for_its_ttl_then_looked_up_again(
    lookups: Lookups, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(dns.time, "monotonic", clock.monotonic)
    lookups.answers = [["10.0.0.1", "10.0.0.2", "10.0.0.1"], ["10.0.0.3"]]
    resolver = Resolver(ttl=10)
    loop = asyncio.get_running_loop()
    assert await resolver.addresses("vertex.test", 443, loop) == ("10.0.0.1", "10.0.0.2")
    clock.now += 9.9
    assert await resolver.addresses("vertex.test", 443, loop) == ("10.0.0.1", "10.0.0.2")
    assert len(lookups.calls) == 1
    clock.now += 0.2
    assert await resolver.addresses("vertex.test", 443, loop) == ("10.0.0.3",)
    assert len(lookups.calls) == 2


async def test_failed_lookup_is_not_kept(lookups: Lookups) -> None:
    lookups.answers = [socket.gaierror(socket.EAI_AGAIN, "try again"), ["10.0.0.1"]]
    resolver = Resolver()
    loop = asyncio.get_running_loop()
    with pytest.raises(socket.gaierror):
        await resolver.addresses("vertex.test", 443, loop)
    assert await resolver.addresses("vertex.test", 443, loop) == ("10.0.0.1",)
    assert len(lookups.calls) == 2


async def test_a_caller_giving_up_leaves_the_lookup_to_the_others(lookups: Lookups) -> None:
    lookups.release.clear()
    resolver = Resolver()
    loop = asyncio.get_running_loop()
    first = asyncio.create_task(resolver.addresses("vertex.test", 443, loop))
    second = asyncio.create_task(resolver.addresses("vertex.test", 443, loop))
    await asyncio.sleep(0)
    first.cancel()
    lookups.release.set()
    assert await second == ("127.0.0.1",)
    assert first.cancelled()
    assert len(lookups.calls) == 1


async def test_an_address_is_its_own_answer(lookups: Lookups) -> None:
    resolver = Resolver()
    loop = asyncio.get_running_loop()
    assert await resolver.addresses("127.0.0.1", 80, loop) == ("127.0.0.1",)
    assert await resolver.addresses("::1", 80, loop) == ("::1",)
    assert lookups.calls == []


async def ok(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
    w.write(reply(b"{}"))


async def test_transport_connects_to_the_next_address_when_one_refuses(lookups: Lookups) -> None:
    # Nothing listens on 127.0.0.2 (the scripted server is bound to 127.0.0.1).
    lookups.answers = [["127.0.0.2", "127.0.0.1"]]
    transport = Http1Transport(connect_timeout=2.0)
    try:
        async with Scripted(ok) as s:
            url = s.url.replace("127.0.0.1", "vertex.test")
            port = int(url.split(":")[2].split("/")[0])
            resp = await transport.post(url, {}, b"{}", 5)
            assert resp.status == 200
            assert s.connections == 1
            # The request names the host, not the address it was sent to.
            assert f"host: vertex.test:{port}".encode() in s.heads[0].lower()
            assert lookups.calls == [("vertex.test", port)]
    finally:
        await transport.close()


async def test_new_connections_share_a_lookup(lookups: Lookups) -> None:
    transport = Http1Transport(connect_timeout=2.0)

    async def slow(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        await asyncio.sleep(0.05)  # keeps each connection busy so every request needs its own
        w.write(reply(b"{}"))

    try:
        async with Scripted(slow) as s:
            url = s.url.replace("127.0.0.1", "vertex.test")
            replies = await asyncio.gather(*(transport.post(url, {}, b"{}", 5) for _ in range(8)))
            assert [r.status for r in replies] == [200] * 8
            assert s.connections == 8
            assert len(lookups.calls) == 1
    finally:
        await transport.close()


async def test_no_address_accepting_is_connection_failed_and_looked_up_again(
    lookups: Lookups,
) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    transport = Http1Transport(connect_timeout=2.0)
    try:
        for attempt in (1, 2):
            with pytest.raises(VertexError) as err:
                await transport.post(f"http://vertex.test:{port}/x", {}, b"", 2)
            assert err.value.reason == "UPSTREAM_CONNECTION_FAILED"
            assert len(lookups.calls) == attempt  # the refused answer was not kept
    finally:
        await transport.close()


async def test_failed_lookup_is_connection_failed(lookups: Lookups) -> None:
    lookups.answers = [socket.gaierror(socket.EAI_NONAME, "unknown")]
    transport = Http1Transport(connect_timeout=2.0)
    try:
        with pytest.raises(VertexError) as err:
            await transport.post("https://nowhere.test/x", {}, b"", 2)
        assert err.value.code == "UNAVAILABLE"
        assert err.value.reason == "UPSTREAM_CONNECTION_FAILED"
    finally:
        await transport.close()
