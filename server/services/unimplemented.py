"""Servicers for services whose RPCs this release does not serve yet.

Each RPC answers UNIMPLEMENTED with a reason, so callers and grpcurl see the whole contract and
get a clear answer rather than a generic "Method not implemented!".
"""

from __future__ import annotations

from typing import Any

import grpc

from server.errors import GatewayError

from .boundary import abort


def unimplemented_servicer(base: type, service: str, rpcs: list[str], why: str) -> Any:
    """An instance of `base` (a generated *Servicer) whose every RPC is UNIMPLEMENTED."""

    def make(rpc: str) -> Any:
        async def handler(self: Any, request: Any, context: Any) -> Any:
            await abort(
                context,
                GatewayError(
                    grpc.StatusCode.UNIMPLEMENTED,
                    f"{service}.{rpc} is not served by this release of vertex-gateway: {why}",
                    "NOT_IMPLEMENTED_YET",
                    metadata={"service": service, "rpc": rpc},
                ),
            )

        handler.__name__ = rpc
        return handler

    cls = type(f"Unimplemented{service}", (base,), {rpc: make(rpc) for rpc in rpcs})
    return cls()
