"""What one upstream POST costs inside a grpc.aio server, per HTTP client.

The floor echo server, then the same server making one POST to the fake upstream per call,
with aiohttp and with the gateway's own transport (server/vertex/http1.py). A client
benchmark on its own (bench/http_client) misses what matters here: the event loop is shared
with gRPC, whose poller thread and callbacks compete for the same core and the same GIL.

Mode `raw` is the lower bound for a transport: an asyncio protocol on pooled keep-alive
connections that writes a fixed request and reads the reply up to its Content-Length, with no
timer, bound, header parsing or error handling. Mode `gateway` is the gateway itself (one worker). Mode `least` is the ceiling for the gateway's Chat: a typed ChatService/Chat handler doing only
the wire work (the request's text turns to a generateContent body, one POST with the gateway's
transport, the reply's text, finish reason and token counts back, and the request id and usage
trailers), none of the gateway's checks, routing, retries, metrics or error handling.

    python -m bench.perf.client_in_server [--reps 2] [--seconds 6] [--modes echo,http1,least]

`--serve MODE PORT UPSTREAM_URL` is the server side (started by the harness).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import grpc.aio
import orjson
from vertex_gateway.v1 import chat_pb2, common_pb2

from bench.perf import run as harness
from bench.perf.echo_server import run_on, serve_unary
from bench.perf.load import grpc_frame
from bench.perf.upstream import start_upstream

MODES = ("echo", "aiohttp", "http1", "raw", "least", "gateway")
HEADERS = {"content-type": "application/json", "authorization": "Bearer bench"}


async def _serve(mode: str, port: int, upstream: str) -> None:
    post: Callable[[], Awaitable[Any]] | None = None
    close: Callable[[], Awaitable[Any]] | None = None
    if mode == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512))

        async def post_aiohttp() -> bytes:
            async with session.post(upstream, data=b"{}", headers=HEADERS) as resp:
                return await resp.read()

        post, close = post_aiohttp, session.close
    elif mode == "http1":
        from server.vertex.http1 import Http1Transport

        transport = Http1Transport()

        async def post_http1() -> bytes:
            return (await transport.post(upstream, HEADERS, b"{}", 30.0)).body

        post, close = post_http1, transport.close
    elif mode == "raw":
        post, close = _raw_post(upstream)

    if mode == "least":
        from server.vertex.http1 import Http1Transport

        least = _LeastChat(Http1Transport(), upstream)
        close = least.close
        await serve_unary(
            port,
            grpc.unary_unary_rpc_method_handler(
                least.chat, chat_pb2.ChatRequest.FromString, chat_pb2.ChatResponse.SerializeToString
            ),
        )
        await close()
        return

    async def handler(request: bytes, context: Any) -> bytes:
        if post is not None:
            await post()
        return request

    await serve_unary(port, grpc.unary_unary_rpc_method_handler(handler))
    if close is not None:
        await close()


class _RawReply(asyncio.Protocol):
    """One keep-alive connection's reply, complete once Content-Length bytes of body arrived."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.buffer = b""
        self.done: asyncio.Future[bytes] | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.done is None:
            return
        head = self.buffer[:end].lower()
        start = head.find(b"content-length:")
        length = int(head[start + 15 :].split(b"\r\n", 1)[0]) if start >= 0 else 0
        if len(self.buffer) - end - 4 >= length:
            self.done.set_result(self.buffer[end + 4 :])


def _raw_post(
    upstream: str,
) -> tuple[Callable[[], Awaitable[bytes]], Callable[[], Awaitable[None]]]:
    url = urlsplit(upstream)
    head = (
        f"POST {url.path} HTTP/1.1\r\nhost: {url.netloc}\r\ncontent-type: application/json\r\n"
        "authorization: Bearer bench\r\ncontent-length: 2\r\n\r\n"
    ).encode()
    idle: list[_RawReply] = []

    async def post() -> bytes:
        loop = asyncio.get_running_loop()
        if idle:
            conn = idle.pop()
        else:
            _, conn = await loop.create_connection(_RawReply, url.hostname, url.port)
        conn.buffer, conn.done = b"", loop.create_future()
        conn.transport.writelines((head, b"{}"))
        body = await conn.done
        idle.append(conn)
        return body

    async def close() -> None:
        for conn in idle:
            conn.transport.close()

    return post, close


