"""What every Vertex backend shares: the client, the per-location target, and relaying a
translated upstream stream to the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

from vertex_gateway.v1 import chat_pb2, common_pb2

from server.routing.router import Route
from server.vertex.accounts import AccountPool, Failover
from server.vertex.client import VertexClient
from server.vertex.urls import VertexTarget, publisher_model_url

Messages = Iterable[chat_pb2.StreamChatResponse]


class VertexBackend:
    """A model family's calls to Vertex through the shared client."""

    def __init__(self, client: VertexClient, target_for: Callable[[str], VertexTarget]) -> None:
        self._client = client
        self._target_for = target_for
        # With several accounts (or a model with fallback locations) a publisher-model call
        # becomes a Failover over its placements; the pool is also the primary's target_for.
        self._pool = target_for if isinstance(target_for, AccountPool) else None

    def _target(self, route: Route) -> VertexTarget:
        return self._target_for(route.location)

    def _model_url(
        self, route: Route, method: str, *, model: str | None = None, sse: bool = False
    ) -> str | Failover:
        """`...publishers/{publisher}/models/{model}:{method}` for the route's location, or a
        Failover over every account and location that may serve the model."""
        spec = route.spec
        model_id = model or spec.id
        pool = self._pool
        if pool is None or (not pool.pooled and not spec.fallback_locations):
            return publisher_model_url(
                self._target(route), spec.publisher, model_id, method, sse=sse
            )
        placements = pool.placements(
            spec.key,
            route.locations,
            lambda target: publisher_model_url(target, spec.publisher, model_id, method, sse=sse),
        )
        return Failover(tuple(placements))

    @staticmethod
    def _served_by(route: Route, url: str | Failover) -> common_pb2.ServedBy:
        """What served the call: the route's location, or the placement a Failover used (the
        result is copied into a reply, never changed)."""
        if isinstance(url, Failover) and url.served is not None:
            served = route.served_by()
            served.location = url.served.location
            served.account = url.served.account
            return served
        return route.served

    async def _relay(
        self,
        route: Route,
        url: str | Failover,
        body: Mapping[str, Any],
        remaining: float | None,
        feed: Callable[[Any], Messages],
        finish: Callable[[], Messages],
    ) -> AsyncIterator[chat_pb2.StreamChatResponse]:
        """Each upstream event through `feed`, then `finish` at the end of the stream; the first
        message carries served_by. The upstream stream is closed however this ends."""
        first = True
        events = self._client.stream_json(url, body, self._client.deadline(remaining))
        try:
            async for event in events:
                for chunk in feed(event):
                    if first:
                        chunk.served_by.CopyFrom(self._served_by(route, url))
                        first = False
                    yield chunk
            for chunk in finish():
                if first:
                    chunk.served_by.CopyFrom(self._served_by(route, url))
                    first = False
                yield chunk
        finally:
            await events.aclose()  # type: ignore[attr-defined]


# The default of `vertex.max_concurrent_calls_per_request` (see server/config.py).
MAX_CONCURRENT_CALLS = 8


class FanOutBackend(VertexBackend):
    """A backend that answers one request with several concurrent Vertex calls."""

    def __init__(
        self,
        client: VertexClient,
        target_for: Callable[[str], VertexTarget],
        *,
        concurrency: int = MAX_CONCURRENT_CALLS,
    ) -> None:
        super().__init__(client, target_for)
        self._concurrency = concurrency
