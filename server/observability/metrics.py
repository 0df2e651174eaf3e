"""Prometheus metrics, served on a port of their own (server.metrics_port).

Label sets are small and bounded: RPC method names, gRPC codes, model families, configured
models, caller names from the configuration, HTTP statuses. Children are cached per label tuple
so the hot path pays one dict lookup and one locked add.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger("vertex_gateway")

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

RPC_REQUESTS = Counter(
    "vertex_gateway_rpc_requests",
    "RPCs handled, by method and gRPC status code.",
    ["method", "code"],
)
RPC_SECONDS = Histogram(
    "vertex_gateway_rpc_duration_seconds",
    "Time from the start of an RPC to its status (whole streams for streaming RPCs).",
    ["method"],
    buckets=_LATENCY,
)
UPSTREAM_SECONDS = Histogram(
    "vertex_gateway_upstream_duration_seconds",
    "Vertex AI calls: time to the reply (unary) or to the stream's headers, by model family and"
    " HTTP status (or 'error' when no status arrived).",
    ["family", "status"],
    buckets=_LATENCY,
)
UPSTREAM_RETRIES = Counter(
    "vertex_gateway_upstream_retries",
    "Further attempts at a Vertex AI call: 'retry' after a backoff, 'failover' at once to the"
    " next account or location.",
    ["family", "kind"],
)
TOKENS = Counter(
    "vertex_gateway_tokens",
    "Tokens used, by model, caller and kind (input, output, reasoning, cached_input).",
    ["model", "caller", "kind"],
)
COST = Counter(
    "vertex_gateway_estimated_cost_usd",
    "Estimated cost in US dollars from the configured price table, by model and caller.",
    ["model", "caller"],
)
STREAMS_IN_FLIGHT = Gauge(
    "vertex_gateway_streams_in_flight", "Server-streaming RPCs in progress in this process."
)
TOKEN_REFRESHES = Counter(
    "vertex_gateway_token_refreshes", "Access-token refreshes toward Google, by result.", ["result"]
)

_children: dict[tuple[Any, ...], Any] = {}


def _child(metric: Any, *labels: str) -> Any:
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def rpc_done(method: str, code: str, seconds: float) -> None:
    """One RPC ended with `code` after `seconds`."""
    _child(RPC_REQUESTS, method, code).inc()
    _child(RPC_SECONDS, method).observe(seconds)


def upstream_done(family: str, status: str, seconds: float) -> None:
    """One attempt at a Vertex call ended (reply or stream headers) with `status`."""
    _child(UPSTREAM_SECONDS, family or "none", status).observe(seconds)


def upstream_again(family: str, kind: str) -> None:
    """Another attempt at a Vertex call: kind 'retry' (after backoff) or 'failover'."""
    _child(UPSTREAM_RETRIES, family or "none", kind).inc()


def tokens_used(model: str, caller: str, kind: str, count: int) -> None:
    """Tokens of one reply."""
    if count:
        _child(TOKENS, model, caller, kind).inc(count)


def cost_added(model: str, caller: str, usd: float) -> None:
    """Estimated cost of one reply."""
    if usd:
        _child(COST, model, caller).inc(usd)


def token_refreshed(ok: bool) -> None:
    """One access-token refresh toward Google."""
    _child(TOKEN_REFRESHES, "ok" if ok else "failed").inc()


def serve(host: str, port: int) -> int:
    """Serve /metrics on host:port in a background thread; the port bound (0: none, logged)."""
    try:
        server, _thread = start_http_server(port, addr=host)
    except OSError as exc:
        # Metrics are for operators; the gateway keeps serving callers without them.
        log.error("cannot serve metrics on %s:%d: %s", host, port, exc.strerror)
        return 0
    return int(server.server_address[1])