class _LeastChat:
    """The least a Python Chat handler does per call (see the module docstring)."""

    ROLES = {chat_pb2.ROLE_USER: "user", chat_pb2.ROLE_ASSISTANT: "model"}

    def __init__(self, transport: Any, url: str) -> None:
        self._transport = transport
        self._url = url
        self._count = 0
        self.close = transport.close

    async def chat(self, request: chat_pb2.ChatRequest, context: Any) -> chat_pb2.ChatResponse:
        roles = self.ROLES
        body = {
            "contents": [
                {"role": roles[m.role], "parts": [{"text": p.text} for p in m.parts]}
                for m in request.messages
            ]
        }
        headers = HEADERS
        reply_http = await self._transport.request(
            "POST", self._url, headers, orjson.dumps(body), context.time_remaining() or 600.0
        )
        payload = orjson.loads(reply_http.body)
        reply = chat_pb2.ChatResponse(
            id=payload.get("responseId", ""),
            model=request.model,
            model_version=payload.get("modelVersion", ""),
        )
        for i, raw in enumerate(payload.get("candidates") or ()):
            candidate = reply.candidates.add()
            candidate.index = i
            candidate.message.role = chat_pb2.ROLE_ASSISTANT
            for part in raw["content"]["parts"]:
                candidate.message.parts.add(text=part["text"])
            candidate.native_finish_reason = raw.get("finishReason", "")
            candidate.finish_reason = common_pb2.FINISH_REASON_STOP
        meta = payload.get("usageMetadata") or {}
        usage = reply.usage
        usage.input_tokens = meta.get("promptTokenCount", 0)
        usage.output_tokens = meta.get("candidatesTokenCount", 0)
        usage.total_tokens = meta.get("totalTokenCount", 0)
        self._count += 1
        context.set_trailing_metadata(
            (
                ("x-request-id", f"least-{self._count:x}"),
                ("vg-usage-input-tokens", str(usage.input_tokens)),
                ("vg-usage-output-tokens", str(usage.output_tokens)),
                ("vg-usage-reasoning-tokens", "0"),
                ("vg-usage-cached-input-tokens", "0"),
                ("vg-estimated-cost-usd", "0.00001230"),
            )
        )
        return reply


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print one line per run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", nargs=3, metavar=("MODE", "PORT", "UPSTREAM"))
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated, of " + ", ".join(MODES)
    )
    args = parser.parse_args(argv)
    if args.serve:
        run_on(args.loop, _serve(args.serve[0], int(args.serve[1]), args.serve[2]))
        return 0
    settings = harness.Settings(args.seconds, 1, 8, 32, 1, 1, 1)
    body = grpc_frame(harness.chat_request())
    with tempfile.TemporaryDirectory() as tmp:
        upstream = start_upstream(Path(tmp), harness.free_port(), harness.free_port())
        url = f"{upstream.base_url}{harness.MODEL_PATH}:generateContent"
        try:
            print("| run | mode | req/s | CPU ms/req |\n| --- | --- | ---: | ---: |")
            for rep in range(args.reps):
                for mode in args.modes.split(","):
                    if mode == "gateway":
                        key = json.dumps(harness.service_account(f"{upstream.base_url}/token"))
                        server = harness.start_gateway(upstream, 1, key)
                    else:
                        port = harness.free_port()
                        server = harness.spawn(
                            ["-m", "bench.perf.client_in_server", "--loop", args.loop,
                             "--serve", mode, str(port), url],
                            port, mode,
                        )  # fmt: skip
                    try:
                        result, cpu, _ = harness.saturate(
                            server, f"http://127.0.0.1:{server.port}{harness.CHAT}", body, settings
                        )
                        harness.check_bytes(result, len(body), mode)
                    finally:
                        server.stop()
                    print(f"| {rep + 1} | {mode} | {result.rps:,.0f} | {cpu:.3f} |", flush=True)
        finally:
            upstream.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
