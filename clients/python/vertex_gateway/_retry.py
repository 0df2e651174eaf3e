"""When a failed call is tried again: UNAVAILABLE only, with exponential backoff and full jitter
(gRPC's retry design, A6), the server's `RetryInfo` delay taking precedence, a bounded number of
attempts, and never past the call's deadline.

Only UNAVAILABLE is retried because it is the one code that says the request was not acted
upon and a later attempt may succeed; RESOURCE_EXHAUSTED carries its `retry_delay` for the
caller to decide, since waiting out a quota inside a library call surprises callers.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import grpc
from vertex_gateway.errors import VertexGatewayError

RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE})


@dataclass(frozen=True)
class RetryPolicy:
    """How UNAVAILABLE calls are retried.

    `max_attempts` counts the first call (1 turns retries off). The n-th retry waits a random
    time up to `min(initial_backoff * multiplier ** (n - 1), max_backoff)` seconds, or exactly
    the server's `RetryInfo` delay when it sent one.
    """

    max_attempts: int = 4
    initial_backoff: float = 0.2
    max_backoff: float = 10.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_backoff <= 0 or self.max_backoff < self.initial_backoff:
            raise ValueError("need 0 < initial_backoff <= max_backoff")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")


NO_RETRY = RetryPolicy(max_attempts=1)


def deadline_for(timeout: float | None) -> float | None:
    """The monotonic clock time a call of `timeout` seconds must end by (None: no deadline)."""
    return None if timeout is None else time.monotonic() + timeout


def time_left(deadline: float | None) -> float | None:
    """Seconds until `deadline` (never negative), or None without one."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def retry_delay(
    policy: RetryPolicy,
    attempt: int,
    error: VertexGatewayError,
    deadline: float | None,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds to wait before trying again after failed attempt number `attempt` (from 1), or
    None when the error must be raised now: not retryable, attempts used up, or the wait would
    reach the deadline."""
    if error.code() not in RETRYABLE_CODES or attempt >= policy.max_attempts:
        return None
    if error.retry_delay is not None:
        delay = error.retry_delay
    else:
        ceiling = min(
            policy.max_backoff, policy.initial_backoff * policy.multiplier ** (attempt - 1)
        )
        delay = (rng or random).uniform(0.0, ceiling)
    left = time_left(deadline)
    if left is not None and delay >= left:
        return None
    return delay


def sleep(seconds: float) -> None:
    """Wait between attempts of a synchronous call (a seam tests replace to record waits)."""
    time.sleep(seconds)


async def async_sleep(seconds: float) -> None:
    """Wait between attempts of an asyncio call (a seam tests replace to record waits)."""
    await asyncio.sleep(seconds)
