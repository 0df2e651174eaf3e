"""Prometheus metrics, served on a port of their own (server.metrics_port).

The gateway counts in plain dicts on its event loop (one dict update per sample, no lock), and
a collector turns them into Prometheus families when /metrics is scraped. prometheus-client's
own metric objects take a lock and walk the buckets on every observation, several microseconds
per RPC that every caller would pay; a scrape is rare. Reading the dicts from the scrape thread
is safe under the GIL (each read copies the items first).

Label sets are small and bounded: RPC method names, gRPC codes, model families, configured
models, caller names from the configuration, HTTP statuses.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import REGISTRY, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

log = logging.getLogger("vertex_gateway")

LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
)  # fmt: skip


@dataclass
class _Counter:
    name: str
    help: str
    labels: tuple[str, ...]
    values: dict[tuple[str, ...], float] = field(default_factory=dict)

    def add(self, key: tuple[str, ...], amount: float = 1.0) -> None:
        values = self.values
        values[key] = values.get(key, 0.0) + amount

    def family(self) -> Metric:
        out = CounterMetricFamily(self.name, self.help, labels=self.labels)
        for key, value in list(self.values.items()):
            out.add_metric(key, value)
        return out


@dataclass
class _Histogram:
    name: str
    help: str
    labels: tuple[str, ...]
    bounds: tuple[float, ...] = LATENCY_BUCKETS
    # Per label tuple: a count per bucket (the last one is +Inf), then the sum.
    values: dict[tuple[str, ...], list[float]] = field(default_factory=dict)

    def observe(self, key: tuple[str, ...], value: float) -> None:
        row = self.values.get(key)
        if row is None:
            row = self.values[key] = [0.0] * (len(self.bounds) + 2)
        row[bisect.bisect_left(self.bounds, value)] += 1
        row[-1] += value

    def family(self) -> Metric:
        out = HistogramMetricFamily(self.name, self.help, labels=self.labels)
        names = [str(b) for b in self.bounds] + ["+Inf"]
        for key, row in list(self.values.items()):
            counts = list(row)
            cumulative, buckets = 0.0, []
            for name, count in zip(names, counts[:-1], strict=True):
                cumulative += count
                buckets.append((name, cumulative))
            out.add_metric(list(key), buckets, counts[-1])
        return out


RPC_REQUESTS = _Counter(
    "vertex_gateway_rpc_requests", "RPCs handled, by method and gRPC status code.",
    ("method", "code"),
)  # fmt: skip
RPC_SECONDS = _Histogram(
    "vertex_gateway_rpc_duration_seconds",
    "Time from the start of an RPC to its status (whole streams for streaming RPCs).",
    ("method",),
)
UPSTREAM_SECONDS = _Histogram(
    "vertex_gateway_upstream_duration_seconds",
    "Vertex AI calls: time to the reply (unary) or to the stream's headers, by model family and"
    " HTTP status (or 'error' when no status arrived).",
    ("family", "status"),
)
UPSTREAM_RETRIES = _Counter(
    "vertex_gateway_upstream_retries",
    "Further attempts at a Vertex AI call: 'retry' after a backoff, 'failover' at once to the"
    " next account or location.",
    ("family", "kind"),
)
TOKENS = _Counter(
    "vertex_gateway_tokens",
    "Tokens used, by model, caller and kind (input, output, reasoning, cached_input).",
    ("model", "caller", "kind"),
)
COST = _Counter(
    "vertex_gateway_estimated_cost_usd",
    "Estimated cost in US dollars from the configured price table, by model and caller.",
    ("model", "caller"),
)
TOKEN_REFRESHES = _Counter(
    "vertex_gateway_token_refreshes", "Access-token refreshes toward Google, by result.",
    ("result",),
)  # fmt: skip
STREAMS_IN_FLIGHT = [0]  # a one-item list: the gauge's value, changed in place


def rpc_done(method: str, code: str, seconds: float) -> None:
    """One RPC ended with `code` after `seconds`."""
    RPC_REQUESTS.add((method, code))
    RPC_SECONDS.observe((method,), seconds)


def upstream_done(family: str, status: str, seconds: float) -> None:
    """One attempt at a Vertex call ended (reply or stream headers) with `status`."""
    UPSTREAM_SECONDS.observe((family or "none", status), seconds)


def upstream_again(family: str, kind: str) -> None:
    """Another attempt at a Vertex call: kind 'retry' (after backoff) or 'failover'."""
    UPSTREAM_RETRIES.add((family or "none", kind))


def usage(model: str, caller: str, counts: tuple[int, int, int, int], usd: float | None) -> None:
    """The tokens of one reply (input, output, reasoning, cached input) and their cost."""
    keys = _TOKEN_KEYS.get((model, caller))
    if keys is None:  # bounded: models and callers are both configured sets
        keys = _TOKEN_KEYS[(model, caller)] = tuple((model, caller, k) for k in _TOKEN_KINDS)
    values = TOKENS.values
    for key, count in zip(keys, counts, strict=True):
        if count:
            values[key] = values.get(key, 0.0) + count
    if usd:
        COST.add((model, caller), usd)


_TOKEN_KINDS = ("input", "output", "reasoning", "cached_input")
# The TOKENS label tuples of each (model, caller), made once rather than four per reply.
_TOKEN_KEYS: dict[tuple[str, str], tuple[tuple[str, str, str], ...]] = {}


def token_refreshed(ok: bool) -> None:
    """One access-token refresh toward Google."""
    TOKEN_REFRESHES.add(("ok" if ok else "failed",))


def streams_changed(delta: int) -> None:
    """Server streams in flight went up or down."""
    STREAMS_IN_FLIGHT[0] += delta


class GatewayCollector(Collector):
    """The gateway's counters and histograms as Prometheus families, read at scrape time."""

    def collect(self) -> Iterator[Metric]:
        """Every family, with the samples so far."""
        for metric in (RPC_REQUESTS, RPC_SECONDS, UPSTREAM_SECONDS, UPSTREAM_RETRIES, TOKENS,
                       COST, TOKEN_REFRESHES):  # fmt: skip
            yield metric.family()
        yield GaugeMetricFamily(
            "vertex_gateway_streams_in_flight",
            "Server-streaming RPCs in progress in this process.",
            value=STREAMS_IN_FLIGHT[0],
        )


REGISTRY.register(GatewayCollector())


def serve(host: str, port: int) -> int:
    """Serve /metrics on host:port in a background thread; the port bound (0: none, logged)."""
    try:
        server, _thread = start_http_server(port, addr=host)
    except OSError as exc:
        # Metrics are for operators; the gateway keeps serving callers without them.
        log.error("cannot serve metrics on %s:%d: %s", host, port, exc.strerror)
        return 0
    return int(server.server_address[1])
