"""A circuit breaker per Vertex model: after `failures` transient failures in a row, calls fail
at once with UNAVAILABLE (and RetryInfo) for `cooldown` seconds instead of piling onto an
upstream that is down; then one probe call goes through, and its success closes the circuit."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import VertexError


@dataclass
class _Circuit:
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False


class CircuitBreaker:
    """Circuits keyed by model resource."""

    def __init__(
        self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = failures
        self._cooldown = cooldown
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def before(self, key: str) -> None:
        """Raise UNAVAILABLE while the circuit is open (one probe passes after the cooldown)."""
        if not self._limit:
            return
        circuit = self._circuits.get(key)
        if circuit is None or circuit.opened_at is None:
            return
        waited = self._clock() - circuit.opened_at
        if waited >= self._cooldown and not circuit.probing:
            circuit.probing = True
            return
        model = key.rsplit("/", 1)[-1]
        raise VertexError(
            "UNAVAILABLE",
            f"calls to {model} are failing; the gateway is not sending more for a moment",
            "UPSTREAM_CIRCUIT_OPEN",
            retry_delay_seconds=max(0.1, self._cooldown - waited),
        )

    def success(self, key: str) -> None:
        """A call got an answer: the circuit closes."""
        if self._limit and key in self._circuits:
            del self._circuits[key]

    def release(self, key: str) -> None:
        """A call ended without showing whether the upstream is up (cancelled, say): if it was
        the probe, the next call after the cooldown may probe instead."""
        circuit = self._circuits.get(key) if self._limit else None
        if circuit is not None:
            circuit.probing = False

    def failure(self, key: str) -> None:
        """A call failed transiently."""
        if not self._limit:
            return
        circuit = self._circuits.setdefault(key, _Circuit())
        circuit.failures += 1
        if circuit.probing or circuit.failures >= self._limit:
            circuit.opened_at = self._clock()
            circuit.probing = False
