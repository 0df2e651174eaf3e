"""When to call Vertex again: transient failures only, before any reply byte reached the
caller, with exponential backoff and jitter, within the caller's deadline and a retry budget.

The budget (as in gRPC's retry throttling and Envoy's retry budgets) lets retries be at most a
fraction of requests, so when Vertex is down the gateway does not multiply the load on it.
Vertex's RetryInfo delay, when it gives one, replaces the computed backoff.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .errors import VertexError

RETRYABLE_HTTP = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try."""

    max_attempts: int = 3
    initial_backoff_seconds: float = 0.2
    max_backoff_seconds: float = 5.0
    # Retries allowed per request sent, on average; the bucket starts with `budget_floor`.
    budget_ratio: float = 0.2
    budget_floor: float = 10.0

    def backoff(self, attempt: int, suggested: float | None, rng: random.Random) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
        if suggested is not None and suggested > 0:
            return min(suggested, self.max_backoff_seconds * 4)
        ceiling = min(self.max_backoff_seconds, self.initial_backoff_seconds * 2 ** (attempt - 1))
        return rng.uniform(ceiling / 2, ceiling)  # "equal jitter": never zero, never in lockstep


def retryable(err: VertexError) -> bool:
    """Throttling, server errors and failures to connect; never a caller error."""
    return err.http_status in RETRYABLE_HTTP or err.reason == "UPSTREAM_CONNECTION_FAILED"


# Refusals by the gateway itself for one placement (its concurrency limit, its circuit breaker):
# not worth a retry there, but another account or location may take the call at once.
_LOCAL_REFUSALS = frozenset({"GATEWAY_MODEL_BUSY", "UPSTREAM_CIRCUIT_OPEN"})


def local_refusal(err: VertexError) -> bool:
    """Whether the gateway itself refused the call (no upstream answer behind the error)."""
    return err.reason in _LOCAL_REFUSALS


def fails_over(err: VertexError) -> bool:
    """Whether another placement (account, location) should get the call after this failure."""
    return retryable(err) or err.reason in _LOCAL_REFUSALS


class RetryBudget:
    """A token bucket filled by requests and drained by retries."""

    def __init__(self, ratio: float, floor: float) -> None:
        self._ratio = ratio
        self._cap = max(floor, 1.0)
        self._tokens = self._cap

    def on_request(self) -> None:
        """A first attempt was made."""
        self._tokens = min(self._cap, self._tokens + self._ratio)

    def try_spend(self) -> bool:
        """Take a token for a retry if one is left."""
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
