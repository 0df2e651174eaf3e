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
from typing import Any

import grpc
import grpc.aio

METHOD = "/vertex_gateway.v1.ChatService/Chat"


async def _echo(request: bytes, context: Any) -> bytes:
    return request


class _Handler(grpc.GenericRpcHandler):
    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        if handler_call_details.method == METHOD:  # type: ignore[attr-defined]
            return grpc.unary_unary_rpc_method_handler(_echo)
        return None


async def serve(port: int, reuse: bool) -> None:
    """Serve until SIGTERM."""
    server = grpc.aio.server(options=[("grpc.so_reuseport", 1 if reuse else 0)])
    server.add_generic_rpc_handlers((_Handler(),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(0)


def _run(port: int, reuse: bool) -> None:
    if len(sys.argv) > 3 and sys.argv[3] == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(port, reuse))
        return
    asyncio.run(serve(port, reuse))


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
