"""The floor: a bare grpcio asyncio server that echoes the request bytes on the Chat method.

No proto parsing, no logic: what one gRPC unary call costs in this Python, on this machine.
`python -m bench.perf.echo_server PORT WORKERS [LOOP]` pre-forks like the gateway (SO_REUSEPORT);
LOOP is `asyncio` (the floor the targets use) or `uvloop` (shown beside it for information,
since the gateway serves on uvloop).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import grpc
import grpc.aio

METHOD = "/vertex_gateway.v1.ChatService/Chat"


async def _echo(request: bytes, context: Any) -> bytes:
    return request


async def serve_unary(
    port: int,
    handler: grpc.RpcMethodHandler[Any, Any],
    *,
    reuse: bool = False,
) -> None:
    """Serve `handler` on the Chat method until SIGTERM (the bench's bare servers share this)."""

    class Handler(grpc.GenericRpcHandler):  # type: ignore[type-arg]
        def service(
            self, details: grpc.HandlerCallDetails
        ) -> grpc.RpcMethodHandler[Any, Any] | None:
            return handler if getattr(details, "method", None) == METHOD else None

    server = grpc.aio.server(options=[("grpc.so_reuseport", 1 if reuse else 0)])
    server.add_generic_rpc_handlers((Handler(),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(0)


def run_on(loop: str, main: Coroutine[Any, Any, None]) -> None:
    """Run `main` on the stdlib loop ("asyncio") or on uvloop ("uvloop")."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


def _run(port: int, reuse: bool) -> None:
    loop = sys.argv[3] if len(sys.argv) > 3 else "asyncio"
    run_on(loop, serve_unary(port, grpc.unary_unary_rpc_method_handler(_echo), reuse=reuse))


def main() -> None:
    """Entry point: PORT [WORKERS [LOOP]]."""
    port = int(sys.argv[1])
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    if workers == 1:
        _run(port, False)
        return
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            _run(port, True)
            os._exit(0)
        pids.append(pid)

    def stop(*_: object) -> None:
        for pid in pids:
            os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    for pid in pids:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
