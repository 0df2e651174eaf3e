"""OpenTelemetry traces: off by default, switched on by `server.tracing` (VG_TRACING=1).

When on, each RPC gets a server span (its parent taken from the caller's `traceparent`
metadata, W3C Trace Context) and each Vertex AI attempt a client span under it. Spans go to
the OTLP exporter, configured by the standard OTEL_EXPORTER_OTLP_* variables. The gateway uses
a tracer provider of its own, so it never changes a global one. When off, the hooks cost one
check of a module global.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

# OpenTelemetry is imported by `setup` only: a gateway that does not trace never loads it
# (about 50 modules and several MB per worker).
_STATE: dict[str, Any] = {"tracer": None, "provider": None, "propagator": None}


def setup(exporter: SpanExporter | None = None, *, version: str = "") -> None:
    """Switch tracing on. Without an exporter, OTLP over gRPC (batched); with one (tests, an
    in-memory exporter), every span is exported as it ends."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        processor: Any = BatchSpanProcessor(OTLPSpanExporter())
    else:
        processor = SimpleSpanProcessor(exporter)
    provider = TracerProvider(
        resource=Resource.create({"service.name": "vertex-gateway", "service.version": version})
    )
    provider.add_span_processor(processor)
    _STATE["provider"] = provider
    _STATE["propagator"] = TraceContextTextMapPropagator()
    _STATE["tracer"] = provider.get_tracer("vertex_gateway", version)


def shutdown() -> None:
    """Flush and stop the exporter; tracing is off afterwards."""
    provider = _STATE["provider"]
    _STATE["tracer"] = _STATE["provider"] = None
    if provider is not None:
        provider.shutdown()


def enabled() -> bool:
    """Whether spans are recorded."""
    return _STATE["tracer"] is not None


# What the span hooks return while tracing is off: entering and leaving it costs next to nothing.
_OFF: contextlib.nullcontext[None] = contextlib.nullcontext()


def rpc_span(method: str, metadata: Iterable[Any] | None) -> contextlib.AbstractContextManager[Any]:
    """A server span for one RPC (see `_rpc_span`), or nothing while tracing is off."""
    return _OFF if _STATE["tracer"] is None else _rpc_span(method, metadata)


def upstream_span(method: str, url: str) -> contextlib.AbstractContextManager[Any]:
    """A client span for one Vertex AI attempt (see `_upstream_span`), or nothing while off."""
    return _OFF if _STATE["tracer"] is None else _upstream_span(method, url)


@contextlib.contextmanager
def _rpc_span(method: str, metadata: Iterable[Any] | None) -> Iterator[Any]:
    """A server span for one RPC (`method` is `Service/Method`), named as OpenTelemetry's RPC
    conventions say (`vertex_gateway.v1.ChatService/Chat`), current while the handler runs."""
    from opentelemetry.trace import SpanKind

    tracer = _STATE["tracer"]
    carrier = {k: v for k, v in metadata or () if k in ("traceparent", "tracestate")}
    parent = _STATE["propagator"].extract(carrier) if carrier else None
    service, _, name = method.rpartition("/")
    service = f"vertex_gateway.v1.{service}"
    with tracer.start_as_current_span(
        f"{service}/{name}",
        context=parent,
        kind=SpanKind.SERVER,
        attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        yield span


def rpc_status(span: Any, code: str) -> None:
    """Record the RPC's gRPC status on its span."""
    if span is not None:
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("rpc.grpc.status_code", code)
        if code not in ("OK", "CANCELLED"):
            span.set_status(Status(StatusCode.ERROR, code))


@contextlib.contextmanager
def _upstream_span(method: str, url: str) -> Iterator[Any]:
    """A client span for one attempt at a Vertex AI call (its URL carries no secret: keys and
    tokens travel in headers)."""
    from opentelemetry.trace import SpanKind

    tracer = _STATE["tracer"]
    path = url.split("?", 1)[0]
    with tracer.start_as_current_span(
        f"{method} {path.rsplit(':', 1)[-1] if ':' in path.rsplit('/', 1)[-1] else 'vertex'}",
        kind=SpanKind.CLIENT,
        attributes={"http.request.method": method, "url.full": path},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        yield span


def upstream_status(span: Any, status: int | None) -> None:
    """Record the HTTP status (None: no reply) on an upstream span."""
    if span is not None:
        from opentelemetry.trace import Status, StatusCode

        if status is None:
            span.set_status(Status(StatusCode.ERROR, "no reply"))
        else:
            span.set_attribute("http.response.status_code", status)
            if status >= 400:
                span.set_status(Status(StatusCode.ERROR, str(status)))
