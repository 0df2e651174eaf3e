"""What every call and the channel under it start from: the default deadline and metadata,
channel options for media-sized messages and keepalive, and transport security."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from vertex_gateway._retry import RetryPolicy

VERSION = "0.1.0"
# The key the gateway's caller authentication reads (server/callers.py).
API_KEY_METADATA = "x-api-key"
# The gateway's own default limit (server.max_message_bytes): images, audio and file chunks.
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# Generous because a long reasoning reply can take minutes; the gateway bounds an upstream call
# at 600 s too (vertex.request_timeout_seconds).
DEFAULT_TIMEOUT_SECONDS = 600.0
# Keepalive pings find a dead connection (a restarted pod, a dropped NAT entry) before a call
# waits on it. The gateway accepts pings no more often than every 10 s
# (server.min_ping_interval_seconds) and answers faster ones with GOAWAY, so stay well above.
DEFAULT_KEEPALIVE_SECONDS = 30.0
KEEPALIVE_TIMEOUT_SECONDS = 20.0

Metadata = Sequence[tuple[str, str | bytes]]


@dataclass(frozen=True)
class CallDefaults:
    """What a call gets unless it says otherwise: a deadline, metadata, the retry policy."""

    timeout: float | None = DEFAULT_TIMEOUT_SECONDS
    metadata: tuple[tuple[str, str | bytes], ...] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def merged_metadata(
        self, given: Iterable[tuple[str, str | bytes]] | None
    ) -> tuple[tuple[str, str | bytes], ...]:
        """The call's own metadata, then each default whose key the call did not set."""
        own = [(k, v) for k, v in given or ()]
        keys = {k.lower() for k, _ in own}
        return tuple(own + [(k, v) for k, v in self.metadata if k.lower() not in keys])


def default_metadata(
    api_key: str | None, metadata: Metadata
) -> tuple[tuple[str, str | bytes], ...]:
    """The metadata every call carries: the caller's API key (if any) and the given pairs."""
    pairs = [(k.lower(), v) for k, v in metadata]
    if api_key:
        pairs.append((API_KEY_METADATA, api_key))
    return tuple(pairs)


def channel_options(
    max_message_bytes: int, keepalive_seconds: float | None, extra: Sequence[tuple[str, Any]]
) -> list[tuple[str, Any]]:
    """Channel arguments: message limits, keepalive, user agent; `extra` wins over all of them."""
    options: dict[str, Any] = {
        "grpc.max_send_message_length": max_message_bytes,
        "grpc.max_receive_message_length": max_message_bytes,
        "grpc.primary_user_agent": f"vertex-gateway-python/{VERSION}",
    }
    if keepalive_seconds is not None:
        options |= {
            "grpc.keepalive_time_ms": int(keepalive_seconds * 1000),
            "grpc.keepalive_timeout_ms": int(KEEPALIVE_TIMEOUT_SECONDS * 1000),
            # Idle channels keep probing too (the gateway permits it), so the first call after
            # a quiet spell does not land on a dead connection.
            "grpc.keepalive_permit_without_calls": 1,
            # Long silent streams (a model thinking) still get pinged.
            "grpc.http2.max_pings_without_data": 0,
        }
    options |= dict(extra)
    return list(options.items())


def channel_credentials(
    *,
    tls: bool,
    credentials: grpc.ChannelCredentials | None,
    root_certificates: bytes | None,
    private_key: bytes | None,
    certificate_chain: bytes | None,
) -> grpc.ChannelCredentials | None:
    """TLS credentials when any TLS setting is given (mutual TLS with a key and chain), else
    None for a plaintext channel (a sidecar or loopback)."""
    if credentials is not None:
        return credentials
    if tls or root_certificates or private_key or certificate_chain:
        return grpc.ssl_channel_credentials(root_certificates, private_key, certificate_chain)
    return None
