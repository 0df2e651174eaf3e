"""Faults injected on demand: by the ``x-emulator-fault`` request header or armed via the admin API."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

FAULT_HEADER = "x-emulator-fault"
STATUS_CODES = (400, 401, 403, 404, 429, 500, 503, 504)
_TIMED = re.compile(r"^(slow|slow-stream):(\d{1,7})$")
_HUGE = re.compile(r"^huge-event:(\d{1,3})$")


class FaultKind(enum.Enum):
    """What a fault does to the response."""

    STATUS = "status"
    STATUS_ARRAY = "status-array"
    SLOW = "slow"
    SLOW_STREAM = "slow-stream"
    DISCONNECT = "disconnect-mid-stream"
    STREAM_ERROR = "stream-error"
    STREAM_ERROR_RAW = "stream-error-raw"
    MALFORMED_JSON = "malformed-json"
    # The body ends in the middle of an event (cleanly, as a proxy cutting it short would).
    TRUNCATED_SSE = "truncated-sse"
    # One SSE event of `size_mb` megabytes (a single `data:` line) before the rest.
    HUGE_EVENT = "huge-event"


@dataclass(frozen=True)
class Fault:
    """A parsed fault spec."""

    spec: str
    kind: FaultKind
    status: int = 0
    delay_ms: int = 0
    size_mb: int = 0


_PLAIN = {
    "disconnect-mid-stream": FaultKind.DISCONNECT,
    "stream-error": FaultKind.STREAM_ERROR,
    "stream-error-raw": FaultKind.STREAM_ERROR_RAW,
    "malformed-json": FaultKind.MALFORMED_JSON,
    "truncated-sse": FaultKind.TRUNCATED_SSE,
}


def parse_fault(spec: str) -> Fault:
    """Parse a fault spec such as ``429``, ``429-array`` or ``slow:250``; ValueError if unknown."""
    spec = spec.strip()
    if spec in _PLAIN:
        return Fault(spec, _PLAIN[spec])
    if spec == "429-array":
        return Fault(spec, FaultKind.STATUS_ARRAY, status=429)
    if spec.isdigit() and int(spec) in STATUS_CODES:
        return Fault(spec, FaultKind.STATUS, status=int(spec))
    huge = _HUGE.match(spec)
    if huge and 1 <= int(huge.group(1)) <= 200:
        return Fault(spec, FaultKind.HUGE_EVENT, size_mb=int(huge.group(1)))
    timed = _TIMED.match(spec)
    if timed:
        kind = FaultKind.SLOW if timed.group(1) == "slow" else FaultKind.SLOW_STREAM
        return Fault(spec, kind, delay_ms=int(timed.group(2)))
    raise ValueError(f"unknown fault spec {spec!r}")


@dataclass
class ArmedFault:
    """A fault waiting for the next ``remaining`` matching requests."""

    fault: Fault
    remaining: int
    path_contains: str | None

    def to_json(self) -> dict[str, Any]:
        """JSON form for the admin API."""
        return {
            "fault": self.fault.spec,
            "times": self.remaining,
            "path_contains": self.path_contains,
        }


class FaultBook:
    """Armed faults, used first-armed-first."""

    def __init__(self) -> None:
        self._armed: list[ArmedFault] = []

    def arm(self, fault: Fault, times: int, path_contains: str | None) -> ArmedFault:
        """Arm ``fault`` for the next ``times`` Vertex requests whose path contains the text."""
        armed = ArmedFault(fault, times, path_contains)
        self._armed.append(armed)
        return armed

    def clear(self) -> None:
        """Disarm everything."""
        self._armed.clear()

    def take(self, path: str) -> Fault | None:
        """Consume one use of the first armed fault matching ``path``."""
        for armed in self._armed:
            if armed.path_contains is None or armed.path_contains in path:
                armed.remaining -= 1
                if armed.remaining <= 0:
                    self._armed.remove(armed)
                return armed.fault
        return None

    def to_json(self) -> list[dict[str, Any]]:
        """Armed faults as JSON."""
        return [a.to_json() for a in self._armed]
