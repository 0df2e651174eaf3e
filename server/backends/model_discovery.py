"""What Vertex lists for ListModels: the project's endpoints and custom models, and the
publisher catalogs, fetched page by page, kept for a while, and never in a caller's way.

One fetch at a time per process: callers arriving during a fetch wait for that one. A caller
waits at most until its own deadline (less a margin); after that it gets the listing from what
is already known, and the fetch finishes in the background for the next caller. A source that
fails (no permission to list endpoints, Vertex unavailable) is logged by reason and retried
sooner; what it returned last time is kept meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from server.translate.model_listing import DiscoveredModels
from server.vertex.client import Deadline, VertexClient
from server.vertex.errors import VertexError
from server.vertex.urls import VertexTarget, collection_url, list_url, publisher_models_url

log = logging.getLogger(__name__)

PAGE_SIZE = 100
# A listing longer than this many pages is cut (and says so in the log): a safety bound.
MAX_PAGES = 50
# Time a whole discovery round may take in the background.
FETCH_SECONDS = 30.0
# Left of a caller's deadline for building and sending the reply.
REPLY_MARGIN_SECONDS = 0.25
RETRY_AFTER_FAILURE_SECONDS = 30.0


class ModelDiscovery:
    """Cached discovery for one location."""

    def __init__(
        self,
        client: VertexClient,
        target: VertexTarget,
        publishers: tuple[str, ...],
        ttl_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._target = target
        self._publishers = publishers
        self._ttl = ttl_seconds
        self._clock = clock
        self._known = DiscoveredModels(target.location)
        self._fresh_until = float("-inf")
        self._task: asyncio.Task[None] | None = None

    @property
    def known(self) -> DiscoveredModels:
        """What the last rounds found (empty before the first)."""
        return self._known

    async def snapshot(self, remaining: float | None) -> DiscoveredModels:
        """Fresh results when they can be had within the caller's time, else what is known."""
        if self._clock() < self._fresh_until:
            return self._known
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._refresh())
        wait = None if remaining is None else max(0.0, remaining - REPLY_MARGIN_SECONDS)
        try:
            await asyncio.wait_for(asyncio.shield(self._task), wait)
        except TimeoutError:
            log.info("model discovery still running; listing what is already known")
        return self._known

    def invalidate(self) -> None:
        """Read Vertex's lists again at the next snapshot (a tuning job just created an
        endpoint that callers should see without waiting for the TTL)."""
        self._fresh_until = float("-inf")

    async def close(self) -> None:
        """Stop a round in progress."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _refresh(self) -> None:
        deadline = self._client.deadline(FETCH_SECONDS)
        sources: dict[str, str] = {}
        if self._target.project is not None:  # express mode has no project to list
            sources["endpoints"] = collection_url(self._target, "endpoints")
            sources["models"] = collection_url(self._target, "models")
        for publisher in self._publishers:
            sources[f"publisherModels:{publisher}"] = publisher_models_url(self._target, publisher)
        results = await asyncio.gather(
            *(self._all_pages(url, name.split(":")[0], deadline) for name, url in sources.items()),
            return_exceptions=True,
        )
        found: dict[str, list[Any]] = {}
        failed = False
        for name, result in zip(sources, results, strict=True):
            if isinstance(result, VertexError):
                failed = True
                log.warning(
                    "model discovery: listing %s failed: %s %s", name, result.code, result.reason
                )
            elif isinstance(result, BaseException):
                raise result
            else:
                found[name] = result
        known = self._known

        def pick(name: str, before: tuple[Any, ...]) -> tuple[Any, ...]:
            return tuple(found[name]) if name in found else before

        catalog_before = {
            p: tuple(m for m in known.catalog if _publisher_of(m) == p) for p in self._publishers
        }
        catalog: tuple[Any, ...] = ()
        for publisher in self._publishers:
            catalog += pick(f"publisherModels:{publisher}", catalog_before[publisher])
        self._known = DiscoveredModels(
            self._target.location,
            endpoints=pick("endpoints", known.endpoints),
            custom_models=pick("models", known.custom_models),
            catalog=catalog,
        )
        self._fresh_until = self._clock() + (
            min(self._ttl, RETRY_AFTER_FAILURE_SECONDS) if failed else self._ttl
        )

    async def _all_pages(self, base: str, member: str, deadline: Deadline) -> list[Any]:
        items: list[Any] = []
        token = ""
        for _ in range(MAX_PAGES):
            page = await self._client.get_json(list_url(base, PAGE_SIZE, token), deadline)
            if not isinstance(page, dict):
                raise VertexError(
                    "UNAVAILABLE",
                    f"the {member} list is not a JSON object",
                    "UPSTREAM_MALFORMED_RESPONSE",
                )
            listed = page.get(member) or []
            if isinstance(listed, list):
                items.extend(listed)
            token = page.get("nextPageToken") or ""
            if not isinstance(token, str) or not token:
                return items
        log.warning(
            "model discovery: %s has more than %d pages; listing the first", base, MAX_PAGES
        )
        return items


def _publisher_of(model: Any) -> str | None:
    name = model.get("name") if isinstance(model, dict) else None
    parts = name.split("/") if isinstance(name, str) else []
    return parts[1] if len(parts) == 4 else None
