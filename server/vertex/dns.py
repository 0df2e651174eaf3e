"""Host names to addresses for new upstream connections: kept for a few seconds, looked up
once at a time per host.

Why: asyncio's `create_connection` resolves the name on every new connection, in a worker
thread. A burst of new connections (a cold start, a surge past the idle pool, streams that
callers cancel) would then send as many lookups for the same Vertex host to the resolver at
once, and in a Kubernetes pod each lookup may be several queries (the search domains). aiohttp,
which the transport replaced, keeps names for 10 s; so does this.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time

DEFAULT_TTL_SECONDS = 10.0


class Resolver:
    """Addresses of (host, port), from the system resolver, each answer kept for `ttl` seconds.
    Concurrent callers for the same name share one lookup; a failed lookup is not kept."""

    def __init__(self, ttl: float = DEFAULT_TTL_SECONDS) -> None:
        self._ttl = ttl
        self._answers: dict[tuple[str, int], tuple[float, tuple[str, ...]]] = {}
        self._lookups: dict[tuple[str, int], asyncio.Future[tuple[str, ...]]] = {}

    async def addresses(
        self, host: str, port: int, loop: asyncio.AbstractEventLoop
    ) -> tuple[str, ...]:
        """The host's addresses, in the resolver's order (an IP address is its own answer)."""
        key = (host, port)
        answer = self._answers.get(key)
        if answer is not None and answer[0] > time.monotonic():
            return answer[1]
        if _is_address(host):
            self._answers[key] = (float("inf"), (host,))
            return (host,)
        lookup = self._lookups.get(key)
        if lookup is None:
            lookup = self._lookups[key] = loop.create_task(self._lookup(host, port, loop))
        # Shielded: one caller giving up (its deadline) must not cancel the others' lookup (the
        # shield also reads a failure nobody waits for any more, so none goes unreported).
        return await asyncio.shield(lookup)

    def forget(self, host: str, port: int) -> None:
        """Drop the kept answer (none of its addresses accepted a connection)."""
        self._answers.pop((host, port), None)

    async def _lookup(
        self, host: str, port: int, loop: asyncio.AbstractEventLoop
    ) -> tuple[str, ...]:
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            found = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
            if not found:
                raise socket.gaierror(socket.EAI_NONAME, f"no address for {host}")
            self._answers[(host, port)] = (time.monotonic() + self._ttl, found)
            return found
        finally:
            self._lookups.pop((host, port), None)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
