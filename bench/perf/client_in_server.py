"""What one upstream POST costs inside a grpc.aio server, per HTTP client.

The floor echo server, then the same server making one POST to the fake upstream per call,
with aiohttp and with the gateway's own transport (server/vertex/http1.py). A client
benchmark on its own (bench/http_client) misses what matters here: the event loop is shared
with gRPC, whose poller thread and callbacks compete for the same core and the same GIL.

    python -m bench.perf.client_in_server [--reps 2] [--seconds 6]

`--serve MODE PORT UPSTREAM_URL` is the server side (started by the harness).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from bench.perf import run as harness
from bench.perf.echo_server import run_on, serve_unary
from bench.perf.load import grpc_frame
from bench.perf.upstream import MODEL, start_upstream

MODES = ("echo", "aiohttp", "http1")
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

    async def handler(request: bytes, context: Any) -> bytes:
        if post is not None:
            await post()
        return request

    await serve_unary(port, grpc.unary_unary_rpc_method_handler(handler))
    if close is not None:
        await close()


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print one line per run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", nargs=3, metavar=("MODE", "PORT", "UPSTREAM"))
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = parser.parse_args(argv)
    if args.serve:
        run_on(args.loop, _serve(args.serve[0], int(args.serve[1]), args.serve[2]))
        return 0
    settings = harness.Settings(args.seconds, 1, 8, 32, 1, 1, 1)
    body = grpc_frame(harness.chat_request())
    with tempfile.TemporaryDirectory() as tmp:
        upstream = start_upstream(Path(tmp), harness.free_port(), harness.free_port())
        url = f"{upstream.base_url}/v1/projects/bench/locations/us-central1/publishers/google/models/{MODEL}:generateContent"
        try:
            print("| run | mode | req/s | CPU ms/req |\n| --- | --- | ---: | ---: |")
            for rep in range(args.reps):
                for mode in MODES:
                    port = harness.free_port()
                    process = subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "bench.perf.client_in_server",
                            "--serve",
                            mode,
                            str(port),
                            url,
                        ],
                        cwd=harness.ROOT,
                        env={
                            **os.environ,
                            "PYTHONPATH": f"{harness.ROOT}:{harness.ROOT / 'clients' / 'python'}",
                        },
                    )
                    harness._wait_serving(port, 30, health=False)
                    server = harness.Server(mode, process, port, 0.0)
                    try:
                        result, cpu, _ = harness.saturate(
                            server, f"http://127.0.0.1:{port}{harness.CHAT}", body, settings
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
