"""Assembly of the gateway: Vertex client, routing, servicers, health, reflection, lifecycle."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from grpc_health.v1 import _async as health_aio  # what health.aio re-exports; typed
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import _async as reflection_aio  # what reflection.aio re-exports
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc
from vertex_gateway.v1 import (
    batch_pb2,
    batch_pb2_grpc,
    chat_pb2,
    chat_pb2_grpc,
    embedding_pb2,
    embedding_pb2_grpc,
    file_pb2,
    file_pb2_grpc,
    image_pb2,
    image_pb2_grpc,
    model_pb2,
    model_pb2_grpc,
    speech_pb2,
    speech_pb2_grpc,
    tuning_pb2,
    tuning_pb2_grpc,
    video_pb2,
    video_pb2_grpc,
)

from server import __version__
from server.backends.batches import BatchStore
from server.backends.claude_chat import ClaudeChatBackend
from server.backends.files import FileStore
from server.backends.gemini_chat import GeminiChatBackend
from server.backends.images import GeminiImageBackend, ImagenBackend
from server.backends.model_discovery import ModelDiscovery
from server.backends.multimodal_embedding import MultimodalEmbeddingBackend
from server.backends.openai_chat import OpenAIChatBackend
from server.backends.speech import GeminiTranscriptionBackend, GeminiTtsBackend
from server.backends.text_embedding import GeminiEmbeddingBackend, TextEmbeddingBackend
from server.backends.tuning import TuningStore
from server.backends.video import VideoBackend
from server.callers import CallerInterceptor, Callers
from server.config import GatewayConfig, VertexConfig
from server.decoding import MethodTable
from server.observability import tracing
from server.routing.registry import Family, Registry
from server.routing.router import Router
from server.services import boundary
from server.services.batches import BatchService
from server.services.chat import ChatService
from server.services.embedding import EmbeddingService
from server.services.files import FileService
from server.services.images import ImageService
from server.services.models import ModelService
from server.services.speech import SpeechService
from server.services.tuning import TuningService
from server.services.video import VideoService
from server.vertex.accounts import Account, AccountPool
from server.vertex.auth import AuthProvider, build_auth
from server.vertex.breaker import CircuitBreaker
from server.vertex.client import VertexClient
from server.vertex.gcs import GcsClient
from server.vertex.http import Transport
from server.vertex.http1 import Http1Transport
from server.vertex.retry import RetryPolicy
from server.vertex.urls import UrlError, VertexTarget

log = logging.getLogger("vertex_gateway")

# Services of the contract that later releases implement; they answer UNIMPLEMENTED with a reason.
SERVICE_NAMES: tuple[str, ...] = (
    chat_pb2.DESCRIPTOR.services_by_name["ChatService"].full_name,
    embedding_pb2.DESCRIPTOR.services_by_name["EmbeddingService"].full_name,
    model_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name,
    image_pb2.DESCRIPTOR.services_by_name["ImageService"].full_name,
    speech_pb2.DESCRIPTOR.services_by_name["SpeechService"].full_name,
    batch_pb2.DESCRIPTOR.services_by_name["BatchService"].full_name,
    file_pb2.DESCRIPTOR.services_by_name["FileService"].full_name,
    video_pb2.DESCRIPTOR.services_by_name["VideoService"].full_name,
    tuning_pb2.DESCRIPTOR.services_by_name["TuningService"].full_name,
)


def _add_port(server: grpc.aio.Server, config: GatewayConfig) -> int:
    """The listener: plain, TLS, or mutual TLS when a client CA is configured."""
    s = config.server
    if not s.tls_cert_file or not s.tls_key_file:
        return server.add_insecure_port(s.listen)
    ca = Path(s.tls_client_ca_file).read_bytes() if s.tls_client_ca_file else None
    credentials = grpc.ssl_server_credentials(
        [(Path(s.tls_key_file).read_bytes(), Path(s.tls_cert_file).read_bytes())],
        root_certificates=ca,
        require_client_auth=ca is not None,
    )
    return server.add_secure_port(s.listen, credentials)


def server_options(config: GatewayConfig) -> list[tuple[str, Any]]:
    """Channel arguments: media-sized messages and keepalive that tolerates sidecar pings."""
    s = config.server
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", s.max_message_bytes),
        ("grpc.max_send_message_length", s.max_message_bytes),
        ("grpc.keepalive_time_ms", int(s.keepalive_time_seconds * 1000)),
        ("grpc.keepalive_timeout_ms", int(s.keepalive_timeout_seconds * 1000)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", int(s.min_ping_interval_seconds * 1000)),
        ("grpc.http2.max_pings_without_data", 0),
        # Pre-forked workers share the port; a single process keeps it to itself so a second
        # gateway started by mistake fails to bind instead of silently splitting traffic.
        ("grpc.so_reuseport", 1 if s.workers > 1 else 0),
    ]
    if s.max_connection_age_seconds:
        options += [
            ("grpc.max_connection_age_ms", int(s.max_connection_age_seconds * 1000)),
            ("grpc.max_connection_age_grace_ms", int(s.shutdown_grace_seconds * 1000)),
        ]
    return options


@dataclass
class Gateway:
    """A built gateway: the gRPC server and what it owns."""

    config: GatewayConfig
    server: grpc.aio.Server
    health: health_aio.HealthServicer
    client: VertexClient
    port: int
    discovery: ModelDiscovery | None = None
    _stopped: bool = field(default=False)

    async def start(self) -> None:
        """Start serving and mark every service SERVING."""
        await self.server.start()
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)

    async def _set_health(self, status: Any) -> None:
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, status)

    async def shutdown(self) -> None:
        """Graceful stop: NOT_SERVING, let the mesh notice, finish in-flight calls, close."""
        if self._stopped:
            return
        self._stopped = True
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        if self.config.server.shutdown_drain_seconds > 0:
            await asyncio.sleep(self.config.server.shutdown_drain_seconds)
        await self.server.stop(self.config.server.shutdown_grace_seconds)
        if self.discovery is not None:
            await self.discovery.close()
        await self.client.transport.close()
        if self.config.server.tracing:
            tracing.shutdown()


def _targets(
    project: str | None, v: VertexConfig, base_url: str | None, locations: frozenset[str]
) -> Callable[[str], VertexTarget]:
    targets: dict[str, VertexTarget] = {}

    def target_for(location: str) -> VertexTarget:
        target = targets.get(location)
        if target is None:
            # Job names (batches, videos, tuning jobs) carry their location; one made up by a
            # caller must not reach a new Vertex host or grow per-location state.
            if location not in locations:
                raise UrlError(f"location {location!r} is not one this gateway serves")
            target = VertexTarget(project, location, v.api_version, base_url)
            targets[location] = target
        return target

    return target_for


async def account_pool(
    v: VertexConfig, project: str | None, auth: AuthProvider, locations: frozenset[str]
) -> AccountPool:
    """The primary account (vertex.project and credentials) and every pooled one, each with its
    own credentials; an account without a base_url calls the primary's host. `locations` are
    the only ones calls may go to (the default and every model's)."""
    accounts = [
        Account(v.account_name, auth, _targets(project, v, v.base_url, locations), v.weight)
    ]
    for extra in v.accounts:
        accounts.append(
            Account(
                extra.name,
                await build_auth(extra.credentials),
                _targets(extra.project, v, extra.base_url or v.base_url, locations),
                extra.weight,
                frozenset(extra.models),
            )
        )
    return AccountPool(accounts)


async def create_gateway(
    config: GatewayConfig,
    *,
    transport: Transport | None = None,
    auth: AuthProvider | None = None,
) -> Gateway:
    """Build (but do not start) the gateway for a configuration."""
    boundary.ACCESS_LOG["enabled"] = config.server.access_log
    boundary.PRICES = dict(config.prices)
    if config.server.tracing and not tracing.enabled():
        tracing.setup(version=__version__)
    v = config.vertex
    if auth is None:
        auth = await build_auth(v.credentials)
    transport = transport or Http1Transport(
        max_connections=v.max_connections,
        connect_timeout=v.connect_timeout_seconds,
        idle_read_timeout=v.request_timeout_seconds,
    )
    client = VertexClient(
        transport,
        auth,
        user_agent=f"vertex-gateway/{__version__}",
        max_request_bytes=v.max_request_bytes,
        max_event_bytes=v.max_stream_event_bytes,
        default_timeout=v.request_timeout_seconds,
        retry=RetryPolicy(max_attempts=v.max_attempts, budget_ratio=v.retry_budget_ratio),
        max_per_model=v.max_concurrent_per_model,
        breaker=CircuitBreaker(v.circuit_failures, v.circuit_cooldown_seconds),
    )
    project = None if auth.kind == "api_key" and v.project is None else v.project

    registry = Registry()
    for spec in config.models:
        registry.add(spec)
    locations = frozenset(
        {v.location}
        | {x for spec in registry.all() for x in (spec.location, *spec.fallback_locations) if x}
    )
    target_for = await account_pool(v, project, auth, locations)
    router = Router(
        registry,
        default_location=v.location,
        aliases=config.aliases,
        allow_models=config.allow_models,
    )
    fan_out = v.max_concurrent_calls_per_request
    interceptors = [CallerInterceptor(Callers(config.callers))] if config.callers else []
    server = grpc.aio.server(options=server_options(config), interceptors=interceptors)
    methods = MethodTable()
    gate = boundary.StreamGate(config.server.max_concurrent_streams)
    chat_service = ChatService(
        router,
        {
            Family.GEMINI: GeminiChatBackend(client, target_for),
            Family.CLAUDE: ClaudeChatBackend(client, target_for),
            Family.OPENAI_COMPATIBLE: OpenAIChatBackend(client, target_for),
        },
    )
    chat_service.stream_gate = gate
    methods.add(chat_pb2_grpc.add_ChatServiceServicer_to_server, chat_service)
    methods.add(
        embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server,
        EmbeddingService(
            router,
            {
                Family.TEXT_EMBEDDING: TextEmbeddingBackend(
                    client, target_for, concurrency=fan_out
                ),
                Family.GEMINI_EMBEDDING: GeminiEmbeddingBackend(
                    client, target_for, concurrency=fan_out
                ),
                Family.MULTIMODAL_EMBEDDING: MultimodalEmbeddingBackend(
                    client, target_for, concurrency=fan_out
                ),
            },
        ),
    )
    discovery = None
    if v.model_discovery:
        discovery = ModelDiscovery(
            client,
            target_for(v.location),
            tuple(sorted({spec.publisher for spec in registry.all()})),
            v.model_discovery_ttl_seconds,
        )
    methods.add(model_pb2_grpc.add_ModelServiceServicer_to_server, ModelService(router, discovery))
    gcs = GcsClient(
        transport,
        auth,
        base_url=config.storage.base_url,
        user_agent=f"vertex-gateway/{__version__}",
        default_timeout=v.request_timeout_seconds,
    )
    files = FileStore(gcs, config.storage)
    file_service = FileService(files)
    file_service.stream_gate = gate
    methods.add(file_pb2_grpc.add_FileServiceServicer_to_server, file_service)
    batch_service = BatchService(
        router, BatchStore(client, target_for, gcs, files, config.storage, router)
    )
    batch_service.stream_gate = gate
    methods.add(batch_pb2_grpc.add_BatchServiceServicer_to_server, batch_service)
    speech_service = SpeechService(
        router, GeminiTtsBackend(client, target_for), GeminiTranscriptionBackend(client, target_for)
    )
    speech_service.stream_gate = gate
    methods.add(speech_pb2_grpc.add_SpeechServiceServicer_to_server, speech_service)
    methods.add(
        image_pb2_grpc.add_ImageServiceServicer_to_server,
        ImageService(
            router,
            {
                Family.IMAGEN: ImagenBackend(
                    client, target_for, output_prefixes=v.output_gcs_prefixes
                ),
                Family.GEMINI: GeminiImageBackend(client, target_for, concurrency=fan_out),
            },
        ),
    )
    video_service = VideoService(
        router, VideoBackend(client, target_for, gcs, output_prefixes=v.output_gcs_prefixes)
    )
    video_service.stream_gate = gate
    methods.add(video_pb2_grpc.add_VideoServiceServicer_to_server, video_service)
    methods.add(
        tuning_pb2_grpc.add_TuningServiceServicer_to_server,
        TuningService(
            router,
            TuningStore(
                client, target_for, gcs, files, config.storage, router.default_location, discovery
            ),
        ),
    )
    health_servicer = health_aio.HealthServicer()
    methods.add(health_pb2_grpc.add_HealthServicer_to_server, health_servicer)
    methods.add(
        reflection_pb2_grpc.add_ServerReflectionServicer_to_server,
        reflection_aio.ReflectionServicer(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME)
        ),
    )
    server.add_generic_rpc_handlers((methods,))
    port = _add_port(server, config)
    if port == 0:
        raise RuntimeError(f"cannot listen on {config.server.listen}")
    return Gateway(config, server, health_servicer, client, port, discovery)
