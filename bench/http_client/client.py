"""One benchmark client process: one library variant, one mode, a bounded closed-loop load.

A variant is ``LIB`` or ``LIB:flag,flag`` (LIB is ``aiohttp`` or ``httpx``). Flags:

* ``bytes``   send ``json.dumps(body).encode()`` with our own Content-Type (not ``json=``)
* ``raw``     ``json.loads(<body bytes>)`` instead of the library's ``resp.json()``
* ``split``   SSE: iterate raw body chunks and split lines ourselves, instead of the
              library's line iterator (aiohttp ``async for line in resp.content``,
              httpx ``aiter_lines()``)
* ``noac``    no compression: send ``Accept-Encoding: identity`` (aiohttp: also
              ``auto_decompress=False``)
* ``nott``    no client timeout (aiohttp ``ClientTimeout(total=None)``, httpx ``timeout=None``);
              the default is a 300 s total timeout for both, as a gateway would set
* ``rfs``     let the library raise on HTTP errors (``raise_for_status``) instead of a status check
* ``deflim``  httpx only: the default pool sizes (100 connections, 20 kept alive), not N and N
* ``sniffio`` httpx only: provide a ``sniffio`` module. httpcore 1.0.9 imports it on every
              lock/event setup, and anyio >= 4.11 no longer installs it, so each failed import
              scans sys.path again (encode/httpcore#1103); the stub stands in for ``pip install
              sniffio``

Prints one JSON object (the measurement) on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import statistics
import sys
import time
import types
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import httpx
from payloads import STREAM_EVENTS, STREAM_PATH, UNARY_PATH, request_body

HEADERS = {"Authorization": "Bearer x"}
JSON_HEADERS = {**HEADERS, "Content-Type": "application/json"}
KEEPALIVE_S = 60  # both pools keep idle connections this long (httpx's default 5 s lets its
# pool shrink mid-run, which changes its speed; see README)
Op = Callable[[], Awaitable[int]]  # one request; returns the number of JSON documents parsed


def _check_reply(reply: dict[str, Any]) -> int:
    if reply["candidates"][0]["finishReason"] != "STOP":
        raise ValueError("unexpected reply")
    return 1


def _check_events(count: int, last: dict[str, Any]) -> int:
    if count != STREAM_EVENTS or last["candidates"][0].get("finishReason") != "STOP":
        raise ValueError(f"stream ended after {count} events")
    return count


async def _sse_split(chunks: AsyncIterator[bytes]) -> int:
    """Split a byte stream into lines and json.loads every ``data:`` payload."""
    count, last, tail = 0, {}, b""
    async for chunk in chunks:
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for line in lines:
            if line.startswith(b"data:"):
                last = json.loads(line[5:])
                count += 1
    if tail.startswith(b"data:"):
        last, count = json.loads(tail[5:]), count + 1
    return _check_events(count, last)


class Aiohttp:
    def __init__(self, base: str, n: int, ctx: ssl.SSLContext | None, flags: set[str]) -> None:
        self.flags = flags
        timeout = aiohttp.ClientTimeout(total=None if "nott" in flags else 300)
        self.session = aiohttp.ClientSession(
            base_url=base,
            connector=aiohttp.TCPConnector(
                limit=n, keepalive_timeout=KEEPALIVE_S, ssl=ctx or False
            ),
            timeout=timeout,
            auto_decompress="noac" not in flags,
            raise_for_status="rfs" in flags,
        )
        self.headers = JSON_HEADERS if "bytes" in flags else dict(HEADERS)
        if "noac" in flags:
            self.headers = {**self.headers, "Accept-Encoding": "identity"}

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        if "bytes" in self.flags:
            data = json.dumps(body).encode()
            return self.session.post(path, data=data, headers=self.headers)
        return self.session.post(path, json=body, headers=self.headers)

    async def unary(self, body: dict[str, Any]) -> int:
        async with self._post(UNARY_PATH, body) as resp:
            if "rfs" not in self.flags and resp.status != 200:
                raise RuntimeError(resp.status)
            if "raw" in self.flags:
                return _check_reply(json.loads(await resp.read()))
            return _check_reply(await resp.json())

    async def stream(self, body: dict[str, Any]) -> int:
        async with self._post(STREAM_PATH, body) as resp:
            if "rfs" not in self.flags and resp.status != 200:
                raise RuntimeError(resp.status)
            if "split" in self.flags:
                return await _sse_split(resp.content.iter_any())
            count, last = 0, {}
            async for line in resp.content:
                if line.startswith(b"data:"):
                    last = json.loads(line[5:])
                    count += 1
            return _check_events(count, last)

    async def aclose(self) -> None:
        await self.session.close()


class Httpx:
    def __init__(self, base: str, n: int, ctx: ssl.SSLContext | None, flags: set[str]) -> None:
        self.flags = flags
        limits = httpx.Limits(
            max_connections=100 if "deflim" in flags else n,
            max_keepalive_connections=20 if "deflim" in flags else n,
            keepalive_expiry=KEEPALIVE_S,
        )
        self.client = httpx.AsyncClient(
            base_url=base,
            limits=limits,
            timeout=None if "nott" in flags else 300,
            verify=ctx or True,
        )
        self.headers = JSON_HEADERS if "bytes" in flags else dict(HEADERS)
        if "noac" in flags:
            self.headers = {**self.headers, "Accept-Encoding": "identity"}

    def _request(self, path: str, body: dict[str, Any]) -> httpx.Request:
        if "bytes" in self.flags:
            content = json.dumps(body).encode()
            return self.client.build_request("POST", path, content=content, headers=self.headers)
        return self.client.build_request("POST", path, json=body, headers=self.headers)

    def _check(self, resp: httpx.Response) -> None:
        if "rfs" in self.flags:
            resp.raise_for_status()
        elif resp.status_code != 200:
            raise RuntimeError(resp.status_code)

    async def unary(self, body: dict[str, Any]) -> int:
        resp = await self.client.send(self._request(UNARY_PATH, body))
        self._check(resp)
        return _check_reply(json.loads(resp.content) if "raw" in self.flags else resp.json())

    async def stream(self, body: dict[str, Any]) -> int:
        resp = await self.client.send(self._request(STREAM_PATH, body), stream=True)
        try:
            self._check(resp)
            if "split" in self.flags:
                return await _sse_split(resp.aiter_bytes())
            count, last = 0, {}
            async for line in resp.aiter_lines():
                if line.startswith("data:"):
                    last = json.loads(line[5:])
                    count += 1
            return _check_events(count, last)
        finally:
            await resp.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()


async def _load(op: Op, total: int, concurrency: int, seconds: float) -> tuple[list[float], int]:
    """Run ``total`` requests on ``concurrency`` tasks (stopping early after ``seconds``)."""
    latencies: list[float] = []
    docs = 0
    left = total
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal left, docs
        while left > 0 and time.perf_counter() < deadline:
            left -= 1
            start = time.perf_counter()
            got = await op()
            docs += got
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, docs


async def upstream_stats(port: int, ctx: ssl.SSLContext | None) -> dict[str, float]:
    """The fake upstream's connection count and CPU seconds (on a connection of its own)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
    writer.write(b"GET /_stats HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r")[0])
    stats: dict[str, float] = json.loads(await reader.readexactly(length))
    writer.close()
    return stats


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    lib, _, flag_text = args.variant.partition(":")
    flags = set(filter(None, flag_text.split(",")))
    if "sniffio" in flags and "sniffio" not in sys.modules:
        stub = types.ModuleType("sniffio")
        stub.current_async_library = lambda: "asyncio"  # type: ignore[attr-defined]
        sys.modules["sniffio"] = stub
    ctx = ssl.create_default_context(cafile=args.cafile) if args.cafile else None
    scheme = "https" if ctx else "http"
    driver_cls = Aiohttp if lib == "aiohttp" else Httpx
    driver = driver_cls(f"{scheme}://127.0.0.1:{args.port}", args.concurrency, ctx, flags)
    body = request_body()
    method = driver.unary if args.mode == "unary" else driver.stream

    async def op() -> int:
        return await method(body)

    try:
        # warm-up: opens the N connections (the first wave starts all N tasks at once)
        await _load(op, args.concurrency * 2, args.concurrency, min(0.5, args.seconds))
        before = await upstream_stats(args.port, ctx)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        latencies, docs = await _load(op, args.requests, args.concurrency, args.seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        after = await upstream_stats(args.port, ctx)
    finally:
        await driver.aclose()
    n = len(latencies)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "variant": args.variant,
        "mode": args.mode,
        "transport": scheme,
        "requests": n,
        "documents": docs,
        "wall_s": round(wall, 4),
        "cpu_s": round(cpu, 4),
        "rps": round(n / wall, 1),
        "events_per_s": round(docs / wall, 1) if args.mode == "stream" else None,
        "cpu_s_per_1k": round(cpu / n * 1000, 4),
        "cpu_utilisation": round(cpu / wall, 3),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        # new upstream connections during the measured phase (the stats call itself opens 1)
        "new_connections": int(after["connections"] - before["connections"] - 1),
        "upstream_cpu_utilisation": round((after["cpu_s"] - before["cpu_s"]) / wall, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--mode", choices=["unary", "stream"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cafile", help="trust this certificate and use https")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0, help="time bound per phase")
    print(json.dumps(asyncio.run(measure(parser.parse_args()))))


if __name__ == "__main__":
    main()
