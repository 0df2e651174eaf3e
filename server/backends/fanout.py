"""Several Vertex calls for one caller request, with bounded concurrency and fail-fast."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")


async def gather_bounded(
    items: Sequence[T], call: Callable[[T], Awaitable[R]], concurrency: int
) -> list[R]:
    """`call(item)` for every item, at most `concurrency` at a time, results in item order.

    The first failure cancels the calls still running and is raised as it is (not wrapped in
    an exception group), so the caller gets the same error a single call would give.
    """
    gate = asyncio.Semaphore(concurrency)
    results: list[R | None] = [None] * len(items)

    async def one(index: int, item: T) -> None:
        async with gate:
            results[index] = await call(item)

    try:
        async with asyncio.TaskGroup() as group:
            for index, item in enumerate(items):
                group.create_task(one(index, item))
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return cast(list[R], results)  # every slot was filled: no call failed
